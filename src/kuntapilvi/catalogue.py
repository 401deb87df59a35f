"""Loading the catalogue: cards, centre, owner register and price list, with findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from kuntapilvi import findings as fnd
from kuntapilvi.errors import Finding
from kuntapilvi.project import ProjectPaths
from kuntapilvi.schema.card import Card
from kuntapilvi.schema.centre import Centre
from kuntapilvi.schema.owners import OwnerRegister
from kuntapilvi.schema.pricelist import PriceList
from kuntapilvi.yamlsource import Document, YamlError, load

M = TypeVar("M", bound=BaseModel)

CENTRE_FILE = "centre.yaml"
OWNERS_FILE = "owners.yaml"
PRICE_LIST_FILE = "price-list.yaml"


@dataclass(slots=True)
class Catalogue:
    """Everything under catalog/. Parts that failed to load are None or absent."""

    paths: ProjectPaths
    centre: Centre | None = None
    owners: OwnerRegister | None = None
    price_list: PriceList | None = None
    cards: dict[str, Card] = field(default_factory=dict)
    docs: dict[str, Document] = field(default_factory=dict)
    card_docs: dict[str, Document] = field(default_factory=dict)
    broken_cards: dict[str, str] = field(
        default_factory=dict, metadata={"doc": "card id -> file, for cards that failed to load"}
    )

    @property
    def complete(self) -> bool:
        return None not in (self.centre, self.owners, self.price_list)


def parse_model(doc: Document, model: type[M], out: list[Finding]) -> M | None:
    if not isinstance(doc.data, dict):
        out.append(
            fnd.error(
                "schema.document",
                doc,
                (),
                "the file must be a YAML mapping of 'key: value' lines.",
                "start the file with its top-level keys; see the JSON Schema in schemas/",
            )
        )
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        out.extend(fnd.from_validation_error(exc, doc, model))
        return None


def read_document(path: Path, paths: ProjectPaths, out: list[Finding]) -> Document | None:
    try:
        return load(path, paths.display(path), paths.root)
    except YamlError as exc:
        out.append(fnd.from_yaml_error(exc))
        return None


def load_catalogue(paths: ProjectPaths) -> tuple[Catalogue, list[Finding]]:
    out: list[Finding] = []
    cat = Catalogue(paths=paths)
    for name, model, attr in (
        (CENTRE_FILE, Centre, "centre"),
        (OWNERS_FILE, OwnerRegister, "owners"),
        (PRICE_LIST_FILE, PriceList, "price_list"),
    ):
        path = paths.catalog / name
        if not path.is_file():
            out.append(
                fnd.error(
                    "catalog.missing-file",
                    paths.display(path),
                    (),
                    f"the catalogue has no {name}.",
                    f"restore catalog/{name} from git (git checkout -- catalog/{name})",
                )
            )
            continue
        doc = read_document(path, paths, out)
        if doc is None:
            continue
        cat.docs[name] = doc
        setattr(cat, attr, parse_model(doc, model, out))
    for path in sorted(paths.cards.glob("*/*.yaml")):
        doc = read_document(path, paths, out)
        if doc is None:
            continue
        card = parse_model(doc, Card, out)
        if card is None:
            # Remember the id so stacks that adopt it point at the broken file, not "unknown".
            raw_id = doc.data.get("id") if isinstance(doc.data, dict) else None
            cat.broken_cards[str(raw_id or expected_id(path))] = doc.file
            continue
        expected = expected_id(path)
        if card.id != expected:
            out.append(
                fnd.error(
                    "card.file-name",
                    doc,
                    ("id",),
                    f"card id '{card.id}' does not match its file name (expected '{expected}').",
                    f"rename the file to catalog/cards/{card.family}/"
                    f"{card.id.split('.', 1)[1]}.yaml or fix the id",
                )
            )
        if card.id in cat.cards:
            first = cat.card_docs[card.id].file
            out.append(
                fnd.error(
                    "card.duplicate-id",
                    doc,
                    ("id",),
                    f"card id '{card.id}' is already used by {first}.",
                    "give this card a new, unique id; ids are never reused",
                )
            )
            continue
        cat.cards[card.id] = card
        cat.card_docs[card.id] = doc
    return cat, out


def expected_id(path: Path) -> str:
    """The id a card file must carry: <family folder>.<file stem>."""
    return f"{path.parent.name}.{path.stem}"
