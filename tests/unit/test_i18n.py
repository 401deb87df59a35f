"""Messages in Finnish, Swedish and English: catalogues complete and compiled, language picked
by --lang or the locale, findings rendered in the chosen language."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from typer.testing import CliRunner

from kuntapilvi.cli import app
from kuntapilvi.errors import Finding, Severity
from kuntapilvi.i18n import LANGS, LOCALE_DIR, has_finding, pick, render_finding
from kuntapilvi.project import ProjectPaths

SRC = Path(__file__).resolve().parents[2] / "src" / "kuntapilvi"
CODE = re.compile(r"(?:error|warning)\(\s*\"([a-z]+\.[a-z0-9-]+)\"", re.S)


def codes_in_source() -> set[str]:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        found |= set(CODE.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_finding_code_in_the_source_has_three_languages() -> None:
    codes = codes_in_source()
    assert len(codes) > 40  # the scan itself still finds the codes
    for lang in LANGS:
        missing = sorted(c for c in codes if not has_finding(lang, c))
        assert not missing, (
            f"add msgctxt finding/fix entries for {missing} to "
            f"src/kuntapilvi/locale/{lang}/LC_MESSAGES/kuntapilvi.po, then scripts/compile-messages"
        )


@pytest.mark.parametrize("lang", LANGS)
def test_compiled_catalogue_matches_its_source(lang: str) -> None:
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    with (folder / "kuntapilvi.po").open("rb") as f:
        source = read_po(f)
    compiled = gettext.GNUTranslations((folder / "kuntapilvi.mo").open("rb"))
    for message in source:
        if not message.id:
            continue
        got = (
            compiled.pgettext(message.context, message.id)
            if message.context
            else compiled.gettext(message.id)
        )
        assert got == message.string, f"run scripts/compile-messages ({lang}: {message.id})"


def test_language_from_option_then_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "sv_FI.UTF-8")
    assert pick(None) == "sv"
    assert pick("en") == "en"
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert pick(None) == "en"
    monkeypatch.setenv("LC_ALL", "fi_FI.UTF-8")
    assert pick(None) == "fi"


def test_finding_rendered_in_swedish_keeps_place_and_details() -> None:
    finding = Finding(
        Severity.ERROR, "inhouse.not-owner", "stacks/Pulumi.x.yaml", 5, "config.owner", "m.", "f"
    )
    text = render_finding(finding, "sv")
    assert text.startswith("stacks/Pulumi.x.yaml:5: config.owner: ")
    assert "anknuten enhet" in text and "Åtgärd:" in text and "m." in text
    assert render_finding(finding, "en") == finding.render()


def test_validate_in_swedish_gives_swedish_errors(
    project: ProjectPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    lahti = project.stacks / "Pulumi.lahti.yaml"
    lahti.write_text(lahti.read_text().replace("region: fi-kuo-1", "region: fi-xxx-9"))
    monkeypatch.setenv("KUNTAPILVI_ROOT", str(project.root))
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LANGUAGE", raising=False)
    monkeypatch.setenv("LANG", "sv_FI.UTF-8")
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "fel stacks/Pulumi.lahti.yaml:" in result.output
    assert "Regionen finns inte." in result.output and "Åtgärd:" in result.output
    english = CliRunner().invoke(app, ["validate", "--lang", "en"])
    assert "Regionen" not in english.output and "Fix:" in english.output


def test_card_without_swedish_title_is_refused_at_the_field(project: ProjectPaths) -> None:
    from kuntapilvi.validate import validate

    card = project.cards / "office" / "time.yaml"
    text = card.read_text()
    card.write_text(re.sub(r"\n  sv: [^\n]*", "", text, count=1))
    report = validate(project)
    found = [f for f in report.errors if f.file.endswith("office/time.yaml")]
    assert found and found[0].field == "title.sv" and found[0].line == 6


def test_every_shipped_card_has_finnish_and_swedish(repo: ProjectPaths) -> None:
    from kuntapilvi.validate import validate

    for card in validate(repo).model.cards.values():
        assert card.title.sv and card.description.sv, card.id


@pytest.mark.parametrize(
    ("lang", "heading", "owner", "vat"),
    [
        (None, "Palvelusopimuksen liite", "Turun kaupunki", "arvonlisävero 25,5 %"),
        ("sv", "Bilaga till serviceavtalet", "Åbo stad", "moms 25,5 %"),
        ("en", "Service agreement appendix", "Turun kaupunki", "25.5 % VAT is added"),
    ],
)
def test_agreement_in_three_languages(
    repo: ProjectPaths,
    monkeypatch: pytest.MonkeyPatch,
    lang: str | None,
    heading: str,
    owner: str,
    vat: str,
) -> None:
    monkeypatch.setenv("KUNTAPILVI_ROOT", str(repo.root))
    monkeypatch.setenv("LANG", "sv_FI.UTF-8")  # documents stay Finnish unless --lang says so
    args = ["agreement", "turku", *(["--lang", lang] if lang else [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"# {heading} 2027: {owner}")
    assert vat in result.stdout
