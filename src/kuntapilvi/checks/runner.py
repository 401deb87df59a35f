"""Run the generic card checks (test_cards.py) with pytest in-process; one Result per check."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kuntapilvi.checks.inventory import InventoryHost, write_inventory
from kuntapilvi.errors import KuntapilviError

HERE = Path(__file__).parent
TEST_MODULE = HERE / "test_cards.py"
INI = HERE / "pytest.ini"


@dataclass(frozen=True)
class Result:
    host: str
    address: str
    card: str
    kind: str
    check: str
    passed: bool
    message: str  # why it failed: the failing command and its output; "" when it passed
    seconds: float


class _Collector:
    """Plugin object: keeps each test's outcome and message, and collection errors."""

    def __init__(self) -> None:
        self.results: list[Result] = []
        self.errors: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # The call phase decides a check; a failed setup (the call never ran) fails it too.
        # Teardown only closes connections and decides nothing.
        if not (report.when == "call" or (report.when == "setup" and report.failed)):
            return
        props = dict(report.user_properties)
        if "host" not in props:
            if report.failed:
                self.errors.append(report.longreprtext)
            return
        self.results.append(
            Result(
                host=str(props["host"]),
                address=str(props["address"]),
                card=str(props["card"]),
                kind=str(props["kind"]),
                check=str(props["check"]),
                passed=report.passed,
                message="" if report.passed else _message(report),
                seconds=round(report.duration, 2),
            )
        )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(report.longreprtext)

    def pytest_internalerror(self, excrepr: Any) -> None:
        self.errors.append(str(excrepr))


def _message(report: pytest.TestReport) -> str:
    text = report.longreprtext
    # pytest.fail(..., pytrace=False) gives exactly our message; anything else a traceback,
    # whose last lines say what happened.
    return text if text else "failed without a message"


def run_checks(
    hosts: list[InventoryHost],
    project: Path,
    *,
    junit: Path | None = None,
    suite: str = "kuntapilvi-check",
    connect_timeout: float = 15.0,
    command_timeout: float = 120.0,
    verbose: bool = False,
) -> list[Result]:
    """Every check of every host, in order. Raises KuntapilviError if pytest itself failed."""
    collector = _Collector()
    with tempfile.TemporaryDirectory(prefix="kuntapilvi-check-") as tmp:
        inventory = Path(tmp) / "inventory.json"
        write_inventory(hosts, project, inventory)
        args = [
            str(TEST_MODULE),
            "-c", str(INI),
            "--rootdir", str(HERE),
            "-p", "kuntapilvi.checks.plugin",
            f"--kp-inventory={inventory}",
            f"--kp-connect-timeout={connect_timeout}",
            f"--kp-command-timeout={command_timeout}",
            "-o", f"junit_suite_name={suite}",
        ]  # fmt: skip
        if junit is not None:
            junit.parent.mkdir(parents=True, exist_ok=True)
            args.append(f"--junitxml={junit}")
        # Our table is the report; pytest's own terminal output only when asked for.
        args += ["-v", "--tb=short"] if verbose else ["-p", "no:terminal"]
        code = pytest.main(args, plugins=[collector])
    if collector.errors or code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        detail = "\n".join(collector.errors) or f"pytest exit code {int(code)}"
        raise KuntapilviError(f"the checks could not run:\n{detail}")
    return collector.results
