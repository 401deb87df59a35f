"""Languages: picking one (fi, sv, en) and translating through the gettext catalogues.

Findings are translated where they are rendered, keyed by their code: the catalogue gives each
code a headline and a fix in every language, and the finding's own (English) text follows as
the details, so the code that makes findings stays as it is."""

from __future__ import annotations

import functools
import gettext
import os
from pathlib import Path

from kuntapilvi.errors import Finding, KuntapilviError

LANGS = ("fi", "sv", "en")
DOMAIN = "kuntapilvi"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# Finnish is the language of the centre's documents; the CLI follows the user's locale.
DOCUMENT_DEFAULT = "fi"
CLI_DEFAULT = "en"


def from_locale() -> str | None:
    """The first of fi/sv/en named by LANGUAGE, LC_ALL, LC_MESSAGES or LANG (POSIX order)."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        for part in value.split(":"):
            code = part.split(".")[0].split("_")[0].lower()
            if code in LANGS:
                return code
        if value and var != "LANGUAGE":
            # A set, higher-priority variable decides even when it names another language.
            return None
    return None


def pick(lang: str | None, default: str = CLI_DEFAULT) -> str:
    """An explicit --lang wins, then the locale, then `default`."""
    if lang is not None:
        code = lang.lower().split("_")[0].split(".")[0]
        if code not in LANGS:
            raise KuntapilviError(f"--lang {lang!r} is not offered. Fix: use one of fi, sv, en")
        return code
    return from_locale() or default


def pick_document(lang: str | None) -> str:
    """Documents (agreement, site, report) are Finnish unless --lang says otherwise."""
    return pick(lang, DOCUMENT_DEFAULT) if lang is not None else DOCUMENT_DEFAULT


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


def tr(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def has_finding(lang: str, code: str) -> bool:
    key = _key(code)
    return translations(lang).pgettext("finding", key) != key


def _key(code: str) -> str:
    # Schema findings carry pydantic's error type after 'schema.'; one text covers them.
    if code.startswith("schema.") and code != "schema.document":
        return "schema"
    return code


def render_finding(finding: Finding, lang: str) -> str:
    """`file:line: field: headline Fix: fix (details)` in `lang`; English keeps the original."""
    if lang == "en":
        return finding.render()
    cat = translations(lang)
    key = _key(finding.code)
    headline = cat.pgettext("finding", key)
    if headline == key:
        return finding.render()
    fix = cat.pgettext("fix", key)
    where = finding.file if finding.line is None else f"{finding.file}:{finding.line}"
    fieldpart = f" {finding.field}:" if finding.field else ""
    return (
        f"{where}:{fieldpart} {headline} {cat.gettext('Fix')}: {fix}. "
        f"({cat.gettext('Details')}: {finding.message} Fix: {finding.fix})"
    )
