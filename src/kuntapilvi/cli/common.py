"""Shared CLI plumbing: output consoles, the one error boundary and exit codes.

Exit codes (docs/error-codes.md):
  0   everything valid (warnings may have been printed)
  1   invalid input: a user mistake in a file or an argument (or warnings under --strict)
  2   the command could not run: bad usage, no project found, an environment problem
  3   the cloud or the Pulumi engine failed
  70  an internal bug: one line asking to report it, and where the traceback was written
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from kuntapilvi.errors import (
    EXIT_CLOUD,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    KuntapilviError,
)

__all__ = [
    "EXIT_CLOUD",
    "EXIT_INTERNAL",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "OutputFormat",
    "boundary",
    "err",
    "out",
    "say",
]

# Data goes to stdout, messages to stderr, so `--format json | jq` always gets clean JSON.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


class OutputFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


def check_today(value: str | None) -> str | None:
    """--today must be a real date written YYYY-MM-DD (typer turns the refusal into exit 2)."""
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value[:40]!r} is not a date. Fix: write a real date as YYYY-MM-DD, e.g. 2027-02-28"
        ) from None
    return value


def say(label: str, style: str, text: str, console: Console | None = None) -> None:
    """Print a styled label and then user text as it is: '[/x]' in a file is never markup."""
    (console or err).print(Text.assemble((label, style), " ", text))


def crash_report(exc: BaseException) -> Path | None:
    """Write the traceback of an unexpected exception to a file; None when nothing is writable."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    text = "".join(traceback.format_exception(exc))
    for folder in (os.environ.get("KUNTAPILVI_CRASH_DIR"), tempfile.gettempdir()):
        if not folder:
            continue
        try:
            fd, name = tempfile.mkstemp(prefix=f"kuntapilvi-crash-{stamp}-", suffix=".txt",
                                        dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            return Path(name)
        except OSError:
            continue
    return None


def _error_label() -> str:
    """'error' in the locale's language (the CLI follows the locale)."""
    from kuntapilvi.i18n import pick, tr

    return tr(pick(None), "error")


def boundary(func: Callable[P, R]) -> Callable[P, R]:
    """The one error boundary of every command: an error of the package is one readable message
    and its documented exit code; anything else is a bug, reported in one line with the file its
    traceback was written to, never as a raw traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KuntapilviError as exc:
            say(f"{_error_label()}:", "bold red", str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(EXIT_OK) from None
        except Exception as exc:
            where = crash_report(exc)
            saved = f"; the traceback is in {where}" if where else ""
            say(
                "internal error:",
                "bold red",
                f"{type(exc).__name__}: {exc}. This is a bug in kuntapilvi, not in your files; "
                f"please report it with the command you ran{saved}.",
            )
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper
