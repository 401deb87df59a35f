"""Install failures (Debian packages, service venv) end in one sentence and the install log."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from kuntapilvi.devcloud import install, paths
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.paths import Paths


def test_missing_packages_without_root_say_what_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(install.os, "geteuid", lambda: 1000)
    with pytest.raises(DevcloudError) as info:
        install.install_debian_packages(["mariadb-server"], tmp_path / "install.log")
    assert "sudo apt-get install -y mariadb-server" in info.value.message


def test_failed_apt_get_names_the_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(install.os, "geteuid", lambda: 0)
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 100 if "install" in argv else 0)

    monkeypatch.setattr(install.subprocess, "run", fake_run)
    log = tmp_path / "install.log"
    with pytest.raises(DevcloudError) as info:
        install.install_debian_packages(["rabbitmq-server"], log)
    assert calls[0] == ["apt-get", "update"]
    assert "apt-get install -y rabbitmq-server" in info.value.message
    assert "exit 100" in info.value.message
    assert info.value.log == log


def test_nothing_missing_installs_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(install.subprocess, "run", lambda *a, **k: pytest.fail("ran apt"))
    install.install_debian_packages([], tmp_path / "install.log")


def test_venv_path_carries_the_pins_hash(tmp_path: Path) -> None:
    p = Paths(state=tmp_path / "s", cache=tmp_path / "c")
    assert p.venv.name == f"devcloud-venv-{paths.pins_hash()}"
    assert not install.venv_ready(p)


def test_constraints_pin_every_service_exactly() -> None:
    pins = {
        line.split("==")[0].lower(): line.split("==")[1]
        for line in paths.constraints_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for name in install.SERVICE_PACKAGES:
        assert name.lower() in pins, name
    assert pins["nova"] == "34.0.0" and pins["neutron"] == "29.0.0"
