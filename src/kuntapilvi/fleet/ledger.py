"""The rollout ledger: rollouts, their stacks' progress and each stack's last applied fingerprint.

PostgreSQL (psycopg) when the URL is postgres://..., so that it survives the machine and n
runners share one rollout through a queue (`FOR UPDATE SKIP LOCKED`: no stack is claimed twice).
A SQLite file serves a single engineer and the unit tests; SQLite serialises writers, so the same
claim is atomic there too. The program creates its tables.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuntapilvi.errors import KuntapilviError

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
HALTED = "halted"
LOCKED = "locked"  # a lock left by a killed run: needs `kuntapilvi recover`
REFUSED = "refused"  # its inputs drifted from what was previewed
FINISHED = (SUCCEEDED, FAILED, HALTED, LOCKED, REFUSED)

# Times are epoch seconds in DOUBLE PRECISION: PostgreSQL's REAL (float4) rounds today's epoch to
# about two minutes, which broke durations and the dead-runner test (seen on devcloud).
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS kuntapilvi_rollout (
        id TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        commit_id TEXT NOT NULL,
        status TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        plan TEXT NOT NULL,
        options TEXT NOT NULL,
        halted_reason TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS kuntapilvi_rollout_stack (
        rollout_id TEXT NOT NULL,
        stack TEXT NOT NULL,
        wave_index INTEGER NOT NULL,
        wave TEXT NOT NULL,
        status TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        components TEXT NOT NULL,
        billing TEXT NOT NULL,
        reasons TEXT NOT NULL,
        runner TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        started DOUBLE PRECISION,
        finished DOUBLE PRECISION,
        heartbeat DOUBLE PRECISION,
        changes TEXT,
        message TEXT,
        PRIMARY KEY (rollout_id, stack)
    )""",
    """CREATE TABLE IF NOT EXISTS kuntapilvi_applied (
        stack TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        components TEXT NOT NULL,
        billing TEXT NOT NULL,
        monthly TEXT,
        rollout_id TEXT,
        commit_id TEXT,
        applied DOUBLE PRECISION NOT NULL
    )""",
)


@dataclass(slots=True)
class StackRow:
    rollout_id: str
    stack: str
    wave_index: int
    wave: str
    status: str
    fingerprint: str
    components: dict[str, str]
    billing: str
    reasons: list[str]
    runner: str | None
    attempts: int
    started: float | None
    finished: float | None
    heartbeat: float | None
    changes: dict[str, int] | None
    message: str | None

    def to_json(self) -> dict[str, Any]:
        duration = (
            round(self.finished - self.started, 2) if self.started and self.finished else None
        )
        return {
            "stack": self.stack,
            "wave": self.wave,
            "status": self.status,
            "reasons": self.reasons,
            "fingerprint": self.fingerprint,
            "runner": self.runner,
            "attempts": self.attempts,
            "started": self.started,
            "finished": self.finished,
            "duration_s": duration,
            "changes": self.changes,
            "message": self.message,
        }


STACK_COLUMNS = (
    "rollout_id, stack, wave_index, wave, status, fingerprint, components, billing, reasons, "
    "runner, attempts, started, finished, heartbeat, changes, message"
)


def _row(r: tuple[Any, ...]) -> StackRow:
    return StackRow(
        r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], json.loads(r[8]),
        r[9], r[10], r[11], r[12], r[13], json.loads(r[14]) if r[14] else None, r[15],
    )  # fmt: skip


