"""`kuntapilvi schema`: write or check the JSON Schemas that editors use while typing."""

from __future__ import annotations

from typing import Annotated

import typer

from kuntapilvi.cli.common import EXIT_INVALID, boundary, err
from kuntapilvi.cli.edge import find_root
from kuntapilvi.errors import InvalidInput
from kuntapilvi.jsonschema import schema_documents


@boundary
def schema_command(
    check: Annotated[
        bool, typer.Option(help="Only check that schemas/ is current; exit 1 when stale")
    ] = False,
) -> None:
    """Write schemas/*.schema.json from the validation models (the YAML files' $schema lines
    point at them), or check that the committed ones are current."""
    paths = find_root()
    stale = []
    for name, text in schema_documents().items():
        target = paths.schemas / name
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise InvalidInput(
                f"{paths.display(target)} is not a regular file (a link, a FIFO or a folder). "
                "Fix: remove it; 'kuntapilvi schema' writes it anew"
            )
        # Compared as bytes: a file that is not UTF-8 is simply stale, and is rewritten.
        current = target.read_bytes() if target.is_file() else None
        if current == text.encode("utf-8"):
            continue
        stale.append(name)
        if not check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    if check and stale:
        err.print(f"stale: {', '.join(stale)}; run 'kuntapilvi schema' and commit schemas/")
        raise typer.Exit(EXIT_INVALID)
    err.print("schemas/ is current" if not stale else f"wrote {', '.join(stale)}")
