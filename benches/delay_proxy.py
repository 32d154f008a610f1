#!/usr/bin/env python3
"""A TCP proxy that delays every chunk by a fixed time in each direction: a
network between the bridge and PostgreSQL on one machine (no `netem` here).

    python3 benches/delay_proxy.py LISTEN_PORT TARGET_PORT DELAY_MS

Point the bridge at postgres://user@127.0.0.1:LISTEN_PORT/db. Chunks keep
their order; each leaves DELAY_MS after it arrived, so a round trip costs
twice the delay plus this script's own scheduling (a fraction of a ms).
"""
import asyncio
import sys


async def pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                writer.close()
                return
            writer.write(data)
            await writer.drain()

    delivering = asyncio.create_task(deliver())
    while True:
        data = await reader.read(65536)
        queue.put_nowait((loop.time() + delay, data))
        if not data:
            break
    await delivering


async def main(listen, target, delay):
    async def handle(client_r, client_w):
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(
            pipe(client_r, server_w, delay),
            pipe(server_r, client_w, delay),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000))
