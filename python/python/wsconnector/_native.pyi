"""Type stubs of the extension module wsconnector._native (checked by mypy.stubtest)."""

import builtins
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal, TypeVar, Union, final, overload

from typing_extensions import Self, Unpack

from ._types import DrainOptions, Settings, SocketType

_PemSource = Union[str, bytes, os.PathLike[str]]
_Pairs = Union[Mapping[str, str], Iterable[tuple[str, str]]]
_Groups = Union[str, Iterable[str]]
_Data = Union[str, bytes, bytearray, memoryview]
_SocketTypeFilter = Union[Literal["inbound", "outbound", "all"], SocketType]
_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "WebSocketError",
    "InvalidArgumentError",
    "NoSuchSocketError",
    "InvalidSocketIdError",
    "NonUniqueSocketIdError",
    "ConnectivityError",
    "DnsError",
    "TlsError",
    "HandshakeError",
    "UnauthorizedError",
    "Unauthorized",
    "ForbiddenError",
    "Forbidden",
    "NotFoundError",
    "NotFound",
    "InternalServerError",
    "ServiceUnavailableError",
    "ServiceUnavailable",
    "TimeoutError",
    "RemotelyClosedError",
    "LimitExceededError",
    "QueueFullError",
    "InvalidStateError",
    "StoppedError",
    "ProtocolError",
    "InternalError",
    "RetryExhaustedError",
    "BasicAuthenticationError",
    "ReconnectingError",
    "InvalidArgument",
    "NoSuchSocket",
    "InvalidSocketId",
    "NonUniqueSocketId",
    "Timeout",
    "RemotelyClosed",
    "LimitExceeded",
    "QueueFull",
    "InvalidState",
    "Stopped",
    "PanicException",
    "Connector",
    "Socket",
    "AuthRequest",
    "Reject",
    "InboundConnection",
    "InboundMessage",
    "OutboundMessage",
    "SocketClosed",
    "OutboundReconnecting",
    "OutboundReconnected",
    "Reconnect",
    "BroadcastResult",
    "BroadcastFailure",
    "ClusterSocket",
    "Pending",
    "Metrics",
    "DrainProgress",
    "_stop_all",
    "_config_fields",
    "SETTINGS",
    "SETTING_ALIASES",
    "VERSION",
    "_Routes",
]

VERSION: Final[str]
SETTINGS: Final[dict[str, str]]
SETTING_ALIASES: Final[dict[str, str]]

class WebSocketError(Exception):
    """Base class of every error the connector raises."""

class InvalidArgumentError(WebSocketError, ValueError):
    """An argument or setting was malformed (the message names it)."""

class NoSuchSocketError(WebSocketError, LookupError):
    """No open socket has the given ID (it never existed, or it has closed)."""

class InvalidSocketIdError(WebSocketError, ValueError):
    """A caller-chosen socket ID is empty, blank, too long or has control characters."""

class NonUniqueSocketIdError(WebSocketError, ValueError):
    """A caller-chosen socket ID is already used by an open socket."""

class ConnectivityError(WebSocketError, ConnectionError):
    """The TCP connection could not be made or broke (refused, reset, unreachable)."""

class DnsError(WebSocketError, ConnectionError):
    """The host name of an outbound URL did not resolve."""

class TlsError(WebSocketError):
    """TLS failed: untrusted or mismatched certificate, unreadable PEM, failed TLS handshake."""

class HandshakeError(WebSocketError):
    """The peer answered the WebSocket handshake with an HTTP status other than 101."""

    status: int | None
    """The HTTP status the peer answered with."""
    body: bytes | None
    """The first bytes (at most 1024) of the body of the response that refused an outbound
    handshake."""
    headers: list[tuple[str, str]] | None
    """The headers of the response that refused an outbound handshake."""

class UnauthorizedError(HandshakeError):
    """The peer refused the handshake with HTTP 401."""

class ForbiddenError(HandshakeError):
    """The peer refused the handshake with HTTP 403."""

class NotFoundError(HandshakeError):
    """The peer refused the handshake with HTTP 404."""

class InternalServerError(HandshakeError):
    """The peer refused the handshake with HTTP 500."""

class ServiceUnavailableError(HandshakeError):
    """The peer refused the handshake with HTTP 503."""

# Mule's names for them.
Unauthorized = UnauthorizedError
Forbidden = ForbiddenError
NotFound = NotFoundError
ServiceUnavailable = ServiceUnavailableError

