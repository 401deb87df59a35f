"""Only one `devcloud up` per state folder, and a killed one never blocks the next."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kuntapilvi.devcloud import identity, uplock
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.paths import Paths


def paths_in(tmp_path: Path) -> Paths:
    p = Paths(state=tmp_path / "state", cache=tmp_path / "cache")
    p.ensure()
    return p


def test_a_second_up_is_refused_while_one_holds_the_lock(tmp_path: Path) -> None:
    p = paths_in(tmp_path)
    with uplock.held(p), pytest.raises(DevcloudError) as info, uplock.held(p):
        pass
    assert f"pid {os.getpid()}" in str(info.value)
    assert "already running" in str(info.value)
    with uplock.held(p):  # released when the first one ended
        pass


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    p = paths_in(tmp_path)
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from kuntapilvi.devcloud import uplock\n"
        "from kuntapilvi.devcloud.paths import Paths\n"
        f"p = Paths(state=Path({str(p.state)!r}), cache=Path({str(p.cache)!r}))\n"
        "with uplock.held(p):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    with pytest.raises(DevcloudError), uplock.held(p):
        pass
    child.send_signal(signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            with uplock.held(p):
                break
        except DevcloudError:
            assert time.monotonic() < deadline, "the lock of a killed `up` was never released"
            time.sleep(0.05)


def test_identity_is_made_once_and_goes_with_the_state_folder(tmp_path: Path) -> None:
    p = paths_in(tmp_path)
    assert identity.read(p) is None
    first = identity.ensure(p)
    assert identity.ensure(p) == first == identity.read(p)
    p.identity.unlink()
    assert identity.ensure(p) != first


def test_configs_digest_is_stable_and_follows_the_rendered_configs(tmp_path: Path) -> None:
    """`up` restarts running services when this digest differs from the one they started with."""
    from kuntapilvi.devcloud import config, lifecycle

    p = paths_in(tmp_path)
    ctx = lifecycle.context(p)
    first = lifecycle.configs_digest(ctx)
    assert lifecycle.configs_digest(lifecycle.context(p)) == first
    other = config.Context(paths=p, secrets={**ctx.secrets, "db": "changed"})
    assert lifecycle.configs_digest(other) != first


def test_every_schema_owner_names_the_databases_its_migrations_fill() -> None:
    """An interrupted first migration is repaired by recreating exactly these databases."""
    from kuntapilvi.devcloud import bootstrap
    from kuntapilvi.devcloud import services as svc

    assert set(bootstrap.SCHEMA_DATABASES) == set(bootstrap.SCHEMA_OWNERS)
    named = [db for dbs in bootstrap.SCHEMA_DATABASES.values() for db in dbs]
    assert sorted(named) == sorted(svc.DATABASES)
