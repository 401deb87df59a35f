"""Finding a stack lock left behind in the state backend. Reported, never removed here:
clearing a lock whose owner may still be running is how state gets corrupted."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

PROJECT = "kuntapilvi"


def lock_prefix(stack: str) -> str:
    # pkg/backend/diy/lock.go: .pulumi/locks/<organization/project/stack>/<lock id>.json
    return f".pulumi/locks/organization/{PROJECT}/{stack}/"


def stack_locks(backend_url: str, stack: str) -> list[str]:
    """Lock keys the self-managed backend holds for a stack (empty when unlocked or unknown)."""
    if backend_url.startswith("file://"):
        folder = Path(backend_url.removeprefix("file://").split("?", 1)[0]) / lock_prefix(stack)
        return sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []
    if backend_url.startswith(("postgres://", "postgresql://")):
        import psycopg

        dsn, table, prefix = postgres_store(backend_url)
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            rows = conn.execute(
                f"SELECT key FROM {table} WHERE key LIKE %s",  # table: checked identifier
                (prefix + lock_prefix(stack) + "%",),
            ).fetchall()
        return sorted(r[0] for r in rows)
    return []


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


def recovery_command(stack: str) -> str:
    return f"kuntapilvi recover {stack}"