class TimeoutError(WebSocketError, builtins.TimeoutError):
    """A connect, handshake or stop did not finish in time (`wsconnector.TimeoutError`: left out
    of `from wsconnector import *`, so that it never shadows the builtin it derives from)."""

class RemotelyClosedError(WebSocketError):
    """The peer closed the socket."""

class LimitExceededError(WebSocketError):
    """A configured limit was reached (connections, message size)."""

class QueueFullError(WebSocketError):
    """The socket's send queue is full and the slow-consumer policy is 'fail'."""

class InvalidStateError(WebSocketError, RuntimeError):
    """The call is not allowed now (an operation before start, stop from a trigger, ...)."""

class StoppedError(WebSocketError):
    """The connector is stopped or stopping."""

class ProtocolError(WebSocketError):
    """The peer broke the WebSocket protocol."""

class InternalError(WebSocketError):
    """A panic inside the library, caught; the connector keeps running."""

class RetryExhaustedError(WebSocketError, ConnectionError):
    """An outbound socket's reconnect attempts ran out (its policy's maximum) and it closed."""

class BasicAuthenticationError(WebSocketError):
    """The server refused the handshake's basic authentication (HTTP 401); `.status` holds it."""

    status: int | None

class ReconnectingError(WebSocketError):
    """The outbound socket is reconnecting and its policy fails sends meanwhile."""

# The earlier names, kept as aliases of the same classes.
InvalidArgument = InvalidArgumentError
NoSuchSocket = NoSuchSocketError
InvalidSocketId = InvalidSocketIdError
NonUniqueSocketId = NonUniqueSocketIdError
Timeout = TimeoutError
RemotelyClosed = RemotelyClosedError
LimitExceeded = LimitExceededError
QueueFull = QueueFullError
InvalidState = InvalidStateError
Stopped = StoppedError

class PanicException(BaseException):
    """A panic in the binding itself (PyO3's exception; derives from BaseException)."""

@final
class _Routes:
    """One trigger's handlers for `AsyncConnector`, per path pattern and a catch-all."""

    def __init__(self) -> None: ...
    def set(self, handler: Callable[..., object], path: str | None = None) -> None: ...
    def handler_for(self, path: str) -> Callable[..., object] | None: ...

