"""pytest plugin for the generic card checks (test_cards.py): options, the plan, connections.

Loaded with `-p kuntapilvi.checks.plugin`. At configure time it reads the inventory file
(inventory.write_inventory) and the catalogue of the project named there, and turns them into
one Case per (server, check); test_cards.py parametrises over those cases. A server that cannot
be reached fails every one of its checks with the reason: nothing is ever skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kuntapilvi.catalogue import load_catalogue
from kuntapilvi.checks.cardchecks import Check, PlaceholderError, baseline_checks, host_checks
from kuntapilvi.checks.connect import connect, describe_error
from kuntapilvi.checks.inventory import InventoryHost, read_inventory
from kuntapilvi.project import ProjectPaths


@dataclass(frozen=True)
class Case:
    """One check on one server. ERROR, when set, is why the check cannot even be built; the
    case then fails with it."""

    host: InventoryHost
    check: Check
    error: str | None = None

    @property
    def id(self) -> str:
        return f"{self.host.name}:{self.check.label}"


PLAN = pytest.StashKey[list[Case]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kuntapilvi", "kuntapilvi card checks")
    group.addoption("--kp-inventory", help="inventory file written by kuntapilvi check")
    group.addoption("--kp-connect-timeout", type=float, default=15.0, help="SSH connect, s")
    group.addoption("--kp-command-timeout", type=float, default=120.0, help="one command, s")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("kp_inventory")
    if path:
        config.stash[PLAN] = plan(Path(path))


def plan(inventory: Path) -> list[Case]:
    """Every (server, check) pair of the inventory, in the order they run."""
    project, hosts = read_inventory(inventory)
    catalogue, _ = load_catalogue(ProjectPaths(project))
    cases: list[Case] = []
    for host in hosts:
        if host.problems:
            # The server is not what the stack asks for: say so, and check only the baseline.
            mismatch = "; ".join(host.problems)
            cases.append(Case(host, Check("stack", "server matches the stack"), mismatch))
            cases += [Case(host, c) for c in baseline_checks()]
            continue
        card = catalogue.cards.get(host.card)
        if card is None:
            missing = f"card {host.card} is not in catalog/cards/ (or does not load)"
            cases.append(Case(host, Check("card", host.card), missing))
            cases += [Case(host, c) for c in baseline_checks()]
            continue
        try:
            cases += [Case(host, c) for c in host_checks(card, host.context)]
        except PlaceholderError as exc:
            cases += [Case(host, c) for c in baseline_checks()]
            cases.append(Case(host, Check("card", host.card), f"{host.card}: {exc}"))
    return cases


class Connections:
    """One SSH connection per server for the whole run; a failure is kept, not retried, so an
    unreachable server costs one time-out, not one per check."""

    def __init__(self, connect_timeout: float, command_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._hosts: dict[str, Any] = {}
        self._errors: dict[str, str] = {}

    def get(self, host: InventoryHost) -> Any:
        if host.name in self._errors:
            # Said in full once, by the host's first check; the others point there.
            pytest.fail(
                f"not checked: {host.name} ({host.address}) could not be reached over SSH "
                "(see its 'reachable' check)",
                pytrace=False,
            )
        if host.name not in self._hosts:
            try:
                if host.login is None:
                    raise ValueError("the inventory gives no SSH login for it")
                self._hosts[host.name] = connect(
                    host.address, host.login, self.connect_timeout, self.command_timeout
                )
            except Exception as exc:
                trust = f" (host key trust: {host.login.trust})" if host.login else ""
                self._errors[host.name] = (
                    f"cannot reach {host.name} ({host.address}) over SSH: "
                    f"{describe_error(exc)}{trust}"
                )
            if host.name in self._errors:  # failed outside the except: no chained traceback
                pytest.fail(self._errors[host.name], pytrace=False)
        return self._hosts[host.name]

    def close(self) -> None:
        for h in self._hosts.values():
            with contextlib.suppress(Exception):
                h.backend.close()


@pytest.fixture(scope="session")
def connections(request: pytest.FixtureRequest) -> Iterator[Connections]:
    conns = Connections(
        request.config.getoption("kp_connect_timeout"),
        request.config.getoption("kp_command_timeout"),
    )
    yield conns
    conns.close()


def pytest_itemcollected(item: pytest.Item) -> None:
    # Host, card and check travel with the report (and into JUnit XML as properties), so the
    # table and CI can group by them without parsing test ids.
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("case") if callspec else None
    if isinstance(case, Case):
        item.user_properties += [
            ("host", case.host.name),
            ("address", case.host.address),
            ("card", case.host.card),
            ("kind", case.check.kind),
            ("check", case.check.target),
        ]
