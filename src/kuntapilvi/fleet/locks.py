"""Finding a stack lock left behind in the state backend. Reported, never removed here:
clearing a lock whose owner may still be running is how state gets corrupted (that judgement is
`kuntapilvi recover`'s, kuntapilvi.recovery.locks)."""

from __future__ import annotations

from kuntapilvi.statestore import Store, lock_prefixes, supported


def stack_locks(backend_url: str, stack: str) -> list[str]:
    """Lock keys the self-managed backend holds for a stack (empty when unlocked or unknown)."""
    if not supported(backend_url):
        return []
    store = Store(backend_url)
    return sorted(key.rsplit("/", 1)[-1] for p in lock_prefixes(stack) for key in store.keys(p))


def recovery_command(stack: str) -> str:
    return f"kuntapilvi recover {stack}"
