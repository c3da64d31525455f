"""Chat server: rooms are groups. A client joins a room by sending ``/join ROOM``; every other
message goes to everyone in the sender's room.

Run: ``python examples/python/chat.py [HOST:PORT]`` (default 127.0.0.1:8080), then connect with
any WebSocket client, e.g. ``python -m websockets ws://127.0.0.1:8080/chat``. Ctrl-C stops.
"""

from __future__ import annotations

import sys
from typing import Union

import wsconnector

ROOM_PREFIX = "room:"
"""Groups that stand for rooms carry this prefix, so other groups are left alone."""


def make_chat(host: str, port: int) -> wsconnector.Connector:
    """A connector whose triggers implement the chat."""
    chat = wsconnector.Connector(host=host, port=port)

    @chat.on_inbound_connection
    def joined(socket: wsconnector.Socket) -> None:
        socket.subscribe(ROOM_PREFIX + "lobby")
        socket.send("welcome to the lobby; send /join ROOM to change rooms")

    @chat.on_inbound_message
    def said(socket: wsconnector.Socket, message: Union[str, bytes]) -> None:
        if not isinstance(message, str):
            return
        rooms = [group for group in socket.groups if group.startswith(ROOM_PREFIX)]
        room = message[len("/join ") :].strip() if message.startswith("/join ") else ""
        if room:
            socket.unsubscribe(rooms)
            socket.subscribe(ROOM_PREFIX + room)
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
    chat = make_chat(host, int(port))
    chat.start()
    print(f"chat server on ws://{host}:{chat.port}/  (any path works)", flush=True)
    print("send '/join ROOM' to change rooms; other lines go to your room", flush=True)
    chat.serve_forever()  # until Ctrl-C or SIGTERM; then every socket is closed and reported
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
