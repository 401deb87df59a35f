"""Run the real program in-process under Pulumi's mocks and record what it registers.

This is how `plan` knows which resources each card creates without a cloud or an engine: the
same modules run, only the engine is replaced, so the plan cannot drift from the program."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pulumi

from kuntapilvi.errors import InvalidInput
from kuntapilvi.project import ProjectPaths
from kuntapilvi.settings import Settings


@dataclass(frozen=True, slots=True)
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None


@dataclass(slots=True)
class RecordingMocks(pulumi.runtime.Mocks):
    """Answers the engine's questions with plausible values and remembers every resource."""

    centre_regions: dict[str, Any]
    resources: list[Recorded] = field(default_factory=list)
    _addresses: int = 10

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            return f"{args.name}-id", {
                "name": args.name,
                "outputs": {"regions": self.centre_regions},
            }
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), args.provider))
        if args.typ == "openstack:networking/port:Port":
            self._addresses += 1
            state["allFixedIps"] = [f"192.0.2.{self._addresses % 250}"]
        if args.typ == "openstack:networking/floatingIp:FloatingIp":
            state["address"] = f"198.51.100.{100 + len(self.resources) % 150}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        if args.token == "openstack:identity/getAuthScope:getAuthScope":
            return {"userId": "operator-user-id", "name": "operator"}, []
        if args.token == "openstack:identity/getRole:getRole":
            return {"id": f"role-{args.args.get('name')}", "name": args.args.get("name")}, []
        return {}, []


def mock_centre_regions(model_cards: Any, centre: Any) -> dict[str, Any]:
    from kuntapilvi.flavors import catalogue_flavors

    flavors = {name: f"flavor-{name}" for name in catalogue_flavors(model_cards)}
    return {
        r.id: {
            "external_network_id": f"ext-{r.id}",
            "external_network_name": r.external_network.name,
            "wan_network_id": f"wan-{r.id}",
            "flavor_ids": flavors,
            "image_ids": {i.id: f"image-{i.id}" for i in centre.images},
        }
        for r in centre.regions
    }


def dry_run(
    paths: ProjectPaths, stack: str, today: str | None = None, settings: Settings | None = None
) -> RecordingMocks:
    """Register the stack's resources under mocks; raise InvalidInput on invalid input.

    The run depends on its arguments only: `settings` default to every default (not the
    caller's environment), and nothing is left behind in os.environ."""
    from kuntapilvi import program
    from kuntapilvi.validate import validate

    model = validate(paths, [stack]).model
    recorder = RecordingMocks(mock_centre_regions(model.cards, model.centre))
    settings = settings or Settings.defaults()
    if today is not None:
        settings = settings.model_copy(update={"today": dt.date.fromisoformat(today)})
    pulumi.runtime.set_mocks(recorder, project="kuntapilvi", stack=stack, preview=False)

    @pulumi.runtime.test
    def program_under_mocks() -> None:
        program.run(settings, paths, mocks=True)

    try:
        program_under_mocks()
    except pulumi.RunError as exc:
        # The program refuses a stack with errors, as the engine would: a user mistake.
        raise InvalidInput(f"stack '{stack}' cannot be planned: {exc}") from None
    return recorder
