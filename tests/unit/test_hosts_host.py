"""What goes into a host's root before boot, and how it is booted (no root needed to check)."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from kuntapilvi.hosts.host import SEED_DIR, nspawn_command, write_seed
from kuntapilvi.hosts.mirror import DebianMirror
from kuntapilvi.hosts.seed import Seed, parse_address
from kuntapilvi.hosts.state import HostRecord
from kuntapilvi.hosts.template import TemplateSpec, _sources_list


def test_write_seed(tmp_path: Path) -> None:
    (tmp_path / "etc/apt/apt.conf.d").mkdir(parents=True)
    seed = Seed(
        "iid-7", "posti", parse_address("10.64.2.12/24", "10.64.2.1"), "#cloud-config\n{}\n"
    )
    write_seed(tmp_path, seed, "ssh-ed25519 AAAAkey kuntapilvi-hosts", "http://10.64.2.1:3142/")
    seed_dir = tmp_path / SEED_DIR
    assert sorted(p.name for p in seed_dir.iterdir()) == [
        "meta-data",
        "network-config",
        "user-data",
    ]
    for p in seed_dir.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600  # user data may hold secrets
    assert yaml.safe_load((seed_dir / "meta-data").read_text())["local-hostname"] == "posti"
    auth = (tmp_path / "root/.ssh/authorized_keys").read_text()
    assert auth.startswith('from="10.64.2.1",') and "ssh-ed25519 AAAAkey" in auth
    assert stat.S_IMODE((tmp_path / "root/.ssh").stat().st_mode) == 0o700
    proxy = (tmp_path / "etc/apt/apt.conf.d/01kuntapilvi-devcloud-proxy").read_text()
    assert 'Acquire::http::Proxy "http://10.64.2.1:3142/";' in proxy


def test_nspawn_command_flags() -> None:
    rec = HostRecord(
        name="x", host_id="x", hostname="x", address="10.64.1.5/24", gateway="10.64.1.1",
        network_id="n", bridge="kpbr0", veth="kpv0", netns="kp-x", machine="kp-x",
        instance_id="i", config_hash="c",
    )  # fmt: skip
    cmd = nspawn_command(rec, Path("/r"))
    assert cmd[:2] == ["systemd-nspawn", "--boot"]
    # Without these three nspawn fails on a machine with no systemd as PID 1 / no system bus.
    assert {"--register=no", "--keep-unit", "--link-journal=no"} <= set(cmd)
    assert "--network-namespace-path=/run/netns/kp-x" in cmd
    assert "--capability=CAP_NET_ADMIN" in cmd
    assert "--directory=/r" in cmd and "--machine=kp-x" in cmd


def test_template_key_follows_inputs() -> None:
    m = DebianMirror("http://m.example/debian", "http://m.example/debian-security")
    base = TemplateSpec("bookworm", m, arch="amd64")
    assert base.key() == TemplateSpec("bookworm", m, arch="amd64").key()
    assert base.key() != TemplateSpec("bookworm", m, arch="amd64", include=("sudo",)).key()
    assert (
        base.key()
        != TemplateSpec("bookworm", DebianMirror("http://o.example/debian"), "amd64").key()
    )
    assert base.key() != TemplateSpec("bookworm", m, arch="amd64", recipe=999).key()


def test_template_sources_use_machine_mirror() -> None:
    m = DebianMirror("http://m.example/debian", "http://m.example/debian-security")
    text = _sources_list(TemplateSpec("bookworm", m, arch="amd64"))
    assert "deb http://m.example/debian bookworm main" in text
    assert "deb http://m.example/debian bookworm-updates main" in text
    assert "deb http://m.example/debian-security bookworm-security main" in text
    no_sec = _sources_list(
        TemplateSpec("bookworm", DebianMirror("http://m.example/debian"), "amd64")
    )
    assert "security" not in no_sec


def test_inotify_instance_limit_is_raised_never_lowered(tmp_path: Path) -> None:
    from kuntapilvi.hosts.system import ensure_inotify_instances

    limit, log = tmp_path / "max_user_instances", tmp_path / "hosts.log"
    limit.write_text("128\n")
    ensure_inotify_instances(log, 1024, limit)
    assert limit.read_text() == "1024\n" and "raised from 128" in log.read_text()
    limit.write_text("4096\n")
    ensure_inotify_instances(log, 1024, limit)
    assert limit.read_text() == "4096\n"
