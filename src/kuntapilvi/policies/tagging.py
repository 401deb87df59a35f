"""Every resource that can carry them carries the facts that trace it back: in a tenant stack its
tenant and its card, in the centre stack its region (modules/tags.py writes them)."""

from __future__ import annotations

from kuntapilvi.policies.resources import (
    CARD_TAG,
    CENTRE_TAG,
    TENANT_TAG,
    CatalogueFacts,
    Resource,
    StackFacts,
    input_params,
    tag_values,
)

# Neutron refuses the provider's bulk tag update on QoS policies (PUT .../tags answers 400
# "Invalid tags body", while one tag at a time works), so a tagged policy cannot be created; the
# WAN link's policy carries its tenant in its name and its card in its description instead.
UNTAGGABLE = frozenset({"openstack:networking/qosPolicy:QosPolicy"})


def labels_of(type_token: str) -> frozenset[str]:
    """Which of `tags` (Neutron, Nova, Keystone, Glance) and `metadata` (Cinder, Nova) the
    resource type takes. Resources with neither (rules, role assignments, quotas, router
    interfaces, keypairs, flavors...) have nothing to carry the facts on and are not judged."""
    if type_token in UNTAGGABLE:
        return frozenset()
    return input_params(type_token) & {"tags", "metadata"}


def missing_labels(resource: Resource, stack: StackFacts, catalogue: CatalogueFacts) -> str | None:
    """The violation message, or None when the resource is labelled as it must be."""
    if not labels_of(resource.type):
        return None
    values = tag_values(resource)
    if values is None:
        return None  # not known until the values it is computed from are
    where = " or ".join(f"`{label}`" for label in sorted(labels_of(resource.type)))
    if stack.kind == "tenant":
        problems = []
        tenants = values.get(TENANT_TAG, set())
        if tenants != {stack.name}:
            problems.append(
                f"{TENANT_TAG}={stack.name}"
                + (f" (it has {', '.join(sorted(tenants))})" if tenants else "")
            )
        cards = values.get(CARD_TAG, set())
        unknown = sorted(cards - catalogue.cards)
        if not cards:
            problems.append(f"{CARD_TAG}=<the card it was made for>")
        elif unknown:
            problems.append(f"{CARD_TAG} naming a catalogue card (it has {', '.join(unknown)})")
        if not problems:
            return None
        return (
            f"{resource.kind} '{resource.name}' of tenant {stack.name} lacks "
            f"{' and '.join(problems)} in its {where}; build it with modules/tags.py "
            "(tags() or metadata()) so the bill and the audit can trace it to its card."
        )
    if stack.kind == "centre":
        regions = values.get(CENTRE_TAG, set())
        if regions and regions <= catalogue.regions:
            return None
        found = f" (it has {', '.join(sorted(regions))})" if regions else ""
        return (
            f"{resource.kind} '{resource.name}' of the centre stack lacks {CENTRE_TAG}=<region "
            f"of catalog/centre.yaml>{found} in its {where}; tag it with the region it serves."
        )
    return None
