"""Staff accounts (user.accounts): the list a tenant's request gives, as pushed to its directory.

The directory server (office.directory) carries `kuntapilvi-accounts` (templates/files/), which
brings its tree in line with a pushed list in place: new accounts get a one-time password made on
that host, accounts that left the list are disabled, never deleted. The list is never part of the
server's user data, so a changed list never replaces the directory (docs/services.md).
"""

from __future__ import annotations

import json
from typing import Any

from kuntapilvi.model import Service, Tenant

ACCOUNTS_MODULE = "user.accounts"
DIRECTORY_CARD = "office.directory"
SYNC_PROGRAM = "/usr/local/sbin/kuntapilvi-accounts"


def desired_accounts(tenant: Tenant) -> dict[str, list[dict[str, Any]]]:
    """{"accounts": [{uid, name, groups}]} in the request's order; empty without the card (a
    push then disables every account the directory has from an earlier list)."""
    accounts = [
        {"uid": a["uid"], "name": a["name"], "groups": sorted(set(a.get("groups", [])))}
        for s in tenant.by_module(ACCOUNTS_MODULE)
        for a in s.params.get("accounts", ())
    ]
    return {"accounts": accounts}


def request_json(tenant: Tenant) -> str:
    return json.dumps(desired_accounts(tenant), ensure_ascii=False, sort_keys=True)


def directory_service(tenant: Tenant) -> Service | None:
    found = tenant.by_card(DIRECTORY_CARD)
    return found[0] if found else None


def sync_command(user: str) -> str:
    """What runs on the directory: directly as root, else through sudo without a prompt."""
    return f"{SYNC_PROGRAM} sync" if user == "root" else f"sudo -n {SYNC_PROGRAM} sync"
