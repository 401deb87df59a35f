"""What a rollout leaves behind: a live display, a JSON report and JUnit XML for CI."""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from kuntapilvi.fleet import ledger as lg


class PlainDisplay:
    """One line per event: for CI logs and pipes."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()

    def _print(self, text: str) -> None:
        with self._lock:
            self.console.print(text, markup=False, highlight=False)

    def wave(self, name: str, index: int, total: int, size: int) -> None:
        self._print(f"== wave {name} ({index + 1}/{total}): {size} stack(s)")

    def started(self, stack: str, wave: str) -> None:
        self._print(f"   {wave}: {stack} started")

    def finished(self, stack: str, wave: str, status: str, detail: str) -> None:
        self._print(f"   {wave}: {stack} {status}{': ' + detail if detail else ''}")

    def note(self, text: str) -> None:
        self._print(f"   {text}")

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class LiveDisplay(PlainDisplay):
    """A table of running stacks with the wave's counters, elapsed time and an estimate."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.running: dict[str, tuple[str, float]] = {}
        self.done: list[float] = []
        self.counts: dict[str, int] = {}
        self.current = ("", 0, 0, 0)
        self.start = time.monotonic()
        self.live = Live(self._table(), console=console, refresh_per_second=4, transient=False)

    def _table(self) -> Table:
        name, index, total, size = self.current
        elapsed = time.monotonic() - self.start
        finished = sum(self.counts.values())
        left = max(size - finished - len(self.running), 0)
        mean = sum(self.done) / len(self.done) if self.done else None
        estimate = f", about {mean * left / max(len(self.running), 1):.0f} s left" if mean else ""
        counters = " ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        table = Table(
            title=f"wave {name} ({index + 1}/{total}): {finished}/{size} done {counters}; "
            f"{elapsed:.0f} s{estimate}",
            title_justify="left",
        )
        table.add_column("stack")
        table.add_column("running for", justify="right")
        now = time.monotonic()
        for stack, (_, since) in sorted(self.running.items()):
            table.add_row(stack, f"{now - since:.0f} s")
        return table

    def _refresh(self) -> None:
        self.live.update(self._table())

    def wave(self, name: str, index: int, total: int, size: int) -> None:
        with self._lock:
            self.current = (name, index, total, size)
            self.counts = {}
            self._refresh()

    def started(self, stack: str, wave: str) -> None:
        with self._lock:
            self.running[stack] = (wave, time.monotonic())
            self._refresh()

    def finished(self, stack: str, wave: str, status: str, detail: str) -> None:
        with self._lock:
            since = self.running.pop(stack, (wave, time.monotonic()))[1]
            self.done.append(time.monotonic() - since)
            self.counts[status] = self.counts.get(status, 0) + 1
            self.live.console.print(f"{wave}: {stack} {status}{': ' + detail if detail else ''}")
            self._refresh()

    def note(self, text: str) -> None:
        with self._lock:
            self.live.console.print(text)

    def __enter__(self) -> LiveDisplay:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()


def display_for(console: Console) -> PlainDisplay:
    return LiveDisplay(console) if console.is_terminal else PlainDisplay(console)


def report_json(record: dict[str, Any], rows: list[lg.StackRow]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return {
        "rollout": record["id"],
        "action": record["action"],
        "commit": record["commit"],
        "status": record["status"],
        "halted_reason": record["halted_reason"],
        "counts": counts,
        "stacks": [r.to_json() for r in rows],
    }


def junit(record: dict[str, Any], rows: list[lg.StackRow]) -> str:
    """Wave = test suite, stack = test case; failed and locked are failures, halted skipped."""
    suites = ET.Element("testsuites", name=f"rollout {record['id']}")
    waves: dict[str, list[lg.StackRow]] = {}
    for r in rows:
        waves.setdefault(r.wave, []).append(r)
    for wave, members in waves.items():
        failed = [r for r in members if r.status in (lg.FAILED, lg.LOCKED, lg.REFUSED)]
        skipped = [r for r in members if r.status in (lg.HALTED, lg.PENDING, lg.RUNNING)]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=wave,
            tests=str(len(members)),
            failures=str(len(failed)),
            skipped=str(len(skipped)),
            errors="0",
        )
        for r in members:
            duration = (r.finished - r.started) if r.started and r.finished else 0.0
            case = ET.SubElement(
                suite, "testcase", classname=f"rollout.{wave}", name=r.stack, time=f"{duration:.2f}"
            )
            if r in failed:
                ET.SubElement(case, "failure", message=r.status).text = r.message or r.status
            elif r in skipped:
                ET.SubElement(case, "skipped", message=r.message or r.status)
            elif r.changes:
                ET.SubElement(case, "system-out").text = json.dumps(r.changes, sort_keys=True)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def write_reports(
    folder: Path, record: dict[str, Any], rows: list[lg.StackRow]
) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "rollout.json"
    xml_path = folder / "rollout.junit.xml"
    json_path.write_text(json.dumps(report_json(record, rows), indent=2) + "\n", encoding="utf-8")
    xml_path.write_text(junit(record, rows), encoding="utf-8")
    return json_path, xml_path