@final
class Socket:
    """A socket: its attributes, read-only (`groups` is read when asked), and the operations on
    it (`send`, `close`, `subscribe`, `unsubscribe`), which need no ID lookup.

    The triggers hand out one object per socket, the same for each of its events."""

    @property
    def id(self) -> str:
        """The socket's unique ID."""
    @property
    def type(self) -> Literal["inbound", "outbound"]:
        """`"inbound"` (accepted by the listener) or `"outbound"` (opened by this connector)."""
    @property
    def path(self) -> str:
        """The full path of the handshake request (base path included), without the query;
        for an inbound socket, percent-decoded: the path the served patterns matched."""
    @property
    def uri(self) -> str:
        """The full request URI, e.g. `wss://example.com:8443/chat/room1?user=ann`."""
    @property
    def scheme(self) -> Literal["ws", "wss"]:
        """`"ws"` or `"wss"`."""
    @property
    def headers(self) -> list[tuple[str, str]]:
        """The handshake request's headers as `(name, value)` pairs, in order."""
    @property
    def query(self) -> list[tuple[str, str]]:
        """The handshake's query parameters as decoded `(name, value)` pairs, in order."""
    @property
    def query_string(self) -> str:
        """The query string of the handshake request as sent (percent-encoded, no `?`)."""
    @property
    def uri_params(self) -> list[tuple[str, str]]:
        """The URI parameters: what the `{name}` segments of the served path pattern matched
        (inbound), or those that filled the URL's template (outbound)."""
    @property
    def method(self) -> str:
        """The handshake request's method, `"GET"`."""
    @property
    def http_version(self) -> str:
        """The handshake's HTTP version, `"HTTP/1.1"`."""
    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, or `None`."""
    @property
    def extensions(self) -> str | None:
        """The negotiated extensions as the handshake's `Sec-WebSocket-Extensions` response states
        them (e.g. `"permessage-deflate; client_max_window_bits=12"`), or `None`."""
    @property
    def compression(self) -> dict[str, bool | int | None] | None:
        """permessage-deflate's negotiated parameters as a dict (`server_no_context_takeover`,
        `client_no_context_takeover`: bool; `server_max_window_bits`,
        `client_max_window_bits`: int, or `None` when not stated, which means 15), or `None`
        when the socket is not compressed."""
    @property
    def groups(self) -> list[str]:
        """The groups the socket is subscribed to now, sorted; once it has closed, those it had
        when it closed (the socket-closed callback shows them)."""
    @property
    def local_address(self) -> tuple[str, int]:
        """This end of the connection as `(host, port)`."""
    @property
    def remote_address(self) -> tuple[str, int]:
        """The peer's end of the connection as `(host, port)`."""
    @property
    def peer_certificate(self) -> bytes | None:
        """The certificate the peer presented, as DER `bytes` (the leaf of its chain), or `None`:
        the client's with mutual TLS (inbound sockets), the server's (outbound `wss` sockets).
        Read it with an X.509 library, e.g. `cryptography.x509.load_der_x509_certificate`."""
    @property
    def peer_certificate_subject(self) -> str | None:
        """The subject of `peer_certificate` as RFC 4514 text, or `None`: the last RDN first,
        special characters escaped (`CN=alice\\,O=Admins` is one CN, `O=Admins,CN=alice` a CN
        and an O), as `cryptography`'s `Name.rfc4514_string()` writes it."""
    @property
    def state(self) -> Literal["connected", "reconnecting", "disconnected", "closed"]:
        """Where the socket stands now: `"reconnecting"` (an outbound socket with a reconnect
        policy whose connection ended), `"disconnected"` (one in lazy mode, waiting for a
        message to send), else `"connected"` or `"closed"`."""
    @property
    def last_error(self) -> WebSocketError | None:
        """Why its last connection or reconnect attempt failed, while it reconnects; once it
        closed because its attempts ran out, a `RetryExhaustedError`; `None` while connected."""
    @property
    def is_open(self) -> bool:
        """Whether the socket is still open."""
    @property
    def is_close_requested(self) -> bool:
        """Whether the application has asked the socket to close (its messages not yet handed
        over are dropped)."""
    def header(self, name: str) -> str | None:
        """The first handshake header called `name` (case-insensitive), or `None`."""
    def query_param(self, name: str) -> str | None:
        """The first query parameter called `name` (case-sensitive), or `None`."""
    def uri_param(self, name: str) -> str | None:
        """The URI parameter called `name` (case-sensitive), or `None`."""
    def send(self, data: _Data) -> bool:
        """Queues a message for this socket, like `Connector.send` with its ID but without
        looking the ID up: the way to reply from a trigger callback.

        `str` is sent as text, `bytes`, `bytearray` or `memoryview` as binary. Returns True
        when queued, False when the slow-consumer policy dropped the message or closed the
        socket; raises `QueueFullError` under `fail`, `RemotelyClosedError` while the peer is
        closing it, `NoSuchSocketError` once it is closing otherwise or closed."""
    def close(self, code: int = 1000, reason: str = "") -> None:
        """Closes this socket, like `Connector.close` with its ID but without looking it up.

        Raises `InvalidArgumentError` for a bad code or reason, `NoSuchSocketError` once the
        socket has closed; closing a socket that is already closing does nothing."""
    def subscribe(self, groups: _Groups) -> None:
        """Adds groups to this socket, like `Connector.subscribe` with its ID.

        Raises `InvalidArgumentError` for a bad group name, `NoSuchSocketError` once closed."""
    def unsubscribe(self, groups: _Groups) -> None:
        """Removes groups from this socket, like `Connector.unsubscribe` with its ID.

        Raises `InvalidArgumentError` for a bad group name, `NoSuchSocketError` once closed."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class AuthRequest:
    """An inbound upgrade request, as the authorization hook sees it before the 101."""

    @property
    def path(self) -> str:
        """The full request path (base path included), percent-decoded, without the query."""
    @property
    def uri(self) -> str:
        """The full request URI."""
    @property
    def headers(self) -> list[tuple[str, str]]:
        """The request headers as `(name, value)` pairs, in order."""
    @property
    def query(self) -> list[tuple[str, str]]:
        """The decoded query parameters as `(name, value)` pairs, in order."""
    @property
    def remote_address(self) -> tuple[str, int]:
        """The client's address as `(host, port)`."""
    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order."""
    @property
    def peer_certificate(self) -> bytes | None:
        """The certificate the client presented with mutual TLS, as DER `bytes`, or `None`: the
        hook can decide on it before the 101 (see `Socket.peer_certificate`)."""
    @property
    def peer_certificate_subject(self) -> str | None:
        """The subject of `peer_certificate` as RFC 4514 text, or `None` (see
        `Socket.peer_certificate_subject`)."""
    def header(self, name: str) -> str | None:
        """The first header called `name` (case-insensitive), or `None`."""
    def query_param(self, name: str) -> str | None:
        """The first query parameter called `name` (case-sensitive), or `None`."""

@final
class Reject:
    """The authorization hook's refusal: the client gets this HTTP status and reason."""

    def __new__(cls, status: int = 403, reason: str = "Forbidden") -> Self: ...
    @property
    def status(self) -> int:
        """The HTTP status (400-599)."""
    @property
    def reason(self) -> str:
        """The reason phrase, also sent as the response body."""

