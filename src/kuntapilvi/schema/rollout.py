"""How a change rolls out to the fleet: canary owners, waves, concurrency and tolerance."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from kuntapilvi.schema.common import DnsLabel, StrictModel

TOLERANCE = re.compile(r"^(?P<n>\d+)(?P<pct>%)?$")


class RolloutPolicy(StrictModel):
    """Read by `kuntapilvi rollout`; changing it never changes a stack's fingerprint."""

    canary: list[DnsLabel] = Field(
        default_factory=list,
        description="Stacks of owners who volunteer to take every change first (wave 'canary')",
    )
    waves: list[Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=lambda: [10, 50, 100],
        description="Cumulative percentages of the remaining affected tenants per wave; "
        "the last must be 100",
    )
    concurrency: int = Field(default=4, ge=1, le=64, description="Stacks run at once per wave")
    parallel: int = Field(
        default=10, ge=1, le=256, description="pulumi --parallel per stack (resource operations)"
    )
    bake_seconds: int = Field(default=0, ge=0, le=86400, description="Wait after each wave")
    check: bool = Field(default=True, description="Run `kuntapilvi check` after each wave")
    failure_tolerance: Annotated[str, StringConstraints(pattern=r"^\d+%?$")] = Field(
        default="0",
        description="Failed stacks a rollout survives: a count ('2') or a percentage of the "
        "affected tenants ('5%'); one more halts it",
    )

    @model_validator(mode="after")
    def _waves(self) -> RolloutPolicy:
        if self.waves != sorted(self.waves) or self.waves[-1] != 100:
            raise ValueError("waves must be increasing percentages ending at 100")
        return self

    def tolerated(self, affected: int) -> int:
        match = TOLERANCE.match(self.failure_tolerance)
        assert match is not None  # schema pattern
        n = int(match.group("n"))
        return affected * n // 100 if match.group("pct") else n
