"""The asyncio front: ``AsyncConnector``, with awaitable operations, trigger handlers and an
authorization hook that may be ``async def``, ``async for`` over events, and
``serve_forever``.

Nothing here polls. Events: a thread waits for them without the GIL
(``Connector.next_events``) when the loop asks for more, and hands each batch to the loop with
``call_soon_threadsafe``. The event iterator asks when its buffer has run empty; the trigger
handlers ask while the events they have taken and not finished stay below the core queue's
bounds (``event_queue_capacity`` and ``event_queue_bytes``). Either way the loop holds a
bounded number of events, and past that the core's bounded queue makes the sockets stop
reading until the application catches up. Connects: the core's future runs on the connector's
runtime, its outcome reaches the loop with ``call_soon_threadsafe``, and cancelling the
awaiting task abandons the connect. An ``async def`` authorization hook runs on the loop while
the connector's worker thread that asked waits for its answer.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import inspect
import logging
import signal
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Deque,
    Dict,
    List,
    Optional,
    Set,
    Tuple,
    TypeVar,
    Union,
    overload,
)

from ._native import (
    AuthRequest,
    Connector,
    InboundConnection,
    InboundMessage,
    InvalidStateError,
    OutboundMessage,
    OutboundReconnected,
    OutboundReconnecting,
    Reconnect,
    Socket,
    SocketClosed,
    StoppedError,
    WebSocketError,
    _Routes,
)
from ._types import Event, Groups, Pairs

_T = TypeVar("_T")

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._native import (
        BroadcastResult,
        DrainProgress,
        Metrics,
        _AuthAnswer,
        _Data,
        _F,
        _SocketTypeFilter,
    )
    from ._types import DrainOptions, Settings

_Deliver = Callable[[Optional[List[Event]]], None]

_log = logging.getLogger("wsconnector")

# The trigger handlers' names, by the event each one receives.
_HANDLER_NAMES: Dict[type, str] = {
    InboundConnection: "on_inbound_connection",
    InboundMessage: "on_inbound_message",
    OutboundMessage: "on_outbound_message",
    SocketClosed: "on_socket_closed",
    OutboundReconnecting: "on_outbound_reconnecting",
    OutboundReconnected: "on_outbound_reconnected",
}


class AsyncConnector:
    """A ``Connector`` for asyncio: ``async with``, awaitable operations, trigger handlers
    (``async def`` or plain functions) or ``async for event in connector.events()``, and
    ``serve_forever()``.

    Takes the same keyword settings as ``Connector``, the trigger handlers
    (``on_inbound_connection``, ``on_inbound_message``, ``on_outbound_message``,
    ``on_socket_closed``, ``on_outbound_reconnecting``, ``on_outbound_reconnected``, also as
    decorators), an ``authorize`` hook and a ``refresh_headers`` hook. With trigger handlers,
    events go to them on the loop: the handlers of one socket run one after another, in order
    (connection first, closed last), those of different sockets concurrently as tasks; an
    event whose trigger has no handler is dropped, and ``events()`` is not available. Without
    them, iterate ``events()`` while the connector runs. Either way the sockets stop reading
    when the application falls behind. The synchronous connector underneath is ``.connector``.
    """

    def __init__(
        self,
        *,
        on_inbound_connection: Optional[Callable[[Socket], object]] = None,
        on_inbound_message: Optional[Callable[[Socket, Union[str, bytes]], object]] = None,
        on_outbound_message: Optional[Callable[[Socket, Union[str, bytes]], object]] = None,
        on_socket_closed: Optional[Callable[[Socket, int, str], object]] = None,
        on_outbound_reconnecting: Optional[
            Callable[[Socket, int, float, WebSocketError], object]
        ] = None,
        on_outbound_reconnected: Optional[Callable[[Socket, int], object]] = None,
        authorize: Optional[
            Callable[[AuthRequest], Union[_AuthAnswer, Awaitable[_AuthAnswer]]]
        ] = None,
        refresh_headers: Optional[Callable[[Socket, int], Pairs]] = None,
        **settings: Unpack[Settings],
    ) -> None:
        self.connector = Connector(**settings)
        """The synchronous connector underneath (its operations do not block the loop)."""
        self._handlers: Dict[type, _Routes] = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._events: Optional[_EventStream] = None
        self._dispatch: Optional[_Handlers] = None
        self._pump: Optional[_Pump] = None
        self._closed: Optional[asyncio.Future[None]] = None
        self._authorizing: Set[concurrent.futures.Future[Any]] = set()
        for event_type, handler in (
            (InboundConnection, on_inbound_connection),
            (InboundMessage, on_inbound_message),
            (OutboundMessage, on_outbound_message),
            (SocketClosed, on_socket_closed),
            (OutboundReconnecting, on_outbound_reconnecting),
            (OutboundReconnected, on_outbound_reconnected),
        ):
            if handler is not None:
                self._register(event_type, handler)
        if authorize is not None:
            self.authorize(authorize)
        if refresh_headers is not None:
            self.refresh_headers(refresh_headers)

    @overload
    def on_inbound_connection(self, handler: _F) -> _F: ...
    @overload
    def on_inbound_connection(self, handler: str) -> Callable[[_F], _F]: ...
    def on_inbound_connection(self, handler: Any) -> Any:
        """Registers ``handler(socket)`` for the inbound-connection trigger (a decorator, bare or
        with a path pattern, as ``Connector.on_inbound_connection``)."""
        return self._route(InboundConnection, handler)

    @overload
    def on_inbound_message(self, handler: _F) -> _F: ...
    @overload
    def on_inbound_message(self, handler: str) -> Callable[[_F], _F]: ...
    def on_inbound_message(self, handler: Any) -> Any:
        """Registers ``handler(socket, message)`` for the inbound-message trigger (a decorator, bare or
        with a path pattern, as ``Connector.on_inbound_message``)."""
        return self._route(InboundMessage, handler)

    @overload
    def on_outbound_message(self, handler: _F) -> _F: ...
    @overload
    def on_outbound_message(self, handler: str) -> Callable[[_F], _F]: ...
    def on_outbound_message(self, handler: Any) -> Any:
        """Registers ``handler(socket, message)`` for the outbound-message trigger (a decorator, bare or
        with a path pattern, as ``Connector.on_outbound_message``)."""
        return self._route(OutboundMessage, handler)

    @overload
    def on_socket_closed(self, handler: _F) -> _F: ...
    @overload
    def on_socket_closed(self, handler: str) -> Callable[[_F], _F]: ...
    def on_socket_closed(self, handler: Any) -> Any:
        """Registers ``handler(socket, code, reason)`` for the socket-closed trigger (a decorator, bare or
        with a path pattern, as ``Connector.on_socket_closed``)."""
        return self._route(SocketClosed, handler)

    def on_outbound_reconnecting(self, handler: _F) -> _F:
        """Registers ``handler(socket, attempt, delay, error)`` for a reconnecting outbound
        socket's attempts (a decorator)."""
        return self._register(OutboundReconnecting, handler)

    def on_outbound_reconnected(self, handler: _F) -> _F:
        """Registers ``handler(socket, attempts)`` for a reconnected outbound socket (a
        decorator)."""
        return self._register(OutboundReconnected, handler)

    def refresh_headers(self, hook: _F) -> _F:
        """Registers the header refresher (see ``Connector.refresh_headers``); a decorator. It
        runs on a worker thread of the connector, so it must not be ``async def``."""
        if inspect.iscoroutinefunction(hook):
            raise TypeError("refresh_headers needs a plain function: it runs on a worker thread")
        self.connector.refresh_headers(hook)
        return hook

    def authorize(self, hook: _F) -> _F:
        """Registers the authorization hook (see ``Connector.authorize``); a decorator. An
        ``async def`` hook runs on the connector's loop; a plain one on a worker thread."""
        self.connector.authorize(self._authorizer(hook))
        return hook

    def _route(self, event_type: type, handler: Any) -> Any:
        """Registers ``handler`` for every path; given a path pattern instead, returns the
        decorator that registers its handler for that pattern."""
        if isinstance(handler, str):
            pattern = handler
            return lambda decorated: self._register(event_type, decorated, pattern)
        return self._register(event_type, handler)

    def _register(self, event_type: type, handler: _F, path: Optional[str] = None) -> _F:
        """Registers ``handler`` for every path, or for the paths that match ``path``."""
        name = _HANDLER_NAMES[event_type]
        if not callable(handler):
            raise TypeError(f"{name} needs a callable")
        if self._pump is not None and self.is_running:
            raise InvalidStateError(
                f"register {name} before start(): handlers are fixed while running"
            )
        self._handlers.setdefault(event_type, _Routes()).set(handler, path)
        return handler

    def _authorizer(self, hook: Callable[[AuthRequest], Any]) -> Callable[[AuthRequest], Any]:
        """The hook as the connector's worker thread calls it: an awaitable answer is awaited
        on the loop while the thread waits (without the GIL)."""

        def authorize(request: AuthRequest) -> Any:
            answer = hook(request)
            if not inspect.isawaitable(answer):
                return answer
            loop = self._loop
            if loop is None or loop.is_closed():
                _close_unawaited(answer)
                raise InvalidStateError("the connector's event loop is gone")
            decided = asyncio.run_coroutine_threadsafe(_awaited(answer), loop)
            self._authorizing.add(decided)
            try:
                return decided.result()
            finally:
                self._authorizing.discard(decided)

        return authorize

    @property
    def is_running(self) -> bool:
        """Whether the connector is running."""
        return self.connector.is_running

    @property
    def port(self) -> Optional[int]:
        """The listener's port; ``None`` when client-only or not started."""
        return self.connector.port

    @property
    def local_address(self) -> Optional[Tuple[str, int]]:
        """The listener's address as ``(host, port)``; ``None`` when client-only or not started."""
        return self.connector.local_address

    async def start(self) -> None:
        """Starts the connector, delivering its events to the running loop."""
        loop = asyncio.get_running_loop()
        self._loop = loop  # before the connector starts: the hook may run at once
        self.connector.start()
        self._closed = loop.create_future()
        pump = _Pump(self.connector, loop)
        if self._handlers:
            bounds = self.connector._event_queue_bounds
            self._dispatch = _Handlers(self._handlers, bounds, pump, self._closed)
            self._events = None
            pump.start(self._dispatch.deliver)
        else:
            self._events = _EventStream(pump, self._closed)
            self._dispatch = None
            pump.start(self._events.deliver)
        self._pump = pump

    async def stop(
        self, *, drain: Union[bool, DrainOptions, None] = None, deadline: Optional[float] = None
    ) -> None:
        """Stops the connector without blocking the loop: every socket closed with 1001, every
        remaining event delivered. With trigger handlers it returns once they have all run,
        each socket's closed handler included (called from a handler, it does not wait for
        them: they wait for that handler). Without, the events still waiting can be iterated
        afterwards. Authorization hooks still under way are cancelled. With ``drain`` (``True``
        or ``drain()``'s options), drains first for up to ``deadline`` seconds (30), as
        ``Connector.stop`` does."""
        if drain:
            options: DrainOptions = {} if drain is True else drain
            seconds = 30.0 if deadline is None else deadline
            await self.drain(timeout=seconds, **options)
        for decided in list(self._authorizing):
            decided.cancel()
        pump = self._pump
        if pump is not None:
            pump.drain()
        await asyncio.get_running_loop().run_in_executor(None, self.connector.stop)
        dispatch = self._dispatch
        if dispatch is None or not dispatch.is_handling():
            await self.wait_closed()

    async def wait_closed(self) -> None:
        """Waits until the connector has stopped (``stop()``, or a signal in
        ``serve_forever()``) and its last event has been taken; with trigger handlers, until
        every handler has run. Returns at once if it was never started."""
        if self._closed is not None:
            await asyncio.shield(self._closed)

    async def serve_forever(self) -> None:
        """Starts the connector unless it is running, then serves until ``stop()`` is called
        or the process gets SIGINT (Ctrl-C) or SIGTERM, and stops it cleanly: it returns once
        every socket has closed and every handler has run. The signal handlers are installed
        only when the loop runs in the main thread (on Unix), and the earlier ones are put back
        when it returns; elsewhere only ``stop()`` ends it. A signal ends it normally, without
        ``KeyboardInterrupt``; cancelling it stops the connector, then raises."""
        if not self.is_running:
            await self.start()
        loop = asyncio.get_running_loop()
        stopping: List[asyncio.Task[None]] = []

        def on_signal() -> None:
            if not stopping:
                stopping.append(loop.create_task(self.stop()))

        replaced = _stop_on_signals(loop, on_signal)
        try:
            await self.wait_closed()
        except asyncio.CancelledError:
            await self.stop()
            raise
        finally:
            _restore_signals(loop, replaced)
        if stopping:
            await stopping[0]

    async def __aenter__(self) -> AsyncConnector:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def events(self) -> AsyncIterator[Event]:
        """The events of the connector, in order for each socket, until it has stopped and
        every event has been taken. Only for connectors without trigger handlers."""
        if self._dispatch is not None:
            raise InvalidStateError(
                "this connector hands its events to its trigger handlers; "
                "events() is for connectors without them"
            )
        if self._events is None:
            raise InvalidStateError("the connector is not started: await start() first")
        return self._events

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
        reconnect: Union[bool, Reconnect, None] = None,
        uri_params: Optional[Pairs] = None,
        compression: Optional[bool] = None,
    ) -> str:
        """Connects to a ``ws://`` or ``wss://`` URL (or a path on the client base) and returns
        the new socket's ID (see ``Connector.open_outbound``). Cancelling the await abandons
        the connect."""
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
            reconnect=reconnect,
            uri_params=uri_params,
            compression=compression,
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

    async def _run(self, operation: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Runs an operation: on the loop (it never waits), except with a cluster, where it
        may wait for other nodes and runs in the loop's executor."""
        if self.connector.node_name is None:
            return operation(*args, **kwargs)
        call = functools.partial(operation, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def send(self, socket_id: str, data: _Data) -> bool:
        """Queues a message for one socket (see ``Connector.send``)."""
        return await self._run(self.connector.send, socket_id, data)

    async def subscribe(self, socket_id: str, groups: Groups) -> None:
        """Adds groups to a socket (see ``Connector.subscribe``)."""
        await self._run(self.connector.subscribe, socket_id, groups)

    async def unsubscribe(self, socket_id: str, groups: Groups) -> None:
        """Removes groups from a socket (see ``Connector.unsubscribe``)."""
        await self._run(self.connector.unsubscribe, socket_id, groups)

    async def broadcast(
        self,
        data: _Data,
        *,
        path: Optional[str] = None,
        socket_type: Optional[_SocketTypeFilter] = None,
        groups: Optional[Groups] = None,
        all_groups: Optional[Groups] = None,
        except_socket_ids: Optional[Groups] = None,
        except_groups: Optional[Groups] = None,
        wait: bool = True,
    ) -> BroadcastResult:
        """Sends one message to every matching socket (see ``Connector.broadcast``)."""
        return await self._run(
            self.connector.broadcast,
            data,
            path=path,
            socket_type=socket_type,
            groups=groups,
            all_groups=all_groups,
            except_socket_ids=except_socket_ids,
            except_groups=except_groups,
            wait=wait,
        )

    async def close(self, socket_id: str, code: int = 1000, reason: str = "") -> None:
        """Closes one socket (see ``Connector.close``)."""
        await self._run(self.connector.close, socket_id, code, reason)

    async def bulk_close(
        self,
        *,
        path: Optional[str] = None,
        socket_type: Optional[_SocketTypeFilter] = None,
        groups: Optional[Groups] = None,
        all_groups: Optional[Groups] = None,
        except_socket_ids: Optional[Groups] = None,
        except_groups: Optional[Groups] = None,
        code: int = 1000,
        reason: str = "",
    ) -> int:
        """Closes every matching socket; returns how many (see ``Connector.bulk_close``)."""
        return await self._run(
            self.connector.bulk_close,
            path=path,
            socket_type=socket_type,
            groups=groups,
            all_groups=all_groups,
            except_socket_ids=except_socket_ids,
            except_groups=except_groups,
            code=code,
            reason=reason,
        )

    def metrics(self) -> Metrics:
        """The connector's figures now (see ``Connector.metrics``); quick, it does not block."""
        return self.connector.metrics()

    async def drain(
        self,
        *,
        timeout: Optional[float] = None,
        on_progress: Optional[Callable[[DrainProgress], object]] = None,
        **options: Unpack[DrainOptions],
    ) -> DrainProgress:
        """Drains the connector (see ``Connector.drain``) without blocking the loop: new
        handshakes get 503, the matching sockets close in batches; returns the last progress
        once they have all closed (or ``timeout`` seconds passed). ``on_progress`` is called on
        the loop with each change. The handlers keep running meanwhile."""
        loop = asyncio.get_running_loop()
        report = None
        if on_progress is not None:
            callback = on_progress

            def report(progress: DrainProgress) -> None:
                loop.call_soon_threadsafe(callback, progress)

        wait = functools.partial(
            self.connector.drain, timeout=timeout, on_progress=report, **options
        )
        return await loop.run_in_executor(None, wait)

    @property
    def is_draining(self) -> bool:
        """Whether a drain has begun."""
        return self.connector.is_draining

    def socket(self, socket_id: str) -> Socket:
        """The open socket with this ID (see ``Connector.socket``)."""
        return self.connector.socket(socket_id)

    def sockets(
        self,
        *,
        path: Optional[str] = None,
        socket_type: Optional[_SocketTypeFilter] = None,
        groups: Optional[Groups] = None,
        all_groups: Optional[Groups] = None,
        except_socket_ids: Optional[Groups] = None,
        except_groups: Optional[Groups] = None,
    ) -> List[Socket]:
        """The open sockets that match the filter (see ``Connector.sockets``)."""
        return self.connector.sockets(
            path=path,
            socket_type=socket_type,
            groups=groups,
            all_groups=all_groups,
            except_socket_ids=except_socket_ids,
            except_groups=except_groups,
        )


async def _awaited(answer: Awaitable[Any]) -> Any:
    return await answer


def _close_unawaited(answer: object) -> None:
    """Closes a coroutine that will never run (so that Python does not warn about it)."""
    close = getattr(answer, "close", None)
    if callable(close):
        close()


def _stop_on_signals(
    loop: asyncio.AbstractEventLoop, on_signal: Callable[[], None]
) -> List[Tuple[int, Any]]:
    """Has SIGINT and SIGTERM call ``on_signal`` on the loop, when the loop runs in the main
    thread; returns the signals and the Python handlers they had."""
    replaced: List[Tuple[int, Any]] = []
    if threading.current_thread() is not threading.main_thread():
        return replaced
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError, ValueError):  # not on this loop or platform
            continue
        replaced.append((sig, previous))
    return replaced


def _restore_signals(loop: asyncio.AbstractEventLoop, replaced: List[Tuple[int, Any]]) -> None:
    for sig, previous in replaced:
        loop.remove_signal_handler(sig)
        if previous is not None:
            signal.signal(sig, previous)


class _Pump:
    """Moves a connector's events to one loop: a thread that, each time the loop asks
    (``want``), takes the batch of events that are ready (waiting without the GIL) and hands it
    to the loop's consumer; ``None`` after the last."""

    def __init__(self, connector: Connector, loop: asyncio.AbstractEventLoop) -> None:
        self._connector = connector
        self._loop = loop
        self._wanted = threading.Event()
        self._draining = False

    def start(self, deliver: _Deliver) -> None:
        thread = threading.Thread(
            target=self._run, args=(deliver,), name="wsconnector-events", daemon=True
        )
        thread.start()

    def want(self) -> None:
        """Asks for the next batch."""
        self._wanted.set()

    def drain(self) -> None:
        """The connector is stopping: take what is left without waiting to be asked."""
        self._draining = True
        self._wanted.set()

    def _run(self, deliver: _Deliver) -> None:
        while True:
            if not self._draining:
                self._wanted.wait()
                self._wanted.clear()
            try:
                batch: Optional[List[Event]] = self._connector.next_events()
            except StoppedError:
                batch = None
            try:
                self._loop.call_soon_threadsafe(deliver, batch)
            except RuntimeError:  # the loop is closed: nobody will read
                return
            if batch is None:
                return


class _EventStream:
    """The events as an async iterator. It asks for a batch only when its buffer has run empty,
    so at most about two batches wait in the loop; the rest wait in the core."""

    def __init__(self, pump: _Pump, closed: asyncio.Future[None]) -> None:
        self._pump = pump
        self._closed = closed
        self._buffer: Deque[Event] = collections.deque()
        self._waiters: List[asyncio.Future[None]] = []
        self._ended = False

    def deliver(self, batch: Optional[List[Event]]) -> None:
        if batch is None:
            self._ended = True
            if not self._closed.done():
                self._closed.set_result(None)
        else:
            self._buffer.extend(batch)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> Event:
        while not self._buffer:
            if self._ended:
                raise StopAsyncIteration
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            self._pump.want()
            await waiter
        event = self._buffer.popleft()
        if not self._buffer:
            self._pump.want()  # fetch the next batch while this one is handled
        return event


def _payload_len(event: Event) -> int:
    if isinstance(event, (InboundMessage, OutboundMessage)):
        return len(event.message)
    return 0


class _Handlers:
    """Runs the trigger handlers on the loop. Each socket with events to handle has one task
    that runs its handlers one after another, in order, awaiting those that return an
    awaitable; different sockets' tasks run concurrently. The events taken and not yet handled
    count against the core queue's bounds: at either bound the pump takes no more, the core
    queue fills, and the sockets stop reading."""

    def __init__(
        self,
        handlers: Dict[type, _Routes],
        bounds: Tuple[int, int],
        pump: _Pump,
        closed: asyncio.Future[None],
    ) -> None:
        self._handlers = dict(handlers)
        self._max_events, self._max_bytes = bounds
        self._pump = pump
        self._closed = closed
        self._queues: Dict[Socket, Deque[Event]] = {}
        self._tasks: Set[asyncio.Task[None]] = set()
        self._events = 0
        self._bytes = 0
        self._ended = False
        pump.want()

    def deliver(self, batch: Optional[List[Event]]) -> None:
        if batch is None:
            self._ended = True
            self._check_closed()
            return
        for event in batch:
            self._events += 1
            self._bytes += _payload_len(event)
            queue = self._queues.get(event.socket)
            if queue is not None:
                queue.append(event)
                continue
            queue = self._queues[event.socket] = collections.deque((event,))
            task = asyncio.get_running_loop().create_task(self._run(event.socket, queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._ask()

    def is_handling(self) -> bool:
        """Whether the current task is one of the handlers' tasks."""
        return asyncio.current_task() in self._tasks

    def _ask(self) -> None:
        if not self._ended and self._events < self._max_events and self._bytes < self._max_bytes:
            self._pump.want()

    async def _run(self, socket: Socket, queue: Deque[Event]) -> None:
        try:
            while queue:
                await self._handle(queue[0])
                self._handled(queue.popleft())
        finally:
            for event in queue:  # only when the task was cancelled
                self._handled(event)
            queue.clear()
            del self._queues[socket]
            self._check_closed()

    def _handled(self, event: Event) -> None:
        self._events -= 1
        self._bytes -= _payload_len(event)
        self._ask()

    async def _handle(self, event: Event) -> None:
        routes = self._handlers.get(type(event))
        handler = routes.handler_for(event.socket.path) if routes is not None else None
        if handler is None:
            return
        args: Tuple[Any, ...]
        if isinstance(event, InboundConnection):
            args = (event.socket,)
        elif isinstance(event, SocketClosed):
            args = (event.socket, event.code, event.reason)
        elif isinstance(event, OutboundReconnecting):
            args = (event.socket, event.attempt, event.delay, event.error)
        elif isinstance(event, OutboundReconnected):
            args = (event.socket, event.attempts)
        elif event.socket.is_close_requested:
            return  # the application closed the socket before its message was handed over
        else:
            args = (event.socket, event.message)
        try:
            result = handler(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            _log.exception("the %s handler raised", _HANDLER_NAMES[type(event)])

    def _check_closed(self) -> None:
        if self._ended and not self._queues and not self._closed.done():
            self._closed.set_result(None)
