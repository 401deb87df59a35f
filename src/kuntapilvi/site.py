"""The public catalogue site: static pages from the catalogue only, in fi, sv and en.

Per language: index.html (every offered card, with a plain-JS search), one page per card,
prices.html (the price list with and without VAT) and owners.html. Nothing is loaded from
elsewhere: styles and the search script are inline, so the pages work from any static host."""

from __future__ import annotations

import json
from decimal import Decimal
from html import escape
from pathlib import Path

from kuntapilvi.catalogue import Catalogue
from kuntapilvi.costs import cents
from kuntapilvi.i18n import LANGS, translations
from kuntapilvi.schema.card import Card, Lifecycle
from kuntapilvi.schema.pricelist import PriceList

STYLE = (
    "body{font-family:sans-serif;max-width:900px;margin:1.5em auto;padding:0 1em;color:#1a202c}"
    "nav a{margin-right:1em}table{border-collapse:collapse;margin:.5em 0}"
    "td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}"
    ".langs{float:right}.hidden{display:none}#q{width:60%;padding:4px}"
)

SEARCH_JS = """
(function () {
  var input = document.getElementById('q');
  var items = Array.prototype.slice.call(document.querySelectorAll('#cards li'));
  var count = document.getElementById('count');
  function run() {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (li) {
      var text = li.getAttribute('data-search');
      var ok = words.every(function (w) { return text.indexOf(w) !== -1; });
      li.classList.toggle('hidden', !ok);
      if (ok) { shown += 1; }
    });
    count.textContent = String(shown);
  }
  input.addEventListener('input', run);
  run();
})();
"""


def offered(cat: Catalogue) -> list[Card]:
    """Cards a tenant can see: active and deprecated (being withdrawn); drafts are not public."""
    return sorted(
        (c for c in cat.cards.values() if c.status is not Lifecycle.DRAFT), key=lambda c: c.id
    )


def _eur(value: Decimal) -> str:
    return f"{value:,.2f}\u00a0€".replace(",", "\u00a0").replace(".", ",")


def _gross(value: Decimal, prices: PriceList) -> Decimal:
    return cents(value * (100 + prices.vat_percent) / 100)


class _Page:
    def __init__(self, lang: str, depth: int, name: str) -> None:
        self.lang, self.depth, self.name = lang, depth, name
        self._ = translations(lang).gettext

    def up(self) -> str:
        return "../" * self.depth

    def frame(self, title: str, body: str, script: str = "") -> str:
        _ = self._
        others = " ".join(
            f'<a href="{self.up()}../{lang}/{self.name}" hreflang="{lang}" '
            f'id="lang-{lang}">{lang.upper()}</a>'
            for lang in LANGS
            if lang != self.lang
        )
        nav = (
            f'<nav><a href="{self.up()}index.html">{_("Service catalogue")}</a>'
            f'<a href="{self.up()}prices.html">{_("Price list")}</a>'
            f'<a href="{self.up()}owners.html">{_("Owners")}</a>'
            f'<span class="langs">{others}</span></nav>'
        )
        tail = f"<script>{script}</script>" if script else ""
        return (
            f'<!doctype html><html lang="{self.lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>{nav}<h1>{escape(title)}</h1>{body}{tail}"
            "</body></html>\n"
        )


def _lifecycle(card: Card, page: _Page) -> str:
    _ = page._
    text = f"{_(str(card.status))}, {_('version')} {card.version}"
    if card.replaced_by:
        text += f'; {_("replaced by")} <a href="{card.replaced_by}.html">{card.replaced_by}</a>'
    return text


