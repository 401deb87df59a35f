"""The README fits a screen or two, and every relative link in it and in docs/ resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(doc: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    return [t for t in LINK.findall(text) if not re.match(r"^[a-z]+:|^#", t)]


def test_readme_is_under_8_kib() -> None:
    assert len((REPO / "README.md").read_bytes()) < 8192


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = [t for t in relative_links(doc) if not (doc.parent / t.split("#")[0]).exists()]
    assert broken == []


def test_every_document_in_docs_is_reachable_from_the_readme() -> None:
    linked = {(REPO / t.split("#")[0]).resolve() for t in relative_links(REPO / "README.md")}
    assert {d.resolve() for d in DOCS[1:]} <= linked


def test_a_broken_link_is_seen(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("see [there](nowhere.md) and [web](https://example.org)\n")
    assert relative_links(doc) == ["nowhere.md"]
