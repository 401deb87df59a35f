"""Rendering every server card's cloud-init template, so template mistakes surface in `validate`.

Each template is rendered with every valid tenant's services that use it and once with the
card's defaults (on the first tenant, or a stand-in tenant when there is none); the result must be
YAML that starts with #cloud-config and, where cloud-init is installed, pass its schema. A Jinja
syntax error, an undefined variable or output that is not valid YAML becomes a finding with the
template's file and line, instead of a traceback in `plan`.

Renders are de-duplicated by what can change them (tenant, card, size, parameters), so a stack of
10,000 servers of one size costs one render.
"""

from __future__ import annotations

import ipaddress
import traceback
from typing import Any

import jinja2
import yaml

from kuntapilvi.cloudinit_schema import validator
from kuntapilvi.errors import Finding, KuntapilviError, Severity
from kuntapilvi.model import Model, Service, Tenant
from kuntapilvi.render import environment
from kuntapilvi.servicecontext import userdata_context


def _finding(code: str, file: str, line: int | None, where: str, message: str, fix: str) -> Finding:
    return Finding(Severity.ERROR, code, file, line, where, message, fix)


def _template_line(exc: BaseException, name: str) -> tuple[str, int | None]:
    """The template file and line a Jinja error happened at (Jinja rewrites its frames)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"templates/{exc.name or name}", exc.lineno
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            rel = frame.filename.split("/templates/", 1)[-1]
            return f"templates/{rel}", frame.lineno
    return f"templates/{name}", None


def _default_service(model: Model, card_id: str) -> Service:
    card = model.cards[card_id]
    params = {k: p.default for k, p in card.parameters.items() if p.default is not None}
    for key, param in card.parameters.items():
        if key not in params:
            params[key] = _stand_in(param.type)
    size_name = card.default_size or (next(iter(card.sizes)) if card.sizes else None)
    size = card.sizes.get(size_name) if size_name else None
    name = card_id.split(".", 1)[1]
    return Service(0, card, name, size_name, size, params, None)


def _stand_in(kind: str) -> Any:
    return {
        "boolean": False,
        "integer": 1,
        "number": 1,
        "cidr": "10.0.0.0/24",
        "cidr-list": [],
    }.get(kind, "kuntapilvi")


def _stand_in_tenant(model: Model) -> Tenant | None:
    centre, owners = model.catalogue.centre, model.catalogue.owners
    if centre is None or owners is None or not owners.owners or not centre.regions:
        return None
    space = ipaddress.IPv4Network(centre.address_space)
    block = next(space.subnets(new_prefix=centre.tenant_block_prefix[1]))
    domain = f"esimerkki.{centre.domain}"
    return Tenant(
        "esimerkki", "<card defaults>", owners.owners[0], centre.regions[0], block, domain, ()
    )


def check(model: Model, stacks: list[str] | None = None) -> list[Finding]:
    out: list[Finding] = []
    if not model.catalogue.complete:
        return out
    templates = model.catalogue.paths.templates
    env = environment(templates)
    validate_schema = validator()
    seen: set[tuple[Any, ...]] = set()
    reported: set[tuple[str, str, int | None]] = set()

    def render_one(tenant: Tenant, service: Service, source: str) -> None:
        server = service.card.server
        assert server is not None
        key = (
            tenant.stack,
            service.card.id,
            service.size_name,
            repr(sorted((k, repr(v)) for k, v in service.params.items())),
        )
        if key in seen:
            return
        seen.add(key)
        name = server.template
        where = f"{service.card.id} for {source}"
        try:
            text = env.get_template(name).render(**userdata_context(model, tenant, service))
        except jinja2.TemplateNotFound:
            return  # catalogue_rules reports a missing template on the card
        except (jinja2.TemplateError, KuntapilviError) as exc:
            file, line = _template_line(exc, name)
            message = getattr(exc, "message", None) or str(exc)
            if (file, message, line) in reported:
                return
            reported.add((file, message, line))
            out.append(
                _finding(
                    "template.render",
                    file,
                    line,
                    where,
                    f"the template does not render: {message}.",
                    "fix the template at that line (a Jinja tag, a variable the "
                    "context lacks, or a filter)",
                )
            )
            return
        _check_output(text, name, where, validate_schema, out)

    for tenant in model.tenants.values():
        if stacks and tenant.stack not in stacks:
            continue
        for service in tenant.services:
            if service.card.server is not None:
                render_one(tenant, service, f"stack {tenant.stack}")
    base = next(iter(model.tenants.values()), None) or _stand_in_tenant(model)
    if base is not None:
        for card_id, card in sorted(model.cards.items()):
            if card.server is not None:
                render_one(base, _default_service(model, card_id), "the card's defaults")
    return out


def _check_output(
    text: str, name: str, where: str, validate_schema: Any, out: list[Finding]
) -> None:
    file = f"templates/{name}"
    if not text.startswith("#cloud-config\n"):
        out.append(
            _finding(
                "template.not-cloud-config",
                file,
                1,
                where,
                "the rendered user data does not start with '#cloud-config'.",
                "make '#cloud-config' the template's first line",
            )
        )
        return
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} of the output" if mark is not None else ""
        out.append(
            _finding(
                "template.invalid-yaml",
                file,
                None,
                where,
                f"the rendered user data is not valid YAML{at}: "
                f"{getattr(exc, 'problem', None) or exc}.",
                "render it with 'kuntapilvi plan' and fix the template's "
                "indentation or quoting; pass values through the yaml filter",
            )
        )
        return
    if not isinstance(data, dict):
        out.append(
            _finding(
                "template.invalid-yaml",
                file,
                None,
                where,
                "the rendered user data is not a mapping.",
                "write top-level cloud-config keys",
            )
        )
        return
    if validate_schema is None:
        return
    try:
        validate_schema(data)
    except Exception as exc:  # cloud-init's SchemaValidationError and kin
        out.append(
            _finding(
                "template.cloud-init-schema",
                file,
                None,
                where,
                f"cloud-init would reject the rendered user data: "
                f"{' '.join(str(exc).split())[:400]}.",
                "correct the keys the message names (see cloud-init's module docs for their form)",
            )
        )
