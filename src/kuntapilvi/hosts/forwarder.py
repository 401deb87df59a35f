"""A TCP forwarder from one bridge address to the apt proxy on 127.0.0.1 (stdlib only).

apt-cacher-ng binds its addresses once, at start. Binding it to the bridge addresses would mean
restarting it whenever a network appears, and apt in hosts already downloading fails during the
gap ("Unable to connect", not retried). So apt-cacher-ng listens on 127.0.0.1 alone and never
restarts, and each bridge gets one of these, started and stopped with the bridge.

Run as: python forwarder.py LISTEN_ADDR PORT TARGET_PORT
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

CHUNK = 1 << 16


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
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target_port: int
) -> None:
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        writer.close()
        return
    try:
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
    finally:
        for w in (writer, up_writer):
            with contextlib.suppress(Exception):
                w.close()


async def serve(listen: str, port: int, target_port: int) -> None:
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, target_port), host=listen, port=port, reuse_address=True
    )
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: forwarder.py LISTEN_ADDR PORT TARGET_PORT", file=sys.stderr)
        return 2
    listen, port, target = argv[0], int(argv[1]), int(argv[2])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(listen, port, target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
