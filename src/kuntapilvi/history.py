"""When each tenant's service was first built (and removed): the input billing follows.

Billing follows cost-causation: a set-up fee falls in the month a service was really built, not
in the month a stack file says it should start. The dates come from what the cloud knows, read
at the edge (a JSON file, the fleet ledger, or `pulumi stack export`) and handed down as a
`BuildHistory`; nothing below the CLI reads files or runs Pulumi for it.

File form (UTF-8 JSON)::

    {"source": "pulumi stack export 2027-04-02", "as_of": "2027-04-02",
     "services": [
       {"tenant": "espoo", "service": "network.wan-link/wan-link", "built": "2026-02-10"},
       {"tenant": "lahti", "service": "office.print/print", "built": "2026-03-02",
        "removed": "2027-06-15", "size": null, "params": {}}
     ]}

`as_of` (optional) is the day the history is complete up to: a service it does not list was not
built by then, so it is projected no earlier than the next day. `service` is the service key
`<card id>/<instance name>` that `kuntapilvi plan` prints. `size` and `params` matter only for a
service no longer in the stack file (it is still billed up to the month it was removed, so the
price must be known).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.schema.common import DnsLabel, StrictModel


class BuildRecord(StrictModel):
    tenant: DnsLabel
    service: str = Field(pattern=r"^[a-z]+\.[a-z0-9-]+/[a-z0-9-]+$")
    built: dt.date
    removed: dt.date | None = None
    size: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _order(self) -> BuildRecord:
        if self.removed is not None and self.removed < self.built:
            raise ValueError("removed comes before built")
        return self

    @property
    def card_id(self) -> str:
        return self.service.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.service.split("/", 1)[1]


class _HistoryFile(StrictModel):
    source: str | None = None
    as_of: dt.date | None = None
    services: list[BuildRecord]


@dataclass(frozen=True, slots=True)
class BuildHistory:
    """First-built (and removed) dates per tenant and service key."""

    records: Mapping[tuple[str, str], BuildRecord] = field(default_factory=dict)
    source: str = "none"
    # The day the history is complete up to: a service it does not list was not built by then.
    as_of: dt.date | None = None

    def get(self, tenant: str, service_key: str) -> BuildRecord | None:
        return self.records.get((tenant, service_key))

    def for_tenant(self, tenant: str) -> list[BuildRecord]:
        return [r for (t, _), r in self.records.items() if t == tenant]

    def merged(self, other: BuildHistory) -> BuildHistory:
        """Both histories; where both know a service, the earlier build wins."""
        records = dict(self.records)
        for key, rec in other.records.items():
            mine = records.get(key)
            if mine is None or rec.built < mine.built:
                records[key] = rec
        days = [d for d in (self.as_of, other.as_of) if d is not None]
        return BuildHistory(records, f"{self.source} + {other.source}", min(days, default=None))

    @classmethod
    def of(
        cls, records: Iterable[BuildRecord], source: str, as_of: dt.date | None = None
    ) -> BuildHistory:
        by_key: dict[tuple[str, str], BuildRecord] = {}
        for rec in records:
            key = (rec.tenant, rec.service)
            if key in by_key:
                raise KuntapilviError(
                    f"{source}: {rec.tenant} {rec.service} is listed twice; keep one record per "
                    "tenant and service (the first build, and its removal if any)"
                )
            by_key[key] = rec
        return cls(by_key, source, as_of)

    @classmethod
    def load(cls, path: Path) -> BuildHistory:
        """Read the JSON file form; a bad file is one clear error naming file and field."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KuntapilviError(
                f"{path}: no such build history file. Fix: give the path of a JSON file "
                "written by the fleet ledger or 'kuntapilvi invoice --from-state'"
            ) from None
        except json.JSONDecodeError as exc:
            raise KuntapilviError(
                f"{path}:{exc.lineno}: not valid JSON ({exc.msg}). Fix: correct the JSON syntax"
            ) from None
        try:
            parsed = _HistoryFile.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise KuntapilviError(
                f"{path}: {where}: {first['msg']}. Fix: see the file form in "
                "docs/billing.md (tenant, service '<card>/<name>', built YYYY-MM-DD)"
            ) from None
        return cls.of(parsed.services, parsed.source or str(path), parsed.as_of)

    def dump(self) -> str:
        rows = [
            r.model_dump(mode="json", exclude_defaults=True)
            for _, r in sorted(self.records.items())
        ]
        head: dict[str, Any] = {"source": self.source}
        if self.as_of is not None:
            head["as_of"] = self.as_of.isoformat()
        return json.dumps({**head, "services": rows}, indent=2) + "\n"


def _service_of(resource: Mapping[str, Any]) -> str | None:
    """The service name a resource of our program was tagged with, if any."""
    for bag in (resource.get("outputs") or {}, resource.get("inputs") or {}):
        for tag in bag.get("tags") or []:
            if isinstance(tag, str) and tag.startswith("kuntapilvi-service="):
                return tag.split("=", 1)[1]
        meta = bag.get("metadata") or {}
        if isinstance(meta, dict) and meta.get("kuntapilvi-service"):
            return str(meta["kuntapilvi-service"])
    return None


def _created(resource: Mapping[str, Any]) -> dt.date | None:
    stamp = resource.get("created")
    if not isinstance(stamp, str):
        return None
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def from_state(
    tenant: str, export: Mapping[str, Any], keys: Mapping[str, str], as_of: dt.date | None = None
) -> BuildHistory:
    """Build dates from a `pulumi stack export` document of one tenant stack.

    `keys` maps a service's instance name to its service key. The first build of a service is
    the earliest `created` stamp of the resources tagged with it. State knows only what exists
    now, so it never says when a service was removed; the fleet ledger does."""
    resources = (export.get("deployment") or {}).get("resources") or []
    first: dict[str, dt.date] = {}
    for res in resources:
        name = _service_of(res)
        day = _created(res)
        if name is None or day is None or name not in keys:
            continue
        key = keys[name]
        if key not in first or day < first[key]:
            first[key] = day
    records = [BuildRecord(tenant=tenant, service=k, built=d) for k, d in sorted(first.items())]
    return BuildHistory.of(records, f"pulumi stack export {tenant}", as_of)
