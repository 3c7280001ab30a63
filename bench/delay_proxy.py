"""A TCP proxy on loopback that delays every chunk by a fixed time in each
direction: a long-distance link where the kernel has no netem (this VM's
kernel is built without CONFIG_NET_SCH_NETEM). Python stdlib only.

Each direction of each connection holds at most WINDOW bytes in flight (read
from one side, not yet written to the other), like a TCP window on a real
long link: one connection then moves at most WINDOW / ONE_WAY_MS, which is
what parallel connections are for. WINDOW 0 = unbounded (latency only).

    python bench/delay_proxy.py LISTEN_PORT UPSTREAM_PORT ONE_WAY_MS [WINDOW_BYTES]
"""

from __future__ import annotations

import asyncio
import sys
import time


async def pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, window: int
) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
    in_flight = 0
    room = asyncio.Event()
    room.set()

    async def read() -> None:
        nonlocal in_flight
        while True:
            while window and in_flight >= window:
                room.clear()
                await room.wait()
            data = await reader.read(65536)
            in_flight += len(data)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                return

    async def write() -> None:
        nonlocal in_flight
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                try:
                    writer.write_eof()
                except OSError:
                    pass
                return
            writer.write(data)
            await writer.drain()
            in_flight -= len(data)
            room.set()

    await asyncio.gather(read(), write(), return_exceptions=True)


async def main(listen: int, upstream: int, delay: float, window: int) -> None:
    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            cw.close()
            return
        await asyncio.gather(
            pump(cr, uw, delay, window), pump(ur, cw, delay, window), return_exceptions=True
        )
        for w in (cw, uw):
            w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    window = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000.0, window))
