"""Operability from Python: exact figures after scripted traffic, the Prometheus endpoint read
by prometheus_client's parser, the health path, a drain in batches while new connections get
503, stop after a drain, and a socket's ID on its log records."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
import websockets.exceptions
from conftest import WAIT, Recorder, connect
from prometheus_client.parser import text_string_to_metric_families

import wsconnector


def http_get(connector: wsconnector.Connector, path: str) -> tuple[int, dict[str, str], str]:
    """A plain GET on the connector's listener: status, headers, body."""
    url = f"http://127.0.0.1:{connector.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def echo_server(recorder: Recorder, **settings: Any) -> wsconnector.Connector:
    connector = wsconnector.Connector(host="127.0.0.1", port=0, ping_interval=None, **settings)
    recorder.register(connector)

    @connector.on_inbound_message
    def echo(socket: wsconnector.Socket, message: str | bytes) -> None:
        socket.send(message)
        recorder.queue.put(("inbound", socket, message))

    return connector


def test_counters_are_exact_after_scripted_traffic(recorder: Recorder) -> None:
    connector = echo_server(recorder, base_path="/ws", paths={"/chat/*": ["room"], "/feed": []})
    with connector:
        with pytest.raises(websockets.exceptions.InvalidStatus):
            connect(connector, "/ws/nowhere")
        stack = contextlib.ExitStack()
        clients = [stack.enter_context(connect(connector, f"/ws/chat/{room}")) for room in "abc"]
        for client in clients:
            client.send("hello")
            client.send(b"\x01\x02\x03")
            assert client.recv(timeout=WAIT) == "hello"
            assert client.recv(timeout=WAIT) == b"\x01\x02\x03"
        assert connector.broadcast("news", groups="room").delivered == 3
        for client in clients:
            assert client.recv(timeout=WAIT) == "news"
        m = connector.metrics()
        assert m.sockets_open == {"inbound": 3, "outbound": 0}
        assert m.paths == {
            "/ws/chat/*": {"open": 3, "opened": 3},
            "/ws/feed": {"open": 0, "opened": 0},
        }
        assert m.handshakes_refused == {"not_found": {404: 1}}
        assert m.messages_in == {"text": 3, "binary": 3}
        assert m.bytes_in == {"text": 15, "binary": 9}
        assert m.messages_out == {"text": 6, "binary": 3}
        assert m.bytes_out == {"text": 27, "binary": 9}
        assert (m.broadcasts, m.broadcast_deliveries) == (1, 3)
        assert m.broadcast_fanout["count"] == 1
        assert not m.draining
        stack.close()
        for _ in clients:
            recorder.next("closed")
    m = connector.metrics()
    assert m.sockets_closed[1000] == 3
    assert m.sockets_closed["other"] == 0
    assert m.sockets_open == {"inbound": 0, "outbound": 0}
    # Every event the callbacks got (3 connections, 6 messages, 3 closes) had its wait timed.
    wait = m.event_wait
    assert wait["count"] == 12
    assert wait["buckets"][-1] == (math.inf, 12)
    assert wait["sum"] > 0
    everything = m.as_dict()
    assert everything["messages_in"] == {"text": 3, "binary": 3}
    assert set(everything) >= {"sockets_open", "event_wait", "draining", "pong_timeouts"}
    # Nothing compressed (off by default), no outbound socket to reconnect.
    assert everything["compressed_messages_in"] == everything["compressed_bytes_out"] == 0
    assert everything["reconnect_attempts"] == everything["reconnects_exhausted"] == 0
    assert "wsconnector_sockets_closed_total" in m.to_prometheus()


