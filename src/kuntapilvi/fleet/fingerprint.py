"""A stack's fingerprint: a hash of every input that decides what `pulumi up` would do to it.

Components are kept apart (the request, each card, each rendered template, the centre, the
code, the engine) so that a changed fingerprint can say which input moved. Prices are hashed
separately: a price-only change moves the bill, not the resources.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuntapilvi.costs import tenant_costs
from kuntapilvi.model import Model, Tenant
from kuntapilvi.render import render
from kuntapilvi.schema.card import Card
from kuntapilvi.servicecontext import userdata_context

# Code the Pulumi program and the policy pack run; the CLI and the local-cloud tools are not.
CODE_GLOBS = (
    "__main__.py",
    "Pulumi.yaml",
    "modules/**/*.py",
    "policy/**/*",
    "src/kuntapilvi/*.py",
    "src/kuntapilvi/rules/**/*.py",
    "src/kuntapilvi/schema/**/*.py",
    "src/kuntapilvi/policies/**/*.py",
)
ENGINE_GLOBS = ("engine/**/*",)
PIN = re.compile(r'"(pulumi(?:-openstack|-policy)?)==([^"]+)"')
# Card fields that only describe the price; moving them is a billing change.
PRICE_FIELDS = frozenset({"monthly_eur", "setup_fee_eur"})
# Centre fields that are people or rollout settings, not infrastructure.
CENTRE_NON_INFRA = frozenset({"rollout", "account_managers", "catalogue_editors", "name"})


def digest(value: Any) -> str:
    data = value if isinstance(value, bytes) else json.dumps(value, sort_keys=True, default=str)
    raw = data if isinstance(data, bytes) else data.encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def _files(root: Path, globs: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pattern in globs:
        for path in root.glob(pattern):
            if path.is_file() and "__pycache__" not in path.parts:
                out[path.relative_to(root).as_posix()] = digest(path.read_bytes())
    return dict(sorted(out.items()))


def _without_prices(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_prices(v) for k, v in value.items() if k not in PRICE_FIELDS}
    if isinstance(value, list):
        return [_without_prices(v) for v in value]
    return value


def card_digest(card: Card) -> str:
    data = card.model_dump(mode="json", exclude={"pricing"})
    return digest(_without_prices(data))


@dataclass(frozen=True, slots=True)
class Shared:
    """Inputs every stack shares, hashed once per revision."""

    code_files: dict[str, str]
    engine: dict[str, str]
    centre: str
    cards: dict[str, str]
    flavors: str

    @property
    def code(self) -> str:
        return digest(self.code_files)

    @property
    def engine_digest(self) -> str:
        return digest(self.engine)


def shared_inputs(root: Path, model: Model) -> Shared:
    pyproject = root / "pyproject.toml"
    pins = dict(PIN.findall(pyproject.read_text(encoding="utf-8"))) if pyproject.is_file() else {}
    engine = {**{f"pin:{k}": v for k, v in pins.items()}, **_files(root, ENGINE_GLOBS)}
    centre = model.centre.model_dump(mode="json", exclude=set(CENTRE_NON_INFRA))
    cards = {cid: card_digest(card) for cid, card in model.cards.items()}
    # What the centre stack reads from the cards: one flavor per server size (modules/centre.py;
    # not imported here, it loads the provider SDK).
    flavors = sorted(
        {
            (size.vcpu, size.ram_gb, size.disk_gb)
            for card in model.cards.values()
            if card.server is not None and card.status != "draft"
            for size in card.sizes.values()
        }
    )
    return Shared(_files(root, CODE_GLOBS), engine, digest(centre), cards, digest(flavors))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    stack: str
    components: dict[str, str]
    billing: str = ""
    monthly: str = "0"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> str:
        return digest(self.components)

    def differences(self, other: dict[str, str] | None) -> list[str]:
        """Component names that differ from a recorded set (added, removed or changed)."""
        if other is None:
            return []
        names = set(self.components) | set(other)
        return sorted(n for n in names if self.components.get(n) != other.get(n))


def _request(tenant: Tenant, day: dt.date) -> dict[str, Any]:
    return {
        "owner": tenant.owner.id,
        "owner_name": tenant.owner.name,
        "region": tenant.region.id,
        "block": str(tenant.block),
        "domain": tenant.domain,
        "services": [
            {
                "card": s.card.id,
                "name": s.name,
                "size": s.size_name,
                "params": s.params,
                # Staged adoption: a service is provisioned once its start day has come.
                "active": s.active_on(day),
            }
            for s in tenant.services
        ],
    }


def tenant_fingerprint(model: Model, tenant: Tenant, shared: Shared, day: dt.date) -> Fingerprint:
    components = {
        "request": digest(_request(tenant, day)),
        "centre": shared.centre,
        "code": shared.code,
        "engine": shared.engine_digest,
    }
    rendered: dict[str, list[str]] = {}
    for service in tenant.services:
        components[f"card:{service.card.id}"] = shared.cards[service.card.id]
        server = service.card.server
        if server is None or not service.active_on(day) or service.card.host_checks is None:
            continue
        text = render(
            model.catalogue.paths.templates,
            server.template,
            userdata_context(model, tenant, service),
        )
        rendered.setdefault(server.template, []).append(text)
    for template, texts in rendered.items():
        components[f"template:{template}"] = digest(texts)
    costs = tenant_costs(tenant, model.price_list)
    billing = digest([(c.service.key, str(c.monthly), c.months, str(c.setup_fee)) for c in costs])
    monthly = str(sum((c.monthly for c in costs), start=0))
    return Fingerprint(tenant.stack, components, billing, monthly)


def centre_fingerprint(stack: str, model: Model, shared: Shared) -> Fingerprint:
    request = model.centre_stacks[stack].request.model_dump(mode="json")
    # The centre makes flavors from the server cards' sizes and images from centre.yaml.
    components = {
        "request": digest(request),
        "centre": shared.centre,
        "flavors": shared.flavors,
        "code": shared.code,
        "engine": shared.engine_digest,
    }
    return Fingerprint(stack, components)


def fingerprints(root: Path, model: Model, day: dt.date) -> dict[str, Fingerprint]:
    shared = shared_inputs(root, model)
    out = {name: centre_fingerprint(name, model, shared) for name in model.centre_stacks}
    for name, tenant in model.tenants.items():
        out[name] = tenant_fingerprint(model, tenant, shared, day)
    return out
