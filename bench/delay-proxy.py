#!/usr/bin/env python3
"""Delaying TCP proxy on loopback, for bench/remote.sh where `tc netem` is missing.

    delay-proxy.py LISTEN_PORT UPSTREAM_PORT DELAY_MS

Each client connection gets one upstream connection to 127.0.0.1:UPSTREAM_PORT.
Bytes from the client are held DELAY_MS before they are sent upstream (in order),
bytes from the server go back at once: every HTTP request on a keep-alive
connection pays one round trip of DELAY_MS, as with netem splitting the RTT
across both directions. Bandwidth is not limited.
"""
import asyncio
import sys


async def client_to_server(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def sender():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    task = asyncio.create_task(sender())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((loop.time() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((0, None))
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def server_to_client(reader, writer):
    try:
        while True:
            data = await reader.read(1 << 20)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    try:
        writer.close()
    except OSError:
        pass


async def main():
    listen, upstream, delay_ms = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    delay = delay_ms / 1000.0

    async def handle(creader, cwriter):
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(
            client_to_server(creader, swriter, delay),
            server_to_client(sreader, cwriter),
        )
        for w in (swriter, cwriter):
            try:
                w.close()
            except OSError:
                pass

    server = await asyncio.start_server(handle, "127.0.0.1", listen, backlog=256)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
