"""One Markdown comment per pull request: fits a screen, folds details, never cuts silently.

The first line is a marker; the workflow finds its earlier comment by it and edits that comment
instead of adding another."""

from __future__ import annotations

import re
from decimal import Decimal

from kuntapilvi.errors import Finding
from kuntapilvi.prcheck import PrResult, TenantDiff

MARKER = "<!-- kuntapilvi:pr-comment -->"
INLINE_FINDINGS = 5
MAX_CHARS = 60_000
"""The comment's length limit: the forge refuses a comment over 65,536 characters, and the
margin leaves room for the closing tags and the note that says what was left out."""
MAX_FINDING_CHARS = 1_000
"""One finding's message or fix is cut here (a 200 KB value quoted in a message, say)."""

# Word joiner (U+2060): invisible, and it breaks what the forge would otherwise turn into a
# mention (@user), a team ping or a link (https://, www.).
_WJ = "\u2060"
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def text(value: str, limit: int = MAX_FINDING_CHARS) -> str:
    """Text from a file (a tenant's value, a name) as inert Markdown on one line: no HTML, no
    link, no mention, no emphasis, no table cell break, nothing that ends a <details> block."""
    if len(value) > limit:
        value = value[:limit] + f"… ({len(value) - limit:,} merkkiä lisää)"
    value = " ".join(value.split())
    value = "".join(_HTML.get(ch, ch) for ch in value)
    value = _MARKDOWN.sub(r"\\\1", value)
    value = value.replace("@", "@" + _WJ)
    # Break every "://", not only one after a scheme: "://" alone is still a link to some forges.
    value = value.replace("://", ":" + _WJ + "//")
    return re.sub(r"(?i)\b(www)\.", "\\1" + _WJ + ".", value)


def code(value: str) -> str:
    """A code span holding `value` as it is (a file name): backticks in it cannot close it."""
    value = " ".join(value.split())[:300]
    longest = max((len(m) for m in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") or longest else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _finding(f: Finding, prefix: str = "") -> str:
    where = f"{f.file}:{f.line or ''}"
    return f"- {prefix}{code(where)} {text(f.message)} *Korjaus:* {text(f.fix)}"


def _eur(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", " ")


def _delta(before: Decimal, after: Decimal) -> str:
    change = after - before
    sign = "+" if change > 0 else ("−" if change < 0 else "±")
    return f"{_eur(before)} → {_eur(after)} ({sign}{_eur(abs(change))})"


def _counts(d: TenantDiff) -> str:
    return (
        f"+{sum(d.added.values())} / −{sum(d.removed.values())} / "
        f"~{len(d.services_changed)} palvelu(a)"
    )


def _details(d: TenantDiff) -> list[str]:
    lines = [f"**{d.stack}**", ""]
    for label, items in (
        ("Lisätyt palvelut", d.services_added),
        ("Poistetut palvelut", d.services_removed),
        ("Muuttuneet palvelut", d.services_changed),
    ):
        if items:
            lines.append(f"- {label}: " + ", ".join(f"`{i}`" for i in items))
    for label, counts in (("Uudet resurssit", d.added), ("Poistuvat resurssit", d.removed)):
        if counts:
            lines.append(f"- {label}: " + ", ".join(f"{n}× {t}" for t, n in sorted(counts.items())))
    lines.append("")
    return lines


def render(result: PrResult) -> str:
    scope = result.scope
    status = "✅ kelvollinen" if result.ok else "❌ virheitä"
    subject = {
        "tenant": f"tilaajan muutos ({', '.join(scope.tenants)})",
        "cross-tenant": f"usean tilaajan muutos ({', '.join(scope.tenants)})",
        "catalogue": "palvelukortisto",
        "code": "koodi",
        "no-op": "ei muutoksia pinoihin",
    }[scope.kind]
    lines = [MARKER, f"### kuntapilvi: {status} — {subject}", ""]
    errors, warnings = result.errors, [f for f in result.findings if f not in result.errors]
    if errors:
        lines.append(f"**Virheet ({len(errors)}):**")
        lines += [_finding(f) for f in errors[:INLINE_FINDINGS]]
        if len(errors) > INLINE_FINDINGS:
            lines.append(
                f"<details><summary>{len(errors) - INLINE_FINDINGS} virhettä lisää</summary>\n"
            )
            lines += [_finding(f) for f in errors[INLINE_FINDINGS:]]
            lines.append("\n</details>")
        lines.append("")
    if result.diffs:
        lines += [
            "| pino | resurssit | €/kk ennen → jälkeen | €/vuosi ennen → jälkeen |",
            "| --- | --- | ---: | ---: |",
        ]
        for d in result.diffs:
            if d.invalid:
                lines.append(f"| `{d.stack}` | ei suunniteltu: korjaa virheet | – | – |")
                continue
            lines.append(
                f"| `{d.stack}` | {_counts(d)} | {_delta(d.monthly_before, d.monthly_after)} | "
                f"{_delta(d.yearly_before, d.yearly_after)} |"
            )
        lines.append("")
    else:
        lines += ["Ei muutoksia resursseihin eikä laskuihin.", ""]
    if result.users_of_withdrawn:
        lines.append(
            "**Poistuvia tai vanhentuneita kortteja käyttävät:** "
            + "; ".join(
                f"`{card}`: {', '.join(users)}"
                for card, users in sorted(result.users_of_withdrawn.items())
            )
        )
        lines.append("")
    if result.approvers:
        lines += ["**Hyväksyjät:** " + ", ".join(result.approvers), ""]
    details = [line for d in result.diffs if d.resource_changes for line in _details(d)]
    if warnings:
        details += [_finding(f, "⚠️ ") for f in warnings]
    if details:
        lines += ["<details><summary>Yksityiskohdat</summary>", "", *details, "</details>", ""]
    return _cap(lines)


def _cap(lines: list[str]) -> str:
    """The whole comment, or as much of it as fits under MAX_CHARS, and a note saying so."""
    full = "\n".join(lines).rstrip() + "\n"
    if len(full) <= MAX_CHARS:
        return full
    kept: list[str] = []
    size = 0
    budget = MAX_CHARS - 1_000
    for line in lines:
        if size + len(line) + 1 > budget:
            break
        kept.append(line)
        size += len(line) + 1
    still_open = sum(line.count("<details>") - line.count("</details>") for line in kept)
    kept += ["", *["</details>"] * max(still_open, 0), ""]
    kept.append(
        f"*Kommentti katkaistiin: {len(full) - size:,} merkkiä jäi pois (raja "
        f"{MAX_CHARS:,}). Koko tulos: `kuntapilvi pr check`.*"
    )
    return "\n".join(kept).rstrip() + "\n"
