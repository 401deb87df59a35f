"""A TCP forwarder from one bridge address to the apt proxy on 127.0.0.1 (stdlib only).

apt-cacher-ng binds its addresses once, at start. Binding it to the bridge addresses would mean
restarting it whenever a network appears, and apt in hosts already downloading fails during the
gap ("Unable to connect", not retried). So apt-cacher-ng listens on 127.0.0.1 alone and never
restarts, and each bridge gets one of these, started and stopped with the bridge.

When the hosts run in a network namespace of their own (scripts/isolated), apt-cacher-ng runs in the
namespace that reaches the Debian mirror (the "uplink"); the forwarder then listens in its own
namespace and opens each upstream connection in the uplink one (setns on the calling thread only,
around socket creation: a socket belongs to the namespace it was made in).

Run as: python forwarder.py LISTEN_ADDR PORT TARGET_PORT [UPLINK_NETNS_PATH]
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import sys
from collections.abc import Iterator

CHUNK = 1 << 16
CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


@contextlib.contextmanager
def in_netns(path: str | None) -> Iterator[None]:
    """Run the block in the network namespace at PATH (None: stay where we are)."""
    if not path:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(path, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def uplink_socket(path: str | None) -> socket.socket:
    """A TCP socket that lives in the uplink namespace (or this one)."""
    with in_netns(path):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        # Pass the end of this direction on, so the other side sees it as from a direct peer.
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def _handle(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    target_port: int,
    uplink: str | None,
) -> None:
    try:
        sock = uplink_socket(uplink)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", target_port))
        except OSError:
            sock.close()
            raise
        up_reader, up_writer = await asyncio.open_connection(sock=sock)
    except OSError:
        writer.close()
        return
    try:
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    finally:
        for w in (writer, up_writer):
            with contextlib.suppress(Exception):
                w.close()


async def serve(listen: str, port: int, target_port: int, uplink: str | None = None) -> None:
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, target_port, uplink),
        host=listen,
        port=port,
        reuse_address=True,
    )
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print("usage: forwarder.py LISTEN_ADDR PORT TARGET_PORT [UPLINK_NETNS]", file=sys.stderr)
        return 2
    listen, port, target = argv[0], int(argv[1]), int(argv[2])
    uplink = argv[3] if len(argv) == 4 else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(listen, port, target, uplink))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
