"""Chat server: rooms are groups. The protocol of every chat example (examples/chat.rs says it
in full): ``welcome to the lobby; send /join ROOM to change rooms`` on connecting; ``/join ROOM``
answers ``you are in room ROOM``; other text goes to everyone in the sender's room as
``[NAME] text`` (NAME: the ``name`` query parameter, or the first 8 characters of the socket ID).

Run: ``python examples/python/chat.py [HOST:PORT [REDIS_URL]]`` (default 127.0.0.1:8080), then
connect with any WebSocket client, e.g. ``python -m websockets 'ws://127.0.0.1:8080/chat?name=ann'``.
Ctrl-C stops. With a Redis URL the server is a node of a cluster: run it on two ports with the
same URL and the rooms span both.
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
            socket.send("text only, please")
            return
        rooms = [group for group in socket.groups if group.startswith(ROOM_PREFIX)]
        if message.startswith("/"):
            verb, _, room = message.partition(" ")
            room = room.strip()
            if verb != "/join":
                socket.send(f"unknown command {verb}; send /join ROOM, or text for your room")
            elif not room:
                socket.send("a room needs a name: /join ROOM")
            else:
                chat.unsubscribe(socket.id, rooms)
                chat.subscribe(socket.id, ROOM_PREFIX + room)
                socket.send(f"you are in room {room}")
        else:
            name = socket.query_param("name") or socket.id[:8]
            chat.broadcast(f"[{name}] {message}", socket_type="inbound", groups=rooms)

    @chat.on_socket_closed
    def left(socket: wsconnector.Socket, code: int, reason: str) -> None:
        print(f"{socket.id} left (close code {code})", flush=True)

    return chat


def main() -> None:
    address = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8080"
    host, _, port = address.rpartition(":")
    chat = make_chat(host, int(port), sys.argv[2] if len(sys.argv) > 2 else None)
    try:
        chat.start()
    except wsconnector.WebSocketError as error:
        sys.exit(f"chat: {error}")
    url = f"ws://{host}:{chat.port}/chat"
    print(f"chat server on {url} (any path works; ?name=ann names you)", flush=True)
    if chat.node_name is not None:
        print(f"node {chat.node_name} of a cluster: rooms span every node", flush=True)
    print("connect with any WebSocket client, for example:", flush=True)
    print(f"  python3 -m websockets '{url}?name=ann'", flush=True)
    print("then type a line to talk to your room, '/join ROOM' to change rooms. Ctrl-C stops.", flush=True)
    chat.serve_forever()  # until Ctrl-C or SIGTERM; then every socket is closed and reported
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
