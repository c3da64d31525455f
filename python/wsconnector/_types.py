"""Named values for arguments that take strings or numbers, and the settings as a TypedDict.

The enums derive from ``str`` and ``int``, so a member can be passed wherever the plain value
is accepted (``slow_consumer=SlowConsumerPolicy.DROP_OLDEST`` or ``slow_consumer="drop_oldest"``)
and compares equal to it (``socket.type == SocketType.INBOUND``).
"""

from __future__ import annotations

import enum
import os
from typing import Iterable, Literal, Mapping, Optional, Tuple, TypedDict, Union

from ._native import InboundConnection, InboundMessage, OutboundMessage, SocketClosed


class SocketType(str, enum.Enum):
    """Which side opened a socket: ``Socket.type``, and the ``socket_type=`` filter."""

    INBOUND = "inbound"
    """Accepted by the listener (a client connected to us)."""
    OUTBOUND = "outbound"
    """Opened by this connector (we are the client)."""


class SlowConsumerPolicy(str, enum.Enum):
    """What a send does when a socket's send queue is full (the ``slow_consumer=`` setting)."""

    FAIL = "fail"
    """The send raises ``QueueFull``; nothing queued is lost (the default)."""
    DROP_NEWEST = "drop_newest"
    """The new message is dropped; ``send`` returns False."""
    DROP_OLDEST = "drop_oldest"
    """The oldest queued messages are dropped to make room for the new one."""
    CLOSE = "close"
    """The socket is closed with 1013 (try again later) and its queue discarded."""


class CloseCode(enum.IntEnum):
    """Close codes with names (RFC 6455 section 7.4); 3000-4999 are the application's own."""

    NORMAL = 1000
    """The purpose of the connection was fulfilled."""
    GOING_AWAY = 1001
    """The endpoint is going away (server stopping, idle timeout)."""
    PROTOCOL_ERROR = 1002
    """The peer broke the protocol."""
    UNSUPPORTED_DATA = 1003
    """The peer sent a kind of data this endpoint cannot accept."""
    NO_STATUS = 1005
    """Reported (never sent) when a close frame carried no code."""
    ABNORMAL = 1006
    """Reported (never sent) when the connection ended without a close handshake."""
    INVALID_PAYLOAD = 1007
    """A text message was not valid UTF-8."""
    POLICY_VIOLATION = 1008
    """A message broke the endpoint's policy."""
    MESSAGE_TOO_BIG = 1009
    """A message was larger than the endpoint accepts."""
    INTERNAL_ERROR = 1011
    """The server hit an unexpected condition."""
    SERVICE_RESTART = 1012
    """The server is restarting."""
    TRY_AGAIN_LATER = 1013
    """Overloaded (here: a slow consumer's queue was full); try again later."""


Event = Union[InboundConnection, InboundMessage, OutboundMessage, SocketClosed]
"""Any of the four trigger events, as ``AsyncConnector.events()`` and ``next_events`` give them."""

PemSource = Union[str, bytes, "os.PathLike[str]"]
"""PEM text (str or bytes containing ``-----BEGIN``) or the path of a PEM file."""
Pairs = Union[Mapping[str, str], Iterable[Tuple[str, str]]]
"""Name/value pairs: a mapping, or ``(name, value)`` tuples (names may repeat)."""
Groups = Union[str, Iterable[str]]
"""One group name, or several."""


class Settings(TypedDict, total=False):
    """Every keyword setting of ``Connector`` (and ``AsyncConnector``). ``None`` keeps a
    setting's default, except for ``ping_interval``, ``idle_timeout`` and
    ``client_idle_timeout``, where it turns the feature off. Durations are in seconds."""

    host: Optional[str]
    port: Optional[int]
    base_path: Optional[str]
    paths: Union[Mapping[str, Optional[Groups]], Groups, None]
    subprotocols: Optional[Groups]
    tls_cert: Optional[PemSource]
    tls_key: Optional[PemSource]
    tls_client_ca: Optional[PemSource]
    max_connections: Optional[int]
    handshake_timeout: Optional[float]
    idle_timeout: Optional[float]
    max_handshake_bytes: Optional[int]
    default_headers: Optional[Pairs]
    default_query: Optional[Pairs]
    connect_timeout: Optional[float]
    client_idle_timeout: Optional[float]
    extra_ca: Optional[PemSource]
    client_cert: Optional[PemSource]
    client_key: Optional[PemSource]
    dangerous_skip_certificate_verification: Optional[bool]
    max_message_size: Optional[int]
    send_queue_messages: Optional[int]
    send_queue_bytes: Optional[int]
    slow_consumer: Union[Literal["fail", "drop_newest", "drop_oldest", "close"], SlowConsumerPolicy, None]
    ping_interval: Optional[float]
    pong_timeout: Optional[float]
    close_timeout: Optional[float]
    worker_threads: Optional[int]
    stop_timeout: Optional[float]
    event_queue_capacity: Optional[int]
