#!/usr/bin/env python3
"""pk-delay.py — a TCP relay that makes one direction late, to play a lagging clone.

    pk-delay.py LISTEN_PORT TARGET_PORT DELAY_MS

Accepts on 127.0.0.1:LISTEN_PORT and connects each connection to 127.0.0.1:TARGET_PORT at
once (so connection order is kept); bytes from the target (and its EOF) reach the client
DELAY_MS late; bytes from the client pass at once.  Runs until killed.
"""
import asyncio
import sys


async def pipe(reader, writer, delay):
    try:
        while True:
            data = await reader.read(65536)
            if delay:
                await asyncio.sleep(delay)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def handle(creader, cwriter, target, delay):
    try:
        treader, twriter = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        cwriter.close()
        return
    await asyncio.gather(pipe(creader, twriter, 0), pipe(treader, cwriter, delay))
    cwriter.close()
    twriter.close()


async def main():
    port, target, delay = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) / 1000.0
    server = await asyncio.start_server(lambda r, w: handle(r, w, target, delay), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
