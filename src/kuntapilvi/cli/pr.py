"""`kuntapilvi pr check|comment`: the pull-request gate and its one comment."""

from __future__ import annotations

from typing import Annotated

import typer

from kuntapilvi.cli.common import EXIT_INVALID, boundary, check_today, err, out
from kuntapilvi.cli.edge import find_root
from kuntapilvi.errors import InvalidInput
from kuntapilvi.prcheck import check
from kuntapilvi.prcomment import render

app = typer.Typer(help="Checks and the comment for a pull request.")

Base = Annotated[str, typer.Option("--base", help="Revision the change is compared with")]
Today = Annotated[
    str | None,
    typer.Option(help="Judge staged adoption on this date (YYYY-MM-DD)", callback=check_today),
]


@app.command("check")
@boundary
def check_command(base: Base = "origin/main", today: Today = None) -> None:
    """Decide what the change touches, apply the rules, compare resources and costs with BASE."""
    result = check(find_root().root, base, today)
    err.print(f"scope: {result.scope.kind}")
    for f in result.findings:
        err.print(f"{f.severity}: {f.render()}", markup=False)
    for d in result.diffs:
        err.print(
            f"{d.stack}: €/month {d.monthly_before} -> {d.monthly_after}, "
            f"+{sum(d.added.values())}/-{sum(d.removed.values())} resources",
            markup=False,
        )
    if not result.ok:
        raise typer.Exit(EXIT_INVALID)


@app.command("comment")
@boundary
def comment_command(base: Base = "origin/main", today: Today = None) -> None:
    """Print the pull request's Markdown comment (with its update marker) on stdout."""
    out.print(render(check(find_root().root, base, today)), markup=False, end="")


@app.command("codeowners")
@boundary
def codeowners_command(
    check_only: Annotated[
        bool, typer.Option("--check", help="Exit 1 if CODEOWNERS is stale")
    ] = False,
) -> None:
    """Write CODEOWNERS from the owner register and the stack files (or check it is current)."""
    from kuntapilvi.codeowners import render as render_codeowners
    from kuntapilvi.validate import validate

    paths = find_root()
    text = render_codeowners(validate(paths).model)
    target = paths.root / "CODEOWNERS"
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise InvalidInput(
            "CODEOWNERS is not a regular file (a link, a FIFO or a folder). Fix: remove it and "
            "run 'kuntapilvi pr codeowners'"
        )
    # Compared as bytes: a CODEOWNERS that is not UTF-8 is simply stale.
    current = target.read_bytes() if target.is_file() else None
    if current == text.encode("utf-8"):
        err.print("CODEOWNERS is current")
        return
    if check_only:
        err.print("CODEOWNERS is stale; run 'kuntapilvi pr codeowners' and commit it")
        raise typer.Exit(EXIT_INVALID)
    target.write_text(text, encoding="utf-8")
    err.print("wrote CODEOWNERS")
