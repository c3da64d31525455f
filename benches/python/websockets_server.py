"""The `websockets` library (asyncio, with its default permessage-deflate: 4 KiB windows,
memLevel 5, context kept) as a benchmark server, for the compressed rows' comparison: a message
is echoed to its sender; a socket on /fanout/recv is a receiver; a message on /fanout/trigger
is broadcast to every receiver (`websockets.broadcast`, which compresses for each connection).
Prints its port, then `--deflate 1` for the load client, once it accepts connections.

    python websockets_server.py [--port 0]
"""

import argparse
import asyncio

from websockets.asyncio.server import broadcast, serve

FANOUT_RECV_PATH = "/fanout/recv"
FANOUT_TRIGGER_PATH = "/fanout/trigger"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    receivers = set()

    async def handler(websocket) -> None:
        path = websocket.request.path
        if path == FANOUT_RECV_PATH:
            receivers.add(websocket)
            try:
                await websocket.wait_closed()
            finally:
                receivers.discard(websocket)
        elif path == FANOUT_TRIGGER_PATH:
            async for message in websocket:
                broadcast(receivers, message)
        else:
            async for message in websocket:
                await websocket.send(message)

    # No keepalive pings from the server side, as for picows; the default size limit raised
    # above the largest message measured.
    async with serve(handler, "127.0.0.1", args.port, ping_interval=None, max_size=1 << 24,
                     max_queue=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"{port} --deflate 1", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
