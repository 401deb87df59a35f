"""Benchmark: `validate` of one synthetic tenant stack with many services (target: 10,000 in
under 1 s, and linear: twice the services, about twice the time).

The stack adopts the quota, one network, the firewall and a server, then block-storage volumes
attached to it, all with valid names and parameters, in a copy of the project.
Best of N runs, since the machine is shared.

    .venv/bin/python bench/validate.py [--services 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate

REPO = Path(__file__).resolve().parents[1]


def synthetic_stack(services: int) -> str:
    lines = [
        "config:",
        "  kuntapilvi:tenant:",
        "    owner: kajaani",
        "    region: fi-kaj-1",
        "    address_block: 10.72.16.0/21",
        "    services:",
        "      - card: capacity.quota",
        "        size: L",
        "      - card: network.tenant-network",
        "      - card: network.baseline-firewall",
    ]
    lines += ["      - card: capacity.server", "        name: s0", "        size: S"]
    # Volumes, not servers: the quota tier rightly refuses thousands of servers, and every
    # volume still goes through the per-service rules (card, size, params, requirements, names,
    # references).
    for i in range(services - 4):
        lines += [
            "      - card: capacity.block-storage",
            f"        name: v{i}",
            "        params: {size_gb: 10, attach_to: s0}",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kuntapilvi-bench-") as tmp:
        root = Path(tmp)
        for name in ("catalog", "stacks", "templates"):
            shutil.copytree(REPO / name, root / name)
        shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
        stack = root / "stacks" / "Pulumi.kuntapilvi.yaml"
        stack.write_text(synthetic_stack(args.services), encoding="utf-8")
        paths = ProjectPaths(root)
        best = best_cpu = float("inf")
        for _ in range(args.runs):
            started, cpu = time.perf_counter(), time.process_time()
            report = validate(paths, ["kuntapilvi"])
            best = min(best, time.perf_counter() - started)
            best_cpu = min(best_cpu, time.process_time() - cpu)
        services = len(report.model.tenant_stacks["kuntapilvi"].request.services)
        errors = [f.render() for f in report.errors]
    # CPU time too: on a shared machine the wall time mostly measures the other processes.
    print(
        f"validate: {services} services in {best:.3f} s wall, {best_cpu:.3f} s CPU "
        f"(best of {args.runs})"
    )
    for line in errors[:5]:
        print(f"  {line}")
    if errors:
        print(f"  ({len(errors)} error(s): the synthetic stack is meant to be valid)")


if __name__ == "__main__":
    main()
