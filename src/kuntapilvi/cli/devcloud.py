"""`kuntapilvi devcloud`: a real OpenStack control plane on 127.0.0.1."""

from __future__ import annotations

import enum
import json
import subprocess
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from kuntapilvi.cli.common import boundary
from kuntapilvi.devcloud import credentials, lifecycle, watcherprocess
from kuntapilvi.devcloud import services as svc
from kuntapilvi.devcloud import status as st
from kuntapilvi.devcloud.paths import Paths

app = typer.Typer(
    help="A real OpenStack on 127.0.0.1 for trying stacks before production.",
    no_args_is_help=True,
)
# soft_wrap: one-sentence errors and paths must survive copy-paste from a log unbroken.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")


def _guard(action: Callable[[], T]) -> T:
    """Ctrl-C stops what `up` is doing; every error goes to the CLI's one boundary, which prints a
    DevcloudError as one sentence and its log (exit 3), never a traceback."""
    try:
        return action()
    except KeyboardInterrupt:
        lifecycle.ABORT.set()
        err.print("devcloud: interrupted; `kuntapilvi devcloud down` stops what did start.")
        raise typer.Exit(130) from None


class Optional(enum.StrEnum):
    """Services devcloud runs only when asked to."""

    HEAT = "heat"


WithOption = Annotated[
    list[Optional] | None,
    typer.Option("--with", help="An optional service to run too: heat (OpenStack Heat, "
                                "for bench/peers.py). Not started unless asked for."),
]


def _optional(names: list[Optional] | None) -> bool:
    """True when Heat is asked for (typer refuses any other name, exit 2)."""
    return Optional.HEAT in (names or [])


@app.command()
@boundary
def up(with_: WithOption = None) -> None:
    """Install what is missing, configure, start and bootstrap devcloud (idempotent)."""
    paths = Paths.default()
    with_heat = _optional(with_)

    def run() -> lifecycle.UpResult:
        if with_heat:
            return lifecycle.up(paths, console, with_heat=True)
        return lifecycle.up(paths, console)

    result = _guard(run)
    if result.already_running and with_heat:
        console.print("devcloud was running; Heat is up too.", highlight=False)
        return
    if result.already_running:
        console.print(f"devcloud is already running ({len(svc.SERVICES)} services answering); "
                      f"host watcher: {result.watcher}.", highlight=False)
        return
    console.print(f"[bold green]devcloud is up[/] in {result.seconds:.1f} s. "
                  "Point clients at it with: eval \"$(kuntapilvi devcloud env)\"")
    console.print(f"Host watcher: {result.watcher}", highlight=False)


@app.command()
@boundary
def install(with_: WithOption = None) -> None:
    """Install what devcloud runs (Debian packages, the service venv) without starting it.

    Everything that downloads happens here, so a devcloud can then start where nothing can be
    downloaded (scripts/isolated runs the test tiers in a network namespace with no route out).
    """
    paths = Paths.default()

    with_heat = _optional(with_)

    def run() -> list[str]:
        if with_heat:
            return lifecycle.install_only(paths, with_heat=True)
        return lifecycle.install_only(paths)

    for line in _guard(run):
        console.print(line, highlight=False)


@app.command()
@boundary
def down() -> None:
    """Stop exactly the processes devcloud started (by PID file)."""
    result = _guard(lambda: lifecycle.down(Paths.default()))
    if result.hosts:
        console.print(f"Stopped {len(result.hosts)} hosts: {', '.join(result.hosts)}.")
    if not result.stopped:
        console.print("devcloud was not running.")
        return
    console.print(f"Stopped {len(result.stopped)} services: {', '.join(result.stopped)}.")
    if result.killed:
        console.print(f"[yellow]Had to SIGKILL:[/] {', '.join(result.killed)}.")


