"""A TCP relay that delays each request: a vCenter further away.

``python -m bench.latency DELAY_MS PORT [PORT...]`` listens on a free
loopback port per target ``PORT`` (printed as ``LISTEN <port> -> <target>``
lines, then ``READY``) and relays both ways, holding every chunk the client
sends for DELAY_MS before passing it on (about one delay per HTTP
request: the requests are small). It runs in a process of its own so that
its work is not the measured client's. Stops on SIGTERM or end of stdin.
"""

import asyncio
import sys


async def _pipe(reader, writer, delay):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if delay:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def _handler(target, delay):
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(
                '127.0.0.1', target)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pipe(client_reader, server_writer, delay),
            _pipe(server_reader, client_writer, 0))
    return handle


async def _main(delay_ms, targets):
    servers = []
    for target in targets:
        server = await asyncio.start_server(
            _handler(target, delay_ms / 1000.0), '127.0.0.1', 0)
        servers.append(server)
        print('LISTEN %d -> %d' % (server.sockets[0].getsockname()[1],
                                   target), flush=True)
    print('READY', flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


if __name__ == '__main__':
    asyncio.run(_main(float(sys.argv[1]), [int(p) for p in sys.argv[2:]]))