@final
class InboundConnection:
    """A client finished the handshake on the listener."""

    __match_args__: Final = ("socket",)
    @property
    def socket(self) -> Socket:
        """The new socket."""

@final
class InboundMessage:
    """An inbound socket received a message."""

    __match_args__: Final = ("socket", "message")
    @property
    def socket(self) -> Socket:
        """The socket it arrived on."""
    @property
    def message(self) -> str | bytes:
        """The message: `str` for text, `bytes` for binary."""

@final
class OutboundMessage:
    """An outbound socket received a message."""

    __match_args__: Final = ("socket", "message")
    @property
    def socket(self) -> Socket:
        """The socket it arrived on."""
    @property
    def message(self) -> str | bytes:
        """The message: `str` for text, `bytes` for binary."""

@final
class SocketClosed:
    """A socket closed, whoever closed it; the last event of every socket."""

    __match_args__: Final = ("socket", "code", "reason")
    @property
    def socket(self) -> Socket:
        """The socket, no longer open."""
    @property
    def code(self) -> int:
        """The close code (1005: none given, 1006: no close handshake)."""
    @property
    def reason(self) -> str:
        """The close reason."""

@final
class OutboundReconnecting:
    """An outbound socket with a reconnect policy lost its connection (or its last attempt
    failed), and attempt `attempt` starts after `delay` seconds."""

    __match_args__: Final = ("socket", "attempt", "delay", "error")
    @property
    def socket(self) -> Socket:
        """The socket (its `state` is `"reconnecting"`)."""
    @property
    def attempt(self) -> int:
        """The attempt about to be made, from 1."""
    @property
    def delay(self) -> float:
        """Seconds it waits before the attempt (a random part of the policy's bound)."""
    @property
    def error(self) -> WebSocketError:
        """Why the connection or the previous attempt failed."""

@final
class OutboundReconnected:
    """An outbound socket reconnected; the messages of its new connection come after this."""

    __match_args__: Final = ("socket", "attempts")
    @property
    def socket(self) -> Socket:
        """The socket, connected again (same ID, groups and attributes)."""
    @property
    def attempts(self) -> int:
        """How many attempts it took."""

@final
class Reconnect:
    """How an outbound socket reconnects once its connection ends: exponential backoff with
    full jitter, at most `max_attempts` attempts (`None`: forever), Mule's `lazy` mode, what
    sends do meanwhile (`"buffer"` or `"fail"`), and the server's close codes that end it."""

    def __new__(
        cls,
        *,
        initial_delay: float = 0.5,
        max_delay: float = 30.0,
        multiplier: float = 2.0,
        max_attempts: int | None = None,
        lazy: bool = False,
        send_policy: Literal["buffer", "fail"] = "buffer",
        final_close_codes: Iterable[int | tuple[int, int]] | None = None,
    ) -> Self: ...
    @property
    def initial_delay(self) -> float:
        """The first delay's bound, in seconds."""
    @property
    def max_delay(self) -> float:
        """The largest bound of any delay, in seconds."""
    @property
    def multiplier(self) -> float:
        """How much the bound grows from one attempt to the next."""
    @property
    def max_attempts(self) -> int | None:
        """The most attempts, or `None`: forever."""
    @property
    def lazy(self) -> bool:
        """Whether it reconnects only when a message is next sent (Mule's lazy mode)."""
    @property
    def send_policy(self) -> Literal["buffer", "fail"]:
        """What sends do while it reconnects."""
    @property
    def final_close_codes(self) -> list[tuple[int, int]]:
        """The server's close codes that end the socket, as `(first, last)` ranges."""
    def delay_bound(self, attempt: int) -> float:
        """The bound of the delay before attempt `attempt` (from 1), in seconds."""

