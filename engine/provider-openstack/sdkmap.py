#!/usr/bin/env python3
"""Derive the OpenStack provider's token and property mapping from the installed Python SDK.

The provider kuntapilvi builds (engine/provider-openstack) bridges terraform-provider-openstack
directly. For the pulumi-openstack Python SDK pinned in pyproject.toml to work against it, every
type token, property name and list-versus-single-object shape the SDK sends must match what the
provider expects. This script reads them straight out of the SDK's source (with ``ast``; nothing
is imported or executed) and:

``scan``    writes the SDK's shape: resources, functions, nested types and provider config.
``map``     matches the shape against the Terraform schema outline (from the provider binary's
            ``-dump-tf``) and writes the mapping JSON the provider embeds. It fails if any token
            of the SDK has no Terraform resource or data source, or a property cannot be matched.
``verify``  checks a generated Pulumi package schema against the SDK shape and fails on any
            difference in tokens, property names or list shape.

Used by scripts/install-engine; run with any Python >= 3.11.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

# Python module names of the SDK <-> the module part of Terraform names.
TF_MODULE_ALIASES = {
    "lb": "loadbalancer",
    "fw": "firewall",
    "db": "database",
}

# Tokens whose names are not derivable from the Terraform name by the rules in match_members():
# spelling kept by the published SDK for compatibility. Terraform name -> SDK token.
EXPLICIT_RESOURCES = {
    "openstack_blockstorage_quotaset_v3": "openstack:blockstorage/quoteSetV3:QuoteSetV3",
    "openstack_objectstorage_object_v1": "openstack:objectstorage/containerObject:ContainerObject",
}
EXPLICIT_DATA_SOURCES = {
    "openstack_sharedfilesystem_availability_zones_v2":
        "openstack:sharedfilesystem/getAvailbilityZones:getAvailbilityZones",
    "openstack_loadbalancer_flavor_v2":
        "openstack:loadbalancer/getLbFlavorDeprecated:getLbFlavorDeprecated",
    "openstack_dns_zone_v2": "openstack:dns/getDnsZone:getDnsZone",
}


class MappingError(Exception):
    """The SDK and the Terraform schema cannot be reconciled; the message says where."""


# --------------------------------------------------------------------------------------------
# scan: the SDK's shape
# --------------------------------------------------------------------------------------------

_QUOTED = re.compile(r"'(?:outputs\.|_inputs\.)?([A-Za-z_][A-Za-z0-9_]*)'")
_WRAPPERS = ("pulumi.Output[", "pulumi.Input[", "Optional[")


def annotation_shape(annotation: ast.expr | None) -> dict[str, Any]:
    """Reduce a getter's return annotation to {list, map, ref}."""
    if annotation is None:
        return {"list": False, "map": False, "ref": None}
    text = ast.unparse(annotation).replace('"', "'")
    changed = True
    while changed:
        changed = False
        for w in _WRAPPERS:
            if text.startswith(w) and text.endswith("]"):
                text = text[len(w):-1]
                changed = True
    is_list = text.startswith("Sequence[")
    is_map = text.startswith("Mapping[")
    m = _QUOTED.search(text)
    return {"list": is_list, "map": is_map, "ref": m.group(1) if m else None}


def _is_getter(dec: ast.expr) -> tuple[bool, str | None]:
    target = dec.func if isinstance(dec, ast.Call) else dec
    if not (isinstance(target, ast.Attribute) and target.attr == "getter"):
        return False, None
    if isinstance(dec, ast.Call):
        for kw in dec.keywords:
            if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                return True, str(kw.value.value)
    return True, None


def class_props(cls: ast.ClassDef) -> dict[str, dict[str, Any]]:
    """Wire name -> shape, for every @pulumi.getter of a class."""
    props: dict[str, dict[str, Any]] = {}
    for node in cls.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            ok, name = _is_getter(dec)
            if ok:
                props[name or node.name] = annotation_shape(node.returns)
    return props


def _decorator_names(cls: ast.ClassDef) -> set[str]:
    names = set()
    for dec in cls.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def _resource_token(cls: ast.ClassDef) -> str | None:
    for node in ast.walk(cls):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "__init__"
            and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "super"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            return node.args[0].value
    return None


