"""`kuntapilvi check <tenant>`: the card's host checks on every server of a tenant, over SSH.

Exit status: 0 every check passed, 1 a check failed (or a server could not be reached),
2 the checks could not run (no inventory, no key, a broken catalogue).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kuntapilvi.checks.inventory import (
    InventoryHost,
    Login,
    build_inventory,
    servers_from_json,
    stack_servers,
)
from kuntapilvi.checks.runner import Result, run_checks
from kuntapilvi.cli.common import EXIT_INVALID, EXIT_OK, boundary, err, out
from kuntapilvi.cli.edge import find_root
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.validate import validate

# The centre's admin user, made by every server template (templates/cloud-init/_base.yaml.j2)
# with the centre's keys and sudo.
ADMIN_USER = "yllapito"


def tenant_servers(tenant: str, root: Path, inventory: Path | None) -> dict[str, dict[str, Any]]:
    """The tenant's servers: from an inventory file when given, else from its stack outputs."""
    if inventory is None:
        return stack_servers(tenant, root)
    try:
        text = inventory.read_text()
    except OSError as exc:
        raise KuntapilviError(f"cannot read {inventory}: {exc.strerror}") from None
    return servers_from_json(text, str(inventory))


@boundary
def check_command(
    tenant: Annotated[str, typer.Argument(help="Tenant stack whose servers are checked")],
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            help="JSON of the servers, shaped like the stack's 'servers' output (or the whole "
            "'pulumi stack output --json'); default: read the stack outputs with pulumi",
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write the results as JUnit XML here")
    ] = None,
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            "-i",
            envvar="KUNTAPILVI_SSH_KEY",
            help="The centre's private SSH key (default: ~/.ssh/id_ed25519; devcloud hosts: "
            "the devcloud machinery's own key)",
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(help=f"SSH user (default {ADMIN_USER}, with sudo; devcloud hosts: root)"),
    ] = None,
    known_hosts: Annotated[
        Path,
        typer.Option(help="Trusted host keys of servers that devcloud has not pinned"),
    ] = Path("~/.ssh/known_hosts"),
    hosts_state: Annotated[
        Path | None,
        typer.Option(
            help="State folder of devcloud hosts, whose pinned host keys are trusted "
            "(default: $KUNTAPILVI_HOSTS_STATE or the devcloud state's hosts/)"
        ),
    ] = None,
    connect_timeout: Annotated[float, typer.Option(help="Seconds for an SSH connection")] = 15.0,
    command_timeout: Annotated[float, typer.Option(help="Seconds for one command")] = 120.0,
    verbose: Annotated[bool, typer.Option(help="Show pytest's own output too")] = False,
) -> None:
    """Run every server's card checks (packages, services, ports, files, commands) over SSH and
    print a table per server; a server that cannot be reached fails, it is never skipped."""
    paths = find_root()
    model = validate(paths, [tenant]).require_ok()
    servers = tenant_servers(tenant, paths.root, inventory)
    hosts = build_inventory(model, tenant, servers)
    if not hosts:
        raise KuntapilviError(f"tenant '{tenant}' has no servers to check")
    hosts = with_logins(
        hosts,
        identity=identity,
        user=user,
        known_hosts=known_hosts.expanduser(),
        hosts_state=hosts_state,
    )
    for h in hosts:
        for note in h.notes:
            err.print(f"[yellow]note[/] {h.name}: {escape(note)}")
        if h.login is not None:
            err.print(f"{h.name}: {h.login.user}@{h.address}, host key {escape(h.login.trust)}")
    results = run_checks(
        hosts,
        paths.root,
        junit=junit,
        suite=f"kuntapilvi-check-{tenant}",
        connect_timeout=connect_timeout,
        command_timeout=command_timeout,
        verbose=verbose,
    )
    print_results(results)
    if junit is not None:
        err.print(f"JUnit XML: {junit}")
    raise typer.Exit(EXIT_OK if all(r.passed for r in results) else EXIT_INVALID)


def devcloud_host_keys(state: Path | None) -> dict[str, tuple[str, str, Path]]:
    """{server name: (address, pinned host key, machinery key)} of running devcloud hosts."""
    from kuntapilvi.hosts.manager import HostManager
    from kuntapilvi.hosts.paths import default_state_dir

    state = state or default_state_dir()
    machine_key = state / "ssh" / "id_ed25519"
    if not (state / "hosts").is_dir() or not machine_key.is_file():
        return {}
    manager = HostManager(state)
    found = {}
    for rec in manager.host_records():
        try:
            key = manager.host_key(rec.name)
        except Exception:
            continue  # not booted far enough to have published a key: not trusted
        found[rec.name] = (rec.address.split("/")[0], key, machine_key)
    return found


def with_logins(
    hosts: list[InventoryHost],
    *,
    identity: Path | None,
    user: str | None,
    known_hosts: Path,
    hosts_state: Path | None,
) -> list[InventoryHost]:
    """Each host with how to log in and which host key to trust; never trust on first use."""
    pinned = devcloud_host_keys(hosts_state)
    default_identity = Path("~/.ssh/id_ed25519").expanduser()
    out_hosts = []
    for h in hosts:
        dev = pinned.get(h.name)
        if dev is not None and dev[0] == h.address:
            _, host_key, machine_key = dev
            # devcloud hosts accept the machinery's own key for root (from the gateway only);
            # with --identity the centre's key and its admin user are used instead.
            key = identity or machine_key
            login = Login(
                user=user or (ADMIN_USER if identity else "root"),
                identity=str(key),
                host_key=host_key,
                trust="pinned by devcloud (read from the host's own disk)",
            )
        else:
            key = identity or default_identity
            login = Login(
                user=user or ADMIN_USER,
                identity=str(key),
                known_hosts=str(known_hosts),
                trust=f"from {known_hosts}",
            )
        if not Path(login.identity).is_file():
            raise KuntapilviError(
                f"SSH key {login.identity} does not exist: pass the centre's key with "
                "--identity (or KUNTAPILVI_SSH_KEY)"
            )
        out_hosts.append(dataclasses.replace(h, login=login))
    return out_hosts


def print_results(results: list[Result]) -> None:
    table = Table(title="Host checks", show_lines=False)
    for column in ("Host", "Card", "Check", "Result"):
        table.add_column(column)
    last_host = None
    for r in results:
        if last_host is not None and r.host != last_host:
            table.add_section()
        first = r.host != last_host
        table.add_row(
            escape(f"{r.host} ({r.address})") if first else "",
            escape(r.card) if first else "",
            escape(f"{r.kind}: {r.check}"),
            "[green]pass[/]" if r.passed else "[bold red]FAIL[/]",
        )
        last_host = r.host
    # Wide enough for commands even in a CI log, which has no terminal width (rich would assume
    # 80 columns and wrap every cell); print() cannot widen the shared console, so a wider one.
    wide = out if out.is_terminal else Console(highlight=False, width=max(out.width, 140))
    wide.print(table)
    failed = [r for r in results if not r.passed]
    for r in failed:
        out.print(f"\n[bold red]FAIL[/] {escape(r.host)} · {escape(r.card)} · "
                  f"{escape(r.kind)}: {escape(r.check)}")  # fmt: skip
        out.print(escape(r.message), markup=True)
    hosts = {r.host for r in results}
    bad_hosts = {r.host for r in failed}
    out.print(f"\n{len(hosts) - len(bad_hosts)} of {len(hosts)} server(s) passed every check")
    # Last and alone on its line: the closing line CI log readers look for.
    out.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
