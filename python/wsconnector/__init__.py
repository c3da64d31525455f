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

    with chat:
        ...

Trigger callbacks run on the connector's dispatcher thread; operations that wait (connect,
stop, broadcast, waiting for events) release the GIL while the Rust core works. ``AsyncConnector`` is the asyncio front. Logs go to the ``logging``
module under the logger ``wsconnector``.
"""

import atexit

from . import _native
from ._asyncio import AsyncConnector
from ._native import (
    VERSION,
    AuthRequest,
    BroadcastFailure,
    BroadcastResult,
    ConnectivityError,
    Connector,
    DnsError,
    HandshakeError,
    InboundConnection,
    InboundMessage,
    InternalError,
    InvalidArgument,
    InvalidSocketId,
    InvalidState,
    LimitExceeded,
    NonUniqueSocketId,
    NoSuchSocket,
    OutboundMessage,
    PanicException,
    ProtocolError,
    QueueFull,
    Reject,
    RemotelyClosed,
    Socket,
    SocketClosed,
    Stopped,
    Timeout,
    TlsError,
    WebSocketError,
)
from ._types import (
    CloseCode,
    Event,
    MessageRatePolicy,
    Settings,
    SlowConsumerPolicy,
    SocketType,
)

__version__ = VERSION

# Stop running connectors before the interpreter shuts down, so that none of their threads
# calls into a finalizing interpreter.
atexit.register(_native._stop_all)

__all__ = [
    "AsyncConnector",
    "AuthRequest",
    "BroadcastFailure",
    "BroadcastResult",
    "CloseCode",
    "ConnectivityError",
    "Connector",
    "DnsError",
    "Event",
    "HandshakeError",
    "InboundConnection",
    "InboundMessage",
    "InternalError",
    "InvalidArgument",
    "InvalidSocketId",
    "InvalidState",
    "LimitExceeded",
    "MessageRatePolicy",
    "NoSuchSocket",
    "NonUniqueSocketId",
    "OutboundMessage",
    "PanicException",
    "ProtocolError",
    "QueueFull",
    "Reject",
    "RemotelyClosed",
    "Settings",
    "SlowConsumerPolicy",
    "Socket",
    "SocketClosed",
    "SocketType",
    "Stopped",
    "Timeout",
    "TlsError",
    "WebSocketError",
    "__version__",
]
