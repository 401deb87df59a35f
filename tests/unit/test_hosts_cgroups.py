"""Finding the cgroup hierarchies a host's own cgroups go into."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuntapilvi.hosts import cgroups
from kuntapilvi.hosts.cgroups import PARENT, _hierarchies

HYBRID = """\
35 24 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
37 35 0:32 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
38 35 0:33 / /sys/fs/cgroup/memory rw,nosuid shared:12 - cgroup cgroup rw,memory
"""

UNIFIED = "30 24 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"


def test_hybrid_uses_unified_and_name_systemd() -> None:
    assert _hierarchies(HYBRID) == [Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup/systemd")]


def test_pure_cgroup2() -> None:
    assert _hierarchies(UNIFIED) == [Path("/sys/fs/cgroup")]


def test_every_host_cgroup_sits_under_the_one_parent_in_each_hierarchy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cgroups, "_hierarchies", lambda: _hierarchies(HYBRID))
    paths = cgroups.host_cgroups("kp-kajaani-print")
    assert [p.parent.parent for p in paths] == _hierarchies(HYBRID)
    assert {p.parent.name for p in paths} == {PARENT}
    assert {p.name for p in paths} == {"kp-kajaani-print"}
