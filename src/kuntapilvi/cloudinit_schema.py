"""cloud-init's own schema validator, when cloud-init is on this machine.

Debian's cloud-init package is used from the system when importable, else from the copy the test
tier unpacks into the cache (tests/unit/test_cloud_init_schema.py). Nothing is downloaded here:
without either, user data is still parsed as YAML, only not checked against the schema."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kuntapilvi.project import cache_root

Validator = Callable[[dict[str, Any]], None]


def _candidates() -> list[Path]:
    return [
        Path("/usr/lib/python3/dist-packages"),
        cache_root() / "cloud-init" / "root" / "usr" / "lib" / "python3" / "dist-packages",
    ]


@functools.cache
def validator() -> Validator | None:
    """A function that raises on a cloud-config cloud-init would reject, or None."""
    for folder in _candidates():
        if not (folder / "cloudinit" / "config" / "schema.py").is_file():
            continue
        added = str(folder) not in sys.path
        if added:
            sys.path.append(str(folder))
        try:
            from cloudinit.config.schema import get_schema, validate_cloudconfig_schema
        except Exception:  # a cloud-init that does not import is no validator
            continue
        finally:
            if added:
                sys.path.remove(str(folder))
        schema = get_schema()
        return lambda cfg: validate_cloudconfig_schema(cfg, schema, strict=True)
    return None
