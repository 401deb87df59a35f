"""The Debian mirror this machine already uses, read from its own apt sources.

Only that mirror is reachable from the machines this project runs on, so the template build and the
apt proxy's backend both follow it instead of naming one in code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kuntapilvi.hosts.errors import HostsError

APT_SOURCES = Path("/etc/apt/sources.list")
APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")


@dataclass(frozen=True)
class DebianMirror:
    """Base URLs of the main archive and, when the machine has one, of the security archive."""

    debian: str
    security: str | None = None


def _entries_one_line(text: str) -> list[tuple[str, list[str]]]:
    """(uri, suites) of each `deb URI SUITE COMPONENTS` line of a classic sources.list."""
    entries = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        # Options in brackets ([arch=amd64 signed-by=...]) come before the URI.
        fields = re.sub(r"\[[^\]]*\]", " ", line[4:]).split()
        if len(fields) >= 2:
            entries.append((fields[0], [fields[1]]))
    return entries


def _entries_deb822(text: str) -> list[tuple[str, list[str]]]:
    """(uri, suites) of each stanza of a deb822 .sources file that has Types: deb."""
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for raw in stanza.splitlines():
            if raw.lstrip().startswith("#") or ":" not in raw:
                continue
            key, value = raw.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled") == "no":
            continue
        for uri in fields.get("uris", "").split():
            entries.append((uri, fields.get("suites", "").split()))
    return entries


def read_entries(sources: Path = APT_SOURCES, sources_dir: Path = APT_SOURCES_DIR) -> list:
    entries: list[tuple[str, list[str]]] = []
    if sources.is_file():
        entries += _entries_one_line(sources.read_text(errors="replace"))
    if sources_dir.is_dir():
        for path in sorted(sources_dir.iterdir()):
            if path.suffix == ".list":
                entries += _entries_one_line(path.read_text(errors="replace"))
            elif path.suffix == ".sources":
                entries += _entries_deb822(path.read_text(errors="replace"))
    return entries


def find_mirror(
    suite: str = "bookworm",
    sources: Path = APT_SOURCES,
    sources_dir: Path = APT_SOURCES_DIR,
) -> DebianMirror:
    """The first http(s) source serving SUITE, and the one serving SUITE-security if any."""
    debian = security = None
    for uri, suites in read_entries(sources, sources_dir):
        if not uri.startswith(("http://", "https://")):
            continue
        uri = uri.rstrip("/")
        if debian is None and suite in suites:
            debian = uri
        if security is None and f"{suite}-security" in suites:
            security = uri
    if debian is None:
        raise HostsError(
            f"No Debian {suite} mirror found in this machine's apt sources "
            f"({sources} or {sources_dir}/); add one, since hosts are built from it"
        )
    return DebianMirror(debian=debian, security=security)
