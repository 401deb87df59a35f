"""Jinja2 rendering of cloud-init user data and documents.

StrictUndefined turns a missing variable into an error instead of an empty string. Every value
that came from a tenant enters YAML through the `yaml` filter, which writes it as a JSON string
(JSON is YAML): quotes, colons and newlines in it cannot change the document's structure.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jinja2

from kuntapilvi.errors import KuntapilviError


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def _yaml_list(values: list[Any]) -> str:
    return "[" + ", ".join(_yaml_scalar(v) for v in values) + "]"


@functools.cache
def environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["yaml"] = _yaml_scalar
    env.filters["yaml_list"] = _yaml_list
    return env


def render(templates: Path, name: str, context: dict[str, Any]) -> str:
    try:
        return environment(templates).get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        raise KuntapilviError(f"template templates/{name} does not exist") from None
    except jinja2.UndefinedError as exc:
        raise KuntapilviError(f"template templates/{name}: {exc.message}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise KuntapilviError(
            f"template templates/{name}:{exc.lineno}: syntax error: {exc.message}"
        ) from None
