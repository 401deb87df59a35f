"""PID files, process-group stop and port checks (no OpenStack needed)."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from kuntapilvi.devcloud import processes
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.processes import PidRecord


def test_pidfile_roundtrip(tmp_path: Path) -> None:
    pidfile = tmp_path / "run" / "x.pid"
    record = PidRecord(os.getpid(), processes.proc_starttime(os.getpid()) or 0, "python")
    processes.write_pidfile(pidfile, record)
    assert processes.read_pidfile(pidfile) == record
    assert processes.is_alive(record)
    assert processes.running_record(pidfile) == record


def test_garbage_pidfile_reads_as_none(tmp_path: Path) -> None:
    pidfile = tmp_path / "x.pid"
    pidfile.write_text("not json")
    assert processes.read_pidfile(pidfile) is None
    assert processes.read_pidfile(tmp_path / "missing.pid") is None


def test_reused_pid_is_not_ours(tmp_path: Path) -> None:
    """Same PID, different start time: another process inherited the number."""
    pidfile = tmp_path / "x.pid"
    starttime = processes.proc_starttime(os.getpid())
    assert starttime is not None
    processes.write_pidfile(pidfile, PidRecord(os.getpid(), starttime + 1, "python"))
    assert processes.running_record(pidfile) is None
    assert not pidfile.exists(), "a stale PID file is removed"


def test_start_and_stop_own_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "sleeper.pid"
    log = tmp_path / "sleeper.log"
    # The parent forks a child; stopping must take both (gunicorn master + worker case).
    script = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    proc = processes.start(
        "sleeper", [sys.executable, "-c", script], env=dict(os.environ), log=log, pidfile=pidfile
    )
    record = processes.running_record(pidfile)
    assert record is not None and record.pid == proc.pid
    time.sleep(0.5)
    assert processes._group_alive(proc.pid)
    killed = processes.stop_all([pidfile], timeout=10)
    proc.wait(timeout=5)
    assert killed == []
    assert not pidfile.exists()
    assert not processes._group_alive(proc.pid)
    assert "starting sleeper" in log.read_text()


def test_stop_all_escalates_to_sigkill(tmp_path: Path) -> None:
    pidfile = tmp_path / "stubborn.pid"
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    proc = processes.start(
        "stubborn",
        [sys.executable, "-c", script],
        env=dict(os.environ),
        log=tmp_path / "s.log",
        pidfile=pidfile,
    )
    time.sleep(0.5)
    assert processes.stop_all([pidfile], timeout=1) == ["stubborn"]
    assert proc.wait(timeout=5) == -9


def test_stop_all_ignores_dead_records(tmp_path: Path) -> None:
    pidfile = tmp_path / "gone.pid"
    processes.write_pidfile(pidfile, PidRecord(2**22 + 7, 1, "gone"))
    assert processes.stop_all([pidfile, tmp_path / "never.pid"]) == []
    assert not pidfile.exists()


@pytest.fixture
def busy_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_port_in_use_is_detected(busy_port: int) -> None:
    assert not processes.port_free(busy_port)
    assert processes.port_answers(busy_port)


def test_free_port_is_free() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert processes.port_free(port)


def test_port_in_use_gives_one_clear_sentence(busy_port: int) -> None:
    with pytest.raises(DevcloudError) as info:
        processes.require_port_free(busy_port, "keystone")
    message = str(info.value)
    assert f"Port {busy_port} on 127.0.0.1" in message
    assert "keystone" in message and "already in use" in message
    # `ss` names the holder: this very test process.
    if processes.who_listens(busy_port):
        assert f"pid {os.getpid()}" in message
    assert message.count(". ") == 0 and "\n" not in message
