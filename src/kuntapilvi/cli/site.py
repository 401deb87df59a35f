"""`kuntapilvi site build`: the public catalogue as static pages (fi, sv, en)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kuntapilvi.catalogue import load_catalogue
from kuntapilvi.cli.common import EXIT_INVALID, boundary, err
from kuntapilvi.cli.edge import find_root
from kuntapilvi.i18n import pick, render_finding, tr
from kuntapilvi.rules import catalogue_rules, owner_rules

app = typer.Typer(help="The public service catalogue site.", no_args_is_help=True)


@app.command("build")
@boundary
def build_command(
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder")] = Path("site"),
) -> None:
    """Build the static site from the catalogue only (cards, price list, owners)."""
    from kuntapilvi.site import build

    paths = find_root()
    cat, loaded = load_catalogue(paths)
    findings = [*loaded, *catalogue_rules.check(cat), *owner_rules.check(cat)]
    errors = [f for f in findings if f.severity == "error"]
    if errors or not cat.complete:
        lang = pick(None)
        for f in errors:
            err.print(render_finding(f, lang), markup=False)
        err.print(tr(lang, "the catalogue has errors; the site is not built"))
        raise typer.Exit(EXIT_INVALID)
    target = out_dir if out_dir.is_absolute() else paths.root / out_dir
    written = build(cat, target)
    err.print(tr(pick(None), "wrote {files}").format(files=f"{len(written)} → {target}"))
