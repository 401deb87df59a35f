"""The mirror comes from the machine's own apt sources, in either format."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuntapilvi.hosts.aptproxy import render_config
from kuntapilvi.hosts.errors import HostsError
from kuntapilvi.hosts.mirror import DebianMirror, find_mirror

DEB822 = """\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_deb822(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "debian.sources").write_text(DEB822)
    (tmp_path / "d" / "other.list").write_text("deb https://packages.example/apt stable main\n")
    m = find_mirror("bookworm", tmp_path / "none", tmp_path / "d")
    assert m == DebianMirror(
        "http://mirror.example/debian", "http://mirror.example/debian-security"
    )


def test_one_line_format_with_options(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian/ bookworm main contrib\n"
    )
    m = find_mirror("bookworm", tmp_path / "sources.list", tmp_path / "none")
    assert m == DebianMirror("http://m.example/debian", None)


def test_no_mirror_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(HostsError, match="No Debian bookworm mirror"):
        find_mirror("bookworm", tmp_path / "none", tmp_path / "none")


def test_proxy_config_binds_only_given_addresses(tmp_path: Path) -> None:
    conf = render_config(
        DebianMirror("http://m.example/debian", "http://m.example/debian-security"),
        ["127.0.0.1", "10.64.1.1"], 3142, tmp_path, tmp_path / "cache",
    )  # fmt: skip
    assert "BindAddress: 127.0.0.1 10.64.1.1\n" in conf
    assert "Remap-debrep: m.example/debian ; http://m.example/debian/\n" in conf
    assert "m.example/debian-security security.debian.org" in conf
    assert "PassThroughPattern: ^$" in conf
