"""One `devcloud up` at a time per state folder.

Two concurrent `up`s would race on the same one-time steps (MariaDB's data folder, schema
migrations, cell creation) and could leave a half-configured service behind. An advisory
`flock` is released by the kernel when its holder dies, so a killed `up` never blocks the next.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.paths import Paths


@contextlib.contextmanager
def held(paths: Paths) -> Iterator[None]:
    lockfile = paths.run / "up.lock"
    lockfile.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lockfile, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DevcloudError(
                f"Another `kuntapilvi devcloud up` (pid {holder}) is already running for "
                f"{paths.state}; wait for it to finish, or stop it and run `up` again "
                "(a killed `up` is safe to repeat)."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
