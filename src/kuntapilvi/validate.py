"""Validation: load every file, run every rule, and build the model when nothing is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

from kuntapilvi import findings as fnd
from kuntapilvi.catalogue import load_catalogue
from kuntapilvi.errors import Finding, InvalidConfiguration, Severity
from kuntapilvi.model import Model
from kuntapilvi.project import ProjectPaths
from kuntapilvi.rules import (
    address_rules,
    capacity_rules,
    catalogue_rules,
    office_network_rules,
    owner_rules,
    quota_rules,
    stack_rules,
)
from kuntapilvi.schema.common import DNS_LABEL
from kuntapilvi.stacks import CentreStack, TenantStack, load_stack, stack_files


@dataclass(slots=True)
class Report:
    model: Model
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def require_ok(self) -> Model:
        if self.errors:
            raise InvalidConfiguration(self.errors)
        return self.model


def validate(paths: ProjectPaths, stacks: list[str] | None = None) -> Report:
    """Validate the catalogue and the named stacks (all stacks when None).

    Cross-tenant rules (address overlap, capacity) always see every stack file, because a
    tenant's change can only be judged against everyone else's reservations.
    """
    catalogue, findings = load_catalogue(paths)
    model = Model(catalogue=catalogue)
    report = Report(model, findings)
    findings.extend(catalogue_rules.check(catalogue))
    findings.extend(owner_rules.check(catalogue))

    wanted = set(stacks) if stacks else None
    if wanted:
        for name in sorted(wanted):
            if not DNS_LABEL.match(name):
                shown = name if len(name) <= 70 else name[:60] + f"… ({len(name)} characters)"
                findings.append(
                    fnd.error(
                        "stack.bad-name",
                        "<stack argument>",
                        (),
                        f"{shown!r} is not a stack name.",
                        "a stack name is 1-63 lower-case letters, digits and hyphens, "
                        "e.g. espoo; 'kuntapilvi validate' without names checks every stack",
                    )
                )
                continue
            path = paths.stacks / f"Pulumi.{name}.yaml"
            if not path.is_file():
                findings.append(
                    fnd.error(
                        "stack.not-found",
                        paths.display(path),
                        (),
                        f"there is no stack file for '{name}'.",
                        "check the name, or create it with 'kuntapilvi new-tenant <owner-id>'",
                    )
                )
    loaded: list[TenantStack] = []
    for path in stack_files(paths):
        scratch: list[Finding] = []
        stack = load_stack(path, paths, scratch)
        name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        if wanted is None or name in wanted:
            findings.extend(scratch)
        if isinstance(stack, CentreStack):
            model.centre_stacks[stack.name] = stack
        elif isinstance(stack, TenantStack):
            loaded.append(stack)
            model.tenant_stacks[stack.name] = stack

    if not catalogue.complete:
        return report

    for stack in loaded:
        tenant, found = stack_rules.resolve(stack, catalogue)
        if tenant is not None:
            found += quota_rules.check(stack, tenant)
            if any(f.severity is Severity.ERROR for f in found):
                tenant = None
        if wanted is None or stack.name in wanted:
            findings.extend(found)
        if tenant is not None:
            model.tenants[tenant.stack] = tenant

    for finding in address_rules.check(loaded):
        if wanted is None or any(
            finding.file == model.tenant_stacks[n].file for n in wanted if n in model.tenant_stacks
        ):
            findings.append(finding)
    for finding in office_network_rules.check(model):
        if wanted is None or any(
            finding.file == model.tenant_stacks[n].file for n in wanted if n in model.tenant_stacks
        ):
            findings.append(finding)
    findings.extend(_centre_stack_rules(model))
    findings.extend(capacity_rules.check(model))
    return report


def _centre_stack_rules(model: Model) -> list[Finding]:
    out: list[Finding] = []
    regions = {r.id for r in model.centre.regions}
    for stack in model.centre_stacks.values():
        for i, region in enumerate(stack.request.regions):
            if region not in regions:
                out.append(
                    fnd.error(
                        "stack.unknown-region",
                        stack.doc,
                        ("config", "kuntapilvi:centre", "regions", i),
                        f"region '{region}' is not in catalog/centre.yaml.",
                        f"use one of: {', '.join(sorted(regions))}",
                    )
                )
    return out
