"""Installs what devcloud runs: Debian's MariaDB and RabbitMQ, and the pinned OpenStack venv.

The OpenStack services get their own venv, never the project's: their hundreds of pinned
dependencies (oslo.*, SQLAlchemy, eventlet) must not constrain or break the engine's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.paths import Paths, constraints_text

# bind9 is the DNS server behind Designate; bind9-utils brings the rndc it drives it with.
DEBIAN_PACKAGES: tuple[str, ...] = ("mariadb-server", "rabbitmq-server", "bind9", "bind9-utils")

# Top-level services; every other version comes from constraints.txt.
SERVICE_PACKAGES: tuple[str, ...] = (
    "keystone", "openstack-placement", "nova", "neutron", "cinder", "glance",
    "designate", "python-openstackclient", "PyMySQL", "gunicorn",
)

_READY_STAMP = ".devcloud-ready"


def missing_debian_packages(packages: tuple[str, ...] = DEBIAN_PACKAGES) -> list[str]:
    missing = []
    for pkg in packages:
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f=${Status}", pkg],
                capture_output=True, text=True, timeout=30,
            )
        except FileNotFoundError as exc:
            raise DevcloudError(
                "devcloud needs a Debian-based machine (dpkg-query was not found)."
            ) from exc
        if out.returncode != 0 or "install ok installed" not in out.stdout:
            missing.append(pkg)
    return missing


def install_debian_packages(missing: list[str], log: Path) -> None:
    if not missing:
        return
    names = " ".join(missing)
    if os.geteuid() != 0:
        raise DevcloudError(
            f"Debian package(s) {names} are missing; install them with "
            f"`sudo apt-get install -y {names}` and run `up` again."
        )
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with log.open("ab") as out:
        # A fresh machine has empty package lists, so update before installing.
        for argv in (["apt-get", "update"], ["apt-get", "install", "-y", *missing]):
            out.write(f"\n==== {' '.join(argv)}\n".encode())
            out.flush()
            rc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
            if rc != 0:
                raise DevcloudError(
                    f"`{' '.join(argv)}` failed (exit {rc}) while installing {names}.", log
                )
    still = missing_debian_packages(tuple(missing))
    if still:
        raise DevcloudError(f"Debian package(s) {' '.join(still)} did not install.", log)


def venv_ready(paths: Paths) -> bool:
    return (paths.venv / _READY_STAMP).is_file()


def build_venv(
    target: Path, packages: Sequence[str], cache: Path, log: Path, what: str
) -> None:
    """A fresh venv at `target` with `packages` pinned by devcloud's constraints (written
    beside it in `cache`); each step's output goes to `log`."""
    constraints = cache / f"{target.name}.constraints.txt"
    constraints.write_text(constraints_text())
    log.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", str(target)],
        [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", "-c", str(constraints), *packages],
    ]
    with log.open("ab") as out:
        for argv in steps:
            out.write(f"\n==== {' '.join(argv)}\n".encode())
            out.flush()
            rc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT).returncode
            if rc != 0:
                raise DevcloudError(f"Installing {what} into {target} failed (exit {rc}).", log)


def install_venv(paths: Paths, log: Path) -> None:
    """Build the service venv; only a finished install writes the ready stamp, so an
    interrupted one is rebuilt from scratch instead of looking usable."""
    if venv_ready(paths):
        return
    paths.cache.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(paths.venv, ignore_errors=True)
    build_venv(paths.venv, SERVICE_PACKAGES, paths.cache, log, "the OpenStack services")
    (paths.venv / _READY_STAMP).write_text(constraints_text())
