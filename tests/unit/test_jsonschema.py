"""The committed JSON Schemas match the validation models and accept the shipped files."""

from __future__ import annotations

import jsonschema
import yaml

from kuntapilvi.jsonschema import schema_documents
from kuntapilvi.project import ProjectPaths


def test_committed_schemas_are_current(repo: ProjectPaths) -> None:
    for name, text in schema_documents().items():
        path = repo.schemas / name
        assert path.is_file() and path.read_text() == text, f"run 'kuntapilvi schema' ({name})"


def test_shipped_files_pass_their_schema(repo: ProjectPaths) -> None:
    import json

    schemas = {n: json.loads(t) for n, t in schema_documents().items()}
    pairs = [(p, "card.schema.json") for p in repo.cards.glob("*/*.yaml")]
    pairs += [(p, "stack.schema.json") for p in repo.stacks.glob("Pulumi.*.yaml")]
    pairs += [(repo.catalog / "centre.yaml", "centre.schema.json")]
    for path, schema in pairs:
        data = yaml.safe_load(path.read_text())
        data = json.loads(json.dumps(data, default=str))
        jsonschema.validate(data, schemas[schema])