def test_a_trigger_without_a_callback_costs_no_hand_over() -> None:
    """With a message callback alone, no connection event is handed to a dispatcher thread
    (nor takes the GIL); closed events still are, to forget the sockets' Python objects. One
    dispatcher thread takes the events in order: once the last message is handled, every
    event queued before it has been handed over."""
    handled: queue.Queue[str | bytes] = queue.Queue()
    connector = wsconnector.Connector(
        host="127.0.0.1", port=0, ping_interval=None, dispatcher_threads=1
    )
    connector.on_inbound_message(lambda socket, message: handled.put(message))
    with connector:
        for _ in range(3):
            with connect(connector, "/x") as client:
                client.send("hi")
                assert handled.get(timeout=WAIT) == "hi"
        deadline = time.monotonic() + WAIT
        while sum(connector.metrics().sockets_closed.values()) < 3:
            assert time.monotonic() < deadline, "the sockets did not close"
            time.sleep(0.001)
        with connect(connector, "/x") as client:
            client.send("last")
            assert handled.get(timeout=WAIT) == "last"
            # 4 messages and 3 closed events; the 4 connection events were not handed over.
            assert connector.metrics().event_wait["count"] == 7


def test_an_idle_socket_parks_and_resumes(recorder: Recorder) -> None:
    """park_idle_after: a quiet socket parks (the gauge says so), and its next message resumes
    it: echoed, then parked again."""
    connector = echo_server(recorder, park_idle_after=0.05, metrics_path="/metrics")

    def wait_parked(count: int) -> None:
        deadline = time.monotonic() + WAIT
        while connector.metrics().sockets_parked != count:
            assert time.monotonic() < deadline, "parked in time"
            time.sleep(0.005)

    with connector:
        with connect(connector, "/room") as client:
            wait_parked(1)
            assert "wsconnector_sockets_parked 1" in http_get(connector, "/metrics")[2]
            client.send("wake up")
            assert client.recv(timeout=WAIT) == "wake up"
            wait_parked(1)
            assert connector.metrics().as_dict()["sockets_parked"] == 1
        recorder.next("closed")
        wait_parked(0)


def test_the_metrics_endpoint_is_read_by_a_prometheus_parser(recorder: Recorder) -> None:
    connector = echo_server(recorder, metrics_path="/metrics", health_path="/health")
    with connector:
        with connect(connector, "/room") as client:
            client.send("ping")
            assert client.recv(timeout=WAIT) == "ping"
            status, headers, body = http_get(connector, "/metrics")
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        families = {f.name: f for f in text_string_to_metric_families(body)}
        open_now = {s.labels["type"]: s.value for s in families["wsconnector_sockets_open"].samples}
        assert open_now == {"inbound": 1.0, "outbound": 0.0}
        received = families["wsconnector_messages_received"]
        assert received.type == "counter"
        text = [s for s in received.samples if s.labels == {"kind": "text"}]
        assert [s.value for s in text] == [1.0]
        wait = families["wsconnector_event_wait_seconds"]
        assert wait.type == "histogram"
        assert any(s.name.endswith("_bucket") and s.labels["le"] == "+Inf" for s in wait.samples)
        assert http_get(connector, "/health")[:1] == (200,)


def test_metrics_are_for_allowed_addresses_only(recorder: Recorder) -> None:
    connector = echo_server(
        recorder, metrics_path="/metrics", metrics_allowed_addresses=["10.0.0.0/8"]
    )
    with connector:
        assert http_get(connector, "/metrics")[0] == 403


def test_an_endpoint_path_may_not_shadow_a_websocket_path() -> None:
    with pytest.raises(wsconnector.InvalidArgumentError, match="metrics_path"):
        wsconnector.Connector(host="127.0.0.1", port=0, paths=["/*"], metrics_path="/metrics").start()


