"""Loading stack files `stacks/Pulumi.<stack>.yaml` into tenant and centre requests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from kuntapilvi import findings as fnd
from kuntapilvi.catalogue import parse_model, read_document
from kuntapilvi.errors import Finding
from kuntapilvi.project import ProjectPaths
from kuntapilvi.schema.common import DNS_LABEL
from kuntapilvi.schema.stack import (
    CENTRE_KEY,
    TENANT_KEY,
    CentreRequest,
    StackFile,
    TenantRequest,
)
from kuntapilvi.yamlsource import Document

CENTRE_STACK = "centre"
STACK_FILE = re.compile(r"^Pulumi\.(?P<name>[^.]+)\.yaml$")


@dataclass(frozen=True, slots=True)
class TenantStack:
    name: str
    doc: Document
    request: TenantRequest

    @property
    def file(self) -> str:
        return self.doc.file


@dataclass(frozen=True, slots=True)
class CentreStack:
    name: str
    doc: Document
    request: CentreRequest


def stack_path(paths: ProjectPaths, name: str) -> Path:
    return paths.stacks / f"Pulumi.{name}.yaml"


def load_stack(
    path: Path, paths: ProjectPaths, out: list[Finding]
) -> TenantStack | CentreStack | None:
    display = paths.display(path)
    match = STACK_FILE.match(path.name)
    if not match or not DNS_LABEL.match(match.group("name")):
        out.append(
            fnd.error(
                "stack.file-name",
                display,
                (),
                f"'{path.name}' is not a valid stack file name.",
                "name it Pulumi.<stack>.yaml where <stack> is lower-case letters, digits and "
                "hyphens (e.g. Pulumi.espoo.yaml)",
            )
        )
        return None
    name = match.group("name")
    doc = read_document(path, paths, out)
    if doc is None:
        return None
    settings = parse_model(doc, StackFile, out)
    if settings is None:
        return None
    key, model = (
        (TENANT_KEY, TenantRequest)
        if TENANT_KEY in settings.config
        else (CENTRE_KEY, CentreRequest)
    )
    base = ("config", key)
    if key == CENTRE_KEY and name != CENTRE_STACK:
        out.append(
            fnd.error(
                "stack.second-centre",
                doc,
                base,
                f"only stacks/Pulumi.{CENTRE_STACK}.yaml may hold '{CENTRE_KEY}'; this file "
                "would build the centre's shared resources a second time.",
                f"a tenant's file holds '{TENANT_KEY}' (see kuntapilvi new-tenant)",
            )
        )
        return None
    raw = settings.config[key]
    if not isinstance(raw, dict):
        out.append(
            fnd.error(
                "schema.document",
                doc,
                base,
                f"'{key}' must be a mapping.",
                "indent the request's keys (owner, region, address_block, services) under it",
            )
        )
        return None
    try:
        request = model.model_validate(raw)
    except ValidationError as exc:
        out.extend(fnd.from_validation_error(exc, doc, model, base))
        return None
    if isinstance(request, TenantRequest):
        return TenantStack(name, doc, request)
    return CentreStack(name, doc, request)


def stack_files(paths: ProjectPaths, names: list[str] | None = None) -> list[Path]:
    if names:
        return [stack_path(paths, n) for n in names]
    return sorted(paths.stacks.glob("Pulumi.*.yaml"))
