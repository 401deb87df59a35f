"""Moving stacks between state backends (file:// and postgres://), with their history.

Each stack's current state moves the supported way, `pulumi stack export` from the source and
`pulumi stack import` into the target (resources, outputs, and secrets still encrypted for the
stack's own secrets provider, so the same passphrase keeps working). Pulumi has no command that
moves an update history, so the history records (`.pulumi/history/...`: one summary and one
checkpoint per past update) are copied object by object when both ends are backends this module
can read, file or PostgreSQL; `pulumi stack history` then lists the same updates in the target.
Backups the engine writes beside a checkpoint (`.json.bak`, `backups/`) are not copied.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.fleet.locks import PROJECT, postgres_store


@dataclass(slots=True)
class Moved:
    stack: str
    resources: int
    history: int


class Store:
    """The objects of a self-managed backend, by key (`.pulumi/...`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("file://"):
            self.folder: Path | None = Path(url.removeprefix("file://").split("?", 1)[0])
            self.table = ""
        elif url.startswith(("postgres://", "postgresql://")):
            self.folder = None
            try:
                self.dsn, self.table, self.prefix = postgres_store(url)
            except ValueError as exc:
                raise KuntapilviError(str(exc)) from None
        else:
            raise KuntapilviError(
                f"cannot copy history from or to '{url.split('://')[0]}://' backends; "
                "use file:// or postgres://"
            )

    def keys(self, prefix: str) -> Iterator[str]:
        if self.folder is not None:
            base = self.folder / prefix
            if base.is_dir():
                for path in sorted(base.rglob("*")):
                    if path.is_file():
                        yield path.relative_to(self.folder).as_posix()
            return
        import psycopg

        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            rows = conn.execute(
                f"SELECT key FROM {self.table} WHERE key LIKE %s ORDER BY key",  # checked name
                (self.prefix + prefix + "%",),
            ).fetchall()
        yield from (r[0].removeprefix(self.prefix) for r in rows)

    def read(self, key: str) -> bytes:
        if self.folder is not None:
            return (self.folder / key).read_bytes()
        import psycopg

        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            row = conn.execute(
                f"SELECT data->>'data' FROM {self.table} WHERE key = %s", (self.prefix + key,)
            ).fetchone()
        if row is None or row[0] is None:
            raise KuntapilviError(f"{key} vanished from the source while copying")
        # pkg/backend/diy/postgres/bucket.go keeps each object as {"data": "<base64>"}.
        return base64.b64decode(row[0])

    def write(self, key: str, data: bytes) -> None:
        if self.folder is not None:
            target = self.folder / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return
        import psycopg

        wrapped = json.dumps({"data": base64.b64encode(data).decode()})
        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            conn.execute(
                f"INSERT INTO {self.table} (key, data) VALUES (%s, %s::json)"
                " ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, updated_at = now()",
                (self.prefix + key, wrapped),
            )


def _pulumi(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PULUMI_BACKEND_URL": url}
    return subprocess.run(
        ["pulumi", *args, "--non-interactive"], cwd=cwd, env=env, capture_output=True, text=True
    )


def source_stacks(url: str, cwd: Path) -> list[str]:
    result = _pulumi(url, "stack", "ls", "--json", cwd=cwd)
    if result.returncode != 0:
        raise KuntapilviError(f"cannot list the stacks of the source: {result.stderr.strip()}")
    return sorted(s["name"].rsplit("/", 1)[-1] for s in json.loads(result.stdout or "[]"))


def migrate(
    source: str, target: str, cwd: Path, stacks: list[str] | None = None, history: bool = True
) -> list[Moved]:
    names = stacks or source_stacks(source, cwd)
    moved: list[Moved] = []
    with tempfile.TemporaryDirectory(prefix="kuntapilvi-migrate-") as tmp:
        for name in names:
            exported = Path(tmp) / f"{name}.json"
            result = _pulumi(source, "stack", "export", "--stack", name, "--file", str(exported),
                             cwd=cwd)  # fmt: skip
            if result.returncode != 0:
                raise KuntapilviError(f"{name}: export failed: {result.stderr.strip()}")
            if _pulumi(target, "stack", "select", name, cwd=cwd).returncode != 0:
                made = _pulumi(target, "stack", "init", name, "--no-select", cwd=cwd)
                if made.returncode != 0:
                    raise KuntapilviError(f"{name}: cannot create it in the target: "
                                          f"{made.stderr.strip()}")  # fmt: skip
            result = _pulumi(target, "stack", "import", "--stack", name, "--file", str(exported),
                             cwd=cwd)  # fmt: skip
            if result.returncode != 0:
                raise KuntapilviError(f"{name}: import failed: {result.stderr.strip()}")
            deployment = json.loads(exported.read_text()).get("deployment") or {}
            copied = _copy_history(source, target, name) if history else 0
            moved.append(Moved(name, len(deployment.get("resources") or []), copied))
    return moved


def _copy_history(source: str, target: str, stack: str) -> int:
    src, dst = Store(source), Store(target)
    # pkg/backend/diy/store.go (project-scoped stacks): .pulumi/history/<project>/<stack>/
    prefix = f".pulumi/history/{PROJECT}/{stack}/"
    count = 0
    for key in src.keys(prefix):
        # Backups, and the file store's metadata sidecars (go-cloud's fileblob), stay behind.
        if key.endswith((".bak", ".attrs")):
            continue
        dst.write(key, src.read(key))
        count += 1
    return count
