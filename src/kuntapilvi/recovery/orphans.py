"""Cloud resources carrying a tenant's tags that no stack's state knows: still billed, still
holding their addresses, and invisible to `pulumi`. For day-2 reports (`kuntapilvi orphans`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kuntapilvi.recovery.match import INSTANCE, VOLUME, CloudResource, short
from kuntapilvi_modules.tags import PREFIX

CARD_KEY = f"{PREFIX}-card"
SERVICE_KEY = f"{PREFIX}-service"
_FLAVOR = re.compile(r"kp-(\d+)c-(\d+)g-(\d+)g")


@dataclass(frozen=True, slots=True)
class Orphan:
    tenant: str
    type: str
    name: str
    id: str
    card: str
    service: str
    created: dt.datetime | None
    monthly_eur: Decimal | None
    """What the card bills for it a month; 0 when its price is part of another resource's
    (a server's port, a server card's own data volume), None when the card is unknown."""
    retained: bool = False
    """A data volume kept on purpose after its service left the stack (`kuntapilvi data`)."""

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        return now - self.created if self.created else None

    def as_dict(self, now: dt.datetime) -> dict[str, Any]:
        age = self.age(now)
        return {
            "tenant": self.tenant,
            "type": self.type,
            "name": self.name,
            "id": self.id,
            "card": self.card,
            "service": self.service,
            "created": self.created.isoformat() if self.created else None,
            "age_hours": round(age.total_seconds() / 3600, 1) if age else None,
            "monthly_eur": str(self.monthly_eur) if self.monthly_eur is not None else None,
            "retained": self.retained,
        }


def monthly_cost(resource: CloudResource, cards: dict[str, Any]) -> Decimal | None:
    """The card's price of this resource: a server by the size its flavor is, a volume by its
    gigabytes on a per-GB card; everything else is priced as part of its server or network."""
    card = cards.get(resource.labels.get(CARD_KEY, ""))
    if resource.type == INSTANCE:
        if card is None:
            return None
        m = _FLAVOR.fullmatch(resource.flavor or "")
        for size in (card.sizes or {}).values():
            if m and (size.vcpu, size.ram_gb, size.disk_gb) == tuple(int(x) for x in m.groups()):
                return size.monthly_eur
        return None
    if resource.type == VOLUME:
        if card is None:
            return None
        pricing = card.pricing
        if pricing.quantity_parameter == "size_gb" and pricing.monthly_eur is not None:
            return (pricing.monthly_eur * (resource.size_gb or 0)).quantize(Decimal("0.01"))
    return Decimal(0)


def find(
    tenant: str,
    cloud: Iterable[CloudResource],
    known: set[str],
    cards: dict[str, Any],
    services: set[str] | None = None,
) -> list[Orphan]:
    """Tagged resources of `tenant` that no state knows. `services`: the services the stack
    file still has; a volume of any other service is retained data, not an accident."""
    return sorted(
        (
            Orphan(
                tenant=tenant,
                type=short(r.type),
                name=r.name,
                id=r.id,
                card=r.labels.get(CARD_KEY, ""),
                service=r.labels.get(SERVICE_KEY, ""),
                created=r.created,
                monthly_eur=monthly_cost(r, cards),
                retained=r.type == VOLUME
                and services is not None
                and r.labels.get(SERVICE_KEY, "") not in services,
            )
            for r in cloud
            if r.tenant == tenant and r.id not in known
        ),
        key=lambda o: (o.type, o.name, o.id),
    )
