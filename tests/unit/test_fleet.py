"""kuntapilvi rollout: fingerprints, affected stacks, waves, the ledger's queue, halting, resume."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from kuntapilvi.fleet import ledger as lg
from kuntapilvi.fleet import rollout as ro
from kuntapilvi.fleet.engine import (
    RunResult,
    StackFailed,
    StackLocked,
    TransientError,
    parse_changes,
    run_stack,
)
from kuntapilvi.fleet.plan import BILLING, UNCHANGED, UP, assign_waves, plan
from kuntapilvi.fleet.report import junit
from kuntapilvi.fleet.runner import Options, execute, resume
from kuntapilvi.schema.rollout import RolloutPolicy

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 12, 1)
PRINT_USERS = {"espoo", "kajaani", "lahti"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    for name in ("catalog", "stacks", "templates", "modules"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    return root


@pytest.fixture
def ledger(tmp_path: Path) -> lg.Ledger:
    book = lg.Ledger(f"sqlite://{tmp_path / 'ledger.db'}")
    yield book
    book.close()


def applied_everything(root: Path, book: lg.Ledger) -> None:
    for name, sp in plan(root, {}, DAY).stacks.items():
        fp = sp.fingerprint
        assert fp is not None
        book.record_applied(name, fp.value, fp.components, fp.billing, fp.monthly, None, "c0")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_nothing_changed_means_nothing_to_do(project: Path, ledger: lg.Ledger) -> None:
    applied_everything(project, ledger)
    fleet = plan(project, ledger.applied(), DAY)
    assert fleet.to_apply == []
    assert {sp.action for sp in fleet.stacks.values()} == {UNCHANGED}


def test_a_port_of_a_card_affects_exactly_its_users(project: Path, ledger: lg.Ledger) -> None:
    applied_everything(project, ledger)
    edit(project / "catalog/cards/office/print.yaml", "port: 631", "port: 632")
    fleet = plan(project, ledger.applied(), DAY)
    affected = {s for s, sp in fleet.stacks.items() if sp.action == UP}
    assert affected == PRINT_USERS
    assert all("card office.print" in fleet.stacks[s].reasons for s in affected)
    # The catalogue names kajaani as a canary: it goes first, alone in its wave.
    assert fleet.waves[0] == ("canary", ["kajaani"])


def test_a_template_change_names_the_template(project: Path, ledger: lg.Ledger) -> None:
    applied_everything(project, ledger)
    template = project / "templates/cloud-init/print.yaml.j2"
    # Text outside the child template's blocks never reaches the user data: no change.
    template.write_text(template.read_text() + "# not rendered\n")
    assert plan(project, ledger.applied(), DAY).to_apply == []
    edit(template, "{% block runcmd %}\n", "{% block runcmd %}\n  - [true]\n")
    fleet = plan(project, ledger.applied(), DAY)
    affected = {s for s, sp in fleet.stacks.items() if sp.action == UP}
    assert affected == PRINT_USERS
    assert any("template cloud-init/print.yaml.j2" in fleet.stacks[s].reasons for s in affected)


def test_a_price_change_is_billing_not_up(project: Path, ledger: lg.Ledger) -> None:
    applied_everything(project, ledger)
    edit(project / "catalog/cards/office/print.yaml", "monthly_eur: 60.00", "monthly_eur: 65.00")
    fleet = plan(project, ledger.applied(), DAY)
    billed = {s for s, sp in fleet.stacks.items() if sp.action == BILLING}
    assert fleet.to_apply == []
    assert billed and billed <= PRINT_USERS


def test_a_centre_change_makes_every_stack_a_candidate(project: Path, ledger: lg.Ledger) -> None:
    applied_everything(project, ledger)
    edit(project / "catalog/centre.yaml", "aika2.kuntapilvi.fi", "aika3.kuntapilvi.fi")
    fleet = plan(project, ledger.applied(), DAY)
    assert set(fleet.to_apply) == set(fleet.stacks)
    assert fleet.waves[0] == ("centre", ["centre"])


def test_rollout_settings_are_not_an_infrastructure_change(
    project: Path, ledger: lg.Ledger
) -> None:
    applied_everything(project, ledger)
    edit(project / "catalog/centre.yaml", "concurrency: 4", "concurrency: 2")
    assert plan(project, ledger.applied(), DAY).to_apply == []


def test_waves_centre_alone_then_canary_then_percentages() -> None:
    policy = RolloutPolicy(canary=["t05"], waves=[10, 50, 100])
    tenants = [f"t{i:02d}" for i in range(21)]
    waves = assign_waves(tenants, ["centre"], policy)
    assert waves[0] == ("centre", ["centre"])
    assert waves[1] == ("canary", ["t05"])
    sizes = [len(names) for _, names in waves[2:]]
    assert sizes == [2, 8, 10]
    assert sorted(s for _, names in waves[1:] for s in names) == tenants


def test_rollout_policy_refuses_waves_that_do_not_end_at_100() -> None:
    with pytest.raises(ValueError):
        RolloutPolicy(waves=[10, 50])
    assert RolloutPolicy(failure_tolerance="10%").tolerated(30) == 3
    assert RolloutPolicy(failure_tolerance="2").tolerated(30) == 2


# -- running -------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def started(self, stack: str, wave: str) -> None:
        pass

    def finished(self, stack: str, wave: str, status: str, detail: str) -> None:
        with self._lock:
            self.lines.append(f"{stack} {status}")

    def wave(self, name: str, index: int, total: int, size: int) -> None:
        pass

    def note(self, text: str) -> None:
        pass


class FakeEngine:
    """Stands in for `pulumi up` processes: the runner around it is what is tested."""

    def __init__(self, fail: set[str] = frozenset(), delay: float = 0.0) -> None:
        self.fail = fail
        self.delay = delay
        self.runs: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, action: str, stack: str, log: Path) -> RunResult:
        with self._lock:
            self.runs.append(stack)
        time.sleep(self.delay)
        if stack in self.fail:
            raise StackFailed(f"{stack}: error: program failed")
        return RunResult({"updated": 1}, 1, self.delay)


def start(project: Path, book: lg.Ledger, rid: str = "r1", **policy: object) -> Options:
    edit(project / "catalog/cards/office/print.yaml", "port: 631", "port: 632")
    fleet = plan(project, book.applied(), DAY)
    pol = RolloutPolicy(**{"canary": ["kajaani"], **policy})
    fleet.policy = pol
    ro.create(book, rid, "up", fleet, "c1", {})
    return Options("up", pol, concurrency=2, logs=project / "logs", commit="c1", check=False)


def test_up_applies_each_affected_stack_once_and_then_nothing(
    project: Path, ledger: lg.Ledger
) -> None:
    applied_everything(project, ledger)
    opts = start(project, ledger)
    engine = FakeEngine()
    record = execute(ledger, "r1", opts, engine, Recorder())
    assert record["status"] == lg.SUCCEEDED
    assert sorted(engine.runs) == sorted(PRINT_USERS)
    assert engine.runs[0] == "kajaani"  # canary first
    assert plan(project, ledger.applied(), DAY).to_apply == []


def test_a_failure_beyond_the_tolerance_halts_the_rollout(project: Path, ledger: lg.Ledger) -> None:
    applied_everything(project, ledger)
    opts = start(project, ledger, failure_tolerance="0", canary=[])
    engine = FakeEngine(fail={"espoo"})
    record = execute(ledger, "r1", opts, engine, Recorder())
    assert record["status"] == lg.HALTED
    statuses = {r.stack: r.status for r in ledger.stacks("r1")}
    assert statuses["espoo"] == lg.FAILED
    assert lg.HALTED in statuses.values()
    assert set(engine.runs) < PRINT_USERS


def test_within_the_tolerance_the_rollout_goes_on(project: Path, ledger: lg.Ledger) -> None:
    applied_everything(project, ledger)
    opts = start(project, ledger, failure_tolerance="1", canary=[])
    engine = FakeEngine(fail={"espoo"})
    record = execute(ledger, "r1", opts, engine, Recorder())
    assert record["status"] == lg.FAILED
    assert sorted(engine.runs) == sorted(PRINT_USERS)


def test_a_failed_centre_halts_everything(project: Path, ledger: lg.Ledger) -> None:
    edit(project / "catalog/centre.yaml", "aika2.kuntapilvi.fi", "aika3.kuntapilvi.fi")
    fleet = plan(project, {}, DAY)
    fleet.policy = RolloutPolicy(failure_tolerance="100%")
    ro.create(ledger, "r1", "up", fleet, "c1", {})
    opts = Options("up", fleet.policy, 4, project / "logs", "c1", check=False)
    engine = FakeEngine(fail={"centre"})
    record = execute(ledger, "r1", opts, engine, Recorder())
    assert record["status"] == lg.HALTED
    assert engine.runs == ["centre"]


def test_two_runners_share_one_rollout_without_running_a_stack_twice(
    project: Path, tmp_path: Path
) -> None:
    url = f"sqlite://{tmp_path / 'shared.db'}"
    first, second = lg.Ledger(url), lg.Ledger(url)
    applied_everything(project, first)
    edit(project / "catalog/centre.yaml", "aika2.kuntapilvi.fi", "aika3.kuntapilvi.fi")
    fleet = plan(project, first.applied(), DAY)
    ro.create(first, "shared", "up", fleet, "c1", {})
    assert not ro.create(second, "shared", "up", fleet, "c1", {})  # the second joins
    # Slow enough that both runners find work in the same wave.
    engine = FakeEngine(delay=0.6)

    def opts() -> Options:
        return Options("up", fleet.policy, 1, tmp_path, "c1", check=False)

    threads = [
        threading.Thread(target=execute, args=(book, "shared", opts(), engine, Recorder()))
        for book in (first, second)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(engine.runs) == sorted(fleet.to_apply)
    assert {r.status for r in first.stacks("shared")} == {lg.SUCCEEDED}
    assert len({r.runner for r in first.stacks("shared")}) == 2
    first.close()
    second.close()


def test_resume_finishes_a_killed_rollout_without_redoing_stacks(
    project: Path, ledger: lg.Ledger
) -> None:
    applied_everything(project, ledger)
    opts = start(project, ledger, canary=[])
    # A killed runner: espoo finished, kajaani was running (no lock left), lahti running with
    # the lock its killed `pulumi up` left behind.
    ledger.claim("r1", 1, "dead")
    execute_one = FakeEngine()
    rows = {r.stack: r for r in ledger.stacks("r1")}
    for r in rows.values():
        ledger.requeue("r1", r.stack)
    assert ledger.claim("r1", rows["espoo"].wave_index, "dead") == "espoo"
    ledger.finish("r1", "espoo", lg.SUCCEEDED)
    for stack in ("kajaani", "lahti"):
        assert ledger.claim("r1", rows[stack].wave_index, "dead") == stack
    recorder = Recorder()
    resume(ledger, "r1", lambda s: ["lock.json"] if s == "lahti" else [], recorder, 0.0)
    record = execute(ledger, "r1", opts, execute_one, recorder)
    statuses = {r.stack: r.status for r in ledger.stacks("r1")}
    assert execute_one.runs == ["kajaani"]
    assert statuses == {"espoo": lg.SUCCEEDED, "kajaani": lg.SUCCEEDED, "lahti": lg.LOCKED}
    assert "kuntapilvi recover lahti" in (ledger.stacks("r1")[0].message or "") + " ".join(
        r.message or "" for r in ledger.stacks("r1")
    )
    assert record["status"] != lg.SUCCEEDED


def test_junit_has_a_suite_per_wave_and_a_case_per_stack(project: Path, ledger: lg.Ledger) -> None:
    applied_everything(project, ledger)
    opts = start(project, ledger, failure_tolerance="5")
    record = execute(ledger, "r1", opts, FakeEngine(fail={"lahti"}), Recorder())
    tree = ET.fromstring(junit(record, ledger.stacks("r1")))
    suites = {s.get("name"): s for s in tree.iter("testsuite")}
    assert "canary" in suites
    cases = {c.get("name"): c for c in tree.iter("testcase")}
    assert set(cases) == PRINT_USERS
    assert cases["lahti"].find("failure") is not None
    assert cases["espoo"].find("failure") is None


def test_up_refuses_what_drifted_since_the_preview(project: Path, ledger: lg.Ledger) -> None:
    applied_everything(project, ledger)
    start(project, ledger, rid="preview")
    edit(
        project / "templates/cloud-init/print.yaml.j2",
        "{% block runcmd %}\n",
        "{% block runcmd %}\n  - [true]\n",
    )
    drifted = ro.drift(plan(project, ledger.applied(), DAY), ledger.stacks("preview"))
    assert drifted and all("template cloud-init/print.yaml.j2" in d.what for d in drifted)


# -- the engine process ----------------------------------------------------------------------


def fake_process(outputs: list[tuple[int, str]]):  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []

    def run(args: list[str], cwd: Path, log: Path, env: dict[str, str]) -> tuple[int, str]:
        calls.append(args)
        return outputs[len(calls) - 1]

    return run, calls


def test_transient_cloud_errors_are_retried(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KUNTAPILVI_RETRY_WAIT", "0")
    run, calls = fake_process(
        [
            (255, "error: 503 Service Unavailable"),
            (0, "Resources:\n    ~ 2 updated\n    40 unchanged"),
        ]
    )
    result = run_stack("up", "espoo", cwd=tmp_path, log=tmp_path / "l", parallel=4,
                       policy_pack=None, runner=run)  # fmt: skip
    assert result.attempts == 2 and result.changes == {"updated": 2, "unchanged": 40}
    assert calls[0][:4] == ["pulumi", "up", "--stack", "espoo"] and "--parallel" in calls[0]


def test_a_program_error_is_never_retried(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KUNTAPILVI_RETRY_WAIT", "0")
    run, calls = fake_process([(255, "error: Program failed with an unhandled exception: 503")])
    with pytest.raises(StackFailed):
        run_stack("up", "espoo", cwd=tmp_path, log=tmp_path / "l", parallel=4,
                  policy_pack=None, runner=run)  # fmt: skip
    assert len(calls) == 1


def test_transient_errors_give_up_after_the_last_try(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KUNTAPILVI_RETRY_WAIT", "0")
    run, calls = fake_process([(255, "read: connection reset by peer")] * 3)
    with pytest.raises(TransientError):
        run_stack("up", "espoo", cwd=tmp_path, log=tmp_path / "l", parallel=4,
                  policy_pack=None, runner=run)  # fmt: skip
    assert len(calls) == 3


def test_a_locked_stack_is_reported_not_retried(tmp_path: Path) -> None:
    run, calls = fake_process([(255, "error: the stack is currently locked by 1 lock(s)")])
    with pytest.raises(StackLocked):
        run_stack("up", "espoo", cwd=tmp_path, log=tmp_path / "l", parallel=4,
                  policy_pack=None, runner=run)  # fmt: skip
    assert len(calls) == 1


def test_preview_summary_is_parsed() -> None:
    text = "Resources:\n    + 3 to create\n    ~ 1 to update\n    +-1 to replace\n    9 unchanged\n"
    assert parse_changes(text) == {"created": 3, "updated": 1, "replaced": 1, "unchanged": 9}


def test_ledger_url_never_shows_the_password() -> None:
    assert (
        lg.redact("postgres://kp:s3cret@127.0.0.1:5432/kp") == "postgres://kp:***@127.0.0.1:5432/kp"
    )
    assert "s3cret" not in lg.redact("postgresql://kp:s3cret@h/db?x=1")


def test_the_shipped_catalogue_rollout_settings_load() -> None:
    data = yaml.safe_load((REPO / "catalog/centre.yaml").read_text())
    policy = RolloutPolicy.model_validate(data["rollout"])
    assert policy.waves[-1] == 100


def test_the_newest_successful_preview_is_found_by_prefix(ledger: lg.Ledger) -> None:
    for rid, status in (
        ("pr-7-abc-1", lg.FAILED),
        ("pr-7-abc-2", lg.SUCCEEDED),
        ("pr-70-x-1", lg.SUCCEEDED),
    ):
        ledger.create_rollout(rid, "preview", "c", {}, {}, [])
        ledger.set_status(rid, status)
        time.sleep(0.01)
    assert ledger.latest("pr-7-abc-", lg.SUCCEEDED) == "pr-7-abc-2"
    assert ledger.latest("pr-7-", lg.FAILED) == "pr-7-abc-1"
    assert ledger.latest("pr-8-", lg.SUCCEEDED) is None


def test_history_objects_are_copied_between_file_backends(tmp_path: Path) -> None:
    from kuntapilvi.fleet.migrate import _copy_history

    source, target = tmp_path / "a", tmp_path / "b"
    history = source / ".pulumi/history/kuntapilvi/espoo"
    history.mkdir(parents=True)
    (history / "espoo-1.history.json").write_text('{"kind": "update"}')
    (history / "espoo-1.checkpoint.json").write_text("{}")
    (history / "espoo-1.checkpoint.json.bak").write_text("{}")
    (history / "espoo-1.history.json.attrs").write_text("{}")
    other = source / ".pulumi/history/kuntapilvi/turku"
    other.mkdir(parents=True)
    (other / "turku-1.history.json").write_text("{}")
    assert _copy_history(f"file://{source}", f"file://{target}", "espoo") == 2
    copied = sorted(p.name for p in (target / ".pulumi/history").rglob("*.json"))
    assert copied == ["espoo-1.checkpoint.json", "espoo-1.history.json"]


def test_a_recovered_stack_runs_on_the_next_resume(project: Path, ledger: lg.Ledger) -> None:
    applied_everything(project, ledger)
    opts = start(project, ledger, canary=[], failure_tolerance="5")
    rows = {r.stack: r for r in ledger.stacks("r1")}
    assert ledger.claim("r1", rows["lahti"].wave_index, "dead") == "lahti"
    locks = {"lahti": ["lock.json"]}
    resume(ledger, "r1", lambda s: locks.get(s, []), Recorder(), 0.0)
    engine = FakeEngine()
    execute(ledger, "r1", opts, engine, Recorder())
    assert "lahti" not in engine.runs
    locks.clear()  # kuntapilvi recover lahti
    resume(ledger, "r1", lambda s: locks.get(s, []), Recorder(), 0.0)
    record = execute(ledger, "r1", opts, engine, Recorder())
    assert engine.runs.count("lahti") == 1
    assert record["status"] == lg.SUCCEEDED


def test_resume_recovers_a_stack_a_killed_run_left_locked(
    project: Path, ledger: lg.Ledger
) -> None:
    applied_everything(project, ledger)
    opts = start(project, ledger, canary=[], failure_tolerance="5")
    rows = {r.stack: r for r in ledger.stacks("r1")}
    for stack in ("lahti", "espoo"):
        assert ledger.claim("r1", rows[stack].wave_index, "dead") == stack
    locks = {"lahti": ["lock.json"], "espoo": ["lock.json"]}
    recovered: list[str] = []

    def recover(stack: str) -> tuple[bool, str]:
        recovered.append(stack)
        if stack == "espoo":  # an ambiguous match: left for a person, lock kept
            return False, "kuntapilvi recover espoo exited 1"
        locks.pop(stack)
        return True, "kuntapilvi recover lahti recovered"

    resume(ledger, "r1", lambda s: locks.get(s, []), Recorder(), 0.0, recover=recover)
    engine = FakeEngine()
    execute(ledger, "r1", opts, engine, Recorder())
    statuses = {r.stack: r for r in ledger.stacks("r1")}
    assert sorted(recovered) == ["espoo", "lahti"]
    assert engine.runs.count("lahti") == 1 and "espoo" not in engine.runs
    assert statuses["espoo"].status == lg.LOCKED
    assert "exited 1" in (statuses["espoo"].message or "")


def test_resume_right_after_a_kill_waits_for_the_dead_runners_beat_to_go_stale(
    project: Path, ledger: lg.Ledger
) -> None:
    # Resumed a moment after the kill, lahti's last beat is still fresh; taken for a live
    # runner's, the rollout would wait for it forever.
    applied_everything(project, ledger)
    opts = start(project, ledger, canary=[], failure_tolerance="5")
    rows = {r.stack: r for r in ledger.stacks("r1")}
    assert ledger.claim("r1", rows["lahti"].wave_index, "dead") == "lahti"
    ledger.heartbeat("r1", ["lahti"])
    resume(ledger, "r1", lambda s: [], Recorder(), stale_after=1.0)
    assert {r.stack: r.status for r in ledger.stacks("r1")}["lahti"] == lg.PENDING
    engine = FakeEngine()
    assert execute(ledger, "r1", opts, engine, Recorder())["status"] == lg.SUCCEEDED
    assert engine.runs.count("lahti") == 1


def test_cli_plan_and_a_no_op_up_that_runs_no_engine(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json as _json

    from typer.testing import CliRunner

    from kuntapilvi.cli import app

    url = f"sqlite://{tmp_path / 'cli.db'}"
    book = lg.Ledger(url)
    applied_everything(project, book)
    book.close()
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "pulumi").write_text("#!/bin/sh\necho engine-ran >&2\nexit 99\n")
    (stub / "pulumi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{stub}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("KUNTAPILVI_ROOT", str(project))
    monkeypatch.setenv("KUNTAPILVI_LEDGER_URL", url)
    monkeypatch.setenv("KUNTAPILVI_TODAY", DAY.isoformat())
    runner = CliRunner()
    noop = runner.invoke(app, ["rollout", "up"])
    assert noop.exit_code == 0, noop.output
    assert "nothing to up" in noop.output and "engine-ran" not in noop.output
    edit(project / "catalog/cards/office/print.yaml", "port: 631", "port: 632")
    planned = runner.invoke(app, ["rollout", "plan", "--format", "json"])
    assert planned.exit_code == 0, planned.output
    data = _json.loads(planned.output)
    assert {s["stack"] for s in data["stacks"] if s["action"] == "up"} == PRINT_USERS
    # The stub engine fails: the stacks fail, the rollout halts, exit 1, reports are written.
    failed = runner.invoke(app, ["rollout", "up", "--id", "x", "--reports", str(tmp_path / "r")])
    assert failed.exit_code == 1
    assert (tmp_path / "r" / "rollout.junit.xml").is_file()
    assert _json.loads((tmp_path / "r" / "rollout.json").read_text())["status"] == lg.HALTED


def test_markdown_status_sums_resource_changes_per_wave(project: Path, ledger: lg.Ledger) -> None:
    from kuntapilvi.cli.rollout import markdown_status

    applied_everything(project, ledger)
    opts = start(project, ledger, failure_tolerance="5")
    record = execute(ledger, "r1", opts, FakeEngine(fail={"lahti"}), Recorder())
    text = markdown_status(record, ledger.stacks("r1"))
    assert "| canary | 1 | 1 succeeded | 1 updated |" in text
    assert "**lahti** failed" in text


def test_ledger_times_keep_sub_second_precision_in_postgres_too() -> None:
    # PostgreSQL's REAL is float4: today's epoch seconds round to about two minutes there.
    assert not any(" REAL" in statement for statement in lg.SCHEMA)
    assert "started DOUBLE PRECISION" in lg.SCHEMA[1]
