"""JSON Schemas for editors, generated from the same pydantic models validation uses."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from kuntapilvi.schema.card import Card
from kuntapilvi.schema.centre import Centre
from kuntapilvi.schema.owners import OwnerRegister
from kuntapilvi.schema.pricelist import PriceList
from kuntapilvi.schema.stack import CENTRE_KEY, TENANT_KEY, CentreRequest, TenantRequest

SCHEMAS: dict[str, type[BaseModel]] = {
    "card": Card,
    "centre": Centre,
    "owners": OwnerRegister,
    "price-list": PriceList,
}


def _stack_schema() -> dict[str, Any]:
    tenant = TenantRequest.model_json_schema(ref_template="#/$defs/tenant/$defs/{model}")
    centre = CentreRequest.model_json_schema(ref_template="#/$defs/centre/$defs/{model}")
    return {
        "title": "Pulumi stack file of kuntapilvi",
        "type": "object",
        "properties": {
            "encryptionsalt": {"type": "string"},
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "config": {
                "type": "object",
                "properties": {
                    TENANT_KEY: {"$ref": "#/$defs/tenant"},
                    CENTRE_KEY: {"$ref": "#/$defs/centre"},
                },
            },
        },
        "additionalProperties": False,
        "$defs": {"tenant": tenant, "centre": centre},
    }


def schema_documents() -> dict[str, str]:
    """File name -> JSON text, for schemas/ (stable order, trailing newline)."""
    docs: dict[str, dict[str, Any]] = {
        f"{name}.schema.json": model.model_json_schema(by_alias=True)
        for name, model in SCHEMAS.items()
    }
    docs["stack.schema.json"] = _stack_schema()
    return {
        name: json.dumps(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", **doc},
            indent=2,
            ensure_ascii=False,
            sort_keys=True,
        )
        + "\n"
        for name, doc in docs.items()
    }
