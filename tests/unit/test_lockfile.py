"""requirements.lock (scripts/lock) must pin, with hashes, every dependency pyproject.toml names:
bootstrap installs the lock with --no-deps, so a dependency added to pyproject.toml without
re-locking would be missing on a fresh machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every package in requirements.lock."""
    text = (ROOT / "requirements.lock").read_text()
    out: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", block)
        if head:
            out[_canonical(head.group(1))] = (head.group(2), block.count("--hash=sha256:"))
    return out


def test_every_declared_dependency_is_locked_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    locked = _locked()
    assert locked, "requirements.lock lists no package"
    for spec in declared:
        req = Requirement(spec)
        name = _canonical(req.name)
        assert name in locked, f"{req.name} is in pyproject.toml but not locked; run scripts/lock"
        version, hashes = locked[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"{req.name}=={version} in requirements.lock does not satisfy {spec!r}; "
            "run scripts/lock"
        )
        assert hashes >= 1, f"{req.name} is locked without a hash"


def test_every_locked_package_has_a_hash() -> None:
    missing = [name for name, (_, hashes) in _locked().items() if hashes == 0]
    assert not missing