_Event = Union[
    InboundConnection,
    InboundMessage,
    OutboundMessage,
    SocketClosed,
    OutboundReconnecting,
    OutboundReconnected,
]
_AuthAnswer = Union[bool, Sequence[str], Reject]
_AuthorizeHook = Callable[[AuthRequest], _AuthAnswer]

@final
class BroadcastFailure:
    """A socket a broadcast did not reach, and why."""

    @property
    def socket_id(self) -> str:
        """The socket's ID."""
    @property
    def reason(self) -> Literal["dropped", "closed", "failed"]:
        """`"dropped"`, `"closed"` (slow-consumer policy) or `"failed"` (see `error`)."""
    @property
    def error(self) -> WebSocketError | None:
        """For `"failed"`: the error; else `None`."""
    @property
    def node(self) -> str | None:
        """The cluster node that holds the socket, for a failure on another node; else `None`."""

@final
class BroadcastResult:
    """What a broadcast did."""

    @property
    def delivered(self) -> int:
        """How many sockets the message was queued for."""
    @property
    def dropped_oldest(self) -> int:
        """How many older queued messages the drop_oldest policy discarded."""
    @property
    def buffered(self) -> int:
        """How many of the `delivered` wait for reconnecting sockets (the buffer policy)."""
    @property
    def failures(self) -> list[BroadcastFailure]:
        """The matching sockets of this node that did not get the message."""
    @property
    def nodes_answered(self) -> int:
        """How many nodes' counts are in `delivered`, this one included."""
    @property
    def complete(self) -> bool:
        """Every node that got the message answered within `cluster_timeout`."""
    @property
    def remote_failures(self) -> list[BroadcastFailure]:
        """The matching sockets of other nodes that did not get it (at most 100 per node)."""
    @property
    def remote_failures_omitted(self) -> int:
        """Failures on other nodes left out of `remote_failures`."""

@final
class ClusterSocket:
    """An open socket on some node of the cluster, as that node describes it."""

    @property
    def node(self) -> str:
        """The node that holds it (empty without a cluster)."""
    @property
    def socket_id(self) -> str:
        """Its ID."""
    @property
    def socket_type(self) -> Literal["inbound", "outbound"]:
        """Inbound or outbound."""
    @property
    def path(self) -> str:
        """Its full path."""
    @property
    def groups(self) -> list[str]:
        """Its groups."""

@final
class Pending:
    """A core operation under way for asyncio."""

    def cancel(self) -> None:
        """Abandons the operation; its callback is never called."""

_ByType = dict[Literal["inbound", "outbound"], int]
_ByKind = dict[Literal["text", "binary"], int]
_Histogram = dict[str, Any]

