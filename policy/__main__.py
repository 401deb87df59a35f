"""kuntapilvi's policy pack: the rules of kuntapilvi.policies as pulumi-policy policies.

The engine starts this through the language host's RunPlugin with the project folder as the
working directory, so the catalogue and stack files are found the way the program finds them
(KUNTAPILVI_ROOT, else upwards from there)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as policy_proxy

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.policies.firewall import admin_ports_open_to_world
from kuntapilvi.policies.placement import (
    INSTANCE,
    Published,
    Violation,
    catalogue_source,
    own_project_only,
    published_in,
)
from kuntapilvi.policies.resources import (
    Resource,
    StackFacts,
    load_catalogue_facts,
    load_stack_facts,
    plain,
    stack_of,
)
from kuntapilvi.policies.tagging import missing_labels
from kuntapilvi.project import find_root
from kuntapilvi.settings import Settings

UNKNOWN = frozenset(
    getattr(policy_proxy, name) for name in dir(policy_proxy) if name.startswith("UNKNOWN_")
)

try:
    # The policy pack is an edge of its own: its settings are read here, once.
    PATHS = find_root(Path.cwd(), Settings.from_env().root)
except KuntapilviError as exc:
    print(f"kuntapilvi policy pack: {exc}", file=sys.stderr)
    sys.exit(1)
CATALOGUE = load_catalogue_facts(PATHS)


@functools.cache
def stack_facts(name: str) -> StackFacts:
    return load_stack_facts(PATHS, name)


def resource(r: Any) -> Resource:
    """A pulumi-policy resource (validation args or stack resource) as the rules see it."""
    deps = getattr(r, "property_dependencies", None) or {}
    provider = getattr(r, "provider", None)
    return Resource(
        type=r.resource_type,
        name=r.name,
        urn=r.urn,
        props=plain(r.props, UNKNOWN),
        provider_urn=provider.urn if provider is not None else None,
        property_dependencies={k: tuple(d.urn for d in v) for k, v in deps.items()},
    )


def admin_ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    message = admin_ports_open_to_world(resource(args))
    if message:
        report(message, None)


def labels(args: ResourceValidationArgs, report: ReportViolation) -> None:
    message = missing_labels(resource(args), stack_facts(stack_of(args.urn)), CATALOGUE)
    if message:
        report(message, None)


def stack_of_args(args: StackValidationArgs) -> tuple[list[Resource], StackFacts | None]:
    resources = [resource(r) for r in args.resources]
    return resources, (stack_facts(resources[0].stack) if resources else None)


# The stack the tenant program reads its flavor and image ids from (program.CENTRE_STACK).
CENTRE_REFERENCE = "organization/kuntapilvi/centre"


class CentreUnreadable(Exception):
    pass


@functools.cache
def centre_published() -> Published:
    """The flavor and image ids the centre stack publishes, read once per pack run.

    The engine hands a pack's stack validation no stack references, and a resource validation
    sees only its own resource, so the pack asks the backend the program reads from (the same
    environment: PULUMI_BACKEND_URL, PULUMI_HOME) for the centre's outputs itself.
    """
    pulumi = os.environ.get("KUNTAPILVI_PULUMI") or "pulumi"
    try:
        done = subprocess.run(
            [pulumi, "stack", "output", "--json", "--stack", CENTRE_REFERENCE,
             "--non-interactive"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CentreUnreadable(f"running `pulumi stack output` failed: {exc}") from None
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CentreUnreadable(detail)
    try:
        return published_in(json.loads(done.stdout or "{}"))
    except ValueError as exc:
        raise CentreUnreadable(f"its outputs are not JSON: {exc}") from None


def catalogue(args: ResourceValidationArgs, report: ReportViolation) -> None:
    r = resource(args)
    stack = stack_facts(r.stack)
    try:
        violations = catalogue_source(r, stack, CATALOGUE, centre_published)
    except CentreUnreadable as exc:
        violations = [
            Violation(
                r.urn,
                f"Instance '{r.name}' cannot be checked against the flavors and images the centre "
                f"stack publishes, because its outputs could not be read ({exc}); run "
                "`pulumi up --stack centre` first.",
            )
        ] if r.type == INSTANCE else []
    for v in violations:
        report(v.message, None)


def own_project(args: StackValidationArgs, report: ReportViolation) -> None:
    resources, stack = stack_of_args(args)
    if stack is not None:
        for v in own_project_only(resources, stack):
            report(v.message, v.urn)


PolicyPack(
    name="kuntapilvi",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="admin-ports-closed-to-world",
            description="No security-group rule opens SSH (22) or RDP (3389) to the world.",
            validate=admin_ports,
        ),
        ResourceValidationPolicy(
            name="tenant-and-card-tags",
            description="Every resource that takes tags or metadata names its tenant and card "
            "(the centre's: its region).",
            validate=labels,
        ),
        # Resource-level, so a server with another flavor or image is stopped before Nova is
        # asked for it: at preview, and in `up` (with --skip-preview too) before its create step.
        ResourceValidationPolicy(
            name="catalogue-flavors-and-images",
            description="Servers use only flavors and images of the catalogue and centre.",
            validate=catalogue,
        ),
        StackValidationPolicy(
            name="own-project-only",
            description="A tenant stack creates only its own project and builds only in it.",
            validate=own_project,
        ),
    ],
)
