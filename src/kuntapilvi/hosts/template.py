"""The Debian template root every host boots from, made once by debootstrap, cached by inputs.

Hosts never write to it: each one mounts it as the lower layer of its own overlay. A change to
any input (suite, mirror, package list, preparation steps) gives a new hash and so a new template
beside the old.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kuntapilvi.hosts import system
from kuntapilvi.hosts.errors import HostsError
from kuntapilvi.hosts.locking import file_lock
from kuntapilvi.hosts.mirror import DebianMirror, find_mirror
from kuntapilvi.hosts.paths import cache_dir

# Bumped whenever _prepare() changes, so old templates are not reused with new behaviour.
RECIPE_VERSION = 3

# What a cloud image has and minbase lacks. python3-cffi-backend is listed because debootstrap does
# not resolve the virtual package python3-cryptography needs, which would leave cloud-init
# unconfigured; locales because cloud-init's locale module fails without a generated en_US.UTF-8.
INCLUDE = (
    "systemd", "systemd-sysv", "dbus", "openssh-server", "cloud-init", "python3",
    "python3-cffi-backend", "iproute2", "ifupdown", "sudo", "ca-certificates", "netbase",
    "less", "locales", "procps", "iputils-ping", "libnss-myhostname",
)  # fmt: skip

DATASOURCE_CFG = (
    "# kuntapilvi: hosts are seeded from NoCloud files only\ndatasource_list: [ NoCloud, None ]\n"
)


def debian_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


@dataclass(frozen=True)
class TemplateSpec:
    suite: str
    mirror: DebianMirror
    arch: str = field(default_factory=debian_arch)
    include: tuple[str, ...] = INCLUDE
    recipe: int = RECIPE_VERSION

    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class Template:
    spec: TemplateSpec
    path: Path  # the folder holding rootfs/ and template.json

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @property
    def info(self) -> dict:
        return json.loads((self.path / "template.json").read_text())


def default_spec(suite: str = "bookworm") -> TemplateSpec:
    return TemplateSpec(suite=suite, mirror=find_mirror(suite))


def templates_dir() -> Path:
    return cache_dir() / "templates"


def find_template(spec: TemplateSpec) -> Template | None:
    path = templates_dir() / f"{spec.suite}-{spec.key()}"
    if (path / "template.json").is_file() and (path / "rootfs" / "sbin" / "init").exists():
        return Template(spec, path)
    return None


def _sources_list(spec: TemplateSpec) -> str:
    lines = [
        "# kuntapilvi host template: the mirror this machine's own apt sources name",
        f"deb {spec.mirror.debian} {spec.suite} main",
        f"deb {spec.mirror.debian} {spec.suite}-updates main",
    ]
    if spec.mirror.security:
        lines.append(f"deb {spec.mirror.security} {spec.suite}-security main")
    return "\n".join(lines) + "\n"


def _prepare(root: Path, spec: TemplateSpec, log: Path) -> None:
    """Turn a fresh debootstrap into a clean image: nothing host-specific, nothing stale."""
    (root / "etc/apt/sources.list").write_text(_sources_list(spec))
    # Empty (not missing) machine-id: systemd then derives a fresh one per boot from the container
    # UUID.
    (root / "etc/machine-id").write_text("")
    dbus_id = root / "var/lib/dbus/machine-id"
    if dbus_id.is_file() and not dbus_id.is_symlink():
        dbus_id.unlink()
    (root / "etc/hostname").write_text("localhost\n")
    # debootstrap copies this machine's resolver, which hosts cannot reach: every lookup would wait
    # for time-outs (seconds per SMTP or SMB connection). With no nameserver glibc asks 127.0.0.1
    # and fails at once; a host's own name still resolves through libnss-myhostname.
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text("# kuntapilvi devcloud host: no DNS server here\n")
    (root / "etc/cloud/cloud.cfg.d/90_kuntapilvi_datasource.cfg").write_text(DATASOURCE_CFG)
    # Host keys made by openssh-server's postinst would be shared by every host; removing them means
    # the key a host publishes is the one cloud-init generated for it at first boot.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # This oneshot only writes a runlevel record to utmp, which no server reads. It was the unit
    # seen failing when hosts still shared one cgroup tree (fixed in cgroups.py); it stays masked,
    # as in many container images, because nothing needs it.
    mask = root / "etc/systemd/system/systemd-update-utmp-runlevel.service"
    mask.unlink(missing_ok=True)
    mask.symlink_to("/dev/null")
    gen = root / "etc/locale.gen"
    text = gen.read_text()
    gen.write_text(text.replace("# en_US.UTF-8 UTF-8", "en_US.UTF-8 UTF-8"))
    system.run(["chroot", str(root), "locale-gen"], log, "generate the en_US.UTF-8 locale")
    system.run(["chroot", str(root), "apt-get", "clean"], log, "clean the template's apt cache")
    lists = root / "var/lib/apt/lists"
    for entry in lists.iterdir():
        if entry.is_file():
            entry.unlink()


def _du_mb(path: Path) -> float:
    out = system.quiet(["du", "-sxm", str(path)]).stdout.split()
    return float(out[0]) if out else 0.0


def build_template(
    spec: TemplateSpec | None = None, *, force: bool = False, log: Path | None = None
) -> Template:
    """Return the cached template for SPEC, building it first if missing (or if FORCE)."""
    spec = spec or default_spec()
    base = templates_dir()
    log = log or (cache_dir() / "logs" / "template-build.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(base / ".lock"):
        existing = find_template(spec)
        if existing and not force:
            return existing
        system.require_root()
        system.ensure_tools(log)
        final = base / f"{spec.suite}-{spec.key()}"
        work = base / f".building-{spec.suite}-{spec.key()}-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        (work / "rootfs").mkdir(parents=True)
        # Downloaded .debs are kept apart from any template so a rebuild does not fetch them again.
        debs = cache_dir() / "debootstrap-debs"
        debs.mkdir(parents=True, exist_ok=True)
        warm = any(debs.glob("*.deb"))
        started = time.monotonic()
        try:
            system.run(
                ["debootstrap", "--variant=minbase", f"--arch={spec.arch}",
                 f"--include={','.join(spec.include)}", f"--cache-dir={debs}",
                 spec.suite, str(work / "rootfs"), spec.mirror.debian],
                log, f"debootstrap Debian {spec.suite} from {spec.mirror.debian}", timeout=1800,
            )  # fmt: skip
            debootstrap_s = time.monotonic() - started
            _prepare(work / "rootfs", spec, log)
        except (HostsError, OSError, subprocess.SubprocessError):
            shutil.rmtree(work, ignore_errors=True)
            raise
        info = {
            "spec": asdict(spec),
            "key": spec.key(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "debs_cache_warm": warm,
            "debootstrap_seconds": round(debootstrap_s, 1),
            "build_seconds": round(time.monotonic() - started, 1),
            "size_mb": _du_mb(work / "rootfs"),
        }
        (work / "template.json").write_text(json.dumps(info, indent=2) + "\n")
        if final.exists():
            # Only reached with force: the old copy may be a running host's lower layer, so it is
            # moved aside, not deleted; prune_templates() removes it once nothing uses it.
            final.rename(base / f".old-{final.name}-{int(time.time())}")
        work.rename(final)
        return Template(spec, final)


def _in_use(path: Path) -> bool:
    """True if a mounted overlay (a running host of any state folder) has PATH as lower layer."""
    needle = f"lowerdir={path}"
    with open("/proc/self/mountinfo") as fh:
        return any(needle in line for line in fh)


def prune_templates(keep: TemplateSpec | None = None) -> list[Path]:
    """Delete templates other than KEEP's that no running host uses; the removed folders."""
    keep = keep or default_spec()
    keep_name = f"{keep.suite}-{keep.key()}"
    removed: list[Path] = []
    base = templates_dir()
    if not base.is_dir():
        return removed
    with file_lock(base / ".lock"):
        for path in sorted(base.iterdir()):
            if not path.is_dir() or path.name == keep_name or path.name.startswith(".building"):
                continue
            if _in_use(path / "rootfs"):
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
