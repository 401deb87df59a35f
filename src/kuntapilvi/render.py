"""Jinja2 rendering of cloud-init user data and documents.

StrictUndefined turns a missing variable into an error instead of an empty string. Every value
that came from a tenant enters YAML through the `yaml` filter, which writes it as a JSON string
(JSON is YAML): quotes, colons and newlines in it cannot change the document's structure.

A value that lands in a line-oriented configuration file first (smb.conf, cupsd.conf, main.cf
through postconf, chrony.conf, debconf answers for slapd and postfix) goes through `conf`: those
syntaxes have no escape for a line break, so a value holding one (or any control character) is
refused at render, as the schema refuses it at validation: it cannot add a setting or a section.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jinja2

from kuntapilvi.errors import InvalidInput, KuntapilviError

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _conf_value(value: Any) -> str:
    text = str(value)
    bad = _CONTROL.search(text)
    if bad is not None:
        raise InvalidInput(
            f"the value {text[:60]!r} holds control character U+{ord(bad.group()):04X} (a line "
            "break or similar) and would add lines to a service's configuration file. Fix: "
            "write the value on one line, without control characters"
        )
    return text


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
    env.filters["conf"] = _conf_value
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
