"""Where the project's files are: found from the working directory or KUNTAPILVI_ROOT."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kuntapilvi.errors import KuntapilviError


@dataclass(frozen=True, slots=True)
class ProjectPaths:
    root: Path

    @property
    def catalog(self) -> Path:
        return self.root / "catalog"

    @property
    def cards(self) -> Path:
        return self.root / "catalog" / "cards"

    @property
    def stacks(self) -> Path:
        return self.root / "stacks"

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def schemas(self) -> Path:
        return self.root / "schemas"

    @property
    def state(self) -> Path:
        return self.root / ".state"

    def display(self, path: Path) -> str:
        # The file's own name, not its link target's: a link is reported as the link it is.
        try:
            return str((path.parent.resolve() / path.name).relative_to(self.root.resolve()))
        except ValueError:
            return str(path)


def find_root(start: Path | None = None, env: Path | None = None) -> ProjectPaths:
    """The nearest folder holding Pulumi.yaml and catalog/: `env` (KUNTAPILVI_ROOT, read by the
    caller's settings) or upwards from `start`."""
    if env:
        root = Path(env)
        if not (root / "catalog").is_dir():
            raise KuntapilviError(
                f"KUNTAPILVI_ROOT={env} has no catalog/ folder; point it at the project checkout"
            )
        return ProjectPaths(root.resolve())
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file() and (candidate / "catalog").is_dir():
            return ProjectPaths(candidate)
    raise KuntapilviError(
        f"no kuntapilvi project (Pulumi.yaml and catalog/) in {here} or above; "
        "run the command inside the checkout or set KUNTAPILVI_ROOT"
    )


def checkout_root() -> Path:
    """The checkout this package runs from (editable install), else the current directory.

    State that only means something on this machine (devcloud, hosts) lives under it."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "kuntapilvi").is_dir():
            return parent
    return Path.cwd()


def cache_root() -> Path:
    """Expensive things kept across checkouts: $KUNTAPILVI_CACHE or ~/.cache/kuntapilvi."""
    return Path(os.environ.get("KUNTAPILVI_CACHE") or Path.home() / ".cache" / "kuntapilvi")
