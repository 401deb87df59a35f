"""Every module key a card may name is built by some family component."""

from __future__ import annotations

import re
import typing

from kuntapilvi.schema.card import Module
from tests.conftest import REPO


def test_every_card_module_is_picked_up_by_a_component() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "modules").glob("*.py"))
    picked = set(re.findall(r'by_module\("([a-z.-]+)"\)', code))
    assert set(typing.get_args(Module)) <= picked, set(typing.get_args(Module)) - picked
