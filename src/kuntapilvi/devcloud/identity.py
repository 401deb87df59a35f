"""A devcloud's identity: a random id made with its state folder and gone with it.

Stacks applied to a devcloud record this id (see kuntapilvi.cloudguard), so a later run can
tell that the cloud its state describes has been reset or replaced, instead of believing
resources exist that vanished with the old databases.
"""

from __future__ import annotations

import uuid

from kuntapilvi.devcloud.paths import Paths


def ensure(paths: Paths) -> str:
    """The id of the devcloud in `paths`, made on first use."""
    path = paths.identity
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if not value:
        value = str(uuid.uuid4())
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(value + "\n")
        tmp.replace(path)
    return value


def read(paths: Paths) -> str | None:
    try:
        return paths.identity.read_text().strip() or None
    except FileNotFoundError:
        return None
