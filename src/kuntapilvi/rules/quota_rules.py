"""A tenant's servers must fit the quota tier it adopts: more would fail at apply time, in the
middle of a change, with an OpenStack quota error instead of a finding."""

from __future__ import annotations

from kuntapilvi import findings as fnd
from kuntapilvi.errors import Finding
from kuntapilvi.model import Tenant
from kuntapilvi.schema.stack import TENANT_KEY
from kuntapilvi.stacks import TenantStack

BASE = ("config", TENANT_KEY)


def check(stack: TenantStack, tenant: Tenant) -> list[Finding]:
    quota_service = next(
        (s for s in tenant.services if s.card.module == "project.quota" and s.size is not None),
        None,
    )
    if quota_service is None or quota_service.size is None or quota_service.size.quota is None:
        return []
    quota = quota_service.size.quota
    servers = [s for s in tenant.services if s.card.server is not None and s.size is not None]
    used = {
        "instances": len(servers),
        "cores": sum(s.size.vcpu or 0 for s in servers if s.size is not None),
        "ram_gb": sum(s.size.ram_gb or 0 for s in servers if s.size is not None),
    }
    out: list[Finding] = []
    for what, amount in used.items():
        limit = getattr(quota, what)
        if amount > limit:
            out.append(
                fnd.error(
                    "quota.exceeded",
                    stack.doc,
                    (*BASE, "services", quota_service.index, "size"),
                    f"the servers of this stack need {amount} {what}, the quota tier "
                    f"'{quota_service.size_name}' of {quota_service.card.id} grants {limit}.",
                    f"choose a larger size of {quota_service.card.id} (sizes: "
                    f"{', '.join(quota_service.card.sizes)}) or fewer or smaller servers",
                )
            )
    return out
