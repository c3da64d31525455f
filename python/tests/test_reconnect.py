"""Outbound sockets that reconnect, against a feed server of the independent `websockets`
library that runs as a process of its own, killed (SIGKILL) and started again on the same port:
the socket keeps its ID and groups, the callbacks see reconnecting then reconnected, messages
buffered meanwhile arrive once and in order; attempts that run out give RetryExhaustedError and
one closed callback; the fail policy raises ReconnectingError; AsyncConnector.events() carries
the same events."""

from __future__ import annotations

import asyncio
import pathlib
import queue
import subprocess
import sys
import threading
from typing import Any, Iterator, Optional

import pytest

import wsconnector
from conftest import WAIT

FEED = pathlib.Path(__file__).with_name("feed_server.py")


class Feed:
    """The feed server process, with the lines it prints (`got <message>`)."""

    def __init__(self, port: int = 0) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, str(FEED), str(port)], stdout=subprocess.PIPE, text=True
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        first = self.lines.get(timeout=WAIT)
        assert first.startswith("port "), first
        self.port = int(first.split()[1])

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.put(line.strip())

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/feed"

    def got(self) -> str:
        """The next message the feed received."""
        line = self.lines.get(timeout=WAIT)
        assert line.startswith("got "), line
        return line[4:]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(WAIT)

    def restart(self) -> None:
        """Starts the feed again on the same port."""
        again = Feed(self.port)
        self.process, self.lines = again.process, again.lines


@pytest.fixture
def feed() -> Iterator[Feed]:
    f = Feed()
    yield f
    f.kill()


class Events:
    """Every callback of a connector, recorded in order."""

    def __init__(self, connector: wsconnector.Connector) -> None:
        self.queue: queue.Queue[tuple[Any, ...]] = queue.Queue()
        connector.on_outbound_message(lambda s, m: self.queue.put(("message", s, m)))
        connector.on_socket_closed(lambda s, c, r: self.queue.put(("closed", s, c, r)))
        connector.on_outbound_reconnecting(
            lambda s, n, d, e: self.queue.put(("reconnecting", s, n, d, e))
        )
        connector.on_outbound_reconnected(lambda s, n: self.queue.put(("reconnected", s, n)))

    def next(self, kind: Optional[str] = None) -> tuple[Any, ...]:
        event = self.queue.get(timeout=WAIT)
        if kind is not None:
            assert event[0] == kind, event
        return event

    def none_within(self, seconds: float) -> None:
        with pytest.raises(queue.Empty):
            print(self.queue.get(timeout=seconds))


FAST = dict(initial_delay=0.02, max_delay=0.16, multiplier=2.0)


def test_a_feed_that_restarts_gets_the_same_socket_back(feed: Feed) -> None:
    connector = wsconnector.Connector()
    events = Events(connector)
    policy = wsconnector.Reconnect(**FAST)
    with connector:
        socket_id = connector.open_outbound(
            feed.url, socket_id="quotes", groups=["feeds"], reconnect=policy
        )
        assert connector.send(socket_id, "before")
        assert feed.got() == "before"
        assert events.next("message")[2] == "before"

        feed.kill()
        delays = []
        for attempt in range(1, 5):
            _, socket, number, delay, error = events.next("reconnecting")
            assert number == attempt
            assert 0 <= delay <= policy.delay_bound(attempt)
            assert isinstance(error, wsconnector.ConnectivityError), error
            assert socket.state == "reconnecting"
            delays.append(delay)
        socket = connector.socket("quotes")
        assert isinstance(socket.last_error, wsconnector.ConnectivityError)
        assert connector.send("quotes", "one") and connector.send("quotes", "two")
        result = connector.broadcast("to the group", groups="feeds")
        assert (result.delivered, result.buffered) == (1, 1)

        feed.restart()
        while True:
            event = events.next()
            if event[0] == "reconnected":
                break
            assert event[0] == "reconnecting", event
        assert event[1] == socket and event[2] >= 4
        assert socket.state == wsconnector.SocketState.CONNECTED
        assert socket.last_error is None
        assert socket.groups == ["feeds"]
        for want in ["one", "two", "to the group"]:
            assert feed.got() == want
            assert events.next("message")[2] == want
        assert connector.broadcast("after", groups="feeds").delivered == 1
        assert feed.got() == "after"
        assert events.next("message")[2] == "after"
    closed = events.next("closed")
    assert closed[2] == 1001
    events.none_within(0.1)


