"""apt-cacher-ng for the hosts: their only way to Debian packages, on addresses we own only.

Hosts have no route off their bridge, so apt in them goes through this proxy on their gateway
address. It runs as a private instance (own config, cache, log and PID) rather than the
distribution's service, because the packaged defaults listen everywhere and use Debian mirrors this
machine cannot reach. It listens on 127.0.0.1 only; a forwarder per bridge (forwarder.py) listens on
that bridge's gateway address, so a new network never restarts the proxy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from kuntapilvi.hosts import system
from kuntapilvi.hosts.errors import HostsError
from kuntapilvi.hosts.forwarder import in_netns
from kuntapilvi.hosts.mirror import DebianMirror
from kuntapilvi.hosts.paths import cache_dir
from kuntapilvi.hosts.state import process_alive, process_start_time

DEFAULT_PORT = 3142


def proxy_port() -> int:
    return int(os.environ.get("KUNTAPILVI_APT_PROXY_PORT", DEFAULT_PORT))


def uplink_netns() -> str | None:
    """The network namespace that reaches the Debian mirror, when hosts run in one that does not
    (scripts/isolated sets it); None: this namespace reaches it."""
    return os.environ.get("KUNTAPILVI_HOSTS_UPLINK_NETNS") or None


def _remap_source(url: str) -> str:
    """'http://deb.debian.org/debian' -> 'deb.debian.org/debian': how acng matches requests."""
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
    """apt-cacher-ng on 127.0.0.1 plus one forwarder per bridge address (see forwarder.py)."""

    def __init__(
        self,
        state_dir: Path,
        mirror: DebianMirror,
        port: int | None = None,
        uplink: str | None = None,
    ) -> None:
        self.run_dir = state_dir / "aptproxy"
        self.mirror = mirror
        self.port = port or proxy_port()
        # apt-cacher-ng runs in the uplink namespace (see forwarder.py); None: in this one.
        self.uplink = uplink if uplink is not None else uplink_netns()
        # One cache per port: two instances (a developer's and a test run's) never share a cache
        # folder, which apt-cacher-ng does not support.
        suffix = "" if self.port == DEFAULT_PORT else f"-{self.port}"
        self.cache = cache_dir() / f"apt-cacher-ng{suffix}"
        self.log = self.run_dir / "aptproxy.log"

    # -- PID files: "pid\nstart time\n" ----------------------------------------------------------
    @property
    def _acng_pidfile(self) -> Path:
        return self.run_dir / "acng.kuntapilvi.pid"

    def _forwarder_pidfile(self, address: str) -> Path:
        return self.run_dir / f"forward-{address}.pid"

    @staticmethod
    def _alive(pidfile: Path) -> int | None:
        try:
            pid_s, start_s = pidfile.read_text().split("\n")[:2]
            pid, start = int(pid_s), int(start_s)
        except (FileNotFoundError, ValueError):
            return None
        return pid if process_alive(pid, start) else None

    @staticmethod
    def _record(pidfile: Path, pid: int) -> None:
        pidfile.write_text(f"{pid}\n{process_start_time(pid) or 0}\n")

    def url(self, gateway: str) -> str:
        return f"http://{gateway}:{self.port}/"

    def ensure(self, gateways: list[str]) -> None:
        """apt-cacher-ng on 127.0.0.1, and a forwarder on exactly each of GATEWAYS.

        Adding a network starts one forwarder and touches nothing else, so downloads of hosts on
        other networks go on undisturbed.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self._alive(self._acng_pidfile) is None:
            self._start_acng()
        wanted = set(gateways)
        for pidfile in self.run_dir.glob("forward-*.pid"):
            address = pidfile.name[len("forward-") : -len(".pid")]
            if address not in wanted:
                self._stop(pidfile)
        for address in sorted(wanted):
            if self._alive(self._forwarder_pidfile(address)) is None:
                self._start_forwarder(address)

    def _listening(self, address: str, uplink: bool = False) -> bool:
        with in_netns(self.uplink if uplink else None):
            s = socket.socket()
        with s:
            s.settimeout(0.5)
            return s.connect_ex((address, self.port)) == 0

    def _spawn(
        self, cmd: list[str], pidfile: Path, address: str, what: str, uplink: bool = False
    ) -> None:
        with self.log.open("a") as fh:
            fh.write(f"\n# starting {what} on {address}:{self.port}\n")
            fh.flush()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the CLI call that started it
            )
        self._record(pidfile, proc.pid)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise HostsError(f"The {what} exited at start", self.log)
            if self._listening(address, uplink):
                return
            time.sleep(0.1)
        raise HostsError(f"The {what} did not listen on {address} within 15 s", self.log)

    def _start_acng(self) -> None:
        system.ensure_tools(self.log)
        if self._listening("127.0.0.1", uplink=True):
            raise HostsError(
                f"Port {self.port} on 127.0.0.1 is already in use (the distribution's "
                "apt-cacher-ng service?); stop it or set KUNTAPILVI_APT_PROXY_PORT"
            )
        (self.run_dir / "log").mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        conf = self.run_dir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "acng.conf").write_text(
            render_config(self.mirror, ["127.0.0.1"], self.port, self.run_dir, self.cache)
        )
        cmd = ["apt-cacher-ng", "-c", str(conf), "ForeGround=1"]
        if self.uplink:
            # nsenter execs apt-cacher-ng in place, so the recorded pid is the proxy's own.
            cmd = ["nsenter", f"--net={self.uplink}", *cmd]
        self._spawn(
            cmd, self._acng_pidfile, "127.0.0.1", "apt proxy (apt-cacher-ng)", uplink=True
        )

    def _start_forwarder(self, address: str) -> None:
        script = Path(__file__).with_name("forwarder.py")
        cmd = [sys.executable, str(script), address, str(self.port), str(self.port)]
        if self.uplink:
            cmd.append(self.uplink)
        self._spawn(cmd, self._forwarder_pidfile(address), address, "apt proxy forwarder")

    def _stop(self, pidfile: Path) -> None:
        pid = self._alive(pidfile)
        if pid is not None:
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
        pidfile.unlink(missing_ok=True)

    def stop_forwarder(self, address: str) -> None:
        """Stop the forwarder of one bridge address (its network has no hosts any more)."""
        self._stop(self._forwarder_pidfile(address))

    def stop(self) -> None:
        """Stop every forwarder, then apt-cacher-ng."""
        if not self.run_dir.is_dir():
            return
        for pidfile in self.run_dir.glob("forward-*.pid"):
            self._stop(pidfile)
        self._stop(self._acng_pidfile)

    def is_running(self) -> bool:
        if not self.run_dir.is_dir():
            return False
        pidfiles = [self._acng_pidfile, *self.run_dir.glob("forward-*.pid")]
        return any(self._alive(p) is not None for p in pidfiles)
