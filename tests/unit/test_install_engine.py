"""scripts/install-engine: what it takes for someone else's pulumi on PATH."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import stat
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install-engine"


def load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("install_engine", str(SCRIPT))
    spec = importlib.util.spec_from_loader("install_engine", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def fake_pulumi(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True)
    exe = folder / "pulumi"
    exe.write_text(f"#!/bin/sh\necho v{version}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_own_engine_folders_on_path_are_not_ambient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `. scripts/env.sh` the engine's host folder is on PATH; taking it for an ambient
    pulumi once replaced the cached CLI with a link to itself."""
    engine = load()
    monkeypatch.setattr(engine, "ENGINE", tmp_path / "engine")
    own_host = fake_pulumi(tmp_path / "engine" / "pulumi-v9.9.9" / "host-abc", "9.9.9").parent
    bin_dir = tmp_path / "engine" / "pulumi-v9.9.9" / "bin"
    monkeypatch.setenv("PATH", str(own_host))
    assert engine.find_ambient_pulumi("9.9.9", bin_dir) is None
    elsewhere = fake_pulumi(tmp_path / "opt" / "bin", "9.9.9")
    monkeypatch.setenv("PATH", f"{own_host}:{elsewhere.parent}")
    assert engine.find_ambient_pulumi("9.9.9", bin_dir) == elsewhere.resolve()
