"""The servers to check: a tenant stack's `servers` output joined with the validated model.

The stack output (see program.py) is `{server_name: {address, service, card, card_version}}`.
`--inventory FILE` takes the same JSON, or the whole `pulumi stack output --json` document, so
checks run without Pulumi too. Each server gets the check context of its service (the card's
parameters and the names in catalogue_rules.CHECK_CONTEXT), computed by servicecontext as for
its user data, so a check expects exactly what the template wrote.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.model import Model
from kuntapilvi.servicecontext import check_context, server_name

REQUIRED_FIELDS = ("address", "service", "card")


@dataclass(frozen=True)
class Login:
    """How to reach one server over SSH, and why its host key is trusted."""

    user: str
    identity: str  # private key file
    host_key: str | None = None  # "ssh-ed25519 AAAA..." pinned for this server (devcloud)
    known_hosts: str | None = None  # file whose entries are trusted, when nothing is pinned
    trust: str = ""  # one line for people: where the trusted host key comes from
    port: int = 22


@dataclass(frozen=True)
class InventoryHost:
    name: str  # the server's name (Nova), e.g. kajaani-print
    address: str
    tenant: str
    service: str
    card: str
    card_version: str | None  # the version the server was built from
    context: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # the server does not match the stack: a failed check
    notes: tuple[str, ...] = ()  # worth saying, not a failure
    login: Login | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InventoryHost:
        login = data.get("login")
        return cls(
            **{
                **data,
                "problems": tuple(data.get("problems", ())),
                "notes": tuple(data.get("notes", ())),
                "login": Login(**login) if login else None,
            }
        )


def servers_from_json(text: str, source: str) -> dict[str, dict[str, Any]]:
    """The servers mapping from SOURCE's JSON: a bare mapping or a whole stack output."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KuntapilviError(f"{source} is not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("servers"), dict):
        data = data["servers"]
    if not isinstance(data, dict):
        raise KuntapilviError(
            f"{source} must map server names to {{address, service, card, card_version}}"
        )
    for name, entry in data.items():
        missing = [k for k in REQUIRED_FIELDS if not isinstance(entry, dict) or not entry.get(k)]
        if missing:
            raise KuntapilviError(f"{source}: server '{name}' lacks {', '.join(missing)}")
    return data


def stack_servers(tenant: str, root: Path) -> dict[str, dict[str, Any]]:
    """The tenant stack's `servers` output, read with the Pulumi CLI in the project root."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise KuntapilviError(
            "the pulumi CLI is not on PATH: source scripts/env.sh, or pass --inventory FILE"
        )
    cmd = [pulumi, "stack", "output", "--json", "--stack", tenant]
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise KuntapilviError(
            f"'pulumi stack output --json --stack {tenant}' failed: "
            f"{done.stderr.strip() or done.stdout.strip()}"
        )
    return servers_from_json(done.stdout, f"the outputs of stack '{tenant}'")


def build_inventory(
    model: Model, tenant_name: str, servers: Mapping[str, Mapping[str, Any]]
) -> list[InventoryHost]:
    """One InventoryHost per server, sorted by name, with its service's check context."""
    tenant = model.tenants.get(tenant_name)
    if tenant is None:
        raise KuntapilviError(
            f"no tenant stack '{tenant_name}' (stacks/Pulumi.{tenant_name}.yaml) in the project"
        )
    by_name = {s.name: s for s in tenant.services}
    hosts = []
    for name, out in sorted(servers.items()):
        service_name, card_id = str(out["service"]), str(out["card"])
        version = out.get("card_version")
        problems: list[str] = []
        notes: list[str] = []
        context: dict[str, Any] = {}
        service = by_name.get(service_name)
        if service is None:
            problems.append(
                f"service '{service_name}' is not in stacks/Pulumi.{tenant_name}.yaml; the "
                "server is left over from an earlier request (apply the stack to remove it)"
            )
        elif service.card.id != card_id:
            problems.append(
                f"the server was built from {card_id}, but the stack now gives service "
                f"'{service_name}' the card {service.card.id} (apply the stack)"
            )
        else:
            context = check_context(model, tenant, service)
            expected = server_name(tenant, service)
            if name != expected:
                notes.append(f"server name differs from the expected '{expected}'")
            if version and version != service.card.version:
                notes.append(
                    f"built from {card_id} {version}; checked against {service.card.version} "
                    "(apply the stack to rebuild it)"
                )
        hosts.append(
            InventoryHost(
                name=name,
                address=str(out["address"]),
                tenant=tenant_name,
                service=service_name,
                card=card_id,
                card_version=str(version) if version else None,
                context=context,
                problems=tuple(problems),
                notes=tuple(notes),
            )
        )
    return hosts


def write_inventory(hosts: list[InventoryHost], project: Path, path: Path) -> None:
    """The file the generic test module reads: the project (for the catalogue) and the hosts."""
    doc = {"project": str(project), "hosts": [h.as_dict() for h in hosts]}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def read_inventory(path: Path) -> tuple[Path, list[InventoryHost]]:
    doc = json.loads(path.read_text())
    return Path(doc["project"]), [InventoryHost.from_dict(h) for h in doc["hosts"]]
