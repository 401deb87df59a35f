"""Benchmark: what kuntapilvi's layer costs on top of pulumi-openstack, under mocks.

A synthetic tenant with 200 servers and 50 networks runs through the real program (validation,
components, templates, tags) and through a minimal program that registers exactly the same
resources, with the same inputs, straight from pulumi-openstack classes. Both run under the same
recording mocks; the ratio is what the layer adds. Best of N runs each, since the machine is noisy.

    .venv/bin/python bench/layer_overhead.py [--servers 200] [--networks 50] [--runs 3]
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pulumi
import yaml

from kuntapilvi.dryrun import Recorded, RecordingMocks, dry_run, mock_centre_regions
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate

REPO = Path(__file__).resolve().parents[1]


def build(root: Path, servers: int, networks: int) -> None:
    for name in ("catalog", "templates", "stacks"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    block = ipaddress.IPv4Network("10.66.0.0/16")
    subnets = list(block.subnets(new_prefix=24))
    services: list[dict[str, Any]] = [
        {"card": "capacity.quota", "size": "XL"},
        {"card": "network.baseline-firewall"},
    ]
    for n in range(networks):
        services.append(
            {
                "card": "network.tenant-network",
                "name": f"verkko-{n}",
                "params": {"cidr": str(subnets[n])},
            }
        )
    for s in range(servers):
        services.append(
            {
                "card": "capacity.server",
                "name": f"palvelin-{s}",
                "size": "S",
                "params": {"network": f"verkko-{s % networks}"},
            }
        )
    stack = {
        "config": {
            "kuntapilvi:tenant": {
                "owner": "kuntapilvi",
                "region": "fi-kaj-1",
                "address_block": str(block),
                "services": services,
            }
        }
    }
    (root / "stacks" / "Pulumi.suuri.yaml").write_text(yaml.safe_dump(stack))
    card = root / "catalog/cards/capacity/quota.yaml"
    card.write_text(card.read_text().replace("instances: 250", "instances: 400"))


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _snake_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {snake(k): _snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_keys(v) for v in value]
    return value


def minimal(resources: list[Recorded], regions: dict[str, Any]) -> float:
    """Register the same resources with pulumi-openstack directly; seconds taken."""
    plain = [r for r in resources if r.type.startswith("openstack:") and "/" in r.type]
    classes = {}
    for r in plain:
        module, cls = r.type.split(":")[1].split("/")[0], r.type.rsplit(":", 1)[1]
        classes[r.type] = getattr(importlib.import_module(f"pulumi_openstack.{module}"), cls)
    mocks = RecordingMocks(regions)
    pulumi.runtime.set_mocks(mocks, project="kuntapilvi", stack="minimal", preview=False)
    start = time.perf_counter()

    @pulumi.runtime.test
    def program() -> None:
        for r in plain:
            classes[r.type](r.name, **_snake_keys(r.inputs))

    program()
    elapsed = time.perf_counter() - start
    assert len(mocks.resources) == len(plain), (len(mocks.resources), len(plain))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--networks", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, args.servers, args.networks)
        paths = ProjectPaths(root)
        model = validate(paths, ["suuri"]).model
        regions = mock_centre_regions(model.cards, model.centre)
        ours, recorded = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            recorded = dry_run(paths, "suuri", today="2027-01-15").resources
            ours.append(time.perf_counter() - start)
        base = [minimal(recorded, regions) for _ in range(args.runs)]
        n = len([r for r in recorded if r.type.startswith("openstack:") and "/" in r.type])
        print(f"resources registered: {n} ({args.servers} servers, {args.networks} networks)")
        print(
            f"kuntapilvi program: best {min(ours):.2f} s; minimal program: best {min(base):.2f} s"
        )
        print(f"layer overhead: {min(ours) / min(base) - 1:+.0%} (target: under +30%)")


if __name__ == "__main__":
    main()
