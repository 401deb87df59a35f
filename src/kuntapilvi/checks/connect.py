"""SSH to a checked server with paramiko, and a testinfra Host over that connection.

Host keys are never trusted blindly: a key pinned for the server (devcloud hosts: the key
HostManager read from the host's own disk) or an entry in a known_hosts file, and paramiko's
RejectPolicy for anything else. A user other than root runs every command through sudo, as the
centre's admin user `yllapito` does.
"""

from __future__ import annotations

import base64
import functools
import socket
from pathlib import Path
from typing import Any

import paramiko
from testinfra.backend.paramiko import ParamikoBackend
from testinfra.host import Host

from kuntapilvi.checks.inventory import Login


class NoTrustedHostKey(Exception):
    """Neither a pinned key nor a known_hosts file to check the server's key against."""


def ssh_client(address: str, login: Login, timeout: float) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    # The name paramiko looks the key up by: bare for port 22, "[addr]:port" otherwise.
    lookup = address if login.port == 22 else f"[{address}]:{login.port}"
    if login.host_key:
        keytype, b64 = login.host_key.split()[:2]
        key = paramiko.PKey.from_type_string(keytype, base64.b64decode(b64))
        client.get_host_keys().add(lookup, keytype, key)
    elif login.known_hosts and Path(login.known_hosts).is_file():
        # Only this file, not ~/.ssh/known_hosts implicitly: the caller chose it.
        client.get_host_keys().load(login.known_hosts)
    else:
        client.close()
        raise NoTrustedHostKey(
            f"no trusted host key for {address}: no key is pinned for it and the known_hosts "
            f"file {login.known_hosts or '(none given)'} does not exist"
        )
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            address,
            port=login.port,
            username=login.user,
            key_filename=login.identity,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            look_for_keys=False,
            allow_agent=False,
        )
    except BaseException:
        client.close()
        raise
    return client


class CheckBackend(ParamikoBackend):  # type: ignore[misc]
    """testinfra's paramiko backend on our own client, with a time limit on each command.

    testinfra's own backend trusts unknown host keys with a warning and reads ~/.ssh/config;
    this one connects only through ssh_client(), also when it reconnects after a dropped link.
    """

    def __init__(
        self, address: str, login: Login, connect_timeout: float, command_timeout: float
    ) -> None:
        self._address = address
        self._login = login
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        super().__init__(
            f"{login.user}@{address}:{login.port}",
            ssh_identity_file=login.identity,
            timeout=int(connect_timeout),
            sudo=login.user != "root",
        )

    @functools.cached_property
    def client(self) -> paramiko.SSHClient:  # type: ignore[override]
        return ssh_client(self._address, self._login, self._connect_timeout)

    def _exec_command(self, command: bytes) -> tuple[int, bytes, bytes]:
        transport = self.client.get_transport()
        assert transport is not None
        chan = transport.open_session()
        # A hung command (a service that never answers) must fail its check, not hang the run.
        chan.settimeout(self._command_timeout)
        chan.exec_command(command)
        try:
            stdout = b"".join(chan.makefile("rb"))
            stderr = b"".join(chan.makefile_stderr("rb"))
        except TimeoutError as exc:
            chan.close()
            shown = command.decode(errors="replace")
            raise TimeoutError(
                f"no answer within {self._command_timeout:.0f} s: {shown}"
            ) from exc
        return chan.recv_exit_status(), stdout, stderr

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()


def connect(address: str, login: Login, connect_timeout: float, command_timeout: float) -> Any:
    """A connected testinfra Host; raises what paramiko or the socket raised."""
    backend = CheckBackend(address, login, connect_timeout, command_timeout)
    _ = backend.client  # connect now, so an unreachable server fails here, named
    return Host(backend)


def describe_error(exc: BaseException) -> str:
    """One line for an SSH failure, saying what to do about the host-key ones."""
    if isinstance(exc, paramiko.BadHostKeyException):
        return (
            f"the host key changed: {exc} (a rebuilt server has a new key: update the trusted "
            "key only after checking it on the server's console)"
        )
    if isinstance(exc, paramiko.SSHException) and "not found in known_hosts" in str(exc):
        return f"{exc}: add its key (as printed on its console) to the known_hosts file"
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"no answer on SSH ({exc or 'timed out'})"
    return f"{type(exc).__name__}: {exc}"
