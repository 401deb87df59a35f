"""Benchmark: validate and plan a synthetic country of 309 municipalities.

Builds a temporary project from the shipped catalogue with 309 owners and 309 tenant stacks
(each with a quota tier, network, firewall, a server, a volume and two office services), then
measures `validate` and the cost plan of every tenant, with peak memory from tracemalloc.
`--dry-run N` also runs the program under mocks for N tenants (the resource part of `plan`).

    .venv/bin/python bench/country.py [--municipalities 309] [--dry-run 20]
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

from kuntapilvi.costs import tenant_costs, totals
from kuntapilvi.dryrun import dry_run
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2)


def business_id(n: int) -> str:
    while True:
        digits = f"{n:07d}"
        remainder = sum(int(d) * w for d, w in zip(digits, WEIGHTS, strict=True)) % 11
        if remainder != 1:
            return f"{digits}-{0 if remainder == 0 else 11 - remainder}"
        n += 1


def build(root: Path, count: int) -> None:
    for name in ("catalog", "templates"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / "stacks").mkdir()
    centre = yaml.safe_load((root / "catalog/centre.yaml").read_text())
    for region in centre["regions"]:
        region["compute"]["hosts"] = 400  # a national centre's pools
        region["storage"]["capacity_gb"] = 20_000_000
        region["external_network"]["floating_pool"]["end"] = (
            region["external_network"]["floating_pool"]["start"].rsplit(".", 1)[0] + ".250"
        )
    (root / "catalog/centre.yaml").write_text(yaml.safe_dump(centre, allow_unicode=True))
    owners = yaml.safe_load((root / "catalog/owners.yaml").read_text())
    owners["owners"] = []
    blocks = ipaddress.IPv4Network(centre["address_space"]).subnets(new_prefix=22)
    for i in range(count):
        oid = f"kunta-{i:03d}"
        residents = 1_000 + (i * 7919) % 60_000
        owners["owners"].append(
            {
                "id": oid,
                "name": f"Kunta {i:03d}",
                "business_id": business_id(1_000_000 + i * 13),
                "kind": "municipality",
                "municipality_code": f"{i:03d}",
                "population": {"residents": residents, "source": "synthetic"},
                "shares": {"subscribed": residents, "registered": "2026-02-01"},
                "joined": "2026-01-15",
                "contacts": [f"@kunta-{i:03d}/it"],
            }
        )
        stack = {
            "config": {
                "kuntapilvi:tenant": {
                    "owner": oid,
                    "region": centre["regions"][i % 2]["id"],
                    "address_block": str(next(blocks)),
                    "services": [
                        {"card": "capacity.quota", "size": "S"},
                        {"card": "network.tenant-network"},
                        {"card": "network.baseline-firewall"},
                        {"card": "capacity.server", "name": "sovellus", "size": "M"},
                        {
                            "card": "capacity.block-storage",
                            "params": {"size_gb": 100, "attach_to": "sovellus"},
                        },
                        {"card": "office.file-share"},
                        {"card": "office.time", "start": "2027-06-01"},
                    ],
                }
            }
        }
        (root / "stacks" / f"Pulumi.{oid}.yaml").write_text(yaml.safe_dump(stack))
    (root / "catalog/owners.yaml").write_text(yaml.safe_dump(owners, allow_unicode=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--municipalities", type=int, default=309)
    parser.add_argument("--dry-run", type=int, default=0, help="tenants to run under mocks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, args.municipalities)
        paths = ProjectPaths(root)
        # Timed without tracing first: tracemalloc slows allocation-heavy code several-fold.
        c0 = time.perf_counter()
        validate(paths)
        untraced = time.perf_counter() - c0
        tracemalloc.start()
        t0 = time.perf_counter()
        report = validate(paths)
        t1 = time.perf_counter()
        assert report.ok, [f.render() for f in report.errors[:5]]
        grand = sum(
            totals(tenant_costs(t, report.model.price_list))[1]
            for t in report.model.tenants.values()
        )
        t2 = time.perf_counter()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"municipalities: {len(report.model.tenants)}")
        print(
            f"validate: {untraced:.2f} s untraced, {t1 - t0:.2f} s traced; "
            f"cost plan of all: {t2 - t1:.3f} s; "
            f"peak traced memory {peak / 2**20:.1f} MiB; yearly total {grand:,.2f} EUR"
        )
        if args.dry_run:
            names = sorted(report.model.tenants)[: args.dry_run]
            t3 = time.perf_counter()
            count = sum(len(dry_run(paths, n, today="2027-01-15").resources) for n in names)
            t4 = time.perf_counter()
            print(
                f"program under mocks: {len(names)} tenants, {count} resources, "
                f"{(t4 - t3) / len(names):.2f} s per tenant"
            )


if __name__ == "__main__":
    main()
