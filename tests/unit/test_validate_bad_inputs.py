"""Every kind of user mistake gives a finding that names the file, the line, the field and a fix."""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kuntapilvi.errors import Severity
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate


def edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"fixture drift: {old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def write(rel: str, text: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / rel).write_text(text, encoding="utf-8")

    return apply


def copy(src: str, dst: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / dst).write_text((root / src).read_text(encoding="utf-8"), encoding="utf-8")

    return apply


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Callable[[Path], None]
    code: str
    file: str
    field_part: str = ""
    severity: Severity = Severity.ERROR
    # A finding about a file's name has no line to point at.
    whole_file: bool = False


ESPOO = "stacks/Pulumi.espoo.yaml"
LAHTI = "stacks/Pulumi.lahti.yaml"
KAINUUNLIITTO = "stacks/Pulumi.kainuunliitto.yaml"
OWNERS = "catalog/owners.yaml"
CENTRE = "catalog/centre.yaml"

CASES = [
    Case("malformed-yaml", edit(ESPOO, "region: fi-kuo-1", "region: [fi-kuo-1"), "yaml", ESPOO),
    Case(
        "duplicate-key",
        edit(ESPOO, "region: fi-kuo-1", "region: fi-kuo-1\n    region: x"),
        "yaml",
        ESPOO,
    ),
    Case(
        "wrong-type",
        edit(ESPOO, "size_gb: 500", "size_gb: paljon"),
        "service.bad-param",
        ESPOO,
        "params.size_gb",
    ),
    Case(
        "out-of-bounds",
        edit(ESPOO, "size_gb: 500", "size_gb: 5"),
        "service.bad-param",
        ESPOO,
        "params.size_gb",
    ),
    Case(
        "unknown-card",
        edit(ESPOO, "card: office.print", "card: office.printer"),
        "service.unknown-card",
        ESPOO,
        "card",
    ),
    Case(
        "unknown-param",
        edit(ESPOO, "size_gb: 500", "size_gb: 500, iops: 9000"),
        "service.unknown-param",
        ESPOO,
        "params.iops",
    ),
    Case(
        "unknown-size", edit(ESPOO, "size: XL", "size: XXL"), "service.unknown-size", ESPOO, "size"
    ),
    Case(
        "non-owner",
        edit(ESPOO, "owner: espoo", "owner: helsinki"),
        "inhouse.not-owner",
        ESPOO,
        "owner",
    ),
    Case(
        "unregistered-shares",
        edit(OWNERS, "subscribed: 36409, registered: 2026-10-02", "subscribed: 36409"),
        "inhouse.unregistered-shares",
        "stacks/Pulumi.kajaani.yaml",
        "owner",
    ),
    Case(
        "owner-joins-in-2099",
        edit(
            OWNERS,
            "registered: 2026-10-02}\n    joined: 2026-09-01\n    contacts: [\"@kajaani",
            "registered: 2099-02-01}\n    joined: 2099-01-01\n    contacts: [\"@kajaani",
        ),
        "inhouse.owner-not-joined",
        "stacks/Pulumi.kajaani.yaml",
        "owner",
    ),
    Case(
        "owner-ceased",
        edit(
            OWNERS,
            "joined: 2026-09-01\n    contacts: [\"@kajaani",
            "joined: 2026-09-01\n    status: ceased\n    ended: 2027-01-01\n"
            "    contacts: [\"@kajaani",
        ),
        "inhouse.owner-not-active",
        "stacks/Pulumi.kajaani.yaml",
        "owner",
    ),
    Case(
        "ceased-without-date",
        edit(OWNERS, "joined: 2026-09-01\n    contacts: [\"@kajaani",
             "joined: 2026-09-01\n    status: redeemed\n    contacts: [\"@kajaani"),
        "schema.value_error",
        OWNERS,
        "owners[3]",
    ),
    Case(
        "centre-as-owner",
        edit(OWNERS, '"0214958-9"', '"3456780-6"'),
        "owner.is-centre",
        OWNERS,
        "business_id",
    ),
    Case(
        "bad-y-tunnus",
        edit(OWNERS, '"0101263-6"', '"0101263-5"'),
        "schema.value_error",
        OWNERS,
        "business_id",
    ),
    Case(
        "shares-per-resident",
        edit(OWNERS, "subscribed: 202250,", "subscribed: 2000,"),
        "owner.shares-per-resident",
        OWNERS,
        "shares.subscribed",
    ),
    Case(
        "address-overlap",
        edit(LAHTI, "10.64.48.0/20", "10.64.40.0/21"),
        "address.overlap",
        LAHTI,
        "address_block",
    ),
    Case(
        "outside-space",
        edit(LAHTI, "10.64.48.0/20", "192.168.0.0/20"),
        "address.outside-space",
        LAHTI,
        "address_block",
    ),
    Case(
        "block-size",
        edit(LAHTI, "10.64.48.0/20", "10.64.48.0/28"),
        "address.block-size",
        LAHTI,
        "address_block",
    ),
    Case(
        "over-capacity",
        edit(CENTRE, "hosts: 8\n      cores_per_host: 48", "hosts: 1\n      cores_per_host: 8"),
        "capacity.over",
        "stacks/Pulumi.kajaani.yaml",
    ),
    Case(
        "deprecated-card",
        lambda root: None,
        "service.deprecated-card",
        LAHTI,
        "card",
        Severity.WARNING,
    ),
    Case(
        "duplicate-card-id",
        copy("catalog/cards/office/print.yaml", "catalog/cards/office/tulostus.yaml"),
        "card.duplicate-id",
        "catalog/cards/office/tulostus.yaml",
        "id",
    ),
    Case(
        "missing-requirement",
        edit(KAINUUNLIITTO, "      - card: network.tenant-network\n", ""),
        "service.missing-requirement",
        KAINUUNLIITTO,
        "card",
    ),
    Case(
        "typo-in-key",
        edit(KAINUUNLIITTO, "services:", "servics:"),
        "schema.extra_forbidden",
        KAINUUNLIITTO,
        "servics",
    ),
    Case(
        "unknown-region",
        edit(KAINUUNLIITTO, "region: fi-kaj-1", "region: fi-hel-1"),
        "stack.unknown-region",
        KAINUUNLIITTO,
        "region",
    ),
    Case(
        "bad-stack-name",
        copy(KAINUUNLIITTO, "stacks/Pulumi.Oulun_kaari.yaml"),
        "stack.file-name",
        "stacks/Pulumi.Oulun_kaari.yaml",
        whole_file=True,
    ),
    Case(
        "draft-card",
        edit("catalog/cards/office/time.yaml", "status: active", "status: draft"),
        "service.draft-card",
        KAINUUNLIITTO,
        "card",
    ),
    Case(
        "requirement-starts-later",
        edit(
            KAINUUNLIITTO,
            "      - card: network.baseline-firewall\n",
            "      - card: network.baseline-firewall\n        start: 2027-12-01\n",
        ),
        "service.requirement-starts-later",
        KAINUUNLIITTO,
        "start",
    ),
    Case(
        "too-many",
        edit(
            KAINUUNLIITTO,
            "        size: S\n",
            "        size: S\n      - card: capacity.quota\n        size: S\n",
        ),
        "service.too-many",
        KAINUUNLIITTO,
    ),
    Case(
        "bad-instance-name",
        edit(KAINUUNLIITTO, "name: talous", "name: Talous_1"),
        "schema.string_pattern_mismatch",
        KAINUUNLIITTO,
        "name",
    ),
    Case(
        "bad-date",
        edit(KAINUUNLIITTO, "start: \"2027-09-01\"", "start: \"2027-13-01\""),
        "schema.date_from_datetime_parsing",
        KAINUUNLIITTO,
        "start",
    ),
    Case("empty-file", write(KAINUUNLIITTO, ""), "schema.document", KAINUUNLIITTO),
    Case(
        "missing-required-param",
        edit("stacks/Pulumi.turku.yaml", "        params: {wan_prefixes: [172.22.0.0/16]}\n", ""),
        "service.missing-param",
        "stacks/Pulumi.turku.yaml",
        "params",
    ),
    Case(
        "unknown-reference",
        edit(ESPOO, "attach_to: sovellus-1}", "attach_to: sovellus-9}"),
        "service.unknown-reference",
        ESPOO,
        "attach_to",
    ),
    Case(
        "card-unknown-image",
        edit("catalog/cards/office/print.yaml", "image: debian-12", "image: ubuntu-24"),
        "card.unknown-image",
        "catalog/cards/office/print.yaml",
        "server.image",
    ),
    Case(
        "card-ssh-to-world",
        edit(
            "catalog/cards/network/baseline-firewall.yaml",
            "port: 22\n    source: management",
            "port: 22\n    source: world",
        ),
        "card.admin-port-to-world",
        "catalog/cards/network/baseline-firewall.yaml",
        "ports[0].source",
    ),
    Case(
        "mount-larger-than-a-size-says",
        edit(
            "catalog/cards/office/print.yaml",
            "\n  commands:",
            "\n  mounts: [{path: /var/spool/cups, size: data_gb}]\n  commands:",
        ),
        "schema.value_error",
        "catalog/cards/office/print.yaml",
    ),
    Case(
        "mount-size-unknown",
        edit(
            "catalog/cards/office/file-share.yaml",
            "size: data_gb}",
            "size: data}",
        ),
        "schema.literal_error",
        "catalog/cards/office/file-share.yaml",
        "host_checks.mounts[0].size",
    ),
    Case(
        "card-missing-field",
        edit("catalog/cards/office/print.yaml", "version: 1.0.0\n", ""),
        "schema.missing",
        "catalog/cards/office/print.yaml",
        "version",
    ),
    Case(
        "broken-card-adopted",
        edit("catalog/cards/office/print.yaml", "version: 1.0.0", "version: yksi"),
        "service.broken-card",
        ESPOO,
        "card",
    ),
    Case(
        "requirement-cycle",
        edit(
            "catalog/cards/capacity/quota.yaml",
            "max_per_tenant: 1",
            "max_per_tenant: 1\nrequires: [network.tenant-network]",
        ),
        "card.requirement-cycle",
        "catalog/cards/network/tenant-network.yaml",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_reported_with_place_and_fix(project: ProjectPaths, case: Case) -> None:
    case.mutate(project.root)
    report = validate(project)
    matches = [
        f
        for f in report.findings
        if f.code == case.code and f.file == case.file and f.severity is case.severity
    ]
    shown = "\n".join(f.render() for f in report.findings)
    assert matches, f"no {case.code} finding for {case.file}; got:\n{shown}"
    finding = matches[0]
    if not case.whole_file:
        assert finding.line is not None and finding.line >= 1, finding.render()
    assert case.field_part in finding.field, finding.render()
    assert len(finding.fix) > 10, finding.render()
    if case.severity is Severity.ERROR:
        assert not report.ok


def test_shipped_repository_is_valid(repo: ProjectPaths) -> None:
    report = validate(repo)
    assert report.ok, "\n".join(f.render() for f in report.errors)
    assert set(report.model.tenants) == {"espoo", "turku", "lahti", "kajaani", "kainuunliitto"}
    assert "centre" in report.model.centre_stacks


def test_catalogue_ships_every_card_file_of_each_required_family(repo: ProjectPaths) -> None:
    """Each family folder's files all load, under that family; the three first families have at
    least their five cards, and the user services (käyttäjäpalvelut) family exists."""
    cards = validate(repo).model.cards
    per_family = collections.Counter(str(c.family) for c in cards.values())
    families = ("capacity", "network", "office", "user")
    on_disk = {f: len(list((repo.cards / f).glob("*.yaml"))) for f in families}
    assert per_family == on_disk
    assert all(per_family[f] >= 5 for f in ("capacity", "network", "office")), per_family
    assert per_family["user"] >= 2, per_family


def test_error_in_other_tenant_is_not_reported_for_named_stack(project: ProjectPaths) -> None:
    edit(ESPOO, "size: XL", "size: XXL")(project.root)
    report = validate(project, ["turku"])
    assert report.ok, "\n".join(f.render() for f in report.errors)
    assert not validate(project, ["espoo"]).ok


def test_line_numbers_point_at_the_offending_line(project: ProjectPaths) -> None:
    edit(ESPOO, "size_gb: 500", "size_gb: 5")(project.root)
    finding = next(f for f in validate(project).errors if f.code == "service.bad-param")
    lines = (project.root / ESPOO).read_text().splitlines()
    assert "size_gb: 5" in lines[finding.line - 1]
