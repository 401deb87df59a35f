"""`kuntapilvi devcloud hosts`: the real Debian hosts behind devcloud's servers.

Normally the devcloud watcher starts and stops hosts; these commands are for looking at them,
cleaning up, and preparing the template ahead of time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kuntapilvi.cli.common import boundary
from kuntapilvi.hosts import HostManager
from kuntapilvi.hosts.template import build_template, default_spec, find_template, prune_templates

app = typer.Typer(
    help="Real Debian hosts (systemd-nspawn) that boot devcloud servers' user data.",
    no_args_is_help=True,
)
template_app = typer.Typer(help="The debootstrap template every host boots from.")
app.add_typer(template_app, name="template")

StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="State folder (default: $KUNTAPILVI_HOSTS_STATE or the devcloud state's hosts/)",
    ),
]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@app.command("list")
@boundary
def list_hosts(
    state_dir: StateOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Show every host this state folder knows: its server, tenant, address, state, timings,
    memory and attached volumes."""
    hosts = HostManager(state_dir).list_hosts()
    if as_json:
        rows = [
            {
                "name": h.name, "server_id": h.server_id or None, "tenant": h.tenant or None,
                "address": h.address, "bridge": h.bridge, "running": h.running,
                "cloud_init": h.cloud_init_status or None, "ssh_ready_s": h.ssh_ready_s,
                "cloud_init_done_s": h.cloud_init_done_s, "pss_mib": h.pss_mib,
                "volumes": h.volumes,
            }
            for h in hosts
        ]  # fmt: skip
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("server", "id", "tenant", "address", "state", "cloud-init", "ssh s", "ready s",
                  "PSS MiB", "disks")  # fmt: skip
    for h in hosts:
        table.add_row(
            # The id's first 8 characters are enough to tell servers apart; --json has it whole.
            h.name, h.server_id[:8] or "by hand", h.tenant or "-", h.address,
            "running" if h.running else "stopped", h.cloud_init_status or "-",
            _seconds(h.ssh_ready_s), _seconds(h.cloud_init_done_s),
            "-" if h.pss_mib is None else f"{h.pss_mib:.0f}",
            " ".join(f"{v['device'].removeprefix('/dev/')}:{v['size_gb']}G"
                     for v in h.volumes.values()) or "-",
        )  # fmt: skip
    console = Console()
    # A log or pipe has no width; rich would assume 80 columns and break every header.
    (console if console.is_terminal else Console(width=max(console.width, 140))).print(table)


@app.command("start")
@boundary
def start(
    name: Annotated[str, typer.Argument(help="The server's name")],
    address: Annotated[str, typer.Option(help="Fixed address with prefix, e.g. 10.64.1.10/24")],
    gateway: Annotated[str, typer.Option(help="The subnet's gateway, e.g. 10.64.1.1")],
    network_id: Annotated[str, typer.Option(help="The Neutron network id (one bridge each)")],
    user_data: Annotated[
        Path | None, typer.Option(help="cloud-init user data file", exists=True, dir_okay=False)
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for SSH and cloud-init")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for cloud-init")] = 900.0,
    state_dir: StateOpt = None,
) -> None:
    """Start (or keep) a host by hand, as the watcher does for an ACTIVE server."""
    text = user_data.read_text() if user_data else None
    info = HostManager(state_dir).ensure_host(
        name, address, gateway, network_id, text, wait=wait, timeout=timeout
    )
    typer.echo(
        f"{info.name}: {info.address} on {info.bridge}, "
        f"cloud-init {info.cloud_init_status or 'booting'} (console: {info.console_log})"
    )
    if wait and info.cloud_init_status != "done":
        # The host runs, but its user data did not apply cleanly: a failure for whoever waits on it.
        typer.echo(f"error: cloud-init did not finish cleanly; see {info.console_log}", err=True)
        raise typer.Exit(1)


@app.command("stop")
@boundary
def stop(name: str, state_dir: StateOpt = None) -> None:
    """Stop a host and remove its overlay, namespace and veth."""
    found = HostManager(state_dir).stop_host(name)
    if not found:
        typer.echo(f"no host named {name!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"stopped {name}")


@app.command("stop-all")
@boundary
def stop_all(state_dir: StateOpt = None) -> None:
    """Stop every host, then remove the bridges and the apt proxy."""
    names = HostManager(state_dir).stop_all()
    typer.echo(f"stopped {len(names)} host(s){': ' + ', '.join(names) if names else ''}")


@template_app.command("build")
@boundary
def template_build(
    force: Annotated[bool, typer.Option(help="Rebuild even if a matching template exists")] = False,
    suite: Annotated[str, typer.Option(help="Debian suite")] = "bookworm",
) -> None:
    """Build (or reuse) the template; its downloads stay cached for the next build."""
    spec = default_spec(suite)
    reused = find_template(spec) is not None and not force
    tpl = build_template(spec, force=force)
    info = tpl.info
    how = "reused" if reused else f"built in {info['build_seconds']} s"
    typer.echo(f"template {tpl.path} ({info['size_mb']:.0f} MB): {how}")


@template_app.command("prune")
@boundary
def template_prune() -> None:
    """Delete cached templates of older inputs that no running host uses."""
    removed = prune_templates()
    typer.echo(f"removed {len(removed)} old template(s)")
