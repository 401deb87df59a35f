"""apt-cacher-ng for the hosts: their only way to Debian packages, bound only to addresses we own.

Hosts have no route off their bridge, so apt in them goes through this proxy on their gateway
address.
It runs as a private instance (own config, cache, log and PID) rather than the distribution's
service,
because the packaged defaults listen everywhere and use Debian mirrors this machine cannot reach.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from kuntapilvi.hosts import system
from kuntapilvi.hosts.errors import HostsError
from kuntapilvi.hosts.mirror import DebianMirror
from kuntapilvi.hosts.paths import cache_dir
from kuntapilvi.hosts.state import process_alive, process_start_time

DEFAULT_PORT = 3142


def proxy_port() -> int:
    return int(os.environ.get("KUNTAPILVI_APT_PROXY_PORT", DEFAULT_PORT))


def _remap_source(url: str) -> str:
    """'http://deb.debian.org/debian' -> 'deb.debian.org/debian', the form acng matches requests
    by."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path.rstrip('/')}"


def render_config(
    mirror: DebianMirror, bind: list[str], port: int, run_dir: Path, cache: Path
) -> str:
    """acng.conf for our instance; the hosts' sources name the same URLs as this machine's."""
    lines = [
        "# Written by kuntapilvi.hosts.aptproxy; rewritten on every start.",
        f"CacheDir: {cache}",
        f"LogDir: {run_dir / 'log'}",
        "SupportDir: /usr/lib/apt-cacher-ng",
        f"Port: {port}",
        f"BindAddress: {' '.join(bind)}",
        f"PidFile: {run_dir / 'acng.pid'}",
        f"SocketPath: {run_dir / 'acng.socket'}",
        # Only the mirror of this machine is reachable, so both Debian remaps point at it.
        f"Remap-debrep: {_remap_source(mirror.debian)} ; {mirror.debian.rstrip('/')}/",
    ]
    if mirror.security:
        lines.append(
            f"Remap-secdeb: {_remap_source(mirror.security)} security.debian.org "
            f"security.debian.org/debian-security ; {mirror.security.rstrip('/')}/"
        )
    lines += [
        "ReportPage: acng-report.html",
        "ExThreshold: 4",
        # No CONNECT tunnels: hosts get packages, not a general way out.
        "PassThroughPattern: ^$",
        "VerboseLog: 1",
    ]
    return "\n".join(lines) + "\n"


class AptProxy:
    def __init__(self, state_dir: Path, mirror: DebianMirror, port: int | None = None) -> None:
        self.run_dir = state_dir / "aptproxy"
        self.mirror = mirror
        self.port = port or proxy_port()
        # One cache per port: two instances (a developer's and a test run's) never share a cache
        # dir,
        # which apt-cacher-ng does not support.
        suffix = "" if self.port == DEFAULT_PORT else f"-{self.port}"
        self.cache = cache_dir() / f"apt-cacher-ng{suffix}"
        self.log = self.run_dir / "aptproxy.log"

    @property
    def _pidfile(self) -> Path:
        return self.run_dir / "kuntapilvi.pid"

    def _running(self) -> tuple[int, list[str]] | None:
        """(pid, bound addresses) of our instance, if it is alive."""
        try:
            pid_s, start_s, bind_s = self._pidfile.read_text().split("\n")[:3]
        except (FileNotFoundError, ValueError):
            return None
        if not process_alive(int(pid_s), int(start_s)):
            return None
        return int(pid_s), bind_s.split()

    def url(self, gateway: str) -> str:
        return f"http://{gateway}:{self.port}/"

    def ensure(self, gateways: list[str]) -> None:
        """Run the proxy bound to 127.0.0.1 and exactly GATEWAYS; restart only if that set
        changed."""
        bind = ["127.0.0.1", *sorted(set(gateways))]
        running = self._running()
        if running and running[1] == bind:
            return
        self.stop()
        self._start(bind)

    def _port_taken(self) -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def _start(self, bind: list[str]) -> None:
        system.ensure_tools(self.log)
        if self._port_taken():
            raise HostsError(
                f"Port {self.port} on 127.0.0.1 is already in use (the distribution's "
                "apt-cacher-ng service?); stop it or set KUNTAPILVI_APT_PROXY_PORT"
            )
        (self.run_dir / "log").mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        conf = self.run_dir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "acng.conf").write_text(
            render_config(self.mirror, bind, self.port, self.run_dir, self.cache)
        )
        with self.log.open("a") as fh:
            fh.write(f"\n# starting apt-cacher-ng on {' '.join(bind)}:{self.port}\n")
            fh.flush()
            proc = subprocess.Popen(
                ["apt-cacher-ng", "-c", str(conf), "ForeGround=1"],
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the CLI call that started it
            )
        start = process_start_time(proc.pid) or 0
        self._pidfile.write_text(f"{proc.pid}\n{start}\n{' '.join(bind)}\n")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise HostsError("The apt proxy (apt-cacher-ng) exited at start", self.log)
            if self._port_taken():
                return
            time.sleep(0.1)
        raise HostsError("The apt proxy (apt-cacher-ng) did not listen within 15 s", self.log)

    def stop(self) -> None:
        running = self._running()
        if running:
            pid = running[0]
            # It may exit between the liveness check and a signal; that is the goal anyway.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not process_alive(pid, process_start_time(pid) or -1):
                    break
                time.sleep(0.05)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # reap it if this process started it
        self._pidfile.unlink(missing_ok=True)

    def is_running(self) -> bool:
        return self._running() is not None
