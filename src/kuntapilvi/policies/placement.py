"""Where resources come from and where they land: flavors and images only from the catalogue,
and a tenant stack builds only inside the one project it creates for its own tenant."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kuntapilvi.policies.resources import (
    COMPUTED,
    TENANT_TAG,
    CatalogueFacts,
    Resource,
    StackFacts,
    input_params,
    tag_values,
)

INSTANCE = "openstack:compute/instance:Instance"
FLAVOR = "openstack:compute/flavor:Flavor"
IMAGE = "openstack:images/image:Image"
PROJECT = "openstack:identity/project:Project"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
PROVIDER = "pulumi:providers:openstack"

# Input properties that name the project a resource is created in (or, for an RBAC policy,
# the project it opens a network to), engine name -> SDK name. Only inputs count: an RBAC
# policy's projectId, say, is an output the cloud fills with its owner's (the operator's) project.
PROJECT_FIELDS = {
    "tenantId": "tenant_id",
    "projectId": "project_id",
    "targetTenant": "target_tenant",
}
# Resources that belong to the project of the token that creates them and have no property to
# say otherwise: their provider must be scoped to the tenant's own project.
OWNED_BY_TOKEN = (
    INSTANCE,
    "openstack:blockstorage/volume:Volume",
    "openstack:compute/serverGroup:ServerGroup",
)


@dataclass(frozen=True)
class Violation:
    urn: str
    message: str


@dataclass(frozen=True)
class Published:
    """Flavor and image ids the centre stack publishes, by id -> catalogue name."""

    flavors: dict[str, str]
    images: dict[str, str]


def published_in(outputs: Mapping[str, Any] | None) -> Published:
    """Flavor and image ids in the centre stack's outputs (regions.<region>.flavor_ids and
    image_ids, catalogue name -> id)."""
    flavors: dict[str, str] = {}
    images: dict[str, str] = {}
    regions = outputs.get("regions") if isinstance(outputs, Mapping) else None
    if not isinstance(regions, Mapping):
        return Published(flavors, images)
    for region in regions.values():
        if not isinstance(region, Mapping):
            continue
        for key, into in (("flavor_ids", flavors), ("image_ids", images)):
            table = region.get(key)
            if isinstance(table, Mapping):
                for name, ident in table.items():
                    if isinstance(ident, str):
                        into[ident] = name
    return Published(flavors, images)


def published_by_centre(resources: Iterable[Resource]) -> Published:
    """What the stack references (pulumi.StackReference to the centre) among RESOURCES publish.

    The engine does not pass stack references to a pack's stack validation, so the pack itself
    reads the centre's outputs (policy/__main__.py) and calls `catalogue_source` per resource;
    this form serves callers that hold the references themselves.
    """
    merged = Published({}, {})
    for ref in resources:
        if ref.type == STACK_REFERENCE:
            found = published_in(ref.props.get("outputs"))
            merged.flavors.update(found.flavors)
            merged.images.update(found.images)
    return merged


def _literal(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def catalogue_sources(
    resources: list[Resource],
    stack: StackFacts,
    catalogue: CatalogueFacts,
    published: Published | None = None,
) -> list[Violation]:
    """Servers boot only catalogue flavors and images; the centre defines no others."""
    if published is None:
        published = published_by_centre(resources)
    out: list[Violation] = []
    for r in resources:
        out += catalogue_source(r, stack, catalogue, lambda: published)
    return out


def catalogue_source(
    r: Resource,
    stack: StackFacts,
    catalogue: CatalogueFacts,
    published: Callable[[], Published],
) -> list[Violation]:
    """The rule for one resource, as the pack's resource-level validation runs it: before the
    resource is created, in `preview` and in `up` alike. PUBLISHED is called only for a server
    (reading the centre's outputs costs a CLI call)."""
    if r.type == INSTANCE:
        return _instance_sources(r, catalogue, published())
    if r.type == FLAVOR and stack.kind == "centre":
        name = _literal(r.props.get("name"))
        if name and name not in catalogue.flavors:
            return [
                Violation(
                    r.urn,
                    (
                        f"Flavor '{r.name}' defines flavor {name}, which no server size of the "
                        "catalogue asks for; flavors come from the cards' sizes "
                        "(kp-<vcpu>c-<ram>g-<disk>g), so add the size to a card instead."
                    ),
                )
            ]
    elif r.type == IMAGE and stack.kind == "centre":
        name = _literal(r.props.get("name"))
        if name and name not in catalogue.images:
            return [
                Violation(
                    r.urn,
                    (
                        f"Image '{r.name}' uploads image {name}, which catalog/centre.yaml "
                        "does not list under images; add it there first."
                    ),
                )
            ]
    return []


def _instance_sources(
    r: Resource, catalogue: CatalogueFacts, published: Published
) -> list[Violation]:
    out = []
    flavor_name, flavor_id = _literal(r.props.get("flavorName")), _literal(r.props.get("flavorId"))
    if flavor_name and flavor_name not in catalogue.flavors:
        out.append(
            Violation(
                r.urn,
                (
                    f"Instance '{r.name}' asks for flavor {flavor_name}, which is not a catalogue "
                    "flavor; choose a size of the card instead."
                ),
            )
        )
    elif flavor_id and published.flavors.get(flavor_id) not in catalogue.flavors:
        out.append(
            Violation(
                r.urn,
                (
                    f"Instance '{r.name}' boots flavor id {flavor_id}, which is not one of the "
                    "catalogue flavors the centre stack publishes; take it from the centre's "
                    "flavor_ids output."
                ),
            )
        )
    image_name, image_id = _literal(r.props.get("imageName")), _literal(r.props.get("imageId"))
    if image_name and image_name not in catalogue.images:
        out.append(
            Violation(
                r.urn,
                (
                    f"Instance '{r.name}' boots image {image_name}, which catalog/centre.yaml "
                    "does not list; use the image the card names."
                ),
            )
        )
    elif image_id and image_id not in published.images:
        out.append(
            Violation(
                r.urn,
                (
                    f"Instance '{r.name}' boots image id {image_id}, which is not one of the "
                    "centre images the centre stack publishes; take it from the centre's "
                    "image_ids output."
                ),
            )
        )
    return out


def own_project_only(resources: list[Resource], stack: StackFacts) -> list[Violation]:
    """A tenant stack creates exactly its own tenant's project, and everything it builds either
    names that project (by a value computed from it, never a literal or another stack's id) or
    is created with a provider scoped to it."""
    if stack.kind != "tenant":
        return []
    tenant = stack.name
    out: list[Violation] = []
    own: set[str] = set()
    for r in resources:
        if r.type != PROJECT:
            continue
        name = r.props.get("name")
        labels = tag_values(r) or {}
        others = sorted(labels.get(TENANT_TAG, set()) - {tenant})
        if (name is not COMPUTED and name != tenant) or others:
            whose = others[0] if others else name
            out.append(
                Violation(
                    r.urn,
                    (
                        f"tenant stack {tenant} creates Project '{r.name}' for {whose!r}; a tenant "
                        f"stack creates only its own project, named {tenant}."
                    ),
                )
            )
        else:
            own.add(r.urn)
    by_urn = {r.urn: r for r in resources}
    scoped: dict[str, bool] = {}
    for r in resources:
        for field, param in PROJECT_FIELDS.items():
            if param not in input_params(r.type):
                continue
            value = r.props.get(field)
            if value is None or value == "":
                continue
            if not own.intersection(r.property_dependencies.get(field, ())):
                shown = "a computed value" if value is COMPUTED else repr(value)
                out.append(
                    Violation(
                        r.urn,
                        (
                            f"{r.kind} '{r.name}' sets {field} to {shown}, which does not come "
                            f"from the project this stack creates for {tenant}; pass that "
                            "project's id (TenantProject.project_id) instead."
                        ),
                    )
                )
        if r.type == PROVIDER:
            # The tenant-scoped provider logs in to the own project by id. The admin provider
            # logs in to the centre's operator project, which is fine for what it builds with
            # an explicit project field; only another tenant's project is out of bounds.
            scoped[r.urn] = bool(own.intersection(r.property_dependencies.get("tenantId", ())))
            name = r.props.get("tenantName")
            if isinstance(name, str) and name != tenant and name in stack.tenants:
                out.append(
                    Violation(
                        r.urn,
                        f"provider '{r.name}' logs in to project {name!r} of another tenant; "
                        f"a tenant stack works only in its own project {tenant}.",
                    )
                )
    for r in resources:
        if r.type not in OWNED_BY_TOKEN:
            continue
        provider = by_urn.get(r.provider_urn or "")
        if provider is None or not scoped.get(provider.urn, False):
            via = f"provider '{provider.name}'" if provider else "the default provider"
            out.append(
                Violation(
                    r.urn,
                    (
                        f"{r.kind} '{r.name}' is created through {via}, which is not scoped to the "
                        f"project this stack creates for {tenant}, so it would land in another "
                        "project; create it with the tenant-scoped provider."
                    ),
                )
            )
    return out