@app.command()
@boundary
def reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Stop devcloud and delete its state (databases, configs, logs). The venv cache stays."""
    paths = Paths.default()
    if not yes and not typer.confirm(f"Delete {paths.state}?"):
        raise typer.Exit(1)
    result = _guard(lambda: lifecycle.reset(paths))
    console.print(f"Stopped {len(result.stopped)} services and deleted {paths.state}.")


@app.command()
@boundary
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Each service: pid, port, answering or not; then the host watcher. Exits 1 if any is down
    (a watcher that `up` deliberately did not start is not down: its reason is printed)."""
    paths = Paths.default()
    rows = _guard(lambda: st.collect(paths))
    watcher = watcherprocess.status(paths)
    if as_json:
        doc = [{"name": r.name, "pid": r.pid, "port": r.port, "answering": r.answering,
                "memory_mib": round(r.memory_mib, 1)} for r in rows]
        doc.append({"name": watcherprocess.NAME, "pid": watcher.pid, "port": None,
                    "answering": watcher.running, "memory_mib": round(watcher.memory_mib, 1),
                    "ok": watcher.ok, "detail": watcher.summary()})
        typer.echo(json.dumps(doc, indent=2))
    else:
        table = Table(title=f"devcloud ({paths.state})")
        for column in ("service", "pid", "port", "answering", "RAM MiB"):
            table.add_column(column, justify="right" if column == "RAM MiB" else "left")
        for r in rows:
            table.add_row(
                r.name,
                str(r.pid) if r.pid else "[red]-[/]",
                str(r.port) if r.port else ("socket" if r.name == "mariadb" else ""),
                "[green]yes[/]" if r.ok else "[red]no[/]",
                f"{r.memory_mib:.0f}" if r.pid else "",
            )
        table.add_row(
            "host watcher",
            str(watcher.pid) if watcher.pid else ("-" if watcher.ok else "[red]-[/]"),
            "",
            "[green]yes[/]" if watcher.running else ("off" if watcher.ok else "[red]no[/]"),
            f"{watcher.memory_mib:.0f}" if watcher.pid else "",
        )
        table.add_section()
        total = sum(r.memory_mib for r in rows) + watcher.memory_mib
        table.add_row("total", "", "", "", f"{total:.0f}")
        console.print(table)
        console.print(f"Host watcher: {watcher.summary()}", highlight=False)
    if not (all(r.ok for r in rows) and watcher.ok):
        raise typer.Exit(1)


@app.command()
@boundary
def env(
    region: Annotated[str, typer.Option(help="Region to select.")] = svc.REGIONS[0],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole dict as JSON.")] = False,
) -> None:
    """Print OS_* exports and Pulumi provider config for devcloud (eval-able)."""
    info = _guard(lambda: credentials.connection_info(Paths.default(), region))
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    else:
        typer.echo(credentials.shell_exports(info))


@app.command()
@boundary
def logs(
    service: Annotated[str | None, typer.Argument(help="Service to tail; all paths if omitted.")]
    = None,
    lines: Annotated[int, typer.Option("--lines", "-n")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
) -> None:
    """Print the log paths, or tail one service's log."""
    paths = Paths.default()
    if service is None:
        for s in svc.SERVICES:
            log = paths.log(s.name)
            mark = "" if log.exists() else "  (none yet)"
            typer.echo(f"{s.name:18} {log}{mark}")
        for extra in sorted(paths.logs.glob("*.log")) if paths.logs.is_dir() else []:
            if extra.stem not in svc.BY_NAME:
                typer.echo(f"{extra.stem:18} {extra}")
        return
    log = paths.log(service)
    if not log.exists():
        names = ", ".join(s.name for s in svc.SERVICES)
        err.print(f"devcloud: no log for {service!r} at {log}. Services: {names}.")
        raise typer.Exit(1)
    argv = ["tail", f"-n{lines}", *(["-F"] if follow else []), str(log)]
    try:
        raise typer.Exit(subprocess.call(argv))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


# `kuntapilvi devcloud hosts`: the real Debian hosts behind devcloud's servers.
from kuntapilvi.cli import hosts as _hosts  # noqa: E402 - mounted after the devcloud app exists

app.add_typer(_hosts.app, name="hosts")
