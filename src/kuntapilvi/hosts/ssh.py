"""SSH to hosts with a pinned host key: the one the host itself published, never trust-on-first-use.

The machinery owns each host's disk (the overlay), so it reads the public host key cloud-init
generated
straight from the host's /etc/ssh, the same key cloud-init prints to the console for a real server.
"""

from __future__ import annotations

import base64
import functools
import socket
import time
from pathlib import Path
from typing import Any

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kuntapilvi.hosts.errors import HostsError

HOST_KEY_FILE = "etc/ssh/ssh_host_ed25519_key.pub"


def ensure_machine_key(key_dir: Path) -> tuple[Path, str]:
    """The machinery's own ed25519 key pair: (private key path, public key line)."""
    key = key_dir / "id_ed25519"
    pub = key_dir / "id_ed25519.pub"
    if not key.is_file() or not pub.is_file():
        key_dir.mkdir(parents=True, exist_ok=True)
        key_dir.chmod(0o700)
        private = Ed25519PrivateKey.generate()
        key.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
        )
        key.chmod(0o600)
        public = private.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        pub.write_text(public.decode() + " kuntapilvi-hosts\n")
    return key, pub.read_text().strip()


def read_host_key(root: Path) -> str | None:
    """'ssh-ed25519 AAAA...' as the host published it under ROOT, or None if not written yet."""
    try:
        fields = (root / HOST_KEY_FILE).read_text().split()
    except FileNotFoundError:
        return None
    return " ".join(fields[:2]) if len(fields) >= 2 else None


def port_open(address: str, port: int = 22, timeout: float = 0.5) -> bool:
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex((address, port)) == 0


def _pinned_client(address: str, host_key: str) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    keytype, b64 = host_key.split()[:2]
    pkey = paramiko.PKey.from_type_string(keytype, base64.b64decode(b64))
    client.get_host_keys().add(address, keytype, pkey)
    # Anything but the published key is refused, and no known_hosts file of this machine is read.
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


def connect(
    address: str, key_file: Path, host_key: str, user: str = "root", timeout: float = 10
) -> paramiko.SSHClient:
    client = _pinned_client(address, host_key)
    client.connect(
        address,
        username=user,
        key_filename=str(key_file),
        timeout=timeout,
        banner_timeout=timeout,
        auth_timeout=timeout,
        look_for_keys=False,
        allow_agent=False,
    )
    return client


def run(client: paramiko.SSHClient, command: str, timeout: float = 60) -> tuple[int, str, str]:
    _, stdout, stderr = client.exec_command(command, timeout=timeout)
    out = stdout.read().decode(errors="replace")
    err = stderr.read().decode(errors="replace")
    return stdout.channel.recv_exit_status(), out, err


def wait_for_ssh(
    address: str, root: Path, key_file: Path, timeout: float, log: Path
) -> tuple[paramiko.SSHClient, str]:
    """Wait until the host's sshd answers and accepts our key; (client, host key)."""
    deadline = time.monotonic() + timeout
    last = "port 22 never opened"
    while time.monotonic() < deadline:
        host_key = read_host_key(root)
        if host_key and port_open(address):
            try:
                return connect(address, key_file, host_key), host_key
            except (paramiko.SSHException, OSError) as exc:
                last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.25)
    raise HostsError(f"Host {address} did not accept SSH within {timeout:.0f} s ({last})", log)


def testinfra_host(address: str, key_file: Path, host_key: str, user: str = "root") -> Any:
    """A testinfra Host over paramiko that refuses any host key but HOST_KEY."""
    import testinfra.host
    from testinfra.backend.paramiko import ParamikoBackend

    class PinnedParamikoBackend(ParamikoBackend):
        # testinfra's own backend warns and accepts unknown keys; this one reconnects pinned too.
        @functools.cached_property
        def client(self) -> paramiko.SSHClient:  # type: ignore[override]
            return connect(self.host.name, Path(self.ssh_identity_file or key_file), host_key,
                           user=self.host.user or user, timeout=self.timeout)  # fmt: skip

    backend = PinnedParamikoBackend(
        f"{user}@{address}", ssh_identity_file=str(key_file), timeout=30
    )
    return testinfra.host.Host(backend)
