"""A stack's exported state (`pulumi stack export`): resources and pending operations.

An operation stays pending when the engine began it and never heard back: the process was
killed, or the provider call never returned. For a *create* the cloud may hold a resource the
state does not know; for an update or a delete the state still names the resource, so a refresh
settles it."""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from kuntapilvi.errors import KuntapilviError

CREATING = "creating"
IMPORTING = "importing"


@dataclass(frozen=True, slots=True)
class Urn:
    stack: str
    project: str
    type: str
    name: str

    @classmethod
    def parse(cls, urn: str) -> Urn:
        parts = urn.split("::")
        if len(parts) != 4 or not parts[0].startswith("urn:pulumi:"):
            raise KuntapilviError(f"'{urn}' is not a Pulumi URN")
        stack = parts[0].removeprefix("urn:pulumi:")
        return cls(stack, parts[1], parts[2].split("$")[-1], parts[3])


@dataclass(frozen=True, slots=True)
class PendingOp:
    kind: str
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    resource: dict[str, Any]
    """The raw resource record of the operation, as the engine wrote it."""

    @property
    def is_create(self) -> bool:
        return self.kind in (CREATING, IMPORTING)


def deployment(export: dict[str, Any]) -> dict[str, Any]:
    if "deployment" not in export:
        raise KuntapilviError("the stack export has no 'deployment'; is it a Pulumi state?")
    return export["deployment"] or {}


def pending_operations(export: dict[str, Any]) -> list[PendingOp]:
    ops = []
    for op in deployment(export).get("pending_operations") or []:
        res = op.get("resource") or {}
        urn = Urn.parse(res["urn"])
        ops.append(
            PendingOp(
                kind=str(op.get("type", "")),
                urn=res["urn"],
                type=res.get("type") or urn.type,
                name=urn.name,
                inputs=res.get("inputs") or {},
                resource=res,
            )
        )
    return ops


def known_ids(export: dict[str, Any]) -> set[str]:
    """Provider ids of every custom resource the state holds."""
    return {
        str(r["id"])
        for r in deployment(export).get("resources") or []
        if r.get("custom") and r.get("id")
    }


# Attributes the provider stores transformed (Terraform StateFunc) and never reads back from
# the cloud: an adopted resource must hold them the way a create would have, or the next `up`
# sees a difference where there is none (and a user_data difference replaces the server).
_STORED_AS_SHA1 = {"openstack:compute/instance:Instance": ("userData",)}


def adopted_record(op: PendingOp, cloud_id: str) -> dict[str, Any]:
    """The state record an uninterrupted create would have written, as far as the inputs tell;
    the refresh that follows fills in what only the cloud knows."""
    record = copy.deepcopy(op.resource)
    record["id"] = cloud_id
    record["custom"] = True
    # Engine bookkeeping in the inputs (`__defaults`) is no provider output.
    outputs = {k: copy.deepcopy(v) for k, v in op.inputs.items() if not k.startswith("__")}
    outputs.update(record.get("outputs") or {})
    for key in _STORED_AS_SHA1.get(op.type, ()):
        value = outputs.get(key)
        if isinstance(value, str) and value:
            outputs[key] = hashlib.sha1(value.encode()).hexdigest()
    outputs["id"] = cloud_id
    record["outputs"] = outputs
    return record


def apply(
    export: dict[str, Any], adopt: dict[str, str], clear: set[tuple[str, str]]
) -> dict[str, Any]:
    """A corrected export: pending creates in `adopt` (urn → id) become resources, operations
    in `clear` ((kind, urn) pairs) are dropped, everything else stays pending as it was."""
    fixed = copy.deepcopy(export)
    dep = deployment(fixed)
    ops = pending_operations(export)
    resources = dep.setdefault("resources", [])
    keep = []
    for op, raw in zip(ops, dep.get("pending_operations") or [], strict=True):
        if op.urn in adopt and op.is_create:
            # A create interrupted inside a create-before-delete replacement: the old resource
            # is still recorded under the same URN; mark it for deletion as the engine would
            # have, so the next `up` finishes the replacement instead of holding two.
            for old in resources:
                if old.get("urn") == op.urn and not old.get("delete"):
                    old["delete"] = True
            resources.append(adopted_record(op, adopt[op.urn]))
        elif (op.kind, op.urn) in clear:
            continue
        else:
            keep.append(raw)
    dep["pending_operations"] = keep
    return fixed