def test_a_drain_closes_sockets_in_batches_while_new_ones_get_503(recorder: Recorder) -> None:
    count, batch = 5, 2
    connector = echo_server(recorder, health_path="/health")
    with connector, contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(connector, "/room")) for _ in range(count)]
        for _ in clients:
            recorder.next("connection")
        seen: list[wsconnector.DrainProgress] = []
        begun, done = threading.Event(), threading.Event()
        results: list[wsconnector.DrainProgress] = []

        def progressed(progress: wsconnector.DrainProgress) -> None:
            seen.append(progress)
            begun.set()

        def drain() -> None:
            results.append(
                connector.drain(
                    batch_size=batch,
                    interval=0.05,
                    code=1012,
                    reason="restarting",
                    retry_after=2,
                    timeout=WAIT,
                    on_progress=progressed,
                )
            )
            done.set()

        draining = threading.Thread(target=drain)
        draining.start()
        # Once the drain has begun, a new connection is refused with when to come back.
        assert begun.wait(WAIT) and connector.is_draining
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            connect(connector, "/room")
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"] == "2"
        assert http_get(connector, "/health")[0] == 503
        assert done.wait(WAIT)
        draining.join()
        for client in clients:
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                client.recv(timeout=WAIT)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1012, "restarting")
        final = results[0]
        assert (final.matched, final.requested, final.closed) == (count, count, count)
        assert final.batches == math.ceil(count / batch)
        assert final.finished
        assert seen[-1] == final
        for progress in seen:
            assert progress.requested == min(progress.batches * batch, count)
        assert connector.metrics().sockets_closed[1012] == count
        assert connector.metrics().handshakes_refused["draining"] == {503: 1}


def test_a_drain_leaves_the_sockets_its_filter_excludes(recorder: Recorder) -> None:
    connector = echo_server(recorder)
    with connector, connect(connector, "/room") as kept, connect(connector, "/room") as gone:
        recorder.next("connection")
        recorder.next("connection")
        kept.send("who")
        assert kept.recv(timeout=WAIT) == "who"
        _, socket, _ = recorder.next("inbound")
        progress = connector.drain(except_socket_ids=[socket.id], interval=0.01, timeout=WAIT)
        assert (progress.matched, progress.closed, progress.finished) == (1, 1, True)
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            gone.recv(timeout=WAIT)
        kept.send("still here")
        assert kept.recv(timeout=WAIT) == "still here"


def test_stop_drains_first_with_the_drains_code(recorder: Recorder) -> None:
    connector = echo_server(recorder)
    connector.start()
    with connect(connector, "/room") as client:
        recorder.next("connection")
        connector.stop(drain={"code": 1012, "reason": "bye"}, deadline=WAIT)
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            client.recv(timeout=WAIT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    with pytest.raises(wsconnector.InvalidArgumentError, match="no option"):
        wsconnector.Connector(host="127.0.0.1", port=0).drain(nope=1)  # type: ignore[call-arg]


def test_async_drain_and_stop() -> None:
    async def main() -> tuple[wsconnector.DrainProgress, list[wsconnector.DrainProgress], int]:
        seen: list[wsconnector.DrainProgress] = []
        stack = contextlib.ExitStack()
        async with wsconnector.AsyncConnector(host="127.0.0.1", port=0) as server:
            port = server.port
            clients = [
                stack.enter_context(await asyncio.to_thread(connect, server.connector, "/x"))
                for _ in range(3)
            ]
            progress = await server.drain(batch_size=1, interval=0.01, on_progress=seen.append)
            codes = []
            for client in clients:
                with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                    await asyncio.to_thread(client.recv, WAIT)
                assert closed.value.rcvd is not None
                codes.append(closed.value.rcvd.code)
            assert server.is_draining and server.metrics().draining
            await server.stop(drain=True, deadline=WAIT)
            assert port is not None
        stack.close()
        assert codes == [1001] * 3
        return progress, seen, len(clients)

    progress, seen, count = asyncio.run(main())
    assert progress.finished and progress.batches == count
    assert seen and seen[-1] == progress


def test_a_sockets_log_records_carry_its_id() -> None:
    logger = logging.getLogger("wsconnector")
    level = logger.level
    records: list[logging.LogRecord] = []
    closed = threading.Event()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "socket_path", None) == "/traced":
                records.append(record)
                if record.getMessage().startswith("socket closed"):
                    closed.set()

    handler = Collect(logging.DEBUG)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        recorder = Recorder()
        connector = echo_server(recorder)
        with connector:
            with connect(connector, "/traced"):
                pass
            socket = recorder.next("closed")[1]
            assert closed.wait(WAIT)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    messages = [r.getMessage() for r in records]
    assert any(m.startswith("socket opened") for m in messages), messages
    for record in records:
        assert getattr(record, "socket_id") == socket.id
        assert getattr(record, "socket_type") == "inbound"
        assert f"socket_id={socket.id}" in record.getMessage()
