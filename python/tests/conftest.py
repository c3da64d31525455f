"""Shared fixtures: a connector whose triggers record into a queue, and peers from the
independent `websockets` library (a client for the listener, a server for outbound sockets).

Nothing here sleeps to let things settle: every wait is on a queue or an event, with a bound.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator, Optional

import pytest
import websockets.sync.client
import websockets.sync.server
from websockets.sync.server import ServerConnection

import wsconnector

WAIT = 10.0
"""Upper bound of every wait in the tests, in seconds."""


class Recorder:
    """Trigger callbacks that put `(trigger, *args)` on a queue, for the test to take."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[Any, ...]] = queue.Queue()

    def register(self, connector: wsconnector.Connector) -> None:
        connector.on_inbound_connection(lambda s: self.queue.put(("connection", s)))
        connector.on_inbound_message(lambda s, m: self.queue.put(("inbound", s, m)))
        connector.on_outbound_message(lambda s, m: self.queue.put(("outbound", s, m)))
        connector.on_socket_closed(lambda s, c, r: self.queue.put(("closed", s, c, r)))

    def next(self, trigger: Optional[str] = None) -> tuple[Any, ...]:
        """The next recorded event (of `trigger`, skipping the others if given)."""
        while True:
            event = self.queue.get(timeout=WAIT)
            if trigger is None or event[0] == trigger:
                return event


def connect(connector: wsconnector.Connector, path: str = "/", **kwargs: Any) -> Any:
    """A `websockets` client connected to the connector's listener."""
    return websockets.sync.client.connect(
        f"ws://127.0.0.1:{connector.port}{path}", proxy=None, open_timeout=WAIT, **kwargs
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[wsconnector.Connector]:
    """A running connector listening on a free port, its triggers recorded by `recorder`."""
    connector = wsconnector.Connector(host="127.0.0.1", port=0)
    recorder.register(connector)
    with connector:
        yield connector


class Peer:
    """A `websockets` server for outbound sockets: it records each handshake request, the
    messages it receives and the close code of each connection, and runs `handler` (default:
    echo) on each connection."""

    def __init__(
        self,
        handler: Optional[Callable[[ServerConnection], None]] = None,
        **serve_kwargs: Any,
    ) -> None:
        self.requests: queue.Queue[Any] = queue.Queue()
        self.received: queue.Queue[Any] = queue.Queue()
        self.connections: queue.Queue[ServerConnection] = queue.Queue()
        self.close_codes: queue.Queue[Optional[int]] = queue.Queue()
        self._handler = handler or self.echo
        self._server = websockets.sync.server.serve(
            self._handle, "127.0.0.1", 0, **serve_kwargs
        )
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/", scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _handle(self, connection: ServerConnection) -> None:
        self.requests.put(connection.request)
        self.connections.put(connection)
        self._handler(connection)
        self.close_codes.put(connection.close_code)

    def echo(self, connection: ServerConnection) -> None:
        for message in connection:
            self.received.put(message)
            connection.send(message)

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(WAIT)


@pytest.fixture
def peer() -> Iterator[Peer]:
    """An echoing `websockets` server."""
    p = Peer()
    yield p
    p.close()
