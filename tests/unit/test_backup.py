"""Backups: which tenants, what is kept, and run/restore against an in-memory block-storage."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from kuntapilvi import backup
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate
from tests.conftest import REPO
from tests.unit.test_validate_bad_inputs import edit

T0 = dt.datetime(2027, 3, 1, 2, 0, tzinfo=dt.UTC)


def test_only_tenants_holding_the_backup_card_are_backed_up_with_their_tier() -> None:
    model = validate(ProjectPaths(REPO)).model
    # espoo's capacity.backup takes the card's default tier, D30.
    assert [(p.stack, p.retention_days) for p in backup.policies(model, T0.date())] == [
        ("espoo", 30)
    ]


@pytest.mark.parametrize(("tier", "days"), [("D14", 14), ("D90", 90)])
def test_the_tier_sets_the_retention(project: ProjectPaths, tier: str, days: int) -> None:
    edit(
        "stacks/Pulumi.espoo.yaml",
        "- card: capacity.backup\n",
        f"- card: capacity.backup\n        size: {tier}\n",
    )(project.root)
    model = validate(project, ["espoo"]).require_ok()
    assert [p.retention_days for p in backup.policies(model, T0.date())] == [days]


def test_exactly_the_retention_is_kept() -> None:
    snaps = [backup.Snap(f"s{d}", f"b{d}", "v", T0 - dt.timedelta(days=d)) for d in range(40)]
    old = backup.expired(snaps, 30, T0)
    assert sorted(s.id for s in old) == sorted(f"s{d}" for d in range(31, 40))
    assert [s.id for s in snaps if s not in old][-1] == "s30"  # 30 days old: still kept


@dataclass
class Obj:
    id: str
    name: str
    metadata: dict[str, str]
    status: str = "available"
    size: int = 10


@dataclass
class FakeCinder:
    """The few block-storage calls backup makes, in memory."""

    volumes_: dict[str, Obj] = field(default_factory=dict)
    snapshots_: dict[str, Obj] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: (f"id{i}" for i in itertools.count()))
    attached: list[tuple[str, str]] = field(default_factory=list)

    def volumes(self, details: bool = True) -> list[Obj]:
        return list(self.volumes_.values())

    def snapshots(self, details: bool = True) -> list[Obj]:
        return list(self.snapshots_.values())

    def create_snapshot(self, *, volume_id: str, name: str, metadata: dict, **_: Any) -> Obj:
        assert volume_id in self.volumes_
        snap = Obj(next(self.ids), name, dict(metadata), size=self.volumes_[volume_id].size)
        self.snapshots_[snap.id] = snap
        return snap

    def wait_for_status(self, obj: Obj, status: str, **_: Any) -> Obj:
        obj.status = status
        return obj

    def delete_snapshot(self, sid: str, ignore_missing: bool = True) -> None:
        self.snapshots_.pop(sid, None)

    def get_snapshot(self, sid: str) -> Obj:
        return self.snapshots_[sid]

    def create_volume(
        self, *, snapshot_id: str, size: int, name: str, metadata: dict, **_: Any
    ) -> Obj:
        assert snapshot_id in self.snapshots_
        vol = Obj(next(self.ids), name, dict(metadata), size=size)
        self.volumes_[vol.id] = vol
        return vol


@dataclass
class FakeConn:
    block_storage: FakeCinder = field(default_factory=FakeCinder)

    @property
    def compute(self) -> FakeConn:
        return self

    def find_server(self, name: str, ignore_missing: bool = False) -> str:
        return name

    def create_volume_attachment(self, server: str, volume_id: str) -> None:
        self.block_storage.attached.append((server, volume_id))


def _conn() -> FakeConn:
    conn = FakeConn()
    for vid, name, tenant in [("v1", "espoo-file-share-data", "espoo"),
                              ("v2", "espoo-sovellusdata-data", "espoo"),
                              ("v3", "turku-file-share-data", "turku")]:  # fmt: skip
        conn.block_storage.volumes_[vid] = Obj(vid, name, {"kuntapilvi-tenant": tenant})
    return conn


def test_run_snapshots_every_volume_of_the_tenant_and_prunes_past_retention() -> None:
    conn, policy = _conn(), backup.Policy("espoo", "r", 14)
    for day in range(20):
        report = backup.run(conn, policy, T0 + dt.timedelta(days=day))
        assert len(report.taken) == 2
    snaps = backup.backups(conn, "espoo")
    # Days 5..19 remain: 15 runs, as the day-19 run sees day 5 exactly 14 days old.
    assert len(snaps) == 2 * 15
    assert min(s.taken_at for s in snaps) == T0 + dt.timedelta(days=5)
    assert {s.volume_id for s in snaps} == {"v1", "v2"}  # turku's volume is not espoo's
    assert backup.backups(conn, "turku") == []


def test_restore_makes_a_new_volume_from_the_backup_and_attaches_it() -> None:
    conn = _conn()
    policy = backup.Policy("espoo", "r", 30)
    backup.run(conn, policy, T0)
    backup.run(conn, policy, T0 + dt.timedelta(days=1))
    restored = backup.restore(
        conn, "espoo", "espoo-file-share-data", at=T0 + dt.timedelta(hours=1),
        attach_to="espoo-file-share", now=lambda: T0 + dt.timedelta(days=2),
    )  # fmt: skip
    source = conn.block_storage.snapshots_[restored.metadata["kuntapilvi-restored-from"]]
    assert source.metadata["kuntapilvi-taken-at"] == "20270301T020000Z"  # the one before --at
    assert restored.name == "espoo-file-share-data-restored-20270303T020000Z"
    assert conn.block_storage.attached == [("espoo-file-share", restored.id)]
    assert "v1" in conn.block_storage.volumes_  # the original is untouched


def test_restore_without_a_backup_says_so() -> None:
    with pytest.raises(KuntapilviError, match="no backup of volume 'turku-file-share-data'"):
        backup.restore(_conn(), "turku", "turku-file-share-data")