class Ledger:
    """One connection per ledger object; the runner's threads share it under a lock."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgres://", "postgresql://"))
        self._lock = threading.RLock()
        if self.postgres:
            try:
                import psycopg
            except ImportError as exc:  # pragma: no cover - a dependency of the package
                raise KuntapilviError("psycopg is missing: run scripts/bootstrap") from exc
            try:
                self._conn: Any = psycopg.connect(url, autocommit=False, connect_timeout=10)
            except psycopg.OperationalError as exc:
                raise KuntapilviError(
                    f"cannot reach the rollout ledger at {redact(url)}: {str(exc).strip()}; "
                    "start it with scripts/postgres or set KUNTAPILVI_LEDGER_URL"
                ) from None
        else:
            path = Path(url.removeprefix("sqlite://"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._conn.isolation_level = None  # explicit BEGIN below
        with self.tx() as cur:
            for statement in SCHEMA:
                cur.execute(statement)

    def close(self) -> None:
        self._conn.close()

    def _sql(self, text: str) -> str:
        return text if self.postgres else text.replace("%s", "?")

    @contextmanager
    def tx(self) -> Iterator[Any]:
        with self._lock:
            cur = self._conn.cursor()
            if not self.postgres:
                cur.execute("BEGIN IMMEDIATE")
            try:
                yield _Cursor(cur, self._sql)
            except BaseException:
                self._conn.rollback() if self.postgres else cur.execute("ROLLBACK")
                raise
            else:
                self._conn.commit() if self.postgres else cur.execute("COMMIT")

    # -- applied fingerprints -------------------------------------------------------------

    def applied(self) -> dict[str, dict[str, Any]]:
        with self.tx() as cur:
            cur.execute(
                "SELECT stack, fingerprint, components, billing, monthly FROM kuntapilvi_applied"
            )
            return {
                r[0]: {
                    "fingerprint": r[1],
                    "components": json.loads(r[2]),
                    "billing": r[3],
                    "monthly": r[4],
                }
                for r in cur.fetchall()
            }

    def record_applied(
        self,
        stack: str,
        fingerprint: str,
        components: dict[str, str],
        billing: str,
        monthly: str | None,
        rollout_id: str | None,
        commit: str,
    ) -> None:
        with self.tx() as cur:
            cur.execute("DELETE FROM kuntapilvi_applied WHERE stack = %s", (stack,))
            cur.execute(
                "INSERT INTO kuntapilvi_applied (stack, fingerprint, components, billing, monthly,"
                " rollout_id, commit_id, applied) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (stack, fingerprint, json.dumps(components), billing, monthly, rollout_id,
                 commit, time.time()),
            )  # fmt: skip

    # -- rollouts ---------------------------------------------------------------------------

    def create_rollout(
        self,
        rollout_id: str,
        action: str,
        commit: str,
        plan: dict[str, Any],
        options: dict[str, Any],
        stacks: list[tuple[int, str, str, str, dict[str, str], str, list[str]]],
    ) -> bool:
        """Create the rollout with its stacks, unless another runner did first (then join it).
        Returns True when this call created it."""
        with self.tx() as cur:
            cur.execute("SELECT id FROM kuntapilvi_rollout WHERE id = %s", (rollout_id,))
            if cur.fetchone() is not None:
                return False
            cur.execute(
                "INSERT INTO kuntapilvi_rollout (id, action, commit_id, status, created, plan,"
                " options) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                + (" ON CONFLICT (id) DO NOTHING" if self.postgres else ""),
                (rollout_id, action, commit, RUNNING, time.time(), json.dumps(plan),
                 json.dumps(options)),
            )  # fmt: skip
            if cur.rowcount == 0:
                return False
            for wave_index, wave, stack, fp, components, billing, reasons in stacks:
                cur.execute(
                    "INSERT INTO kuntapilvi_rollout_stack (rollout_id, stack, wave_index, wave,"
                    " status, fingerprint, components, billing, reasons)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (rollout_id, stack, wave_index, wave, PENDING, fp, json.dumps(components),
                     billing, json.dumps(reasons)),
                )  # fmt: skip
            return True

    def rollout(self, rollout_id: str) -> dict[str, Any] | None:
        with self.tx() as cur:
            cur.execute(
                "SELECT id, action, commit_id, status, created, plan, options, halted_reason"
                " FROM kuntapilvi_rollout WHERE id = %s",
                (rollout_id,),
            )
            r = cur.fetchone()
        if r is None:
            return None
        return {
            "id": r[0], "action": r[1], "commit": r[2], "status": r[3], "created": r[4],
            "plan": json.loads(r[5]), "options": json.loads(r[6]), "halted_reason": r[7],
        }  # fmt: skip

    def latest(self, prefix: str = "", status: str | None = None) -> str | None:
        """The newest rollout whose id starts with `prefix` (and has `status`)."""
        text = "SELECT id FROM kuntapilvi_rollout WHERE id LIKE %s ESCAPE '\\'"
        params: tuple[Any, ...] = (prefix.replace("%", "").replace("_", "\\_") + "%",)
        if status is not None:
            text += " AND status = %s"
            params += (status,)
        with self.tx() as cur:
            cur.execute(text + " ORDER BY created DESC LIMIT 1", params)
            r = cur.fetchone()
        return r[0] if r else None

    def set_status(self, rollout_id: str, status: str, reason: str | None = None) -> None:
        with self.tx() as cur:
            cur.execute(
                "UPDATE kuntapilvi_rollout SET status = %s, halted_reason = %s WHERE id = %s",
                (status, reason, rollout_id),
            )

    def halt(self, rollout_id: str, reason: str) -> None:
        """Halt once: the first runner's reason is kept."""
        with self.tx() as cur:
            cur.execute(
                "UPDATE kuntapilvi_rollout SET status = %s, halted_reason = %s"
                " WHERE id = %s AND status = %s",
                (HALTED, reason, rollout_id, RUNNING),
            )

    def stacks(self, rollout_id: str) -> list[StackRow]:
        with self.tx() as cur:
            cur.execute(
                f"SELECT {STACK_COLUMNS} FROM kuntapilvi_rollout_stack WHERE rollout_id = %s"
                " ORDER BY wave_index, stack",
                (rollout_id,),
            )
            return [_row(r) for r in cur.fetchall()]

    def claim(self, rollout_id: str, wave_index: int, runner: str) -> str | None:
        """Take the next pending stack of a wave for this runner, or None."""
        now = time.time()
        with self.tx() as cur:
            pick = (
                "SELECT stack FROM kuntapilvi_rollout_stack WHERE rollout_id = %s"
                " AND wave_index = %s AND status = %s ORDER BY stack LIMIT 1"
            )
            if self.postgres:
                pick += " FOR UPDATE SKIP LOCKED"
            cur.execute(pick, (rollout_id, wave_index, PENDING))
            r = cur.fetchone()
            if r is None:
                return None
            cur.execute(
                "UPDATE kuntapilvi_rollout_stack SET status = %s, runner = %s, started = %s,"
                " heartbeat = %s, attempts = attempts + 1 WHERE rollout_id = %s AND stack = %s"
                " AND status = %s",
                (RUNNING, runner, now, now, rollout_id, r[0], PENDING),
            )
            return r[0] if cur.rowcount == 1 else None

    def heartbeat(self, rollout_id: str, stacks: list[str]) -> None:
        now = time.time()
        with self.tx() as cur:
            for stack in stacks:
                cur.execute(
                    "UPDATE kuntapilvi_rollout_stack SET heartbeat = %s"
                    " WHERE rollout_id = %s AND stack = %s AND status = %s",
                    (now, rollout_id, stack, RUNNING),
                )

    def finish(
        self,
        rollout_id: str,
        stack: str,
        status: str,
        changes: dict[str, int] | None = None,
        message: str | None = None,
    ) -> None:
        with self.tx() as cur:
            cur.execute(
                "UPDATE kuntapilvi_rollout_stack SET status = %s, finished = %s, changes = %s,"
                " message = %s WHERE rollout_id = %s AND stack = %s",
                (status, time.time(), json.dumps(changes) if changes is not None else None,
                 message, rollout_id, stack),
            )  # fmt: skip

    def halt_pending(self, rollout_id: str) -> int:
        with self.tx() as cur:
            cur.execute(
                "UPDATE kuntapilvi_rollout_stack SET status = %s, message = %s"
                " WHERE rollout_id = %s AND status = %s",
                (HALTED, "not started: the rollout halted", rollout_id, PENDING),
            )
            return cur.rowcount

    def reopen(self, rollout_id: str, stale_after: float) -> list[str]:
        """For `resume`: halted and failed stacks go back to pending; running stacks whose runner
        stopped beating are returned (the caller decides: locked, or safe to run again)."""
        cutoff = time.time() - stale_after
        with self.tx() as cur:
            # Halted stacks never started; failed ones were not applied: both run again.
            for status in (HALTED, FAILED):
                cur.execute(
                    "UPDATE kuntapilvi_rollout_stack SET status = %s, message = NULL,"
                    " runner = NULL WHERE rollout_id = %s AND status = %s",
                    (PENDING, rollout_id, status),
                )
            cur.execute(
                "SELECT stack FROM kuntapilvi_rollout_stack WHERE rollout_id = %s"
                " AND status = %s AND (heartbeat IS NULL OR heartbeat < %s)",
                (rollout_id, RUNNING, cutoff),
            )
            orphans = [r[0] for r in cur.fetchall()]
            cur.execute(
                "UPDATE kuntapilvi_rollout SET status = %s, halted_reason = NULL WHERE id = %s",
                (RUNNING, rollout_id),
            )
        return orphans

    def requeue(self, rollout_id: str, stack: str) -> None:
        with self.tx() as cur:
            cur.execute(
                "UPDATE kuntapilvi_rollout_stack SET status = %s, runner = NULL"
                " WHERE rollout_id = %s AND stack = %s",
                (PENDING, rollout_id, stack),
            )


class _Cursor:
    """The dialect's placeholders, so the statements above are written once."""

    def __init__(self, cur: Any, sql: Any) -> None:
        self._cur = cur
        self._sql = sql

    def execute(self, text: str, params: tuple[Any, ...] = ()) -> None:
        self._cur.execute(self._sql(text), params)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)


def redact(url: str) -> str:
    """A URL fit for a message: never the password."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    cred, _, host = rest.rpartition("@")
    user = cred.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in cred else f"{scheme}://{user}@{host}"