def card_page(card: Card, prices: PriceList, lang: str, names: dict[str, str]) -> str:
    page = _Page(lang, 1, f"cards/{card.id}.html")
    _ = page._
    level = card.service_level
    unit = card.pricing.unit.get(lang)
    if card.sizes:
        rows = "".join(
            f"<tr><td>{escape(name)}</td><td>{escape(_size_text(size, lang))}</td>"
            f"<td>{_eur(size.monthly_eur)}</td><td>{_eur(_gross(size.monthly_eur, prices))}</td>"
            f"<td>{_eur(size.setup_fee_eur or card.pricing.setup_fee_eur)}</td></tr>"
            for name, size in card.sizes.items()
        )
    else:
        monthly = card.pricing.monthly_eur or Decimal(0)
        rows = (
            f"<tr><td>–</td><td>{escape(unit)}</td><td>{_eur(monthly)}</td>"
            f"<td>{_eur(_gross(monthly, prices))}</td>"
            f"<td>{_eur(card.pricing.setup_fee_eur)}</td></tr>"
        )
    requires = (
        ", ".join(f'<a href="{r}.html">{escape(names.get(r, r))}</a>' for r in card.requires) or "–"
    )
    body = (
        f"<p>{escape(card.description.get(lang))}</p>"
        f"<h2>{_('Sizes and prices')}</h2><table><tr><th>{_('Size')}</th><th>{_('What')}</th>"
        f"<th>€/{_('month')} ({_('VAT 0 %')})</th><th>€/{_('month')} ({_('with VAT')} "
        f"{prices.vat_percent} %)</th><th>{_('Set-up fee')} ({_('VAT 0 %')})</th></tr>{rows}"
        f"</table><p>{escape(_('Unit'))}: {escape(unit)}</p>"
        f"<h2>{_('Service level')}</h2><table>"
        f"<tr><td>{_('Availability')}</td><td>{level.availability_percent} %</td></tr>"
        f"<tr><td>{_('Support')}</td><td>{escape(level.support_hours.get(lang))}</td></tr>"
        f"<tr><td>{_('Response (critical)')}</td><td>{level.response_hours.critical} h</td></tr>"
        f"<tr><td>{_('Response (high)')}</td><td>{level.response_hours.high} h</td></tr>"
        f"<tr><td>{_('Response (normal)')}</td><td>{level.response_hours.normal} h</td></tr>"
        f"</table><h2>{_('Requires')}</h2><p>{requires}</p>"
        f"<h2>{_('Lifecycle')}</h2><p>{_lifecycle(card, page)}</p>"
        f"<p><code>{card.id}</code></p>"
    )
    return page.frame(card.title.get(lang), body)


def _size_text(size, lang: str) -> str:  # type: ignore[no-untyped-def]
    if size.description is not None:
        return str(size.description.get(lang))
    parts = []
    if size.vcpu:
        parts.append(f"{size.vcpu} vCPU")
    if size.ram_gb:
        parts.append(f"{size.ram_gb} GB RAM")
    if size.data_gb:
        parts.append(f"{size.data_gb} GB data")
    elif size.disk_gb:
        parts.append(f"{size.disk_gb} GB")
    if size.bandwidth_mbps:
        parts.append(f"{size.bandwidth_mbps} Mbit/s")
    if size.retention_days:
        parts.append(f"{size.retention_days} d")
    return ", ".join(parts) or "–"


def index_page(cards: list[Card], lang: str) -> str:
    page = _Page(lang, 0, "index.html")
    _ = page._
    items = "".join(
        f'<li data-search="{escape(_search_text(c, lang))}">'
        f'<a href="cards/{c.id}.html">{escape(c.title.get(lang))}</a> – '
        f"{escape(c.description.get(lang))}</li>"
        for c in cards
    )
    body = (
        f'<p><label for="q">{_("Search")}</label> <input id="q" type="search" '
        f'autocomplete="off"> <span id="count">{len(cards)}</span> / {len(cards)}</p>'
        f'<ul id="cards">{items}</ul>'
    )
    return page.frame(_("Service catalogue"), body, SEARCH_JS)


def _search_text(card: Card, lang: str) -> str:
    return " ".join(
        [card.id, card.title.get(lang), card.description.get(lang), str(card.family)]
    ).lower()


