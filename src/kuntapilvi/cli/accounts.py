"""`kuntapilvi accounts`: push a tenant's staff accounts (user.accounts) to its running directory.

The account list goes to the directory server's own `kuntapilvi-accounts sync` over SSH, with the
same logins and host-key trust as `kuntapilvi check`; the server applies it in place (new accounts
with a one-time password made there, removed ones disabled). Run it after the tenant's `pulumi up`
from where `kuntapilvi check` runs (the management network); docs/services.md, "Staff accounts".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from kuntapilvi.accounts import directory_service, request_json, sync_command
from kuntapilvi.checks.connect import describe_error, ssh_client
from kuntapilvi.checks.inventory import build_inventory
from kuntapilvi.cli.check import tenant_servers, with_logins
from kuntapilvi.cli.common import boundary, err, out
from kuntapilvi.cli.edge import find_root
from kuntapilvi.errors import CloudError, InvalidInput, KuntapilviError
from kuntapilvi.servicecontext import server_name
from kuntapilvi.validate import validate

app = typer.Typer(help="Staff accounts (user.accounts) in a tenant's directory.")


@app.command("sync")
@boundary
def sync_cmd(
    tenant: Annotated[str, typer.Argument(help="Tenant stack whose accounts are pushed")],
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            help="JSON of the servers, as for 'kuntapilvi check' (default: the stack outputs)",
        ),
    ] = None,
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            "-i",
            envvar="KUNTAPILVI_SSH_KEY",
            help="The centre's private SSH key (as for 'kuntapilvi check')",
        ),
    ] = None,
    user: Annotated[str | None, typer.Option(help="SSH user (default as for check)")] = None,
    known_hosts: Annotated[
        Path, typer.Option(help="Trusted host keys of servers that devcloud has not pinned")
    ] = Path("~/.ssh/known_hosts"),
    hosts_state: Annotated[
        Path | None, typer.Option(help="State folder of devcloud hosts (as for check)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the list that would be pushed, push nothing")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds for the connection and the sync")] = 120.0,
) -> None:
    """Bring the tenant's directory in line with the accounts of its request, in place."""
    paths = find_root()
    model = validate(paths, [tenant]).require_ok()
    spec = model.tenants[tenant]
    request = request_json(spec)
    if dry_run:
        out.print(escape(request))
        return
    directory = directory_service(spec)
    if directory is None:
        raise KuntapilviError(f"tenant '{tenant}' has no office.directory to hold accounts")
    servers = tenant_servers(tenant, paths.root, inventory)
    name = server_name(spec, directory)
    if name not in servers:
        raise KuntapilviError(
            f"the servers of '{tenant}' have no '{name}': run the stack's pulumi up first"
        )
    [host] = with_logins(
        build_inventory(model, tenant, {name: servers[name]}),
        identity=identity,
        user=user,
        known_hosts=known_hosts.expanduser(),
        hosts_state=hosts_state,
    )
    assert host.login is not None
    err.print(f"{name}: {host.login.user}@{host.address}, host key {escape(host.login.trust)}")
    try:
        client = ssh_client(host.address, host.login, timeout)
    except Exception as exc:
        raise CloudError(f"cannot reach {name} ({host.address}): {describe_error(exc)}") from None
    try:
        stdin, stdout, stderr = client.exec_command(sync_command(host.login.user), timeout=timeout)
        stdin.write(request.encode())
        stdin.channel.shutdown_write()
        answer = stdout.read().decode(errors="replace")
        problem = stderr.read().decode(errors="replace").strip()
        status = stdout.channel.recv_exit_status()
    except Exception as exc:
        raise CloudError(f"the sync on {name} did not finish: {describe_error(exc)}") from None
    finally:
        client.close()
    if status not in (0, 1):
        raise CloudError(f"the sync on {name} failed (exit {status}): {problem or answer}")
    try:
        summary = json.loads(answer)
    except json.JSONDecodeError:
        raise CloudError(f"the sync on {name} answered no summary: {answer[:200]!r}") from None
    for key in ("created", "renamed", "enabled", "disabled", "groups"):
        if summary.get(key):
            out.print(f"{key}: {escape(', '.join(summary[key]))}")
    if not any(summary.get(k) for k in ("created", "renamed", "enabled", "disabled", "groups")):
        out.print("the directory already holds the request's accounts")
    if summary.get("conflicts"):
        raise InvalidInput(
            f"{name}: these exist in the directory but were not made by kuntapilvi, so they "
            f"were left alone: {', '.join(summary['conflicts'])}. Fix: rename the account in "
            "the request, or remove the hand-made entry"
        )
