"""Per-path triggers as Mule declares them (`@conn.on_inbound_message("/chat/*")` beside the
bare decorator; the most specific pattern wins), on `Connector` and `AsyncConnector`; inbound
path templates whose values are the socket's URI parameters, and the request attributes, with
`websockets` clients as the peers."""

from __future__ import annotations

import asyncio
import queue
from typing import Any, Callable

import pytest
import websockets.asyncio.client
import websockets.exceptions
import websockets.sync.client
from conftest import WAIT

import wsconnector

PATHS = {"/chat/{room}": [], "/chat/vip/*": [], "/feed": []}

# (client path, the socket's path, the message handler chosen)
CASES = [
    ("/ws/chat/lobby", "/ws/chat/lobby", "lobby"),
    ("/ws/chat/r%201?since=10&tag=a%26b", "/ws/chat/r 1", "room"),
    ("/ws/chat/vip/a/b", "/ws/chat/vip/a/b", "vip"),
    ("/ws/feed", "/ws/feed", "any"),
]


def test_an_event_goes_to_the_most_specific_registration_of_its_trigger() -> None:
    seen: queue.Queue[tuple[Any, ...]] = queue.Queue()

    def route(name: str) -> Callable[..., None]:
        return lambda socket, *rest: seen.put((name, socket.path))

    conn = wsconnector.Connector(host="127.0.0.1", port=0, base_path="/ws", paths=PATHS)
    conn.on_inbound_message(route("any"))
    conn.on_inbound_message("/ws/chat/*")(route("chat"))
    conn.on_inbound_message("/ws/chat/vip/*")(route("vip"))
    conn.on_inbound_message("/ws/chat/lobby")(route("lobby"))
    conn.on_inbound_connection("*")(route("connection"))
    conn.on_socket_closed("/ws/feed")(route("feed closed"))

    @conn.on_inbound_message("/ws/chat/{room}")
    def room(socket: wsconnector.Socket, message: str) -> None:
        attributes = (socket.uri_params, socket.uri_param("room"), socket.query_string)
        seen.put(("room", socket.path, attributes, socket.method, socket.http_version))

    with pytest.raises(wsconnector.InvalidArgumentError):
        conn.on_inbound_message("chat")
    with pytest.raises(wsconnector.InvalidArgumentError):
        conn.on_socket_closed("/a/{b")
    with conn:
        for target, path, handler in CASES:
            url = f"ws://127.0.0.1:{conn.port}{target}"
            with websockets.sync.client.connect(url, proxy=None, open_timeout=WAIT) as client:
                assert seen.get(timeout=WAIT) == ("connection", path)
                client.send("hi")
                got = seen.get(timeout=WAIT)
                assert got[:2] == (handler, path)
            if handler == "room":
                assert got[2:] == (
                    ([("room", "r 1")], "r 1", "since=10&tag=a%26b"),
                    "GET",
                    "HTTP/1.1",
                )
        assert seen.get(timeout=WAIT) == ("feed closed", "/ws/feed")
        with pytest.raises(websockets.exceptions.InvalidStatus):
            websockets.sync.client.connect(
                f"ws://127.0.0.1:{conn.port}/ws/chat/a/b", proxy=None, open_timeout=WAIT
            )
    assert seen.empty()


def test_async_handlers_take_path_patterns_too() -> None:
    async def main() -> None:
        seen: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        conn = wsconnector.AsyncConnector(host="127.0.0.1", port=0, base_path="/ws", paths=PATHS)

        @conn.on_inbound_message
        async def anywhere(socket: wsconnector.Socket, message: str) -> None:
            await seen.put(("any", socket.path))

        @conn.on_inbound_message("/ws/chat/{room}")
        async def room(socket: wsconnector.Socket, message: str) -> None:
            await seen.put(("room", socket.uri_param("room") or ""))

        @conn.on_inbound_message("/ws/chat/lobby")
        def lobby(socket: wsconnector.Socket, message: str) -> None:
            seen.put_nowait(("lobby", socket.path))

        @conn.on_socket_closed("/ws/feed")
        async def feed_closed(socket: wsconnector.Socket, code: int, reason: str) -> None:
            await seen.put(("feed closed", socket.path))

        with pytest.raises(wsconnector.InvalidArgumentError):
            conn.on_inbound_message("chat")(anywhere)
        async with conn:
            expected = [("lobby", "/ws/chat/lobby"), ("room", "r 1"), ("any", "/ws/feed")]
            for target, want in zip(["/ws/chat/lobby", "/ws/chat/r%201", "/ws/feed"], expected):
                url = f"ws://127.0.0.1:{conn.port}{target}"
                async with websockets.asyncio.client.connect(url, proxy=None) as client:
                    await client.send("hi")
                    assert await asyncio.wait_for(seen.get(), WAIT) == want
            closed = await asyncio.wait_for(seen.get(), WAIT)
            assert closed == ("feed closed", "/ws/feed")

    asyncio.run(main())
