"""Every operation, with `websockets` as the peer on the other side: clients of the listener,
and servers for outbound sockets."""

from __future__ import annotations

import contextlib
import http.server
import threading

from typing import Any

import pytest
import websockets.exceptions
from conftest import WAIT, Peer, Recorder, connect
from websockets.sync.server import ServerConnection

import wsconnector


def test_open_outbound_sends_headers_query_subprotocols_and_exchanges_messages(
    recorder: Recorder,
) -> None:
    peer = Peer(subprotocols=["quotes.v1"])
    connector = wsconnector.Connector(default_headers={"X-Default": "d", "x-token": "default"}, default_query=[("k", "v")])
    recorder.register(connector)
    try:
        with connector:
            assert connector.port is None and connector.local_address is None
            socket_id = connector.open_outbound(
                peer.url("/feed?x=1"),
                headers=[("X-Token", "secret")],
                query={"symbol": "ACME"},
                subprotocols=["quotes.v1"],
                groups=["ACME", "all"],
                socket_id="feed-1",
                timeout=5,
            )
            assert socket_id == "feed-1"
            request = peer.requests.get(timeout=WAIT)
            assert request.path == "/feed?x=1&k=v&symbol=ACME"
            assert request.headers["X-Token"] == "secret"
            assert request.headers["X-Default"] == "d"
            # The open's header replaces the default one of the same name, whatever its case.
            assert request.headers.get_all("X-Token") == ["secret"]

            socket = connector.socket("feed-1")
            assert socket.type == "outbound"
            assert socket.subprotocol == "quotes.v1"
            assert socket.groups == ["ACME", "all"]
            assert socket.remote_address == ("127.0.0.1", peer.port)
            assert socket.header("x-token") == "secret"

            assert connector.send(socket_id, "text") is True
            assert connector.send(socket_id, b"bytes") is True
            assert connector.send(socket_id, bytearray(b"array")) is True
            assert connector.send(socket_id, memoryview(b"view")) is True
            assert [peer.received.get(timeout=WAIT) for _ in range(4)] == [
                "text",
                b"bytes",
                b"array",
                b"view",
            ]
            echoed = [recorder.next("outbound")[2] for _ in range(4)]
            assert echoed == ["text", b"bytes", b"array", b"view"]

            with pytest.raises(TypeError):
                connector.send(socket_id, 42)  # type: ignore[arg-type]
            with pytest.raises(wsconnector.NonUniqueSocketIdError):
                connector.open_outbound(peer.url(), socket_id="feed-1")
            with pytest.raises(wsconnector.InvalidSocketIdError):
                connector.open_outbound(peer.url(), socket_id="  ")
            generated = connector.open_outbound(peer.url(), subprotocols="quotes.v1")
            assert len(generated) == 36
    finally:
        peer.close()


def test_connect_failures_raise_their_exceptions() -> None:
    def refuse(connection: ServerConnection, request: Any) -> Any:
        return connection.respond(403, "not you\n")

    refusing = Peer(process_request=refuse)
    with wsconnector.Connector() as connector:
        try:
            with pytest.raises(wsconnector.HandshakeError) as refused:
                connector.open_outbound(refusing.url())
            assert refused.value.status == 403
        finally:
            refusing.close()
        with pytest.raises(wsconnector.ConnectivityError):
            connector.open_outbound(f"ws://127.0.0.1:{refusing.port}/")
        with pytest.raises(wsconnector.InvalidArgumentError):
            connector.open_outbound("http://example.com/")
        # A port outside 1-65535 is refused naming the URL, not replaced by 80.
        with pytest.raises(wsconnector.InvalidArgumentError, match="ws://127.0.0.1:99999/"):
            connector.open_outbound("ws://127.0.0.1:99999/")
        with pytest.raises(wsconnector.DnsError):
            connector.open_outbound("ws://no-such-host.invalid/")
        with pytest.raises(wsconnector.NoSuchSocketError):
            connector.send("nope", "x")
        with pytest.raises(wsconnector.WebSocketError):
            connector.close("nope")


