import asyncio
from typing import Union

import wsconnector

feed = wsconnector.AsyncConnector(host="127.0.0.1", port=8081)


@feed.on_inbound_connection
async def welcome(socket: wsconnector.Socket) -> None:
    socket.subscribe("members")


@feed.on_inbound_message
async def on_message(socket: wsconnector.Socket, message: Union[str, bytes]) -> None:
    if message == "bye":
        socket.close(4000, "bye")
    else:
        await feed.broadcast(message, groups="members")  # awaitables never block the loop


async def main() -> None:
    await feed.start()
    print(f"listening on ws://127.0.0.1:{feed.port}/; Ctrl-C stops", flush=True)
    await feed.serve_forever()  # until stop(), Ctrl-C or SIGTERM; then every handler has run


asyncio.run(main())
