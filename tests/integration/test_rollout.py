"""`kuntapilvi rollout` through the real engine and provider on devcloud, with Pulumi's
PostgreSQL state backend and the rollout ledger in one private database (scripts/postgres).

A private project copy with the centre and four small tenants (kajaani and lahti use
office.print, turku and kainuunliitto do not; espoo is left out for time). The first rollout
builds everything (the centre first and alone); then a port change of office.print reaches
exactly its users, canary first; a second rollout does nothing; a rollout killed during its bake
time is resumed without applying a stack twice; a tenant that fails in wave 1 halts the rollout
at the tolerance; two runners share one rollout without running a stack twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

# A long devcloud journey: run by `scripts/test extended`, not by the default tiers.
pytestmark = [pytest.mark.integration, pytest.mark.extended]
REPO = Path(__file__).resolve().parents[2]
KP = str(REPO / ".venv" / "bin" / "kuntapilvi")
TENANTS = ("kajaani", "lahti", "kainuunliitto", "turku")
PRINT_USERS = {"kajaani", "lahti"}


def _postgres() -> tuple[str, str]:
    """scripts/postgres start (idempotent); the server URL and its pgpass file."""
    done = subprocess.run(
        [str(REPO / "scripts" / "postgres"), "start"], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/postgres start failed:\n{done.stderr}")
    state = Path(os.environ.get("KUNTAPILVI_POSTGRES_STATE", REPO / ".state" / "postgres"))
    return done.stdout.strip().splitlines()[-1], str(state / "pgpass")


class Fleet:
    def __init__(self, root: Path, env: dict[str, str], url: str) -> None:
        self.root = root
        self.env = env
        self.url = url

    def kp(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [KP, *args],
            cwd=self.root,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=1200,
        )

    def pulumi(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def updates(self, stack: str) -> int:
        """Updates recorded in the state backend's history: one per `pulumi up`."""
        done = self.pulumi("stack", "history", "--stack", stack, "--json")
        assert done.returncode == 0, done.stderr
        return sum(1 for u in json.loads(done.stdout or "[]") if u.get("kind") == "update")

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.root / relative
        text = path.read_text()
        assert old in text, (relative, old)
        path.write_text(text.replace(old, new, 1))

    def set_rollout(self, **settings: object) -> None:
        path = self.root / "catalog/centre.yaml"
        centre = yaml.safe_load(path.read_text())
        centre["rollout"].update(settings)
        path.write_text(yaml.safe_dump(centre, allow_unicode=True))

    def describe_card(self, suffix: str) -> None:
        """A change to a card every tenant uses (its description)."""
        path = self.root / "catalog/cards/network/baseline-firewall.yaml"
        card = yaml.safe_load(path.read_text())
        card["description"]["en"] += suffix
        path.write_text(yaml.safe_dump(card, allow_unicode=True))

    def rollout(self, rollout_id: str) -> dict[str, Any]:
        done = self.kp("rollout", "status", rollout_id, "--format", "json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def plan(self) -> dict[str, Any]:
        done = self.kp("rollout", "plan", "--format", "json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def fleet(
    devcloud: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    private_project: Callable[[Path, str], dict[str, str]],
) -> Iterator[Fleet]:
    import psycopg

    server, pgpass = _postgres()
    database = f"kp_rollout_{uuid.uuid4().hex[:8]}"
    admin_url = server.replace("/kuntapilvi?", "/postgres?")
    os.environ["PGPASSFILE"] = pgpass
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    url = server.replace("/kuntapilvi?", f"/{database}?")
    root = tmp_path_factory.mktemp("fleet")
    env = private_project(root, "rollout-tests")
    for path in (root / "stacks").glob("Pulumi.*.yaml"):
        if path.stem.removeprefix("Pulumi.") not in ("centre", *TENANTS):
            path.unlink()
    centre = yaml.safe_load((root / "catalog/centre.yaml").read_text())
    centre["rollout"] = {
        "canary": ["kajaani"],
        "waves": [34, 100],
        "concurrency": 2,
        "check": False,  # hosts are off: no servers to check
        "failure_tolerance": "0",
    }
    (root / "catalog/centre.yaml").write_text(yaml.safe_dump(centre, allow_unicode=True))
    env.update(
        {
            "PULUMI_BACKEND_URL": url,
            "KUNTAPILVI_LEDGER_URL": url,
            "PGPASSFILE": pgpass,
            "KUNTAPILVI_RETRY_WAIT": "1",
            "NO_COLOR": "1",
        }
    )
    f = Fleet(root, env, url)
    first = f.kp("rollout", "up", "--id", "initial")
    try:
        assert first.returncode == 0, first.stdout + first.stderr
        rows = f.rollout("initial")["stacks"]
        # The centre first and alone: every tenant started after it finished.
        centre_row = next(r for r in rows if r["stack"] == "centre")
        assert rows[0]["stack"] == "centre"
        assert all(r["started"] >= centre_row["finished"] for r in rows[1:])
        yield f
    finally:
        for stack in (*TENANTS, "centre"):
            f.pulumi("destroy", "--stack", stack, "--yes")
        for stack in TENANTS:
            f.kp("data", "purge", stack, "--all", "--yes")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def test_the_state_lives_in_postgres(fleet: Fleet) -> None:
    import psycopg

    with psycopg.connect(fleet.url) as conn:
        keys = [r[0] for r in conn.execute("SELECT key FROM pulumi_state").fetchall()]
    assert any(k.endswith("/kajaani.json") for k in keys), keys[:20]


def test_a_port_change_reaches_exactly_the_cards_users_canary_first(fleet: Fleet) -> None:
    before = {s: fleet.updates(s) for s in TENANTS}
    fleet.edit("catalog/cards/office/print.yaml", "port: 631", "port: 632")
    planned = fleet.plan()
    assert {s["stack"] for s in planned["stacks"] if s["action"] == "up"} == PRINT_USERS
    done = fleet.kp("rollout", "up", "--id", "print-632")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {r["stack"]: r for r in fleet.rollout("print-632")["stacks"]}
    assert set(rows) == PRINT_USERS
    assert rows["kajaani"]["wave"] == "canary"
    assert rows["lahti"]["started"] >= rows["kajaani"]["finished"]
    after = {s: fleet.updates(s) for s in TENANTS}
    assert {s for s in TENANTS if after[s] != before[s]} == PRINT_USERS
    assert all(after[s] == before[s] + 1 for s in PRINT_USERS)
    endpoints = fleet.pulumi("stack", "output", "endpoints", "--stack", "lahti", "--json")
    assert ":632" in endpoints.stdout and ":631" not in endpoints.stdout

    again = fleet.kp("rollout", "up", "--id", "print-632-again")
    assert again.returncode == 0, again.stderr
    assert "nothing to up" in again.stderr
    assert {s: fleet.updates(s) for s in TENANTS} == after


def test_a_killed_rollout_resumes_without_applying_a_stack_twice(fleet: Fleet) -> None:
    before = {s: fleet.updates(s) for s in TENANTS}
    fleet.set_rollout(bake_seconds=600)
    fleet.edit("catalog/cards/office/print.yaml", "port: 632", "port: 633")
    runner = subprocess.Popen(
        [KP, "rollout", "up", "--id", "killed"],
        cwd=fleet.root,
        env=fleet.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = fleet.kp("rollout", "status", "killed", "--format", "json")
            if done.returncode == 0:
                rows = {r["stack"]: r for r in json.loads(done.stdout)["stacks"]}
                if rows.get("kajaani", {}).get("status") == "succeeded":
                    break
            time.sleep(2)
        else:
            pytest.fail("the canary never finished")
        # Killed while it bakes after the canary wave: lahti has not started.
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    fleet.set_rollout(bake_seconds=0)
    resumed = fleet.kp("rollout", "resume", "killed")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = {r["stack"]: r for r in fleet.rollout("killed")["stacks"]}
    assert {s: r["status"] for s, r in rows.items()} == dict.fromkeys(PRINT_USERS, "succeeded")
    assert all(r["attempts"] == 1 for r in rows.values())
    after = {s: fleet.updates(s) for s in TENANTS}
    assert {s: after[s] - before[s] for s in TENANTS} == {
        "kajaani": 1,
        "lahti": 1,
        "kainuunliitto": 0,
        "turku": 0,
    }


def _failing_engine(fleet: Fleet, stack: str) -> dict[str, str]:
    """PATH with a `pulumi` that fails `up` of one stack as a program error would."""
    folder = fleet.root / "failing-bin"
    folder.mkdir(exist_ok=True)
    real = subprocess.run(
        ["bash", "-c", "command -v pulumi"], env=fleet.env, capture_output=True, text=True
    ).stdout.strip()
    script = folder / "pulumi"
    script.write_text(
        "#!/bin/bash\n"
        f'if [ "$1" = up ] && [[ " $* " == *" --stack {stack} "* ]]; then\n'
        '  echo "error: Program failed with an unhandled exception: injected by the test" >&2\n'
        "  exit 1\nfi\n"
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    return {**fleet.env, "PATH": f"{folder}:{fleet.env['PATH']}"}


def test_a_failure_in_wave_one_halts_at_the_tolerance(fleet: Fleet) -> None:
    # A card every tenant uses: canary kajaani, then wave-1 (34 % of three: lahti and
    # kainuunliitto, side by side), then turku.
    fleet.describe_card(" (halting)")
    planned = fleet.plan()
    assert {s["stack"] for s in planned["stacks"] if s["action"] == "up"} == set(TENANTS)
    env = _failing_engine(fleet, "lahti")
    halted = fleet.kp("rollout", "up", "--id", "halting", env=env)
    assert halted.returncode == 1
    record = fleet.rollout("halting")
    statuses = {r["stack"]: r["status"] for r in record["stacks"]}
    assert record["status"] == "halted"
    # kainuunliitto was running beside lahti when it failed: running stacks finish.
    assert statuses == {
        "kajaani": "succeeded",
        "lahti": "failed",
        "kainuunliitto": "succeeded",
        "turku": "halted",
    }
    assert "tolerance" in (record["halted_reason"] or "")
    # The cause fixed (the real engine again): resume finishes it; finished stacks stay done.
    done_before = {s: fleet.updates(s) for s in ("kajaani", "kainuunliitto")}
    resumed = fleet.kp("rollout", "resume", "halting")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert {r["status"] for r in fleet.rollout("halting")["stacks"]} == {"succeeded"}
    assert {s: fleet.updates(s) for s in done_before} == done_before


def test_two_shards_share_one_rollout(fleet: Fleet) -> None:
    fleet.describe_card(" (shards)")
    before = {s: fleet.updates(s) for s in TENANTS}
    runners = [
        subprocess.Popen(
            [KP, "rollout", "up", "--id", "sharded", "--concurrency", "1"],
            cwd=fleet.root,
            env=fleet.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [r.communicate(timeout=1200) for r in runners]
    assert [r.returncode for r in runners] == [0, 0], outputs
    rows = fleet.rollout("sharded")["stacks"]
    assert {r["status"] for r in rows} == {"succeeded"}
    assert all(r["attempts"] == 1 for r in rows)
    assert len({r["runner"] for r in rows}) == 2
    after = {s: fleet.updates(s) for s in TENANTS}
    assert all(after[s] == before[s] + 1 for s in TENANTS)


def test_a_rollout_killed_mid_up_is_resumed_through_recover(fleet: Fleet, admin_conn: Any) -> None:
    """Issues 16 and 20 together: the runner dies while lahti's `up` is creating a server. The
    engine's lock and the half-made create stay behind; `rollout resume` recovers the stack
    (stale lock cleared, the server adopted) and finishes it, with no second server."""
    fleet.edit(
        "stacks/Pulumi.lahti.yaml", "      - card: office.print\n",
        "      - card: office.print\n      - card: office.time\n",
    )  # fmt: skip

    def lahti_time() -> list[Any]:
        return [s for s in admin_conn.compute.servers(all_projects=True) if s.name == "lahti-time"]

    runner = subprocess.Popen(
        [KP, "rollout", "up", "--id", "killed-mid-up"],
        cwd=fleet.root, env=fleet.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while not lahti_time():
            assert runner.poll() is None, "the rollout ended before lahti's server was created"
            assert time.monotonic() < deadline, "lahti's server was never created"
            time.sleep(0.5)
    finally:
        # The runner and the engine it started, as a dying CI machine takes them.
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
    assert fleet.rollout("killed-mid-up")["status"] == "running"

    resumed = fleet.kp("rollout", "resume", "killed-mid-up")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "kuntapilvi recover lahti recovered" in resumed.stderr, resumed.stderr
    rows = {r["stack"]: r for r in fleet.rollout("killed-mid-up")["stacks"]}
    assert {s: r["status"] for s, r in rows.items()} == {"lahti": "succeeded"}
    assert len(lahti_time()) == 1, "recover adopted the killed run's server: no second one"
    orphans = fleet.kp("orphans", "lahti", "--format", "json")
    assert orphans.returncode == 0, orphans.stdout + orphans.stderr
    noop = fleet.pulumi("preview", "--stack", "lahti", "--expect-no-changes")
    assert noop.returncode == 0, noop.stdout[-3000:]
