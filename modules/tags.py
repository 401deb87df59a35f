"""Tags and metadata that trace every cloud resource back to its tenant and card."""

from __future__ import annotations

from kuntapilvi.model import Service
from kuntapilvi.schema.tagnames import PREFIX

__all__ = ["PREFIX", "metadata", "tags"]


# The Pulumi logical name, so `kuntapilvi recover` finds the cloud resource of an interrupted
# create without guessing (see docs/recovery.md).
NAME_KEY = f"{PREFIX}-name"


def tags(
    tenant: str,
    service: Service | None = None,
    *,
    card: str | None = None,
    name: str | None = None,
) -> list[str]:
    """Neutron/Nova/Keystone tags: `kuntapilvi-tenant=espoo`, `kuntapilvi-card=office.print`,
    and with `name` the resource's Pulumi logical name (`kuntapilvi-name=espoo-print-port`)."""
    out = [f"{PREFIX}-tenant={tenant}"]
    if service is not None:
        out += [
            f"{PREFIX}-card={service.card.id}",
            f"{PREFIX}-card-version={service.card.version}",
            f"{PREFIX}-service={service.name}",
        ]
    elif card is not None:
        out.append(f"{PREFIX}-card={card}")
    if name is not None:
        out.append(f"{NAME_KEY}={name}")
    return out


def metadata(
    tenant: str, service: Service | None = None, *, name: str | None = None
) -> dict[str, str]:
    """The same facts as key/value metadata, for resources that take a dict (Cinder, Nova)."""
    return dict(tag.split("=", 1) for tag in tags(tenant, service, name=name))