def test_connect_timeout_raises_timeout() -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the TCP connection, never answers the upgrade
    try:
        with wsconnector.Connector(connect_timeout=0.3) as connector:
            with pytest.raises(wsconnector.TimeoutError) as timed_out:
                connector.open_outbound(f"ws://127.0.0.1:{silent.getsockname()[1]}/")
            assert isinstance(timed_out.value, TimeoutError)
    finally:
        silent.close()


class _Refusing(http.server.BaseHTTPRequestHandler):
    """Answers GET /STATUS with that status, a header and a body longer than the kept bound."""

    def do_GET(self) -> None:
        status = int(self.path.strip("/"))
        body = f"refused {status} ".encode() + b"x" * 2000
        self.send_response(status)
        self.send_header("Retry-After", "7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_handshake_refusals_raise_the_subclass_of_their_status() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    port = server.server_address[1]
    expected: list[tuple[int, type[wsconnector.HandshakeError]]] = [
        (401, wsconnector.Unauthorized),
        (403, wsconnector.Forbidden),
        (404, wsconnector.NotFound),
        (500, wsconnector.InternalServerError),
        (503, wsconnector.ServiceUnavailable),
        (418, wsconnector.HandshakeError),
    ]
    try:
        with wsconnector.Connector() as connector:
            for status, kind in expected:
                with pytest.raises(wsconnector.HandshakeError) as refused:
                    connector.open_outbound(f"ws://127.0.0.1:{port}/{status}")
                error = refused.value
                assert type(error) is kind and error.status == status
                assert error.body is not None and len(error.body) == 1024
                assert error.body.startswith(f"refused {status} ".encode())
                assert error.headers is not None
                assert ("retry-after", "7") in [(k.lower(), v) for k, v in error.headers]
    finally:
        server.shutdown()
        server.server_close()
    assert issubclass(wsconnector.Unauthorized, wsconnector.HandshakeError)
    assert wsconnector.Forbidden("x").body is None


def test_subscribe_unsubscribe_broadcast_filters_and_sockets(
    server: wsconnector.Connector, recorder: Recorder, peer: Peer
) -> None:
    with contextlib.ExitStack() as stack:
        a, b, c = (stack.enter_context(connect(server, p)) for p in ("/chat/a", "/chat/b", "/news"))
        paths = {recorder.next("connection")[1].path for _ in range(3)}
        by_path = {s.path: s.id for s in server.sockets()}
        assert set(by_path) == paths == {"/chat/a", "/chat/b", "/news"}
        out = server.open_outbound(peer.url("/chat/out"), groups="room")

        server.subscribe(by_path["/chat/a"], ["room", "vip"])
        server.subscribe(by_path["/chat/a"], "room")  # repeats are ignored
        server.subscribe(by_path["/news"], "room")
        server.unsubscribe(by_path["/news"], ["room", "never-joined"])
        assert server.socket(by_path["/chat/a"]).groups == ["room", "vip"]
        assert server.socket(by_path["/news"]).groups == []

        assert {s.id for s in server.sockets(groups="room")} == {by_path["/chat/a"], out}
        assert {s.id for s in server.sockets(path="/chat/*")} == {
            by_path["/chat/a"],
            by_path["/chat/b"],
            out,
        }
        assert [s.id for s in server.sockets(socket_type="outbound")] == [out]
        assert len(server.sockets(socket_type=wsconnector.SocketType.INBOUND)) == 3

        result = server.broadcast("to the room", groups=["room"], socket_type="inbound")
        assert (result.delivered, result.failures) == (1, [])
        assert a.recv(timeout=WAIT) == "to the room"

        result = server.broadcast(b"chat", path="/chat/*")
        assert result.delivered == 3
        assert a.recv(timeout=WAIT) == b"chat"
        assert b.recv(timeout=WAIT) == b"chat"
        assert peer.received.get(timeout=WAIT) == b"chat"

        assert server.broadcast("all").delivered == 4
        assert c.recv(timeout=WAIT) == "all"

        with pytest.raises(wsconnector.InvalidArgumentError):
            server.broadcast("x", socket_type="sideways")  # type: ignore[arg-type]
        with pytest.raises(wsconnector.InvalidArgumentError):
            server.broadcast("x", path="no-slash")
        with pytest.raises(wsconnector.InvalidArgumentError):
            server.subscribe(by_path["/news"], "")


def test_close_and_bulk_close(server: wsconnector.Connector, recorder: Recorder) -> None:
    stack = contextlib.ExitStack()
    clients = [stack.enter_context(connect(server, f"/room/{i}")) for i in range(3)]
    ids = [recorder.next("connection")[1].id for _ in range(3)]
    server.subscribe(ids[0], "doomed")
    server.subscribe(ids[1], "doomed")

    server.close(ids[2], wsconnector.CloseCode.POLICY_VIOLATION, "rules")
    with pytest.raises(Exception):
        clients[2].recv(timeout=WAIT)
    assert clients[2].close_code == 1008 and clients[2].close_reason == "rules"
    assert recorder.next("closed")[2:] == (1008, "rules")

    assert server.bulk_close(groups="doomed", code=4000, reason="bulk") == 2
    closed = {recorder.next("closed")[1].id for _ in range(2)}
    assert closed == set(ids[:2])
    for ws in clients[:2]:
        with pytest.raises(Exception):
            ws.recv(timeout=WAIT)
        assert (ws.close_code, ws.close_reason) == (4000, "bulk")
    assert server.sockets() == []
    with pytest.raises(wsconnector.NoSuchSocketError):
        server.socket(ids[0])
    with pytest.raises(wsconnector.InvalidArgumentError):
        server.bulk_close(code=1005)
    with pytest.raises(wsconnector.InvalidArgumentError):
        server.close("whatever", 1000, "x" * 200)
    stack.close()


def test_filters_leave_out_ids_and_groups_and_require_every_group(
    server: wsconnector.Connector, recorder: Recorder
) -> None:
    with contextlib.ExitStack() as stack:
        a, b, c = (stack.enter_context(connect(server, p)) for p in ("/r/a", "/r/b", "/r/c"))
        for _ in range(3):
            recorder.next("connection")
        by_path = {s.path: s.id for s in server.sockets()}
        ia, ib, ic = by_path["/r/a"], by_path["/r/b"], by_path["/r/c"]
        server.subscribe(ia, ["room", "vip"])
        server.subscribe(ib, "room")
        server.subscribe(ic, ["room", "muted"])

        def ids_of(**filters: Any) -> set[str]:
            return {s.id for s in server.sockets(**filters)}

        assert ids_of(all_groups=["room", "vip"]) == {ia}
        assert ids_of(groups="room", except_groups="muted") == {ia, ib}
        assert ids_of(groups="room", except_socket_ids=[ia], except_groups=["muted"]) == {ib}
        # The chat relay: the room but not the sender.
        result = server.broadcast("hi room", groups="room", except_socket_ids=[ia])
        assert result.delivered == 2
        assert b.recv(timeout=WAIT) == "hi room" and c.recv(timeout=WAIT) == "hi room"
        assert server.broadcast("vip", all_groups=["vip", "room"]).delivered == 1
        assert a.recv(timeout=WAIT) == "vip"
        assert server.bulk_close(except_groups="room") == 0
        assert server.bulk_close(groups="room", except_groups=["vip", "muted"], code=4001) == 1
        with pytest.raises(Exception):
            b.recv(timeout=WAIT)
        assert b.close_code == 4001
        with pytest.raises(wsconnector.InvalidArgumentError):
            server.broadcast("x", except_groups=[""])
        with pytest.raises(wsconnector.InvalidSocketIdError):
            server.broadcast("x", except_socket_ids=[""])


def first_failure(connector: wsconnector.Connector, data: bytes) -> wsconnector.BroadcastFailure:
    """Broadcasts until a broadcast reports a failure (bounded)."""
    for _ in range(500):
        failures = connector.broadcast(data).failures
        if failures:
            return failures[0]
    raise AssertionError("no broadcast failed")


@pytest.mark.parametrize("policy", list(wsconnector.SlowConsumerPolicy))
def test_slow_consumer_policies(policy: wsconnector.SlowConsumerPolicy) -> None:
    connector = wsconnector.Connector(
        host="127.0.0.1",
        port=0,
        send_queue_messages=2,
        slow_consumer=policy,
        stop_timeout=0.5,
        close_timeout=0.5,
    )
    recorder = Recorder()
    recorder.register(connector)
    chunk = b"x" * (1 << 20)
    with connector:
        # The client stops reading once 1 message waits in it, so the TCP buffers fill up and
        # then the connector's queue does; the loops are bounded.
        with connect(connector, max_queue=1, max_size=None, close_timeout=0.5):
            socket_id = recorder.next("connection")[1].id
            if policy == "fail":
                with pytest.raises(wsconnector.QueueFullError):
                    for _ in range(500):
                        connector.send(socket_id, chunk)
                failure = first_failure(connector, chunk)
                assert (failure.socket_id, failure.reason) == (socket_id, "failed")
                assert isinstance(failure.error, wsconnector.QueueFullError)
            elif policy == "drop_oldest":
                dropped = 0
                for _ in range(500):
                    result = connector.broadcast(chunk)
                    assert result.delivered == 1 and result.failures == []
                    dropped += result.dropped_oldest
                    if dropped:
                        break
                assert dropped > 0
            else:
                assert not all(connector.send(socket_id, chunk) for _ in range(500))
                if policy == "drop_newest":
                    failure = first_failure(connector, chunk)
                    assert (failure.reason, failure.error) == ("dropped", None)
                else:  # closing: the socket takes no more messages
                    with pytest.raises(wsconnector.NoSuchSocketError):
                        connector.send(socket_id, chunk)


def test_operations_before_start_and_after_stop() -> None:
    connector = wsconnector.Connector(host="127.0.0.1", port=0)
    with pytest.raises(wsconnector.InvalidStateError):
        connector.send("x", "y")
    with pytest.raises(wsconnector.InvalidStateError):
        connector.open_outbound("ws://127.0.0.1:1/")
    connector.stop()  # before start: nothing to do
    connector.start()
    with pytest.raises(wsconnector.InvalidStateError):
        connector.start()
    connector.stop()
    connector.stop()
    assert not connector.is_running
    with pytest.raises(wsconnector.StoppedError):
        connector.broadcast("late")
    with pytest.raises(wsconnector.StoppedError):
        connector.open_outbound("ws://127.0.0.1:1/")
    connector.start()  # a stopped connector may start again
    assert connector.is_running and connector.port
    connector.stop()


def test_socket_send_queues_on_the_socket_it_was_handed(
    server: wsconnector.Connector, recorder: Recorder
) -> None:
    long_text = "é" * 1000  # 2000 bytes of UTF-8
    long_bytes = bytes(range(256)) * 8
    array = bytearray(b"x" * 2048)
    with connect(server) as client:
        socket = recorder.next("connection")[1]
        client.send("hi")
        _, same, message = recorder.next("inbound")
        assert same is socket and message == "hi"  # one object per socket, every event

        sent = ["short", b"short", long_text, long_bytes, array, memoryview(b"v" * 1500)]
        assert all(socket.send(data) is True for data in sent)
        array[:] = b"y" * 2048  # a mutable buffer is sent as it was at the call
        received = [client.recv(timeout=WAIT) for _ in sent]
        assert received == ["short", b"short", long_text, long_bytes, b"x" * 2048, b"v" * 1500]

        with pytest.raises(TypeError):
            socket.send(42)  # type: ignore[arg-type]
        assert server.socket(socket.id).send("by lookup") is True
        assert client.recv(timeout=WAIT) == "by lookup"
    closed = recorder.next("closed")
    assert closed[1] is socket and closed[2] == 1000
    with pytest.raises(wsconnector.NoSuchSocketError):
        socket.send("too late")


def test_a_callback_replies_with_socket_send() -> None:
    connector = wsconnector.Connector(host="127.0.0.1", port=0)
    connector.on_inbound_message(lambda socket, message: socket.send(message))
    long_text = "ü" * 3000
    with connector, connect(connector) as client:
        for message in ["ping", b"\x00\x01", long_text, bytes(4096)]:
            client.send(message)
            assert client.recv(timeout=WAIT) == message


def test_a_socket_at_hand_closes_subscribes_and_unsubscribes_itself(
    server: wsconnector.Connector, recorder: Recorder
) -> None:
    with connect(server, "/ops") as client:
        socket = recorder.next("connection")[1]
        socket.subscribe(["room", "x", "room"])
        socket.unsubscribe("x")
        socket.unsubscribe(["never-joined"])
        assert socket.groups == ["room"]
        assert [s.id for s in server.sockets(groups="room")] == [socket.id]
        for bad in (lambda: socket.subscribe(""), lambda: socket.unsubscribe([""])):
            with pytest.raises(wsconnector.InvalidArgumentError, match="group"):
                bad()
        with pytest.raises(wsconnector.InvalidArgumentError):
            socket.subscribe(42)  # type: ignore[arg-type]
        with pytest.raises(wsconnector.InvalidArgumentError, match="1005"):
            socket.close(1005)
        with pytest.raises(wsconnector.InvalidArgumentError, match="reason"):
            socket.close(1000, "x" * 124)
        assert socket.groups == ["room"] and not socket.is_close_requested

        socket.close(4001, "by the socket")
        assert socket.is_close_requested
        socket.close(4002, "again")  # already closing: nothing happens
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            client.recv(timeout=WAIT)
        assert (client.close_code, client.close_reason) == (4001, "by the socket")
    closed = recorder.next("closed")
    assert closed[1] is socket and closed[2:] == (4001, "by the socket")
    assert server.sockets(groups="room") == []
    # Closed: each fails as its connector-level twin does with the ID.
    for operation in (
        lambda: socket.subscribe("x"),
        lambda: socket.unsubscribe("room"),
        lambda: socket.close(),
        lambda: server.close(socket.id),
    ):
        with pytest.raises(wsconnector.NoSuchSocketError):
            operation()


def test_a_callback_acts_on_the_socket_it_was_handed() -> None:
    connector = wsconnector.Connector(host="127.0.0.1", port=0)

    @connector.on_inbound_message
    def command(socket: wsconnector.Socket, message: str | bytes) -> None:
        verb, _, group = str(message).partition(" ")
        if verb == "join":
            socket.subscribe(group)
        elif verb == "leave":
            socket.unsubscribe(group)
        elif verb == "bye":
            socket.close(4000, "bye")
            return
        socket.send(",".join(socket.groups))

    with connector, connect(connector) as client:
        for command_text, groups in [("join a", "a"), ("join b", "a,b"), ("leave a", "b")]:
            client.send(command_text)
            assert client.recv(timeout=WAIT) == groups
        client.send("bye")
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            client.recv(timeout=WAIT)
        assert client.close_code == 4000


def test_a_message_larger_than_the_send_queue_raises_limit_exceeded(recorder: Recorder) -> None:
    connector = wsconnector.Connector(host="127.0.0.1", port=0, send_queue_bytes=1024)
    recorder.register(connector)
    with connector, connect(connector) as client:
        socket = recorder.next("connection")[1]
        with pytest.raises(wsconnector.LimitExceededError):
            socket.send(bytes(1025))
        with pytest.raises(wsconnector.LimitExceededError):
            connector.broadcast("x" * 1025)
        assert connector.broadcast("fits").delivered == 1
        assert client.recv(timeout=WAIT) == "fits"


@pytest.mark.parametrize("policy", list(wsconnector.MessageRatePolicy))
def test_message_rate_limit(policy: wsconnector.MessageRatePolicy) -> None:
    # A burst of 3, then one message a second: 5 messages at once are 2 too many.
    connector = wsconnector.Connector(
        host="127.0.0.1", port=0, message_rate_limit=(1, 3), message_rate_policy=policy
    )
    recorder = Recorder()
    recorder.register(connector)
    with connector:
        with connect(connector) as client:
            recorder.next("connection")
            for i in range(5):
                client.send(str(i))
            received = [recorder.next()[2] for _ in range(3)]
            assert received == ["0", "1", "2"]
            if policy == "close":
                closed = recorder.next()
                assert closed[0] == "closed" and closed[2] == wsconnector.CloseCode.POLICY_VIOLATION
                assert closed[3] == "message rate limit exceeded"
                return
            client.close()  # the two past the limit were dropped; the socket stayed open
        closed = recorder.next()
        assert (closed[0], closed[2]) == ("closed", 1000)
