"""What the machinery knows about each host and network: small JSON files in the state folder.

The state folder outlives any one Python process (the CLI, a watcher), so every field needed to
tear a
host down again is written before the host is started.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


@dataclass
class HostRecord:
    name: str  # the server's name as Nova has it
    host_id: str
    hostname: str
    address: str  # 10.64.1.10/24
    gateway: str
    network_id: str
    bridge: str
    veth: str
    netns: str
    machine: str
    instance_id: str
    config_hash: str  # of everything that shapes the host; a change means a rebuild
    template: str = ""
    pid: int = 0
    pid_start: int = 0  # /proc/PID/stat start time, so a recycled PID is not taken for the host
    started_at: float = 0.0
    ssh_ready_s: float | None = None
    cloud_init_done_s: float | None = None
    cloud_init_status: str = ""
    # Set when the devcloud watcher made the host for a Nova server: which server, whose project.
    server_id: str = ""
    tenant: str = ""
    # Volumes attached to the host now: volume id -> {"size_gb": ..., "device": "/dev/vdb"}.
    volumes: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> HostRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class NetworkRecord:
    network_id: str
    bridge: str
    gateway_cidr: str  # 10.64.1.1/24


def _write_json(path: Path, data: dict) -> None:
    # Written to a temporary name and renamed, so a reader never sees half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


class StateStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def hosts_dir(self) -> Path:
        return self.root / "hosts"

    @property
    def networks_dir(self) -> Path:
        return self.root / "networks"

    def host_dir(self, hid: str) -> Path:
        return self.hosts_dir / hid

    def save_host(self, rec: HostRecord) -> None:
        _write_json(self.host_dir(rec.host_id) / "host.json", asdict(rec))
        if rec.pid:
            (self.host_dir(rec.host_id) / "nspawn.pid").write_text(f"{rec.pid}\n")

    def load_host(self, hid: str) -> HostRecord | None:
        path = self.host_dir(hid) / "host.json"
        try:
            return HostRecord.from_dict(json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def hosts(self) -> list[HostRecord]:
        if not self.hosts_dir.is_dir():
            return []
        recs = (self.load_host(p.name) for p in sorted(self.hosts_dir.iterdir()) if p.is_dir())
        return [r for r in recs if r is not None]

    def forget_host(self, hid: str) -> None:
        for name in ("host.json", "nspawn.pid"):
            (self.host_dir(hid) / name).unlink(missing_ok=True)

    def save_network(self, rec: NetworkRecord) -> None:
        _write_json(self.networks_dir / f"{rec.bridge}.json", asdict(rec))

    def networks(self) -> list[NetworkRecord]:
        if not self.networks_dir.is_dir():
            return []
        out = []
        for p in sorted(self.networks_dir.glob("*.json")):
            try:
                out.append(NetworkRecord(**json.loads(p.read_text())))
            except (json.JSONDecodeError, TypeError):
                continue
        return out

    def forget_network(self, bridge: str) -> None:
        (self.networks_dir / f"{bridge}.json").unlink(missing_ok=True)


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None if PID is gone or a
    zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may contain spaces and parentheses; the fields after the last ')' are fixed.
    rest = stat.rsplit(")", 1)[1].split()
    if rest[0] in ("Z", "X"):
        return None
    return int(rest[19])


def process_alive(pid: int, start: int) -> bool:
    return pid > 0 and process_start_time(pid) == start
