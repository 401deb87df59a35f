"""The public catalogue site: built from the catalogue only, three languages, links resolve."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kuntapilvi.catalogue import load_catalogue
from kuntapilvi.cli import app
from kuntapilvi.project import ProjectPaths
from kuntapilvi.schema.card import Lifecycle
from kuntapilvi.site import build

HREF = re.compile(r'(?:href|src)="([^"]+)"')


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import REPO

    cat, _ = load_catalogue(ProjectPaths(REPO))
    out = tmp_path_factory.mktemp("site")
    build(cat, out)
    return out


def test_every_offered_card_has_a_page_in_three_languages(site: Path) -> None:
    from tests.conftest import REPO

    cat, _ = load_catalogue(ProjectPaths(REPO))
    for card in cat.cards.values():
        for lang in ("fi", "sv", "en"):
            page = site / lang / "cards" / f"{card.id}.html"
            assert page.exists() == (card.status is not Lifecycle.DRAFT)
            if page.exists():
                # As the page's HTML writes it ("municipality's" -> "municipality&#x27;s").
                assert html.escape(card.title.get(lang)) in page.read_text()


def test_links_resolve_and_nothing_is_external(site: Path) -> None:
    pages = list(site.rglob("*.html"))
    assert len(pages) > 40
    for page in pages:
        for target in HREF.findall(page.read_text()):
            assert not target.startswith(("http:", "https:", "//")), (page, target)
            if target.startswith("data:"):
                continue
            assert (page.parent / target.split("#")[0]).resolve().exists(), (page, target)


def test_prices_with_and_without_vat(site: Path) -> None:
    text = (site / "sv" / "cards" / "network.wan-link.html").read_text()
    # 450,00 € without VAT, 564,75 € with 25.5 % VAT.
    assert "450,00\u00a0€" in text and "564,75\u00a0€" in text
    assert "moms 25,5 %" in (site / "sv" / "prices.html").read_text()


def test_language_switch_points_at_the_same_page(site: Path) -> None:
    text = (site / "fi" / "cards" / "office.time.html").read_text()
    assert 'href="../../sv/cards/office.time.html"' in text
    assert 'href="../../en/cards/office.time.html"' in text


def test_owners_page_lists_the_register(site: Path) -> None:
    text = (site / "fi" / "owners.html").read_text()
    assert "Espoon kaupunki" in text and "Kuntapilvi Oy" not in text


def test_site_command_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import REPO

    monkeypatch.setenv("KUNTAPILVI_ROOT", str(REPO))
    result = CliRunner().invoke(app, ["site", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "en" / "index.html").exists()