@final
class Metrics:
    """The connector's figures read at one time: counters (totals since start) and gauges."""

    @property
    def sockets_open(self) -> _ByType:
        """Gauge: sockets open now, by type."""
    @property
    def sockets_opened(self) -> _ByType:
        """Counter: sockets opened since start, by type."""
    @property
    def paths(self) -> dict[str, dict[str, int]]:
        """Inbound sockets by served path pattern: `{pattern: {"open": n, "opened": n}}`."""
    @property
    def sockets_closed(self) -> dict[int | str, int]:
        """Counter: sockets closed by close code (`"other"`: codes without a label)."""
    @property
    def handshakes_refused(self) -> dict[str, dict[int | None, int]]:
        """Counter: refused handshakes, `{reason: {status or None: n}}`."""
    @property
    def messages_in(self) -> _ByKind:
        """Counter: messages received from peers, by kind."""
    @property
    def bytes_in(self) -> _ByKind:
        """Counter: payload bytes received from peers, by kind."""
    @property
    def messages_out(self) -> _ByKind:
        """Counter: messages written to peers, by kind."""
    @property
    def bytes_out(self) -> _ByKind:
        """Counter: payload bytes written to peers, by kind."""
    @property
    def compressed_messages_in(self) -> int:
        """Counter: messages received compressed (permessage-deflate)."""
    @property
    def compressed_bytes_in(self) -> int:
        """Counter: their payload bytes on the wire, compressed (inflated: `bytes_in`)."""
    @property
    def compressed_messages_out(self) -> int:
        """Counter: messages written compressed (permessage-deflate)."""
    @property
    def compressed_bytes_out(self) -> int:
        """Counter: their payload bytes on the wire, compressed (before: `bytes_out`)."""
    @property
    def send_queue_messages(self) -> int:
        """Gauge: messages waiting in every socket's send queue."""
    @property
    def send_queue_bytes(self) -> int:
        """Gauge: payload bytes waiting in every socket's send queue."""
    @property
    def send_queue_largest(self) -> int:
        """Gauge: messages waiting in the fullest send queue."""
    @property
    def slow_consumer_dropped(self) -> int:
        """Counter: messages dropped by the slow-consumer policy."""
    @property
    def slow_consumer_closed(self) -> int:
        """Counter: sockets closed (1013) by the slow-consumer policy."""
    @property
    def broadcasts(self) -> int:
        """Counter: broadcasts."""
    @property
    def broadcast_deliveries(self) -> int:
        """Counter: sockets broadcasts queued their message for."""
    @property
    def events_waiting(self) -> int:
        """Gauge: events waiting for the application, or held by it."""
    @property
    def event_bytes_waiting(self) -> int:
        """Gauge: memory those events keep, in bytes."""
    @property
    def backpressure_episodes(self) -> int:
        """Counter: times the event queue filled up and sockets stopped reading."""
    @property
    def pings_sent(self) -> int:
        """Counter: keepalive pings sent."""
    @property
    def pong_timeouts(self) -> int:
        """Counter: sockets dropped for not answering a ping in time."""
    @property
    def reconnect_attempts(self) -> int:
        """Counter: reconnect attempts of outbound sockets."""
    @property
    def reconnects(self) -> int:
        """Counter: reconnect attempts that connected again."""
    @property
    def reconnects_exhausted(self) -> int:
        """Counter: outbound sockets closed because their reconnect attempts ran out."""
    @property
    def event_wait(self) -> _Histogram:
        """Histogram (seconds): from when a socket read an event to when a dispatcher thread
        took it from the event queue (for its callback)."""
    @property
    def broadcast_fanout(self) -> _Histogram:
        """Histogram (seconds): a broadcast's time to queue its message for every socket."""
    @property
    def draining(self) -> bool:
        """Gauge: the connector drains."""
    @property
    def sockets_parked(self) -> int:
        """Gauge: sockets parked now (idle, out of the scheduler; see `park_idle_after`)."""
    @property
    def memory_purges(self) -> int:
        """Counter: times the memory that parked sockets freed was given back to the system
        (once after each batch of parks)."""
    def as_dict(self) -> dict[str, Any]:
        """Every figure in one dict, keyed by the attribute names."""
    def to_prometheus(self) -> str:
        """The figures as Prometheus text (exposition format 0.0.4)."""

@final
class DrainProgress:
    """Where a drain stands."""

    def __eq__(self, value: object, /) -> bool: ...
    @property
    def matched(self) -> int:
        """Sockets that matched the filter when the drain began."""
    @property
    def requested(self) -> int:
        """Sockets the drain asked to close."""
    @property
    def closed(self) -> int:
        """Matched sockets that have closed."""
    @property
    def batches(self) -> int:
        """Batches of close requests sent."""
    @property
    def finished(self) -> bool:
        """Every matched socket has closed (or the connector stopped)."""

