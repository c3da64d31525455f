"""The asyncio front: ``AsyncConnector``, awaitable operations and ``async for`` over events.

Nothing here polls. Events: a thread waits for them without the GIL
(``Connector.next_events``) when the loop wants more, and hands each batch to the loop with
``call_soon_threadsafe``; the loop never holds more than about two batches, so the core's
event queue keeps its backpressure. Connects: the core's future runs on the connector's
runtime, its outcome reaches the loop with ``call_soon_threadsafe``, and cancelling the
awaiting task abandons the connect.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import TYPE_CHECKING, AsyncIterator, Deque, List, Optional

from ._native import Connector, InvalidState, Socket, Stopped
from ._types import Event, Groups, Pairs

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._native import BroadcastResult, _AuthorizeHook, _Data, _F, _SocketTypeFilter
    from ._types import Settings


class AsyncConnector:
    """A ``Connector`` for asyncio: ``async with``, awaitable operations, and
    ``async for event in connector.events()``.

    Takes the same keyword settings as ``Connector`` and an optional ``authorize`` hook.
    Events are the objects ``InboundConnection``, ``InboundMessage``, ``OutboundMessage``
    and ``SocketClosed``; iterate ``events()`` while the connector runs, or the sockets stop
    reading once ``event_queue_capacity`` events wait. The synchronous connector underneath
    is ``.connector``.
    """

    def __init__(
        self, *, authorize: Optional[_AuthorizeHook] = None, **settings: Unpack[Settings]
    ) -> None:
        self.connector = Connector(authorize=authorize, **settings)
        """The synchronous connector underneath (its operations do not block the loop)."""
        self._pump: Optional[_EventPump] = None

    def authorize(self, hook: _F) -> _F:
        """Registers the authorization hook (see ``Connector.authorize``); a decorator."""
        return self.connector.authorize(hook)

    @property
    def is_running(self) -> bool:
        """Whether the connector is running."""
        return self.connector.is_running

    @property
    def port(self) -> Optional[int]:
        """The listener's port; ``None`` when client-only or not started."""
        return self.connector.port

    @property
    def local_address(self) -> Optional[tuple[str, int]]:
        """The listener's address as ``(host, port)``; ``None`` when client-only or not started."""
        return self.connector.local_address

    async def start(self) -> None:
        """Starts the connector, delivering its events to the running loop."""
        self.connector.start()
        self._pump = _EventPump(self.connector, asyncio.get_running_loop())

    async def stop(self) -> None:
        """Stops the connector (every socket closed with 1001) without blocking the loop;
        events still waiting can be iterated afterwards."""
        pump = self._pump
        await asyncio.get_running_loop().run_in_executor(None, self.connector.stop)
        if pump is not None:
            pump.drain()

    async def __aenter__(self) -> AsyncConnector:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def events(self) -> AsyncIterator[Event]:
        """The events of the connector, in order for each socket, until it has stopped and
        every event has been taken."""
        if self._pump is None:
            raise InvalidState("the connector is not started: await start() first")
        return self._pump

    async def open_outbound(
        self,
        url: str,
        *,
        headers: Optional[Pairs] = None,
        query: Optional[Pairs] = None,
        subprotocols: Optional[Groups] = None,
        groups: Optional[Groups] = None,
        socket_id: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> str:
        """Connects to a ``ws://`` or ``wss://`` URL and returns the new socket's ID
        (see ``Connector.open_outbound``). Cancelling the await abandons the connect."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[str] = loop.create_future()

        def on_done(socket_id: Optional[str], error: Optional[BaseException]) -> None:
            try:
                loop.call_soon_threadsafe(self._settle, outcome, socket_id, error)
            except RuntimeError:  # the loop is closed: nobody awaits the socket
                if socket_id is not None:
                    self.connector.close(socket_id, 1001, "connect abandoned")

        pending = self.connector._open_outbound_async(
            url,
            on_done,
            headers=headers,
            query=query,
            subprotocols=subprotocols,
            groups=groups,
            socket_id=socket_id,
            timeout=timeout,
        )
        try:
            return await outcome
        except asyncio.CancelledError:
            pending.cancel()
            raise

    def _settle(
        self,
        outcome: asyncio.Future[str],
        socket_id: Optional[str],
        error: Optional[BaseException],
    ) -> None:
        """Hands a connect's outcome to its awaiter; a socket nobody awaits any more is closed."""
        if outcome.cancelled():
            if socket_id is not None:
                self.connector.close(socket_id, 1001, "connect abandoned")
        elif error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(socket_id)  # type: ignore[arg-type]

    async def send(self, socket_id: str, data: _Data) -> bool:
        """Queues a message for one socket (see ``Connector.send``)."""
        return self.connector.send(socket_id, data)

    async def subscribe(self, socket_id: str, groups: Groups) -> None:
        """Adds groups to a socket (see ``Connector.subscribe``)."""
        self.connector.subscribe(socket_id, groups)

    async def unsubscribe(self, socket_id: str, groups: Groups) -> None:
        """Removes groups from a socket (see ``Connector.unsubscribe``)."""
        self.connector.unsubscribe(socket_id, groups)

    async def broadcast(
        self,
        data: _Data,
        *,
        path: Optional[str] = None,
        socket_type: Optional[_SocketTypeFilter] = None,
        groups: Optional[Groups] = None,
    ) -> BroadcastResult:
        """Sends one message to every matching socket (see ``Connector.broadcast``)."""
        return self.connector.broadcast(data, path=path, socket_type=socket_type, groups=groups)

    async def close(self, socket_id: str, code: int = 1000, reason: str = "") -> None:
        """Closes one socket (see ``Connector.close``)."""
        self.connector.close(socket_id, code, reason)

    async def bulk_close(
        self,
        *,
        path: Optional[str] = None,
        socket_type: Optional[_SocketTypeFilter] = None,
        groups: Optional[Groups] = None,
        code: int = 1000,
        reason: str = "",
    ) -> int:
        """Closes every matching socket; returns how many (see ``Connector.bulk_close``)."""
        return self.connector.bulk_close(
            path=path, socket_type=socket_type, groups=groups, code=code, reason=reason
        )

    def socket(self, socket_id: str) -> Socket:
        """The open socket with this ID (see ``Connector.socket``)."""
        return self.connector.socket(socket_id)

    def sockets(
        self,
        *,
        path: Optional[str] = None,
        socket_type: Optional[_SocketTypeFilter] = None,
        groups: Optional[Groups] = None,
    ) -> List[Socket]:
        """The open sockets that match the filter (see ``Connector.sockets``)."""
        return self.connector.sockets(path=path, socket_type=socket_type, groups=groups)


class _EventPump:
    """Moves a connector's events to one loop, a batch at a time, as the loop asks for them.

    The thread takes a batch only when the loop's buffer has run empty, so at most about two
    batches wait in the loop; the rest wait in the core, whose bounded queue makes the
    sockets stop reading when the application falls behind.
    """

    def __init__(self, connector: Connector, loop: asyncio.AbstractEventLoop) -> None:
        self._connector = connector
        self._loop = loop
        self._buffer: Deque[Event] = collections.deque()
        self._waiters: List[asyncio.Future[None]] = []
        self._ended = False
        self._wanted = threading.Event()
        self._draining = False
        thread = threading.Thread(target=self._run, name="wsconnector-events", daemon=True)
        thread.start()

    def drain(self) -> None:
        """The connector has stopped: take what is left without waiting to be asked."""
        self._draining = True
        self._wanted.set()

    def _run(self) -> None:
        """The thread: wait to be asked, take a batch (without the GIL), hand it to the loop."""
        while True:
            if not self._draining:
                self._wanted.wait()
                self._wanted.clear()
            try:
                batch: Optional[List[Event]] = self._connector.next_events()
            except Stopped:
                batch = None
            try:
                self._loop.call_soon_threadsafe(self._arrive, batch)
            except RuntimeError:  # the loop is closed: nobody will read
                return
            if batch is None:
                return

    def _arrive(self, batch: Optional[List[Event]]) -> None:
        if batch is None:
            self._ended = True
        else:
            self._buffer.extend(batch)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def __aiter__(self) -> _EventPump:
        return self

    async def __anext__(self) -> Event:
        while not self._buffer:
            if self._ended:
                raise StopAsyncIteration
            waiter = self._loop.create_future()
            self._waiters.append(waiter)
            self._wanted.set()
            await waiter
        event = self._buffer.popleft()
        if not self._buffer:
            self._wanted.set()  # fetch the next batch while this one is handled
        return event