def _invoke_of(fn: ast.FunctionDef) -> tuple[str, str | None, list[str]] | None:
    token, result, args = None, None, []
    for node in ast.walk(fn):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("invoke", "invoke_output")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).startswith("openstack:")
        ):
            token = str(node.args[0].value)
            for kw in node.keywords:
                if kw.arg == "typ" and isinstance(kw.value, ast.Name):
                    result = kw.value.id
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Subscript)
            and isinstance(node.targets[0].value, ast.Name)
            and node.targets[0].value.id == "__args__"
            and isinstance(node.targets[0].slice, ast.Constant)
        ):
            args.append(str(node.targets[0].slice.value))
    return (token, result, args) if token else None


def scan_sdk(sdk_dir: Path) -> dict[str, Any]:
    """Read the SDK package folder (the one holding pulumi-plugin.json)."""
    plugin = json.loads((sdk_dir / "pulumi-plugin.json").read_text())
    resources: dict[str, Any] = {}
    functions: dict[str, Any] = {}
    types: dict[str, Any] = {}
    provider: dict[str, Any] = {}
    for path in sorted(sdk_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        # Nested type names repeat across service modules (compute and database both have an
        # InstanceNetwork), so types are keyed by folder: "compute/InstanceNetwork".
        folder = path.parent.relative_to(sdk_dir).as_posix()
        folder = "" if folder == "." else folder

        def qualify(props: dict[str, Any], folder: str = folder) -> dict[str, Any]:
            for shape in props.values():
                if shape["ref"]:
                    shape["ref"] = f"{folder}/{shape['ref']}"
            return props

        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                decs = _decorator_names(node)
                if "output_type" in decs or "input_type" in decs:
                    types[f"{folder}/{node.name}"] = qualify(class_props(node))
                    continue
                token = _resource_token(node)
                if token == "openstack":
                    provider["outputs"] = qualify(class_props(node))
                elif token and token.startswith("openstack:"):
                    resources[token] = {
                        "class": node.name,
                        "file": str(path.relative_to(sdk_dir)),
                        "props": qualify(class_props(node)),
                    }
            elif isinstance(node, ast.FunctionDef):
                inv = _invoke_of(node)
                if inv:
                    token, result, args = inv
                    entry = functions.setdefault(
                        token, {"file": str(path.relative_to(sdk_dir)), "args": [], "result": None}
                    )
                    entry["args"] = sorted(set(entry["args"]) | set(args))
                    entry["result"] = entry["result"] or (result and f"{folder}/{result}")
    provider["config"] = types.get("/ProviderArgs", {})
    provider["env"] = _provider_env_defaults(sdk_dir)
    return {
        "plugin": plugin,
        "resources": resources,
        "functions": functions,
        "types": types,
        "provider": provider,
    }


def _provider_env_defaults(sdk_dir: Path) -> dict[str, list[str]]:
    """Config keys whose SDK defaults come from environment variables (config/vars.py)."""
    path = sdk_dir / "config" / "vars.py"
    if not path.exists():
        return {}
    out: dict[str, list[str]] = {}
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        envs = [
            str(c.args[0].value)
            for c in ast.walk(node)
            if isinstance(c, ast.Call)
            and isinstance(c.func, ast.Attribute)
            and c.func.attr.startswith("get_env")
            and c.args
            and isinstance(c.args[0], ast.Constant)
        ]
        if envs:
            # the config key is the one read with __config__.get*('<key>')
            keys = [
                str(c.args[0].value)
                for c in ast.walk(node)
                if isinstance(c, ast.Call)
                and isinstance(c.func, ast.Attribute)
                and isinstance(c.func.value, ast.Name)
                and c.func.value.id == "__config__"
                and c.args
                and isinstance(c.args[0], ast.Constant)
            ]
            if keys:
                out[keys[0]] = envs
    return out


# --------------------------------------------------------------------------------------------
# map: SDK shape + Terraform outline -> mapping.json
# --------------------------------------------------------------------------------------------


def _norm(s: str) -> str:
    return s.replace("_", "").lower()


def _split_tf(tf_name: str) -> tuple[str, str, str]:
    """openstack_networking_secgroup_v2 -> (networking, secgroup_v2, secgroup)."""
    rest = tf_name.removeprefix("openstack_")
    mod, _, name = rest.partition("_")
    bare = re.sub(r"_v\d+$", "", name)
    return TF_MODULE_ALIASES.get(mod, mod), name, bare


def _split_token(token: str) -> tuple[str, str]:
    """openstack:networking/secGroup:SecGroup -> (networking, SecGroup)."""
    _, middle, name = token.split(":")
    return middle.split("/")[0], name


def match_members(
    tokens: list[str], tf_names: list[str], explicit: dict[str, str], functions: bool
) -> tuple[dict[str, str], dict[str, str], list[str], list[str]]:
    """Match SDK tokens to Terraform names.

    Returns (tf -> token, tf -> legacy token, unmatched tokens, unused tf names). A legacy token
    is a second, deprecated token of the same Terraform resource (the SDK keeps it in its
    "index" module next to the current one in a service module).
    """
    result: dict[str, str] = {}
    legacy: dict[str, str] = {}
    left = set(tokens)
    for tf, tok in explicit.items():
        if tok in left and tf in tf_names:
            result[tf] = tok
            left.discard(tok)

    def keys_of(tf: str) -> list[tuple[str, str]]:
        mod, name, bare = _split_tf(tf)
        full = tf.removeprefix("openstack_")
        full_bare = re.sub(r"_v\d+$", "", full)
        return [
            (mod, _norm(name)),
            (mod, _norm(bare)),
            ("index", _norm(full)),
            ("index", _norm(full_bare)),
        ]

    def key_of(tok: str) -> tuple[str, str]:
        mod, name = _split_token(tok)
        if functions:
            name = name.removeprefix("get")
        return mod, _norm(name)

    def build_index(names: list[str], exact: bool) -> dict[tuple[str, str], list[str]]:
        index: dict[tuple[str, str], list[str]] = {}
        for tf in names:
            ks = keys_of(tf)
            for k in ([ks[0], ks[2]] if exact else [ks[1], ks[3]]):
                index.setdefault(k, []).append(tf)
        return index

    # Pass 0 prefers an exact match (version suffix included), pass 1 allows the bare name.
    for exact in (True, False):
        index = build_index([t for t in tf_names if t not in result], exact)
        for tok in sorted(left):
            cands = [t for t in index.get(key_of(tok), []) if t not in result]
            if len(cands) == 1:
                result[cands[0]] = tok
        left -= set(result.values())

    # Whatever is left may be the second token of an already matched Terraform name.
    for exact in (True, False):
        index = build_index(list(result), exact)
        for tok in sorted(left):
            cands = [t for t in index.get(key_of(tok), []) if t not in legacy]
            if len(cands) != 1:
                continue
            tf = cands[0]
            current = result[tf]
            if _split_token(tok)[0] == "index" and _split_token(current)[0] != "index":
                legacy[tf] = tok
            elif _split_token(current)[0] == "index" and _split_token(tok)[0] != "index":
                legacy[tf], result[tf] = current, tok
            else:
                continue
            left.discard(tok)
    unused = sorted(t for t in tf_names if t not in result)
    return result, legacy, sorted(left), unused


def _singular_variants(name: str) -> set[str]:
    out = {name}
    if name.endswith("ies"):
        out.add(name[:-3] + "y")
    if name.endswith("es"):
        out.add(name[:-2])
    if name.endswith("s"):
        out.add(name[:-1])
    return out


def map_fields(
    tf_fields: dict[str, Any],
    py_props: dict[str, Any],
    sdk: dict[str, Any],
    where: str,
    problems: list[str],
) -> dict[str, Any]:
    """Override names and list shapes where the bridge default differs from the SDK."""
    out: dict[str, Any] = {}
    used: set[str] = set()
    pending: list[tuple[str, dict[str, Any]]] = []
    for tf, f in sorted(tf_fields.items()):
        if f["pulumi"] in py_props:
            used.add(f["pulumi"])
        else:
            pending.append((tf, f))
    for tf, f in pending:
        # Look for a free SDK property that is the same word up to case, underscores and plural.
        want = {_norm(v) for v in _singular_variants(_norm(tf))} | {_norm(f["pulumi"])}
        cands = [
            p
            for p in py_props
            if p not in used and (_singular_variants(_norm(p)) & want)
        ]
        if not cands:
            # e.g. Terraform "outputs" is "stackOutputs" in the SDK (a clash with a reserved
            # name); accept a unique free property that ends with the Terraform name.
            cands = [p for p in py_props if p not in used and _norm(p).endswith(_norm(tf))]
        if len(cands) == 1:
            out.setdefault(tf, {})["name"] = cands[0]
            used.add(cands[0])
        else:
            problems.append(f"{where}: Terraform field {tf!r} (default name {f['pulumi']!r}) "
                            f"has no property in the SDK (candidates: {cands})")
    for tf, f in tf_fields.items():
        name = out.get(tf, {}).get("name", f["pulumi"])
        prop = py_props.get(name)
        if prop is None:
            continue
        if f["type"] in ("list", "set"):
            flattened_by_default = f.get("maxItems") == 1
            sdk_flat = not prop["list"]
            if sdk_flat != flattened_by_default:
                out.setdefault(tf, {})["maxItemsOne"] = sdk_flat
        if f.get("fields") and prop.get("ref"):
            ref = prop["ref"]
            nested = sdk["types"].get(ref)
            if nested is None:
                problems.append(f"{where}.{name}: SDK type {ref!r} not found")
            else:
                sub = map_fields(f["fields"], nested, sdk, f"{where}.{name}", problems)
                if sub:
                    out.setdefault(tf, {})["fields"] = sub
    return out


def build_mapping(sdk: dict[str, Any], tf: dict[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    res_map, res_legacy, res_left, res_unused = match_members(
        list(sdk["resources"]), list(tf["resources"]), EXPLICIT_RESOURCES, functions=False
    )
    fn_map, fn_legacy, fn_left, fn_unused = match_members(
        list(sdk["functions"]), list(tf["dataSources"]), EXPLICIT_DATA_SOURCES, functions=True
    )
    for tok in res_left:
        problems.append(f"SDK resource {tok} matches no Terraform resource")
    for tok in fn_left:
        problems.append(f"SDK function {tok} matches no Terraform data source")

    mapping: dict[str, Any] = {
        "sdkVersion": sdk["plugin"]["version"],
        "resources": {},
        "dataSources": {},
        "config": {},
        "ignore": sorted(set(res_unused) | set(fn_unused)),
    }
    for tf_name, tok in sorted(res_map.items()):
        props = sdk["resources"][tok]["props"]
        fields = map_fields(tf["resources"][tf_name], props, sdk, tok, problems)
        entry = {"token": tok, "fields": fields}
        if tf_name in res_legacy:
            old = res_legacy[tf_name]
            if map_fields(tf["resources"][tf_name], sdk["resources"][old]["props"], sdk, old,
                          problems) != fields:
                problems.append(f"{old} and {tok} differ in shape; one mapping cannot serve both")
            entry["legacyToken"] = old
        mapping["resources"][tf_name] = entry
    def function_props(tok: str) -> dict[str, Any]:
        fn = sdk["functions"][tok]
        props = dict(sdk["types"].get(fn["result"] or "", {}))
        for a in fn["args"]:
            props.setdefault(a, {"list": False, "map": False, "ref": None})
        return props

    for tf_name, tok in sorted(fn_map.items()):
        fields = map_fields(tf["dataSources"][tf_name], function_props(tok), sdk, tok, problems)
        entry = {"token": tok, "fields": fields}
        if tf_name in fn_legacy:
            old = fn_legacy[tf_name]
            if map_fields(tf["dataSources"][tf_name], function_props(old), sdk, old,
                          problems) != fields:
                problems.append(f"{old} and {tok} differ in shape; one mapping cannot serve both")
            entry["legacyToken"] = old
        mapping["dataSources"][tf_name] = entry
    config = map_fields(tf["provider"], sdk["provider"]["config"], sdk, "provider", problems)
    for key, envs in sdk["provider"]["env"].items():
        tf_key = next((k for k, f in tf["provider"].items()
                       if config.get(k, {}).get("name", f["pulumi"]) == key), None)
        if tf_key:
            config.setdefault(tf_key, {})["envVars"] = envs
    mapping["config"] = config
    if problems:
        raise MappingError("\n".join(problems))
    return mapping


# --------------------------------------------------------------------------------------------
# verify: generated schema vs SDK shape
# --------------------------------------------------------------------------------------------


def _schema_shape(prop: dict[str, Any]) -> dict[str, Any]:
    t = prop.get("type")
    ref = prop.get("$ref")
    if t == "array":
        items = prop.get("items", {})
        return {"list": True, "map": False, "ref": items.get("$ref")}
    if t == "object" and "additionalProperties" in prop:
        return {"list": False, "map": True, "ref": prop["additionalProperties"].get("$ref")}
    return {"list": False, "map": False, "ref": ref}


def verify_schema(sdk: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    s_res = schema.get("resources", {})
    s_fns = schema.get("functions", {})
    s_types = schema.get("types", {})
    if schema.get("version") != sdk["plugin"]["version"]:
        problems.append(f"schema version {schema.get('version')!r} != SDK "
                        f"plugin version {sdk['plugin']['version']!r}")

    def type_props(ref: str | None) -> dict[str, Any] | None:
        if not ref or not ref.startswith("#/types/"):
            return None
        t = s_types.get(ref.removeprefix("#/types/"))
        return None if t is None else t.get("properties", {})

    def compare(where: str, py: dict[str, Any], sch: dict[str, Any], depth: int = 0) -> None:
        for name, shape in py.items():
            if name not in sch:
                problems.append(f"{where}: SDK property {name!r} missing from the schema")
                continue
            got = _schema_shape(sch[name])
            if got["list"] != shape["list"] or got["map"] != shape["map"]:
                problems.append(f"{where}.{name}: SDK list/map shape {shape} != schema {got}")
            nested_py = sdk["types"].get(shape["ref"] or "")
            nested_sch = type_props(got["ref"])
            if nested_py is not None and nested_sch is not None and depth < 8:
                compare(f"{where}.{name}", nested_py, nested_sch, depth + 1)

    for tok, r in sdk["resources"].items():
        if tok not in s_res:
            problems.append(f"resource {tok} missing from the schema")
            continue
        compare(tok, r["props"], s_res[tok].get("properties", {}))
    for tok, f in sdk["functions"].items():
        if tok not in s_fns:
            problems.append(f"function {tok} missing from the schema")
            continue
        outs = f["result"] and sdk["types"].get(f["result"])
        s_out = s_fns[tok].get("outputs", {}).get("properties", {})
        if outs:
            compare(tok, outs, s_out)
        s_in = s_fns[tok].get("inputs", {}).get("properties", {})
        for a in f["args"]:
            if a not in s_in:
                problems.append(f"{tok}: SDK argument {a!r} missing from the schema inputs")
    return problems


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scan")
    s.add_argument("--sdk", required=True, type=Path, help="the pulumi_openstack package folder")
    s.add_argument("--out", required=True, type=Path)
    m = sub.add_parser("map")
    m.add_argument("--shape", required=True, type=Path)
    m.add_argument("--tf", required=True, type=Path)
    m.add_argument("--out", required=True, type=Path)
    v = sub.add_parser("verify")
    v.add_argument("--shape", required=True, type=Path)
    v.add_argument("--schema", required=True, type=Path)
    args = ap.parse_args(argv)

    if args.cmd == "scan":
        shape = scan_sdk(args.sdk)
        args.out.write_text(json.dumps(shape, indent=1, sort_keys=True) + "\n")
        print(f"SDK {shape['plugin']['version']}: {len(shape['resources'])} resources, "
              f"{len(shape['functions'])} functions, {len(shape['types'])} types")
        return 0
    if args.cmd == "map":
        shape = json.loads(args.shape.read_text())
        tf = json.loads(args.tf.read_text())
        try:
            mapping = build_mapping(shape, tf)
        except MappingError as e:
            print(f"the SDK cannot be mapped onto the Terraform provider:\n{e}", file=sys.stderr)
            return 1
        args.out.write_text(json.dumps(mapping, indent=1, sort_keys=True) + "\n")
        print(f"mapped {len(mapping['resources'])} resources and "
              f"{len(mapping['dataSources'])} data sources; "
              f"{len(mapping['ignore'])} Terraform names are not in the SDK and stay unmapped")
        return 0
    shape = json.loads(args.shape.read_text())
    schema = json.loads(args.schema.read_text())
    problems = verify_schema(shape, schema)
    if problems:
        print("the generated schema differs from the SDK:\n" + "\n".join(problems),
              file=sys.stderr)
        return 1
    print(f"schema matches the SDK: {len(shape['resources'])} resources, "
          f"{len(shape['functions'])} functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
