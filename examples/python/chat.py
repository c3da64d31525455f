"""Chat server: rooms are groups. A client joins a room by sending ``/join ROOM``; every other
message goes to everyone in the sender's room.

Run: ``python examples/python/chat.py [HOST:PORT [REDIS_URL]]`` (default 127.0.0.1:8080), then
connect with any WebSocket client, e.g. ``python -m websockets ws://127.0.0.1:8080/chat``. Ctrl-C
stops. With a Redis URL the server is a node of a cluster: run it on two ports with the same URL
and the rooms span both.
"""

from __future__ import annotations

import sys
from typing import Optional, Union

import wsconnector

ROOM_PREFIX = "room:"
"""Groups that stand for rooms carry this prefix, so other groups are left alone."""


def make_chat(host: str, port: int, cluster: Optional[str] = None) -> wsconnector.Connector:
    """A connector whose triggers implement the chat (a node of `cluster`, if given)."""
    chat = wsconnector.Connector(host=host, port=port, cluster=cluster)

    @chat.on_inbound_connection
    def joined(socket: wsconnector.Socket) -> None:
        # Through the connector: with a cluster, it returns once every node's broadcasts to
        # the room reach the socket.
        chat.subscribe(socket.id, ROOM_PREFIX + "lobby")
        socket.send("welcome to the lobby; send /join ROOM to change rooms")

    @chat.on_inbound_message
    def said(socket: wsconnector.Socket, message: Union[str, bytes]) -> None:
        if not isinstance(message, str):
            return
        rooms = [group for group in socket.groups if group.startswith(ROOM_PREFIX)]
        room = message[len("/join ") :].strip() if message.startswith("/join ") else ""
        if room:
            chat.unsubscribe(socket.id, rooms)
            chat.subscribe(socket.id, ROOM_PREFIX + room)
            socket.send(f"you are in room {room}")
        else:
            line = f"[{socket.id[:8]}] {message}"
            chat.broadcast(line, socket_type="inbound", groups=rooms)

    @chat.on_socket_closed
    def left(socket: wsconnector.Socket, code: int, reason: str) -> None:
        print(f"{socket.id} left (close code {code})", flush=True)

    return chat


def main() -> None:
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8080"
    host, _, port = address.rpartition(":")
    chat = make_chat(host, int(port), sys.argv[2] if len(sys.argv) > 2 else None)
    chat.start()
    print(f"chat server on ws://{host}:{chat.port}/  (any path works)", flush=True)
    if chat.node_name is not None:
        print(f"node {chat.node_name} of a cluster: rooms span every node", flush=True)
    print("send '/join ROOM' to change rooms; other lines go to your room", flush=True)
    chat.serve_forever()  # until Ctrl-C or SIGTERM; then every socket is closed and reported
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
