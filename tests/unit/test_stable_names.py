"""Resource names derive from content, not list positions: a catalogue edit churns no tenant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_openstack as openstack
import pytest

from kuntapilvi.dryrun import Recorded, dry_run
from kuntapilvi.project import ProjectPaths
from tests.conftest import REPO

TODAY = "2027-01-15"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
ROUTE = "openstack:networking/routerRoute:RouterRoute"


def by_name(paths: ProjectPaths, stack: str, typ: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in dry_run(paths, stack, today=TODAY).resources if r.type == typ}


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture drift: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_inserting_a_port_into_a_card_adds_one_rule_and_moves_none(project: ProjectPaths) -> None:
    before = by_name(project, "kajaani", RULE)
    # A new first port, so every existing port's list position shifts by one.
    replace_in(
        project.cards / "office" / "file-share.yaml",
        "ports:\n",
        "ports:\n  - protocol: tcp\n    port: 139\n    source: tenant\n"
        "    description: {fi: NetBIOS, en: NetBIOS}\n",
    )
    after = by_name(project, "kajaani", RULE)
    added = set(after) - set(before)
    assert len(added) == 1, added
    assert after[added.pop()]["portRangeMin"] == 139
    assert set(before) <= set(after), "no existing rule renamed or removed"
    assert all(after[name] == inputs for name, inputs in before.items()), "none changed"


def test_adding_an_office_network_adds_one_route_and_moves_none(project: ProjectPaths) -> None:
    before = by_name(project, "espoo", ROUTE)
    replace_in(
        project.stacks / "Pulumi.espoo.yaml", "wan_prefixes: [", "wan_prefixes: [172.19.0.0/16, "
    )
    after = by_name(project, "espoo", ROUTE)
    assert set(before) < set(after)
    assert [after[n]["destinationCidr"] for n in set(after) - set(before)] == ["172.19.0.0/16"]
    assert all(after[name] == inputs for name, inputs in before.items())


@pytest.fixture
def aliases(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The aliases each rule and route is registered with (the mocks do not see options)."""
    seen: dict[str, list[str]] = {}
    for cls in (openstack.networking.SecGroupRule, openstack.networking.RouterRoute):
        original = cls.__init__

        def record(self: Any, name: str, *args: Any, _orig: Any = original, **kw: Any) -> None:
            opts: pulumi.ResourceOptions | None = kw.get("opts")
            seen[name] = [a.name for a in (opts.aliases or [])] if opts else []
            _orig(self, name, *args, **kw)

        monkeypatch.setattr(cls, "__init__", record)
    return seen


def test_stacks_made_with_position_names_adopt_their_resources(
    aliases: dict[str, list[str]],
) -> None:
    """The names the rules and routes had before (`-{port}-{source}`, `-route-{i}`), written
    out from the shipped stacks' state, are aliases of the new names: `up` moves, not replaces."""
    resources: list[Recorded] = dry_run(ProjectPaths(REPO), "espoo", today=TODAY).resources
    names = {r.name for r in resources}
    assert aliases["espoo-baseline-tcp-22-management"] == ["espoo-baseline-tcp-22-0-0"]
    assert aliases["espoo-file-share-tcp-445-tenant"] == ["espoo-file-share-tcp-445-0-0"]
    assert aliases["espoo-wan-route-172-21-0-0-16"] == ["espoo-wan-route-1"]
    # The office networks' and management network's rules are new: nothing to adopt.
    assert aliases["espoo-file-share-tcp-445-wan-172-20-0-0-16"] == []
    assert aliases["espoo-file-share-tcp-445-management"] == []
    assert {n for n in aliases if n in names} == set(aliases)
