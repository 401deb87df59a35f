"""Where devcloud keeps its state, logs, PID files and cached service venv.

Everything devcloud writes lives either in the state folder (wiped by `reset`) or in the
cache folder (kept across resets, because rebuilding the service venv costs a minute).
Neither is inside git: the state default `<project>/.state/devcloud` is git-ignored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from kuntapilvi.project import checkout_root
from kuntapilvi.settings import Settings

STATE_ENV = "KUNTAPILVI_DEVCLOUD_STATE"
CACHE_ENV = "KUNTAPILVI_CACHE"


def project_root() -> Path:
    return checkout_root()


def constraints_text() -> str:
    return resources.files("kuntapilvi.devcloud").joinpath("constraints.txt").read_text()


def pins_hash() -> str:
    """Short hash of the pinned service set plus the interpreter's minor version.

    A venv built for one Python cannot be reused by another, so the version is part of it.
    """
    import sys

    digest = hashlib.sha256(constraints_text().encode())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Paths:
    state: Path
    cache: Path

    @classmethod
    def default(cls) -> Paths:
        settings = Settings.from_env()
        return cls(
            state=settings.devcloud_state_dir(project_root()),
            cache=settings.cache_dir.absolute(),
        )

    @property
    def venv(self) -> Path:
        return self.cache / f"devcloud-venv-{pins_hash()}"

    def venv_bin(self, name: str) -> Path:
        return self.venv / "bin" / name

    @property
    def etc(self) -> Path:
        return self.state / "etc"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def run(self) -> Path:
        """PID files and the MariaDB socket."""
        return self.state / "run"

    @property
    def data(self) -> Path:
        """Databases, queues, image store, fernet keys: what the services persist."""
        return self.state / "data"

    @property
    def stamps(self) -> Path:
        """One empty file per finished one-time setup step (DB sync, cell mapping, ...)."""
        return self.state / "stamps"

    @property
    def mysql_socket(self) -> Path:
        return self.run / "mysqld.sock"

    @property
    def clouds_yaml(self) -> Path:
        return self.state / "clouds.yaml"

    @property
    def secrets(self) -> Path:
        return self.state / "secrets.json"

    @property
    def base_image(self) -> Path:
        return self.state / "images" / "debian-12.raw"

    @property
    def hosts(self) -> Path:
        """State of the real hosts behind this devcloud's servers (kuntapilvi.hosts)."""
        return self.state / "hosts"

    def log(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def pidfile(self, service: str) -> Path:
        return self.run / f"{service}.pid"

    @property
    def identity(self) -> Path:
        """A random id made with this state folder (kuntapilvi.devcloud.identity)."""
        return self.state / "identity"

    @property
    def marker(self) -> Path:
        """Proves a folder is a devcloud state folder before `reset` deletes it."""
        return self.state / ".kuntapilvi-devcloud"

    def ensure(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.marker.touch()
        for folder in (self.etc, self.logs, self.run, self.data, self.stamps):
            folder.mkdir(parents=True, exist_ok=True)
