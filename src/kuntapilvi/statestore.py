"""The objects of a self-managed Pulumi backend (file:// or postgres://), by key.

Both keep the same keys (`.pulumi/stacks/...`, `.pulumi/history/...`, `.pulumi/locks/...`): the
file backend as files under its folder, the PostgreSQL backend as rows of one table
(pkg/backend/diy/postgres/bucket.go: `key`, and `data` = {"data": "<base64>"}), every key prefixed
with the URL's path. State migration copies history through this, and recovery reads and clears
stale locks through it on either backend."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse, urlsplit, urlunsplit

from kuntapilvi.errors import KuntapilviError

PROJECT = "kuntapilvi"
POSTGRES = ("postgres://", "postgresql://")


def supported(url: str) -> bool:
    return url.startswith(("file://", *POSTGRES))


def file_backend_dir(backend_url: str) -> Path | None:
    """The folder of a file:// backend (`file://~/.pulumi` too), or None for any other."""
    parsed = urlparse(backend_url)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.netloc + parsed.path)).expanduser()


def postgres_store(backend_url: str) -> tuple[str, str, str]:
    """libpq DSN, table and key prefix of Pulumi's PostgreSQL backend URL. The backend keeps
    the URL's path (the database name) as a prefix of every key, as it does a bucket's
    sub-folder (pkg/backend/diy/backend.go, blob.PrefixedBucket)."""
    parts = urlsplit(backend_url)
    query = parse_qs(parts.query)
    table = query.pop("table", ["pulumi_state"])[0]
    if not table.replace("_", "").isalnum():
        raise ValueError(f"table name '{table}' is not a plain identifier")
    rest = "&".join(f"{k}={v[0]}" for k, v in query.items())
    dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
    sub = parts.path.lstrip("/")
    return dsn, table, (sub.rstrip("/") + "/") if sub else ""


def lock_prefixes(stack: str) -> tuple[str, ...]:
    # pkg/backend/diy/lock.go: .pulumi/locks/<organization/project/stack>/<lock id>.json; a
    # backend made before projects were scoped keeps .pulumi/locks/<stack>/.
    return (f".pulumi/locks/organization/{PROJECT}/{stack}/", f".pulumi/locks/{stack}/")


class Store:
    """Keys, bytes and deletion on one backend; `table` and `dsn` are checked identifiers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.folder = file_backend_dir(url)
        self.dsn = self.table = self.prefix = ""
        if self.folder is None:
            if not url.startswith(POSTGRES):
                raise KuntapilviError(
                    f"'{url.split('://')[0]}://' backends are not read here; use file:// or "
                    "postgres://"
                )
            try:
                self.dsn, self.table, self.prefix = postgres_store(url)
            except ValueError as exc:
                raise KuntapilviError(str(exc)) from None

    def _sql(self, query: str, params: tuple[str, ...]) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, connect_timeout=10) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def keys(self, prefix: str) -> Iterator[str]:
        if self.folder is not None:
            base = self.folder / prefix
            if base.is_dir():
                for path in sorted(base.rglob("*")):
                    if path.is_file():
                        yield path.relative_to(self.folder).as_posix()
            return
        rows = self._sql(
            f"SELECT key FROM {self.table} WHERE key LIKE %s ORDER BY key",
            (self.prefix + prefix + "%",),
        )
        yield from (str(r[0]).removeprefix(self.prefix) for r in rows)

    def read(self, key: str) -> bytes:
        if self.folder is not None:
            try:
                return (self.folder / key).read_bytes()
            except FileNotFoundError:
                raise KuntapilviError(f"{key} vanished from the backend while reading") from None
        rows = self._sql(
            f"SELECT data->>'data' FROM {self.table} WHERE key = %s", (self.prefix + key,)
        )
        if not rows or rows[0][0] is None:
            raise KuntapilviError(f"{key} vanished from the backend while reading")
        return base64.b64decode(str(rows[0][0]))

    def write(self, key: str, data: bytes) -> None:
        if self.folder is not None:
            target = self.folder / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            return
        wrapped = json.dumps({"data": base64.b64encode(data).decode()})
        self._sql(
            f"INSERT INTO {self.table} (key, data) VALUES (%s, %s::json)"
            " ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, updated_at = now()",
            (self.prefix + key, wrapped),
        )

    def delete(self, key: str) -> None:
        if self.folder is not None:
            (self.folder / key).unlink(missing_ok=True)
            return
        self._sql(f"DELETE FROM {self.table} WHERE key = %s", (self.prefix + key,))
