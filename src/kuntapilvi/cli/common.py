"""Shared CLI plumbing: output consoles, the error boundary and exit codes.

Exit codes (documented in the README):
  0  everything valid (warnings may have been printed)
  1  the catalogue or a stack file has errors (or warnings under --strict)
  2  the command could not run: bad usage, no project found, an environment problem
"""

from __future__ import annotations

import enum
import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from kuntapilvi.errors import InvalidConfiguration, KuntapilviError

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

# Data goes to stdout, messages to stderr, so `--format json | jq` always gets clean JSON.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


class OutputFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


def _error_label() -> str:
    """'error' in the locale's language (the CLI follows the locale)."""
    from kuntapilvi.i18n import pick, tr

    return tr(pick(None), "error")


def boundary(func: Callable[P, R]) -> Callable[P, R]:
    """Print the package's own errors as one readable message, never as a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except InvalidConfiguration as exc:
            err.print(f"[bold red]{_error_label()}:[/] {exc}")
            raise typer.Exit(EXIT_INVALID) from None
        except KuntapilviError as exc:
            err.print(f"[bold red]{_error_label()}:[/] {exc}")
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(EXIT_OK) from None

    return wrapper
