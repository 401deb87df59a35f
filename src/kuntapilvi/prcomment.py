"""One Markdown comment per pull request: fits a screen, folds details, never cuts silently.

The first line is a marker; the workflow finds its earlier comment by it and edits that comment
instead of adding another."""

from __future__ import annotations

from decimal import Decimal

from kuntapilvi.prcheck import PrResult, TenantDiff

MARKER = "<!-- kuntapilvi:pr-comment -->"
INLINE_FINDINGS = 5


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
        lines += [
            f"- `{f.file}:{f.line or ''}` {f.message} *Korjaus:* {f.fix}"
            for f in errors[:INLINE_FINDINGS]
        ]
        if len(errors) > INLINE_FINDINGS:
            lines.append(
                f"<details><summary>{len(errors) - INLINE_FINDINGS} virhettä lisää</summary>\n"
            )
            lines += [
                f"- `{f.file}:{f.line or ''}` {f.message} *Korjaus:* {f.fix}"
                for f in errors[INLINE_FINDINGS:]
            ]
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
        details += [
            f"- ⚠️ `{f.file}:{f.line or ''}` {f.message} *Korjaus:* {f.fix}" for f in warnings
        ]
    if details:
        lines += ["<details><summary>Yksityiskohdat</summary>", "", *details, "</details>", ""]
    return "\n".join(lines).rstrip() + "\n"
