"""The one error type of the host machinery: a sentence a person can act on, and a log."""

from __future__ import annotations

from pathlib import Path

from kuntapilvi.errors import EXIT_CLOUD, KuntapilviError


class HostsError(KuntapilviError):
    """An environment or provisioning problem, reported as one sentence (and a log), never a
    traceback."""

    exit_code = EXIT_CLOUD

    def __init__(self, message: str, log: Path | str | None = None) -> None:
        self.message = message
        self.log = Path(log) if log is not None else None
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.log is None:
            return self.message
        return f"{self.message} (see {self.log})"
