"""The four triggers, the socket attributes they carry, and callbacks that raise or call
operations, with a `websockets` client as the peer of the listener."""

from __future__ import annotations

import logging
import os
import threading

import pytest
import websockets.sync.client
from conftest import WAIT, Recorder, connect

import wsconnector


def test_inbound_connection_message_and_close_carry_socket_and_payload(
    server: wsconnector.Connector, recorder: Recorder
) -> None:
    with connect(server, "/chat/room1?user=ann&user=bob", subprotocols=None) as ws:
        _, socket = recorder.next("connection")
        ws.send("hello")
        ws.send(b"\x00\x01binary")
        assert recorder.next("inbound")[2] == "hello"
        message = recorder.next("inbound")[2]
        assert isinstance(message, bytes) and message == b"\x00\x01binary"
        ws.close(4001, "bye now")
    _, closed, code, reason = recorder.next("closed")
    assert (code, reason) == (4001, "bye now")
    assert closed.id == socket.id and not closed.is_open

    assert socket.type == "inbound" == wsconnector.SocketType.INBOUND
    assert socket.path == "/chat/room1"
    assert socket.uri == f"ws://127.0.0.1:{server.port}/chat/room1?user=ann&user=bob"
    assert socket.scheme == "ws"
    assert socket.query == [("user", "ann"), ("user", "bob")]
    assert socket.query_param("user") == "ann"
    assert socket.header("HOST") == f"127.0.0.1:{server.port}"
    assert ("Upgrade", "websocket") in socket.headers
    assert socket.subprotocol is None
    assert socket.peer_certificate_subject is None
    assert socket.local_address == ("127.0.0.1", server.port)
    assert socket.remote_address[0] == "127.0.0.1"
    assert socket.groups == []
    assert socket == closed and hash(socket) == hash(closed)
    with pytest.raises(AttributeError):
        socket.id = "x"  # type: ignore[misc]


def test_keyword_callbacks_and_path_default_groups_and_subprotocol() -> None:
    seen: list[wsconnector.Socket] = []
    groups: list[list[str]] = []
    connected = threading.Event()

    def on_connection(socket: wsconnector.Socket) -> None:
        seen.append(socket)
        groups.append(socket.groups)
        connected.set()

    connector = wsconnector.Connector(
        host="127.0.0.1",
        port=0,
        base_path="/app",
        paths={"/chat/*": ["lobby", "chat"], "/feed": None},
        subprotocols=["chat.v2", "chat.v1"],
        on_inbound_connection=on_connection,
    )
    with connector:
        with connect(connector, "/app/chat/x", subprotocols=["chat.v1"]) as ws:
            assert connected.wait(WAIT)
            assert ws.subprotocol == "chat.v1"
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            connect(connector, "/other")
        assert refused.value.response.status_code == 404
    socket = seen[0]
    assert socket.path == "/app/chat/x"
    assert groups == [["chat", "lobby"]]
    assert socket.groups == ["chat", "lobby"], "a closed socket shows the groups it had"
    assert socket.subprotocol == "chat.v1"


def test_a_callback_that_raises_is_logged_and_the_connector_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    replies = threading.Event()
    connector = wsconnector.Connector(host="127.0.0.1", port=0)

    @connector.on_inbound_message
    def handle(socket: wsconnector.Socket, message: str | bytes) -> None:
        if message == "boom":
            raise ValueError("boom from the callback")
        connector.send(socket.id, f"echo {message!s}")
        replies.set()

    with caplog.at_level(logging.ERROR, logger="wsconnector"), connector:
        with connect(connector) as ws:
            ws.send("boom")
            ws.send("after")
            assert ws.recv(timeout=WAIT) == "echo after"
    failures = [r for r in caplog.records if r.name == "wsconnector" and r.exc_info]
    assert len(failures) == 1
    assert "on_inbound_message" in failures[0].getMessage()
    exc_info = failures[0].exc_info
    assert exc_info is not None and "boom from the callback" in str(exc_info[1])


def test_callbacks_may_call_operations_but_not_stop(recorder: Recorder) -> None:
    outcome: dict[str, object] = {}
    done = threading.Event()
    connector = wsconnector.Connector(host="127.0.0.1", port=0)

    @connector.on_inbound_connection
    def welcome(socket: wsconnector.Socket) -> None:
        connector.subscribe(socket.id, "greeted")
        outcome["groups"] = connector.socket(socket.id).groups
        outcome["broadcast"] = connector.broadcast("welcome", groups="greeted").delivered
        try:
            connector.stop()
        except wsconnector.InvalidStateError as e:
            outcome["stop"] = e
        done.set()

    with connector:
        with connect(connector) as ws:
            assert ws.recv(timeout=WAIT) == "welcome"
            assert done.wait(WAIT)
    assert outcome["groups"] == ["greeted"]
    assert outcome["broadcast"] == 1
    assert isinstance(outcome["stop"], wsconnector.InvalidStateError)


def test_closing_from_the_connection_callback_drops_the_messages_behind_it() -> None:
    messages: list[object] = []
    closed = threading.Event()
    connector = wsconnector.Connector(host="127.0.0.1", port=0)
    entered = threading.Event()
    release = threading.Event()

    @connector.on_inbound_connection
    def refuse(socket: wsconnector.Socket) -> None:
        entered.set()
        assert release.wait(WAIT)  # the client's messages queue up behind this callback
        connector.close(socket.id, 4000, "go away")

    connector.on_inbound_message(lambda s, m: messages.append(m))
    connector.on_socket_closed(lambda s, c, r: closed.set())
    with connector:
        with connect(connector) as ws:
            assert entered.wait(WAIT)
            ws.send("queued while the connection callback runs")
            release.set()
            assert closed.wait(WAIT)
    assert messages == []


def test_triggers_are_fixed_once_running(server: wsconnector.Connector) -> None:
    with pytest.raises(wsconnector.InvalidStateError):
        server.on_inbound_message(lambda s, m: None)
    with pytest.raises(TypeError):
        wsconnector.Connector().on_socket_closed(42)  # type: ignore[call-overload]
    # A string is a path pattern (a decorator for that path), so a bad one is a bad argument.
    with pytest.raises(wsconnector.InvalidArgumentError):
        wsconnector.Connector().on_socket_closed("not a path")
    with pytest.raises(wsconnector.InvalidStateError):
        server.on_inbound_message("/later")(lambda s, m: None)
    with pytest.raises(wsconnector.InvalidStateError, match="trigger callbacks"):
        server.next_events(timeout=0)


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling policies")
def test_callbacks_run_on_a_thread_woken_without_preempting_io() -> None:
    policies: list[int] = []
    seen = threading.Event()

    def record(socket: wsconnector.Socket) -> None:
        policies.append(os.sched_getscheduler(0))
        seen.set()

    connector = wsconnector.Connector(host="127.0.0.1", port=0, on_inbound_connection=record)
    with connector, connect(connector):
        assert seen.wait(WAIT)
    assert policies == [os.SCHED_BATCH]
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the caller's thread is left alone
