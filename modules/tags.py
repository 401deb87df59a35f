"""Tags and metadata that trace every cloud resource back to its tenant and card."""

from __future__ import annotations

from kuntapilvi.model import Service
from kuntapilvi.schema.tagnames import PREFIX

__all__ = ["PREFIX", "metadata", "tags"]


def tags(tenant: str, service: Service | None = None, *, card: str | None = None) -> list[str]:
    """Neutron/Nova/Keystone tags: `kuntapilvi-tenant=espoo`, `kuntapilvi-card=office.print`."""
    out = [f"{PREFIX}-tenant={tenant}"]
    if service is not None:
        out += [
            f"{PREFIX}-card={service.card.id}",
            f"{PREFIX}-card-version={service.card.version}",
            f"{PREFIX}-service={service.name}",
        ]
    elif card is not None:
        out.append(f"{PREFIX}-card={card}")
    return out


def metadata(tenant: str, service: Service | None = None) -> dict[str, str]:
    """The same facts as key/value metadata, for resources that take a dict (Cinder, Nova)."""
    return dict(tag.split("=", 1) for tag in tags(tenant, service))