def test_attempts_that_run_out_raise_retry_exhausted_once(feed: Feed) -> None:
    connector = wsconnector.Connector()
    events = Events(connector)
    with connector:
        socket_id = connector.open_outbound(
            feed.url, reconnect=wsconnector.Reconnect(max_attempts=2, **FAST)
        )
        feed.kill()
        assert [events.next("reconnecting")[2] for _ in range(2)] == [1, 2]
        _, socket, code, reason = events.next("closed")
        assert code == 1006 and "2 reconnect attempts failed" in reason
        assert socket.state == "closed"
        assert isinstance(socket.last_error, wsconnector.RetryExhaustedError)
        assert isinstance(socket.last_error, ConnectionError)
        with pytest.raises(wsconnector.NoSuchSocketError):
            connector.send(socket_id, "late")
    events.none_within(0.1)


def test_the_fail_policy_raises_reconnecting(feed: Feed) -> None:
    # The connector-wide default, with long delays: the socket stays reconnecting.
    connector = wsconnector.Connector(
        reconnect=wsconnector.Reconnect(initial_delay=30, max_delay=30, send_policy="fail")
    )
    events = Events(connector)
    with connector:
        socket_id = connector.open_outbound(feed.url, groups="feeds")
        feed.kill()
        events.next("reconnecting")
        with pytest.raises(wsconnector.ReconnectingError):
            connector.send(socket_id, "lost")
        failure = connector.broadcast("lost", groups="feeds").failures[0]
        assert isinstance(failure.error, wsconnector.ReconnectingError)
        connector.close(socket_id, 4001, "done")
        assert events.next("closed")[2:] == (4001, "done")


def test_bulk_close_counts_reconnecting_sockets_like_the_others(feed: Feed) -> None:
    # Long delays: the socket stays between attempts while it is closed.
    connector = wsconnector.Connector(
        reconnect=wsconnector.Reconnect(initial_delay=30, max_delay=30)
    )
    events = Events(connector)
    up = Feed()
    try:
        with connector:
            connected = connector.open_outbound(up.url, groups="feeds")
            reconnecting = connector.open_outbound(feed.url, groups="feeds")
            feed.kill()
            assert events.next("reconnecting")[1].id == reconnecting
            assert connector.socket(reconnecting).state == "reconnecting"
            assert connector.bulk_close(groups="feeds", code=4001, reason="done") == 2
            closed = {events.next("closed")[1:] for _ in range(2)}
            assert {(s.id, code, reason) for s, code, reason in closed} == {
                (connected, 4001, "done"),
                (reconnecting, 4001, "done"),
            }
            assert connector.sockets() == []
        events.none_within(0.1)
    finally:
        up.kill()


def test_reconnect_arguments_are_checked() -> None:
    with pytest.raises(wsconnector.InvalidArgumentError, match="multiplier"):
        wsconnector.Reconnect(multiplier=0.5)
    with pytest.raises(wsconnector.InvalidArgumentError, match="max_attempts"):
        wsconnector.Reconnect(max_attempts=0)
    with pytest.raises(wsconnector.InvalidArgumentError, match="send_policy"):
        wsconnector.Reconnect(send_policy="later")
    with pytest.raises(wsconnector.InvalidArgumentError, match="final_close_codes"):
        wsconnector.Reconnect(final_close_codes=[(4999, 4000)])
    policy = wsconnector.Reconnect(final_close_codes=[1000, (4000, 4099)], lazy=True)
    assert policy.final_close_codes == [(1000, 1000), (4000, 4099)] and policy.lazy
    assert "Reconnect(" in repr(policy)
    with wsconnector.Connector() as connector:
        with pytest.raises(wsconnector.InvalidArgumentError, match="reconnect"):
            connector.open_outbound("ws://127.0.0.1:9/", reconnect="yes")  # type: ignore[arg-type]


def test_asyncio_events_carry_reconnects(feed: Feed) -> None:
    async def scenario() -> list[tuple[str, int]]:
        seen = []
        async with wsconnector.AsyncConnector() as connector:
            await connector.open_outbound(feed.url, reconnect=wsconnector.Reconnect(**FAST))
            feed.kill()
            feed.restart()
            async for event in connector.events():
                if isinstance(event, wsconnector.OutboundReconnecting):
                    seen.append(("reconnecting", event.attempt))
                    assert isinstance(event.error, wsconnector.WebSocketError)
                elif isinstance(event, wsconnector.OutboundReconnected):
                    seen.append(("reconnected", event.attempts))
                    break
        return seen

    seen = asyncio.run(asyncio.wait_for(scenario(), WAIT))
    assert seen[0] == ("reconnecting", 1)
    assert seen[-1] == ("reconnected", len(seen) - 1)
