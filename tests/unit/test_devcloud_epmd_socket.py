"""epmd gets its listening socket as fd 3, whatever fd number the CLI happened to hold it on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kuntapilvi.devcloud import services as svc
from kuntapilvi.devcloud.paths import Paths

# Runs in a child, so it may put the socket on any fd number without disturbing pytest's own.
HOLDER = """
import json, os, socket, subprocess, sys
fd, argv = int(sys.argv[1]), json.loads(sys.argv[2])
sock = socket.socket()
if sock.fileno() != fd:
    os.dup2(sock.fileno(), fd)
done = subprocess.run(argv, pass_fds=(fd,), capture_output=True, text=True, timeout=30)
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr)
sys.exit(done.returncode)
"""


@pytest.mark.parametrize("fd", [3, 7, 11, 42])
def test_the_socket_reaches_fd_3_from_any_fd(tmp_path: Path, fd: int) -> None:
    probe = tmp_path / "fake-epmd"
    # Stands in for epmd: reports what its fd 3 is and the systemd-style variables it got.
    probe.write_text('#!/bin/sh\necho "$(readlink /proc/self/fd/3) $LISTEN_FDS $*"\n')
    probe.chmod(0o755)
    paths = Paths(state=tmp_path / "state", cache=tmp_path / "cache")
    argv = svc.argv_for(svc.BY_NAME["epmd"], paths, socket_fd=fd)
    argv[3] = str(probe)  # "$0": the program the shell execs
    done = subprocess.run(
        [sys.executable, "-c", HOLDER, str(fd), json.dumps(argv)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    target, listen_fds, *args = done.stdout.split()
    assert target.startswith("socket:") and listen_fds == "1"
    assert args == ["-systemd", "-port", str(svc.PORTS["epmd"])]
