"""What a rule sees of a resource, and the catalogue and stack facts it is judged by."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuntapilvi.catalogue import load_catalogue
from kuntapilvi.flavors import catalogue_flavors
from kuntapilvi.project import ProjectPaths
from kuntapilvi.schema.tagnames import PREFIX
from kuntapilvi.stacks import CentreStack, TenantStack, load_stack, stack_files, stack_path

TENANT_TAG = f"{PREFIX}-tenant"
CARD_TAG = f"{PREFIX}-card"
CENTRE_TAG = f"{PREFIX}-centre"


class Computed:
    """A value the engine cannot know yet (during preview it depends on another resource's
    output). Rules judge only what is known, and say so where that matters."""

    _instance: Computed | None = None

    def __new__(cls) -> Computed:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "COMPUTED"


COMPUTED = Computed()


@dataclass(frozen=True)
class Resource:
    type: str
    """The type token, e.g. openstack:networking/secGroupRule:SecGroupRule."""
    name: str
    urn: str
    props: Mapping[str, Any]
    """Input properties by their engine (camelCase) names; COMPUTED where unknown."""
    provider_urn: str | None = None
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Property name -> URNs of the resources its value was computed from."""

    @property
    def kind(self) -> str:
        """The short type name people know, e.g. SecGroupRule."""
        return self.type.rsplit(":", 1)[-1]

    @property
    def stack(self) -> str:
        return stack_of(self.urn)


def stack_of(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<type>::<name> -> <stack>."""
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


@dataclass(frozen=True)
class CatalogueFacts:
    """What the catalogue allows: its card ids, the flavors its server sizes make, the images
    and regions of centre.yaml. Loaded with the project's own loader, so there is one source of
    truth for the program, `kuntapilvi validate` and the policy pack."""

    cards: frozenset[str]
    flavors: frozenset[str]
    images: frozenset[str]
    regions: frozenset[str]


@dataclass(frozen=True)
class StackFacts:
    name: str
    kind: str
    """'tenant', 'centre', or 'unknown' when stacks/Pulumi.<name>.yaml does not load."""
    tenants: frozenset[str] = frozenset()
    """Every tenant stack of the project, this one included."""


def load_catalogue_facts(paths: ProjectPaths) -> CatalogueFacts:
    catalogue, _ = load_catalogue(paths)
    centre = catalogue.centre
    return CatalogueFacts(
        cards=frozenset(catalogue.cards),
        flavors=frozenset(catalogue_flavors(catalogue.cards)),
        images=frozenset(i.name for i in centre.images) if centre else frozenset(),
        regions=frozenset(r.id for r in centre.regions) if centre else frozenset(),
    )


def load_stack_facts(paths: ProjectPaths, name: str) -> StackFacts:
    path: Path = stack_path(paths, name)
    stack = load_stack(path, paths, []) if path.is_file() else None
    tenants = frozenset(
        s.name for f in stack_files(paths) if isinstance(s := load_stack(f, paths, []), TenantStack)
    )
    kind = (
        "tenant"
        if isinstance(stack, TenantStack)
        else "centre"
        if isinstance(stack, CentreStack)
        else "unknown"
    )
    return StackFacts(name=name, kind=kind, tenants=tenants)


def known(value: Any) -> bool:
    return value is not COMPUTED


def tag_values(resource: Resource) -> dict[str, set[str]] | None:
    """The resource's kuntapilvi facts as key -> values: from `tags` (key=value strings) and
    from `metadata` (a dict). None when they are not known yet."""
    out: dict[str, set[str]] = {}
    tags = resource.props.get("tags")
    metadata = resource.props.get("metadata")
    if tags is COMPUTED or metadata is COMPUTED:
        return None
    for tag in tags or ():
        if isinstance(tag, str) and "=" in tag:
            key, value = tag.split("=", 1)
            out.setdefault(key, set()).add(value)
    if isinstance(metadata, Mapping):
        for key, value in metadata.items():
            if isinstance(value, str):
                out.setdefault(key, set()).add(value)
    return out


def plain(value: Any, unknown: frozenset[str]) -> Any:
    """Props as pulumi-policy hands them over (proxies that raise on unknown values) turned
    into plain dicts and lists, with COMPUTED where the engine sent one of the `unknown`
    sentinel strings. Rules then decide for themselves what an unknown value means, instead of
    being skipped with an advisory note whenever they touch one."""
    if isinstance(value, str):
        return COMPUTED if value in unknown else value
    if isinstance(value, Mapping):
        target = _unwrapped(value)
        return {key: plain(target[key], unknown) for key in target}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [plain(item, unknown) for item in _unwrapped(value)]
    return value


def _unwrapped(proxy: Any) -> Any:
    # pulumi-policy's proxies hand out the wrapped container under this key (proxy.py).
    try:
        return proxy["__target"]
    except (KeyError, TypeError, IndexError):
        return proxy


@functools.cache
def input_params(type_token: str) -> frozenset[str]:
    """The input properties (snake_case) of an OpenStack resource type, read from the pinned
    pulumi_openstack SDK: the provider binary is built to that SDK's schema (install-engine
    checks it), so this is what the program can set and the cloud API can store. Empty for
    types that are not OpenStack resources."""
    pkg, _, rest = type_token.partition(":")
    if pkg != "openstack" or ":" not in rest:
        return frozenset()
    module_path, class_name = rest.split(":", 1)
    group = module_path.split("/", 1)[0]
    module = "pulumi_openstack" if group == "index" else f"pulumi_openstack.{group}"
    try:
        cls = getattr(importlib.import_module(module), class_name)
        params = inspect.signature(cls._internal_init).parameters
    except (ImportError, AttributeError, ValueError):
        return frozenset()
    return frozenset(params) - {"__self__", "resource_name", "opts", "__props__"}