def prices_page(cards: list[Card], prices: PriceList, lang: str) -> str:
    page = _Page(lang, 0, "prices.html")
    _ = page._
    rows = []
    for card in cards:
        pairs = (
            [(n, s.monthly_eur, s.setup_fee_eur) for n, s in card.sizes.items()]
            if card.sizes
            else [("–", card.pricing.monthly_eur or Decimal(0), None)]
        )
        for name, monthly, setup in pairs:
            rows.append(
                f'<tr><td><a href="cards/{card.id}.html">{escape(card.title.get(lang))}</a></td>'
                f"<td>{escape(name)}</td><td>{escape(card.pricing.unit.get(lang))}</td>"
                f"<td>{_eur(monthly)}</td><td>{_eur(_gross(monthly, prices))}</td>"
                f"<td>{_eur(setup if setup is not None else card.pricing.setup_fee_eur)}</td></tr>"
            )
    body = (
        f"<p>{escape(prices.principle.get(lang))}</p><p>{escape(prices.vat_note.get(lang))}</p>"
        f"<p>{_('valid')} {prices.valid_from} – {prices.valid_until}; "
        f"{escape(_('the agreement is renewed yearly by'))} "
        f"{prices.renewal_deadline}. {escape(prices.approved_by)}</p>"
        f"<table><tr><th>{_('Service')}</th><th>{_('Size')}</th><th>{_('Unit')}</th>"
        f"<th>€/{_('month')} ({_('VAT 0 %')})</th><th>€/{_('month')} ({_('with VAT')} "
        f"{prices.vat_percent} %)</th><th>{_('Set-up fee')} ({_('VAT 0 %')})</th></tr>"
        f"{''.join(rows)}</table>"
    )
    return page.frame(f"{_('Price list')} {prices.year}", body)


def owners_page(cat: Catalogue, lang: str) -> str:
    assert cat.owners is not None
    page = _Page(lang, 0, "owners.html")
    _ = page._
    reg = cat.owners
    rows = "".join(
        f"<tr><td>{escape((o.name_sv if lang == 'sv' else None) or o.name)}</td>"
        f"<td>{o.business_id}</td><td>{escape(_(str(o.kind)))}</td>"
        f"<td>{escape(_(str(o.status)))}</td><td>{o.joined}</td>"
        f"<td>{o.population.residents if o.population else '–'}</td>"
        f"<td>{o.shares.subscribed}</td></tr>"
        for o in reg.owners
    )
    body = (
        f"<p>{escape(_('The centre serves only its owners (in-house rule).'))}</p>"
        f"<table><tr><th>{_('Owner')}</th><th>{_('Business ID')}</th><th>{_('Kind')}</th>"
        f"<th>{_('Status')}</th><th>{_('Joined')}</th><th>{_('Residents')} "
        f"{reg.population_date}</th><th>{_('Shares')}</th></tr>{rows}</table>"
    )
    return page.frame(_("Owners"), body)


def build(cat: Catalogue, out: Path) -> list[Path]:
    """Write the site under `out` (fi/, sv/, en/ and a root page); returns the files written."""
    assert cat.price_list is not None
    cards = offered(cat)
    names = {c.id: c.title.fi for c in cat.cards.values()}
    written: list[Path] = []

    def write(rel: str, text: str) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    for lang in LANGS:
        local = {c.id: c.title.get(lang) for c in cat.cards.values()} or names
        write(f"{lang}/index.html", index_page(cards, lang))
        write(f"{lang}/prices.html", prices_page(cards, cat.price_list, lang))
        write(f"{lang}/owners.html", owners_page(cat, lang))
        for card in cards:
            write(f"{lang}/cards/{card.id}.html", card_page(card, cat.price_list, lang, local))
    links = " · ".join(
        f'<a href="{lang}/index.html" hreflang="{lang}">{label}</a>'
        for lang, label in (("fi", "Suomeksi"), ("sv", "På svenska"), ("en", "In English"))
    )
    write(
        "index.html",
        '<!doctype html><html lang="fi"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,"><title>Kuntapilvi</title>'
        f'<meta http-equiv="refresh" content="0; url=fi/index.html"></head><body><p>{links}</p>'
        "</body></html>\n",
    )
    write(
        "search-index.json",
        json.dumps(
            {lang: [{"id": c.id, "title": c.title.get(lang)} for c in cards] for lang in LANGS},
            ensure_ascii=False,
        )
        + "\n",
    )
    return written
