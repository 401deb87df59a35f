"""Benchmark: `kuntapilvi rollout` over a synthetic country of 309 tenants.

Builds the country of bench/country.py in a temporary git repository (every third tenant also
adopts office.print, a few volunteer as canaries), records every stack as applied in a fresh
ledger, then times the real CLI, each in its own process as CI runs it:

  1. a no-op `rollout up`: every stack is skipped by its fingerprint; `pulumi` on PATH is a stub
     that fails, so any engine run would show;
  2. `rollout plan` after a one-card change (a port of office.print), against the ledger;
  3. `rollout plan --base HEAD` for the same change (the base revision's fingerprints too).

    .venv/bin/python bench/fleet.py [--municipalities 309] [--ledger URL] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import country  # bench/country.py: the script's folder is on sys.path
import yaml

from kuntapilvi.fleet import ledger as lg
from kuntapilvi.fleet.plan import plan

REPO = Path(__file__).resolve().parents[1]
CODE = ("modules", "policy", "engine", "src", "__main__.py", "pyproject.toml")


def build(root: Path, count: int) -> None:
    country.build(root, count)
    for name in CODE:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / name)
    shutil.copy(REPO / "stacks/Pulumi.centre.yaml", root / "stacks/Pulumi.centre.yaml")
    for i, path in enumerate(sorted((root / "stacks").glob("Pulumi.kunta-*.yaml"))):
        if i % 3:
            continue
        data = yaml.safe_load(path.read_text())
        data["config"]["kuntapilvi:tenant"]["services"].append({"card": "office.print"})
        path.write_text(yaml.safe_dump(data))
    centre = yaml.safe_load((root / "catalog/centre.yaml").read_text())
    centre["rollout"] = {
        "canary": ["kunta-000", "kunta-003"],
        "waves": [10, 50, 100],
        "concurrency": 8,
        "failure_tolerance": "2%",
    }
    (root / "catalog/centre.yaml").write_text(yaml.safe_dump(centre, allow_unicode=True))
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "country"], check=True)


CPU: list[float] = []


def cli(root: Path, env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time of one CLI process; its CPU time (user + system) goes to CPU, which a loaded
    machine inflates far less than wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    result = subprocess.run(
        [str(REPO / ".venv/bin/kuntapilvi"), *args],
        cwd=root,
        env={**env, "KUNTAPILVI_ROOT": str(root)},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, result


def cpu(n: int) -> str:
    return "CPU " + ", ".join(f"{c:.2f}" for c in CPU[-n:]) + " s"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--municipalities", type=int, default=309)
    parser.add_argument("--ledger", help="ledger URL (default: a SQLite file in the temp copy)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kuntapilvi-fleet-bench-") as tmp:
        root = Path(tmp) / "country"
        root.mkdir()
        build(root, args.municipalities)
        url = args.ledger or f"sqlite://{root / '.state' / 'rollout.db'}"
        stub = Path(tmp) / "bin"
        stub.mkdir()
        (stub / "pulumi").write_text("#!/bin/sh\necho 'the engine ran' >&2\nexit 99\n")
        (stub / "pulumi").chmod(0o755)
        env = {
            **os.environ,
            "PATH": f"{stub}:{os.environ['PATH']}",
            "KUNTAPILVI_LEDGER_URL": url,
            "KUNTAPILVI_TODAY": "2027-01-15",
        }
        # What a finished rollout leaves: every stack's fingerprint recorded as applied.
        book = lg.Ledger(url)
        t0 = time.perf_counter()
        fleet = plan(root, {}, dt.date(2027, 1, 15))
        for name, sp in fleet.stacks.items():
            fp = sp.fingerprint
            assert fp is not None, name
            book.record_applied(name, fp.value, fp.components, fp.billing, fp.monthly, None, "b")
        recorded = time.perf_counter() - t0
        book.close()
        stacks = len(fleet.stacks)
        print(f"stacks: {stacks} ({stacks - 1} tenants and the centre)")
        print(f"fingerprint and record all as applied (in-process): {recorded:.2f} s")

        noop = []
        for _ in range(args.runs):
            seconds, result = cli(root, env, "rollout", "up", "--policy-pack", "none")
            assert result.returncode == 0, result.stderr
            assert "the engine ran" not in result.stderr
            noop.append(seconds)
        last = result.stderr.strip().splitlines()[-1]
        shown = ", ".join(f"{s:.2f}" for s in noop)
        print(f"no-op `rollout up` of {stacks} stacks: {shown} s ({cpu(args.runs)}; target < 10 s)")
        print(f"    {last}")

        card = root / "catalog/cards/office/print.yaml"
        card.write_text(card.read_text().replace("port: 631", "port: 632", 1))
        timings = []
        for _ in range(args.runs):
            seconds, result = cli(root, env, "rollout", "plan", "--format", "json")
            assert result.returncode == 0, result.stderr
            timings.append(seconds)
        data = json.loads(result.stdout)
        waves = ", ".join(f"{w['name']} {len(w['stacks'])}" for w in data["waves"])
        shown = ", ".join(f"{s:.2f}" for s in timings)
        print(f"`rollout plan` after a one-card change: {shown} s ({cpu(args.runs)}; target < 5 s)")
        print(f"    {data['counts']['up']} to update; waves: {waves}")

        timings = []
        for _ in range(args.runs):
            seconds, result = cli(
                root, env, "rollout", "plan", "--base", "HEAD", "--format", "json"
            )
            assert result.returncode == 0, result.stderr
            timings.append(seconds)
        data = json.loads(result.stdout)
        reasons = sorted({r for s in data["stacks"] for r in s["reasons"]})
        shown = ", ".join(f"{s:.2f}" for s in timings)
        print(f"`rollout plan --base HEAD`, same change: {shown} s ({cpu(args.runs)});"
              f" {data['counts']['up']} to update, because: {'; '.join(reasons)}")  # fmt: skip
        t0 = time.perf_counter()
        subprocess.run([str(REPO / ".venv/bin/kuntapilvi"), "--help"], capture_output=True, env=env)
        print(f"for scale, `kuntapilvi --help` (imports only): {time.perf_counter() - t0:.2f} s")
        print(f"python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
