"""The dispatcher pool from Python: a callback that waits delays no other socket (the GIL is
released while it waits), each socket's callbacks run in order while many sockets come and go
on several threads, an exception in on_inbound_connection refuses the socket, and
on_socket_closed sees the groups the socket had. No timing assertions: every wait is bounded."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import pytest
import websockets.exceptions
from conftest import WAIT, connect

import wsconnector


def test_a_callback_that_waits_delays_no_other_socket() -> None:
    x_waiting, y_ran = threading.Event(), threading.Event()
    outcome: list[bool] = []
    outcome_known = threading.Event()
    connector = wsconnector.Connector(host="127.0.0.1", port=0)

    @connector.on_inbound_connection
    def on_connection(socket: wsconnector.Socket) -> None:
        if socket.path == "/x":
            x_waiting.set()
            outcome.append(y_ran.wait(WAIT))  # waits without the GIL
            outcome_known.set()

    @connector.on_inbound_message
    def on_message(socket: wsconnector.Socket, message: str | bytes) -> None:
        if socket.path == "/y":
            y_ran.set()

    with connector, connect(connector, "/x"):
        assert x_waiting.wait(WAIT)
        with connect(connector, "/y") as y:
            y.send("hello")
            assert outcome_known.wait(2 * WAIT)
    assert outcome == [True], "socket x's callback waited for y's until the bound"


def test_order_per_socket_holds_under_churn_on_several_threads() -> None:
    sockets, messages, at_once = 1000, 5, 20
    seen: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    all_closed = threading.Event()
    closed_count = [0]
    connector = wsconnector.Connector(host="127.0.0.1", port=0, dispatcher_threads=4)

    def record(socket: wsconnector.Socket, entry: str) -> None:
        if entry.endswith("-0"):
            time.sleep(0)  # lets another thread take the GIL and try to overtake
        with lock:
            seen[socket.path].append(entry)

    @connector.on_inbound_connection
    def on_connection(socket: wsconnector.Socket) -> None:
        record(socket, "connection")

    @connector.on_inbound_message
    def on_message(socket: wsconnector.Socket, message: str | bytes) -> None:
        record(socket, str(message))

    @connector.on_socket_closed
    def on_closed(socket: wsconnector.Socket, code: int, reason: str) -> None:
        record(socket, "closed")
        with lock:
            closed_count[0] += 1
            if closed_count[0] == sockets:
                all_closed.set()

    def client(n: int) -> None:
        with connect(connector, f"/{n}") as ws:
            for m in range(messages):
                ws.send(f"{n}-{m}")

    with connector:
        with ThreadPoolExecutor(at_once) as clients:
            list(clients.map(client, range(sockets)))
        assert all_closed.wait(WAIT)
    assert len(seen) == sockets
    for path, entries in seen.items():
        n = path[1:]
        assert entries == ["connection", *(f"{n}-{m}" for m in range(messages)), "closed"]


@pytest.mark.parametrize(("own_code", "expected"), [(None, 1011), (4001, 4001)])
def test_a_connection_callback_that_raises_refuses_the_socket(
    own_code: Optional[int], expected: int
) -> None:
    go = threading.Event()
    messages: list[object] = []
    closed: list[int] = []
    closed_once = threading.Event()
    connector = wsconnector.Connector(host="127.0.0.1", port=0)

    @connector.on_inbound_connection
    def on_connection(socket: wsconnector.Socket) -> None:
        assert go.wait(WAIT)
        if own_code is not None:
            socket.close(own_code, "not you")
        raise RuntimeError("the connection flow failed")

    connector.on_inbound_message(lambda s, m: messages.append(m))

    @connector.on_socket_closed
    def on_closed(socket: wsconnector.Socket, code: int, reason: str) -> None:
        closed.append(code)
        closed_once.set()

    with connector:
        with connect(connector) as ws:
            ws.send("waits for the connection callback")
            # The pong comes once the server has read the message before it.
            assert ws.ping().wait(WAIT)
            go.set()
            with pytest.raises(websockets.exceptions.ConnectionClosed) as ended:
                ws.recv(timeout=WAIT)
            assert ended.value.rcvd is not None and ended.value.rcvd.code == expected
        assert closed_once.wait(WAIT)
    assert closed == [expected] and messages == []


def test_the_closed_callback_sees_the_groups_the_socket_had() -> None:
    groups_at_close: list[list[str]] = []
    joined = threading.Event()
    closed = threading.Event()
    connector = wsconnector.Connector(
        host="127.0.0.1", port=0, paths={"/chat": ["lobby", "everyone"]}
    )

    @connector.on_inbound_connection
    def on_connection(socket: wsconnector.Socket) -> None:
        socket.subscribe(["room-1"])
        socket.unsubscribe(["lobby"])
        joined.set()

    @connector.on_socket_closed
    def on_closed(socket: wsconnector.Socket, code: int, reason: str) -> None:
        groups_at_close.append(socket.groups)
        closed.set()

    with connector:
        with connect(connector, "/chat") as ws:
            ws.send("after the connection callback")
            # The client closes only once the callback is done: a close before it would make
            # its unsubscribe meet a closed socket (NoSuchSocketError), as the handshake can be
            # faster than the dispatcher thread.
            assert joined.wait(WAIT)
        assert closed.wait(WAIT)
    assert groups_at_close == [["everyone", "room-1"]]
