"""wsconnector: an embeddable WebSocket connector.

One running ``Connector`` holds an inbound listener (a WebSocket server) and outbound sockets
(WebSocket clients). Every socket has a unique ID; sockets join string groups; the application
broadcasts to the sockets that match a path, a socket type and groups, and learns what happens
through four triggers: inbound connection, inbound message, outbound message, socket closed.

    import wsconnector

    chat = wsconnector.Connector(host="127.0.0.1", port=8080)

    @chat.on_inbound_message
    def relay(socket, message):
        chat.broadcast(message)

    chat.serve_forever()  # until stop(), Ctrl-C or SIGTERM

Trigger callbacks run on the connector's dispatcher threads (``dispatcher_threads``, default
4), each socket's in order, different sockets' side by side; operations that wait (connect,
stop, broadcast, waiting for events) release the GIL while the Rust core works.
``AsyncConnector`` is the asyncio front: ``async def`` trigger handlers run on the loop, or
``async for event in connector.events()``. Errors derive from ``WebSocketError``, one class per
kind, each named ``...Error`` (``wsconnector.TimeoutError`` is not star-imported). Logs go to
the ``logging`` module under the logger ``wsconnector``.
"""

import atexit

from . import _native
from ._asyncio import AsyncConnector
from ._native import (
    VERSION,
    AuthRequest,
    BroadcastFailure,
    ClusterSocket,
    BroadcastResult,
    ConnectivityError,
    Connector,
    DnsError,
    DrainProgress,
    Forbidden,
    ForbiddenError,
    HandshakeError,
    InboundConnection,
    InternalServerError,
    NotFound,
    NotFoundError,
    ServiceUnavailable,
    ServiceUnavailableError,
    Unauthorized,
    UnauthorizedError,
    BasicAuthenticationError,
    InboundMessage,
    InternalError,
    InvalidArgument,
    InvalidArgumentError,
    InvalidSocketId,
    InvalidSocketIdError,
    InvalidState,
    InvalidStateError,
    LimitExceeded,
    LimitExceededError,
    Metrics,
    NonUniqueSocketId,
    NonUniqueSocketIdError,
    NoSuchSocket,
    NoSuchSocketError,
    OutboundMessage,
    OutboundReconnected,
    OutboundReconnecting,
    PanicException,
    ProtocolError,
    QueueFull,
    QueueFullError,
    Reconnect,
    ReconnectingError,
    Reject,
    RemotelyClosed,
    RemotelyClosedError,
    RetryExhaustedError,
    Socket,
    SocketClosed,
    Stopped,
    StoppedError,
    Timeout,
    TimeoutError,
    TlsError,
    WebSocketError,
)
from ._types import (
    ClientScheme,
    CloseCode,
    DrainOptions,
    Event,
    MessageRatePolicy,
    PathOptions,
    Settings,
    SlowConsumerPolicy,
    SocketState,
    SocketType,
    TrustedRoots,
)

__version__ = VERSION

# Stop running connectors before the interpreter shuts down, so that none of their threads
# calls into a finalizing interpreter.
atexit.register(_native._stop_all)

# Every exception name ends in Error; the earlier short names (NoSuchSocket, Timeout, ...) stay
# as aliases of the same classes. TimeoutError is left out of __all__: it is reached as
# wsconnector.TimeoutError, so that `from wsconnector import *` never shadows the builtin it
# derives from (the alias Timeout is star-imported as before).
__all__ = [
    "AsyncConnector",
    "AuthRequest",
    "BasicAuthenticationError",
    "BroadcastFailure",
    "ClusterSocket",
    "BroadcastResult",
    "ClientScheme",
    "CloseCode",
    "ConnectivityError",
    "Connector",
    "DnsError",
    "DrainOptions",
    "DrainProgress",
    "Event",
    "Forbidden",
    "ForbiddenError",
    "HandshakeError",
    "InboundConnection",
    "InternalServerError",
    "NotFound",
    "NotFoundError",
    "ServiceUnavailable",
    "ServiceUnavailableError",
    "Unauthorized",
    "UnauthorizedError",
    "InboundMessage",
    "InternalError",
    "InvalidArgument",
    "InvalidArgumentError",
    "InvalidSocketId",
    "InvalidSocketIdError",
    "InvalidState",
    "InvalidStateError",
    "LimitExceeded",
    "LimitExceededError",
    "MessageRatePolicy",
    "Metrics",
    "NoSuchSocket",
    "NoSuchSocketError",
    "NonUniqueSocketId",
    "NonUniqueSocketIdError",
    "OutboundMessage",
    "OutboundReconnected",
    "OutboundReconnecting",
    "PanicException",
    "PathOptions",
    "ProtocolError",
    "QueueFull",
    "QueueFullError",
    "Reconnect",
    "ReconnectingError",
    "Reject",
    "RemotelyClosed",
    "RemotelyClosedError",
    "RetryExhaustedError",
    "Settings",
    "SlowConsumerPolicy",
    "Socket",
    "SocketClosed",
    "SocketState",
    "SocketType",
    "Stopped",
    "StoppedError",
    "Timeout",
    "TlsError",
    "TrustedRoots",
    "WebSocketError",
    "__version__",
]
