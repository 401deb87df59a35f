"""Volumes for hosts without a host: the sparse file per volume, its growth, what gets pruned."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuntapilvi.hosts import HostsError
from kuntapilvi.hosts import volumes as vols
from kuntapilvi.hosts.volumes import GIB, VolumeSpec

VOLUME = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_backing_file_is_sparse_grows_with_the_volume_and_never_shrinks(tmp_path: Path) -> None:
    path = vols.backing_file(tmp_path, VOLUME)
    assert vols.ensure_backing(path, 200) is False  # made, not grown
    st = path.stat()
    assert st.st_size == 200 * GIB
    assert st.st_blocks * 512 < 1024 * 1024  # 200 GiB that take no room yet
    assert oct(st.st_mode & 0o777) == "0o600"
    path.write_bytes(b"")  # (truncate the test's own copy to see growth from data)
    with open(path, "r+b") as fh:
        fh.truncate(10 * GIB)
        fh.write(b"kuntapilvi")
    assert vols.ensure_backing(path, 20) is True
    assert path.stat().st_size == 20 * GIB
    with open(path, "rb") as fh:
        assert fh.read(10) == b"kuntapilvi"  # growing keeps what is there
    assert vols.ensure_backing(path, 5) is False
    assert path.stat().st_size == 20 * GIB


@pytest.mark.parametrize(
    ("volume_id", "device", "size", "message"),
    [
        ("../../etc", "/dev/vdb", 1, "is not a Cinder id"),
        (VOLUME, "/dev/vdb1", 1, "is not a disk name"),
        (VOLUME, "", 1, "is not a disk name"),
        (VOLUME, "/dev/sdb", 0, "size 0 GiB"),
    ],
)
def test_volume_spec_refuses_what_could_not_be_a_cinder_volume(
    volume_id: str, device: str, size: int, message: str
) -> None:
    with pytest.raises(HostsError, match=message):
        VolumeSpec(volume_id, size, device)


def test_by_id_link_is_named_like_udev_names_a_virtio_serial() -> None:
    assert VolumeSpec(VOLUME, 1, "/dev/vdb").by_id == "/dev/disk/by-id/virtio-0f1e2d3c-4b5a-6978-8"


def test_prune_removes_only_volumes_cinder_no_longer_has_and_no_host_uses(tmp_path: Path) -> None:
    for volume_id in ("kept", "attached", "deleted"):
        vols.ensure_backing(vols.backing_file(tmp_path, volume_id), 1)
    removed = vols.prune(tmp_path, known={"kept"}, in_use={"attached"}, log=tmp_path / "log")
    assert removed == ["deleted"]
    left = sorted(p.name for p in vols.volumes_dir(tmp_path).iterdir())
    assert left == ["attached.img", "kept.img"]
    assert vols.prune(tmp_path / "none", known=set(), in_use=set(), log=tmp_path / "log") == []
