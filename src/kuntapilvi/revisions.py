"""The project's data files as they were at a git revision, for before/after comparisons."""

from __future__ import annotations

import contextlib
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.project import ProjectPaths

DATA = ("catalog", "stacks", "templates", "Pulumi.yaml")


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, errors="replace"
    )
    if result.returncode != 0:
        raise KuntapilviError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def changed_files(root: Path, base: str) -> list[str]:
    """Files the change touches: committed since the merge base with `base`, plus the working
    tree (so a tenant sees the answer before committing)."""
    merge_base = git(root, "merge-base", base, "HEAD").strip()
    # --no-renames: a renamed stack file is the old stack's removal and a new stack, and both
    # must be seen (with rename detection only the new name is listed).
    # -z: names as they are, never C-quoted ("stacks/\303\244.yaml") when odd bytes are in them.
    committed = git(root, "diff", "--name-only", "--no-renames", "-z", merge_base).split("\0")
    untracked = git(root, "ls-files", "--others", "--exclude-standard", "-z").split("\0")
    return sorted({f for f in committed + untracked if f})


def _data_only(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """tarfile's data filter, but a link out of the tree is left out instead of ending the
    extraction: the loader then reports the missing file where it is used."""
    try:
        return tarfile.data_filter(member, dest)
    except tarfile.FilterError:
        return None


@contextlib.contextmanager
def checkout(root: Path, rev: str) -> Iterator[ProjectPaths]:
    """A temporary copy of the data files at `rev` (only those; code is not needed to validate)."""
    present = [p for p in DATA if git(root, "ls-tree", "--name-only", rev, p).strip()]
    with tempfile.TemporaryDirectory(prefix="kuntapilvi-rev-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", "--format=tar", rev, *present],
            capture_output=True,
        )
        if archive.returncode != 0:
            raise KuntapilviError(f"cannot read revision {rev}: {archive.stderr.decode().strip()}")
        tar_path = Path(tmp) / "rev.tar"
        tar_path.write_bytes(archive.stdout)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter=_data_only)
        tar_path.unlink()
        (Path(tmp) / "catalog").mkdir(exist_ok=True)
        (Path(tmp) / "stacks").mkdir(exist_ok=True)
        yield ProjectPaths(Path(tmp))