@final
class Connector:
    """A WebSocket connector: an optional listener and outbound sockets, with socket IDs,
    groups, broadcast and four triggers."""

    def __new__(
        cls,
        *,
        on_inbound_connection: Callable[[Socket], object] | None = None,
        on_inbound_message: Callable[[Socket, str | bytes], object] | None = None,
        on_outbound_message: Callable[[Socket, str | bytes], object] | None = None,
        on_socket_closed: Callable[[Socket, int, str], object] | None = None,
        on_outbound_reconnecting: Callable[[Socket, int, float, WebSocketError], object]
        | None = None,
        on_outbound_reconnected: Callable[[Socket, int], object] | None = None,
        authorize: _AuthorizeHook | None = None,
        refresh_headers: Callable[[Socket, int], _Pairs] | None = None,
        **settings: Unpack[Settings],
    ) -> Self:
        """Configures a connector with keyword settings (see `wsconnector.Settings`): a
        listener when `host` or `port` is given, else client-only; the trigger callbacks and
        the authorization hook may be given here or registered with the decorators."""
    @overload
    def on_inbound_connection(self, callback: _F) -> _F:
        """Registers `callback(socket)` for the inbound-connection trigger (a decorator, bare or
        with a path pattern: `@conn.on_inbound_connection("/chat/{room}")`)."""
    @overload
    def on_inbound_connection(self, callback: str) -> Callable[[_F], _F]: ...
    @overload
    def on_inbound_message(self, callback: _F) -> _F:
        """Registers `callback(socket, message)` for the inbound-message trigger (a decorator,
        bare or with a full path pattern, `@conn.on_inbound_message("/chat/*")`: exact paths,
        `*`, `{name}` segments). An event goes to the most specific matching pattern (exact
        first, then more literal characters, then fewer `*`, then the first registered), else
        to the bare registration."""
    @overload
    def on_inbound_message(self, callback: str) -> Callable[[_F], _F]: ...
    @overload
    def on_outbound_message(self, callback: _F) -> _F:
        """Registers `callback(socket, message)` for the outbound-message trigger (a decorator,
        bare or with a path pattern)."""
    @overload
    def on_outbound_message(self, callback: str) -> Callable[[_F], _F]: ...
    @overload
    def on_socket_closed(self, callback: _F) -> _F:
        """Registers `callback(socket, code, reason)` for the socket-closed trigger (a
        decorator, bare or with a path pattern)."""
    @overload
    def on_socket_closed(self, callback: str) -> Callable[[_F], _F]: ...
    def on_outbound_reconnecting(self, callback: _F) -> _F:
        """Registers `callback(socket, attempt, delay, error)`, called before each reconnect
        attempt of an outbound socket (a decorator)."""
    def on_outbound_reconnected(self, callback: _F) -> _F:
        """Registers `callback(socket, attempts)`, called once an outbound socket reconnected,
        before its new connection's messages (a decorator)."""
    def authorize(self, hook: _F) -> _F:
        """Registers the authorization hook `hook(request) -> True | False | [groups] | Reject`."""
    def refresh_headers(self, hook: _F) -> _F:
        """Registers `hook(socket, attempt) -> headers`, run on a worker thread before each
        reconnect attempt: its headers replace the socket's own of those names (a decorator)."""
    def start(self) -> None:
        """Starts the listener (if any), the I/O threads and the dispatcher."""
    def stop(
        self, *, drain: bool | DrainOptions | None = None, deadline: float | None = None
    ) -> None:
        """Closes every socket (1001), delivers the remaining events, ends every thread; with
        `drain`, drains first for up to `deadline` seconds (30)."""
    def serve_forever(self) -> None:
        """Starts unless running, serves until `stop()` (from another thread) or SIGINT/SIGTERM,
        then stops cleanly. Signal handlers only on the main thread, put back on return."""
    @property
    def is_running(self) -> bool:
        """Whether the connector is running."""
    @property
    def port(self) -> int | None:
        """The listener's port; `None` when client-only or not started."""
    @property
    def local_address(self) -> tuple[str, int] | None:
        """The listener's address as `(host, port)`; `None` when client-only or not started."""
    def open_outbound(
        self,
        url: str,
        *,
        headers: _Pairs | None = None,
        query: _Pairs | None = None,
        subprotocols: _Groups | None = None,
        groups: _Groups | None = None,
        socket_id: str | None = None,
        timeout: float | None = None,
        reconnect: bool | Reconnect | None = None,
        uri_params: _Pairs | None = None,
        compression: bool | None = None,
    ) -> str:
        """Connects to a `ws://` or `wss://` URL, or a path on the client base (its `{name}`
        templates filled from `uri_params`), and returns the new socket's ID. `reconnect`:
        `True` (the connector's policy or the default one), `False`, a `Reconnect`, or `None`
        (the connector's `reconnect=` decides). A `Host` header replaces the URL's; the
        handshake's own headers (`Upgrade`, `Connection`, `Sec-WebSocket-*`) raise
        `InvalidArgument`. `compression` offers permessage-deflate, or not, whatever the
        connector's `compression` says."""
    def _open_outbound_async(
        self,
        url: str,
        on_done: Callable[[str | None, BaseException | None], object],
        *,
        headers: _Pairs | None = None,
        query: _Pairs | None = None,
        subprotocols: _Groups | None = None,
        groups: _Groups | None = None,
        socket_id: str | None = None,
        timeout: float | None = None,
        reconnect: bool | Reconnect | None = None,
        uri_params: _Pairs | None = None,
        compression: bool | None = None,
    ) -> Pending: ...
    def send(self, socket_id: str, data: _Data) -> bool:
        """Queues a message (str: text; bytes-like: binary); False if the policy dropped it."""
    def subscribe(self, socket_id: str, groups: _Groups) -> None:
        """Adds groups to a socket; groups it has already are ignored."""
    def unsubscribe(self, socket_id: str, groups: _Groups) -> None:
        """Removes groups from a socket; groups it does not have are ignored."""
    def broadcast(
        self,
        data: _Data,
        *,
        path: str | None = None,
        socket_type: _SocketTypeFilter | None = None,
        groups: _Groups | None = None,
        all_groups: _Groups | None = None,
        except_socket_ids: _Groups | None = None,
        except_groups: _Groups | None = None,
        wait: bool = True,
    ) -> BroadcastResult:
        """Sends one message to every socket that matches the filter (on every node of the
        cluster; `wait=False` returns once it is published).

        Raises `LimitExceededError`, sending to none, when the message is larger than
        `send_queue_bytes`; `ConnectivityError` while the cluster's backplane is unreachable."""
    def close(self, socket_id: str, code: int = 1000, reason: str = "") -> None:
        """Closes one socket with a close code and reason."""
    def bulk_close(
        self,
        *,
        path: str | None = None,
        socket_type: _SocketTypeFilter | None = None,
        groups: _Groups | None = None,
        all_groups: _Groups | None = None,
        except_socket_ids: _Groups | None = None,
        except_groups: _Groups | None = None,
        code: int = 1000,
        reason: str = "",
    ) -> int:
        """Closes every socket that matches the filter; returns how many (outbound sockets
        that are reconnecting, or waiting to in lazy mode, are closed at once and counted like
        the others; with a cluster, on every node that answers in time)."""
    def socket(self, socket_id: str) -> Socket:
        """The open socket with this ID."""
    def sockets(
        self,
        *,
        path: str | None = None,
        socket_type: _SocketTypeFilter | None = None,
        groups: _Groups | None = None,
        all_groups: _Groups | None = None,
        except_socket_ids: _Groups | None = None,
        except_groups: _Groups | None = None,
    ) -> list[Socket]:
        """The open sockets of this node that match the filter."""
    def metrics(self) -> Metrics:
        """The connector's figures now."""
    def drain(
        self,
        *,
        timeout: float | None = None,
        on_progress: Callable[[DrainProgress], object] | None = None,
        **options: Unpack[DrainOptions],
    ) -> DrainProgress:
        """Refuses new handshakes (503, Retry-After), closes the matching sockets in batches,
        and waits until they have closed (or `timeout`); returns the last progress."""
    @property
    def is_draining(self) -> bool:
        """Whether a drain has begun."""
    @property
    def node_name(self) -> str | None:
        """This node's name in its cluster, or `None` without a cluster."""
    def cluster_socket(self, socket_id: str) -> ClusterSocket:
        """The open socket with this ID on whichever node of the cluster holds it."""
    def cluster_sockets(
        self,
        *,
        path: str | None = None,
        socket_type: _SocketTypeFilter | None = None,
        groups: _Groups | None = None,
        all_groups: _Groups | None = None,
        except_socket_ids: _Groups | None = None,
        except_groups: _Groups | None = None,
    ) -> list[ClusterSocket]:
        """The open sockets that match the filter on every node that answers in time."""
    def cluster_socket_count(
        self,
        *,
        path: str | None = None,
        socket_type: _SocketTypeFilter | None = None,
        groups: _Groups | None = None,
        all_groups: _Groups | None = None,
        except_socket_ids: _Groups | None = None,
        except_groups: _Groups | None = None,
    ) -> int:
        """How many open sockets match the filter on every node that answers in time."""
    def wait_for_cluster(self, timeout: float) -> None:
        """Waits up to `timeout` seconds for the cluster's backplane to be reachable."""
    def next_events(self, timeout: float | None = None) -> list[_Event]:
        """Takes every event that is ready (pull mode: connectors without trigger callbacks)."""
    @property
    def _event_queue_bounds(self) -> tuple[int, int]: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None: ...

def _stop_all() -> None: ...
def _config_fields(**settings: Unpack[Settings]) -> list[tuple[str, str]]:
    """Every field of the configuration these settings make, as text (for the tests)."""
