"""The one error type devcloud raises for problems a developer can act on."""

from __future__ import annotations

from pathlib import Path

from kuntapilvi.errors import EXIT_CLOUD, KuntapilviError


class DevcloudError(KuntapilviError):
    """A failure explained in one sentence, with the log that tells more.

    The CLI prints these without a traceback: a busy port or a missing Debian package is
    the user's environment, not a bug in devcloud.
    """

    exit_code = EXIT_CLOUD

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.log = log

    def __str__(self) -> str:
        if self.log is None:
            return self.message
        return f"{self.message} See {self.log}"
