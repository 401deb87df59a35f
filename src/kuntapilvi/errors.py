"""Findings and the package's one exception root.

A *finding* is what validation says about one place in one file: it names the file, the line,
the dotted field path and a fix. Validation collects findings instead of raising, so a user sees
every mistake of a file at once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place, with the fix a person can apply."""

    severity: Severity
    code: str
    file: str
    line: int | None
    field: str
    message: str
    fix: str

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        fieldpart = f" {self.field}:" if self.field else ""
        return f"{where}:{fieldpart} {self.message} Fix: {self.fix}"

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": str(self.severity),
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(slots=True)
class Findings:
    """An ordered collection of findings with error/warning views."""

    items: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.items.append(finding)

    def extend(self, other: Findings | list[Finding]) -> None:
        self.items.extend(other.items if isinstance(other, Findings) else other)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.items if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.items if f.severity is Severity.WARNING]

    def for_file(self, file: str) -> list[Finding]:
        return [f for f in self.items if f.file == file]

    def __bool__(self) -> bool:
        return bool(self.items)


# Exit codes of the command line (docs/error-codes.md). They live here, beside the errors that
# carry them, so every layer can raise the right one without importing the CLI.
EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_CLOUD = 3
EXIT_INTERNAL = 70


class KuntapilviError(Exception):
    """Root of every error this package raises on purpose; the CLI prints it without a traceback.

    `exit_code` says which documented exit status the CLI ends with; the base class is a usage
    or environment problem (the command could not run)."""

    exit_code = EXIT_USAGE


class InvalidInput(KuntapilviError):
    """A user mistake in a file or an argument: the message names it and the fix."""

    exit_code = EXIT_INVALID


class CloudError(KuntapilviError):
    """The cloud or the Pulumi engine refused or failed; the user's files may be fine."""

    exit_code = EXIT_CLOUD


class InvalidConfiguration(InvalidInput):
    """The catalogue or a stack file has errors; carries the findings that say where."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        lines = "\n".join(f"  {f.render()}" for f in findings)
        super().__init__(f"{len(findings)} error(s) in the catalogue or stack files:\n{lines}")


def relpath(path: Path, root: Path) -> str:
    """A path as the user sees it: relative to the project root when it is inside it."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
