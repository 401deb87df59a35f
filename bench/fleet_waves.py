"""Benchmark: one rollout wave of N tenants through the real engine on devcloud, at several
concurrencies (issue 16: "preview and up of a 30-tenant wave at concurrency 1, 2, 4 and 8").

Needs a running devcloud (run it in a namespace of its own: `scripts/isolated bench bash -c
'... kuntapilvi devcloud up && .venv/bin/python bench/fleet_waves.py'`) and the engine
(scripts/install-engine). Builds a private project with the centre and N light tenants (quota,
network, router, baseline firewall: the part of every tenant a catalogue change to the network
cards reaches), applies them once, then for each concurrency adds one port to the baseline
firewall card (a real change: one security-group rule more in every tenant) and times
`rollout preview` and `rollout up` of the wave, with the peak memory of the whole process tree
(the CLI, one engine and one program per running stack). Everything it built is destroyed at
the end.

    .venv/bin/python bench/fleet_waves.py [--tenants 30] [--concurrency 1,2,4,8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import country  # bench/country.py: the script's folder is on sys.path
import yaml

REPO = Path(__file__).resolve().parents[1]
KP = str(REPO / ".venv" / "bin" / "kuntapilvi")
LIGHT = [
    {"card": "capacity.quota", "size": "S"},
    {"card": "network.tenant-network"},
    {"card": "network.baseline-firewall"},
]


def build(root: Path, tenants: int) -> None:
    country.build(root, tenants)
    for path in sorted((root / "stacks").glob("Pulumi.kunta-*.yaml")):
        data = yaml.safe_load(path.read_text())
        data["config"]["kuntapilvi:tenant"]["services"] = LIGHT
        path.write_text(yaml.safe_dump(data))
    shutil.copy(REPO / "stacks/Pulumi.centre.yaml", root / "stacks/Pulumi.centre.yaml")
    shutil.copy(REPO / "__main__.py", root / "__main__.py")
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    project["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (root / "Pulumi.yaml").write_text(yaml.safe_dump(project))
    centre = yaml.safe_load((root / "catalog/centre.yaml").read_text())
    centre["rollout"] = {"canary": [], "waves": [100], "concurrency": 1, "check": False}
    (root / "catalog/centre.yaml").write_text(yaml.safe_dump(centre, allow_unicode=True))


def environment(root: Path) -> dict[str, str]:
    """scripts/env.sh's engine, devcloud's credentials, a file backend of the bench's own."""
    shell = subprocess.run(
        ["bash", "-c", f". {REPO}/scripts/env.sh >/dev/null 2>&1 && env -0"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    env = dict(kv.split("=", 1) for kv in shell.stdout.split("\0") if "=" in kv)
    for key in [k for k in env if k.startswith("OS_")]:
        env.pop(key)
    from kuntapilvi.devcloud import connection_info

    env.update(connection_info()["environ"])
    (root / ".state-pulumi").mkdir()
    env.update(
        {
            "PULUMI_BACKEND_URL": f"file://{root / '.state-pulumi'}",
            "KUNTAPILVI_ROOT": str(root),
            "KUNTAPILVI_LEDGER_URL": f"sqlite://{root / '.state' / 'rollout.db'}",
            "PULUMI_CONFIG_PASSPHRASE": "bench",
            "NO_COLOR": "1",
        }
    )
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    return env


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "statm").read_text().split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        rss[int(entry.name)] = int(status[1]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def timed(root: Path, env: dict[str, str], *args: str) -> tuple[float, int, str]:
    """Wall seconds and peak tree memory of one `kuntapilvi` command; fails loudly."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [KP, *args], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.5):
            peak = max(peak, _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"kuntapilvi {' '.join(args)} failed ({proc.returncode}):\n{out}\n{err[-4000:]}")
    # "rollout ID: succeeded (N succeeded)": a level whose stacks were skipped would time nothing.
    summary = [line for line in err.splitlines() if line.startswith("rollout ")][-1:]
    return seconds, peak, summary[0] if summary else ""


def add_port(root: Path, port: int) -> None:
    path = root / "catalog/cards/network/baseline-firewall.yaml"
    card = yaml.safe_load(path.read_text())
    card["ports"].append(
        {
            "protocol": "tcp",
            "port": port,
            "source": "management",
            "description": {"fi": "Mittausportti", "en": "Benchmark port"},
        }
    )
    path.write_text(yaml.safe_dump(card, allow_unicode=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=30)
    parser.add_argument("--concurrency", default="1,2,4,8")
    parser.add_argument("--report", type=Path, default=REPO / "reports" / "fleet-waves.json")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="kuntapilvi-waves-", dir=REPO / ".state"))
    root = tmp / "project"
    root.mkdir()
    build(root, args.tenants)
    env = environment(root)
    stacks = ["centre", *(f"kunta-{i:03d}" for i in range(args.tenants))]
    for stack in stacks:
        subprocess.run(
            ["pulumi", "stack", "init", stack, "--non-interactive"],
            cwd=root, env=env, capture_output=True, check=True,
        )  # fmt: skip
    results: dict[str, object] = {"tenants": args.tenants, "cores": os.cpu_count()}
    try:
        seconds, peak, _ = timed(root, env, "rollout", "up", "--id", "build", "--concurrency", "4")
        results["build"] = {"seconds": round(seconds, 1), "peak_mb": peak // 2**20}
        print(f"built the centre and {args.tenants} tenants: {seconds:.0f} s", flush=True)
        rows = []
        for level in levels:
            add_port(root, 9100 + level)
            preview, preview_peak, said = timed(
                root, env, "rollout", "preview", "--id", f"p{level}", "--concurrency", str(level)
            )
            up, up_peak, applied = timed(
                root, env, "rollout", "up", "--id", f"u{level}", "--concurrency", str(level)
            )
            for line in (said, applied):
                if f"({args.tenants} succeeded)" not in line:
                    sys.exit(f"concurrency {level}: expected {args.tenants} stacks, got: {line}")
            row = {
                "concurrency": level,
                "preview_s": round(preview, 1),
                "up_s": round(up, 1),
                "up_s_per_stack": round(up / args.tenants, 2),
                "preview_peak_mb": preview_peak // 2**20,
                "up_peak_mb": up_peak // 2**20,
                "load": round(os.getloadavg()[0], 1),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        base = rows[0]
        for row in rows:
            row["up_speedup"] = round(float(base["up_s"]) / float(row["up_s"]), 2)  # type: ignore[arg-type]
            row["preview_speedup"] = round(
                float(base["preview_s"]) / float(row["preview_s"]),
                2,  # type: ignore[arg-type]
            )
        results["waves"] = rows
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(results, indent=2) + "\n")
        print("| concurrency | preview | up | up per stack | speed-up (up) | peak memory (up) |")
        print("| --- | --- | --- | --- | --- | --- |")
        for r in rows:
            print(
                f"| {r['concurrency']} | {r['preview_s']} s | {r['up_s']} s "
                f"| {r['up_s_per_stack']} s | {r['up_speedup']}× | {r['up_peak_mb']} MiB |"
            )
    finally:
        for stack in reversed(stacks):
            subprocess.run(
                ["pulumi", "destroy", "--stack", stack, "--yes", "--skip-preview",
                 "--non-interactive"],
                cwd=root, env=env, capture_output=True,
            )  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
