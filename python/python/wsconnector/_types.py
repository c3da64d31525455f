"""Named values for arguments that take strings or numbers, and the settings as a TypedDict.

The enums derive from ``str`` and ``int``, so a member can be passed wherever the plain value
is accepted (``slow_consumer=SlowConsumerPolicy.DROP_OLDEST`` or ``slow_consumer="drop_oldest"``)
and compares equal to it (``socket.type == SocketType.INBOUND``).
"""

from __future__ import annotations

import enum
import os
from typing import Iterable, Literal, Mapping, Optional, Tuple, TypedDict, Union

from ._native import (
    InboundConnection,
    InboundMessage,
    OutboundMessage,
    OutboundReconnected,
    OutboundReconnecting,
    Reconnect,
    SocketClosed,
)


class SocketType(str, enum.Enum):
    """Which side opened a socket: ``Socket.type``, and the ``socket_type=`` filter."""

    INBOUND = "inbound"
    """Accepted by the listener (a client connected to us)."""
    OUTBOUND = "outbound"
    """Opened by this connector (we are the client)."""


class SlowConsumerPolicy(str, enum.Enum):
    """What a send does when a socket's send queue is full (the ``slow_consumer=`` setting)."""

    FAIL = "fail"
    """The send raises ``QueueFullError``; nothing queued is lost (the default)."""
    DROP_NEWEST = "drop_newest"
    """The new message is dropped; ``send`` returns False."""
    DROP_OLDEST = "drop_oldest"
    """The oldest queued messages are dropped to make room for the new one."""
    CLOSE = "close"
    """The socket is closed with 1013 (try again later) and its queue discarded."""


class MessageRatePolicy(str, enum.Enum):
    """What a message past a socket's ``message_rate_limit=`` does (the ``message_rate_policy=``
    setting)."""

    CLOSE = "close"
    """The socket is closed with 1008 (policy violation) (the default)."""
    DROP = "drop"
    """The message is dropped (no trigger fires for it); the socket stays open."""


class TrustedRoots(str, enum.Enum):
    """Which certificate authorities ``wss://`` trusts besides ``extra_ca`` (the
    ``trusted_roots=`` setting)."""

    BUNDLED = "bundled"
    """The web's public roots bundled with the library (the default)."""
    SYSTEM = "system"
    """The operating system's certificate store (``SSL_CERT_FILE``/``SSL_CERT_DIR`` override it)."""
    EXTRA_CA_ONLY = "extra_ca_only"
    """None: only ``extra_ca``, a private CA, which must then be given."""


class ClientScheme(str, enum.Enum):
    """The client base's scheme (the ``client_scheme=`` setting)."""

    WS = "ws"
    """Plain ``ws://`` (the default)."""
    WSS = "wss"
    """``wss://``, over TLS."""


class SocketState(str, enum.Enum):
    """Where a socket stands: ``Socket.state``."""

    CONNECTED = "connected"
    """Its connection is up."""
    RECONNECTING = "reconnecting"
    """Its connection ended; it waits for, or makes, an attempt to reconnect."""
    DISCONNECTED = "disconnected"
    """Its connection ended; in lazy mode it reconnects when a message is next sent to it."""
    CLOSED = "closed"
    """It has closed."""


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
    MANDATORY_EXTENSION = 1010
    """Sent by a client whose handshake did not negotiate an extension as it needs (here: a
    permessage-deflate answer that RFC 7692 says to refuse)."""
    INTERNAL_ERROR = 1011
    """The server hit an unexpected condition."""
    SERVICE_RESTART = 1012
    """The server is restarting."""
    TRY_AGAIN_LATER = 1013
    """Overloaded (here: a slow consumer's queue was full); try again later."""


Event = Union[
    InboundConnection,
    InboundMessage,
    OutboundMessage,
    SocketClosed,
    OutboundReconnecting,
    OutboundReconnected,
]
"""Any of the four trigger events or a reconnecting socket's change, as
``AsyncConnector.events()`` and ``next_events`` give them."""

PemSource = Union[str, bytes, "os.PathLike[str]"]
"""PEM text (str or bytes containing ``-----BEGIN``) or the path of a PEM file."""
Pairs = Union[Mapping[str, str], Iterable[Tuple[str, str]]]
"""Name/value pairs: a mapping, or ``(name, value)`` tuples (names may repeat)."""
Groups = Union[str, Iterable[str]]
"""One group name, or several."""


class PathOptions(TypedDict, total=False):
    """A served path's options, as a value of the ``paths`` setting's mapping:
    ``paths={"/admin": {"groups": ["staff"], "allowed_origins": ["https://admin.example.com"]}}``."""

    groups: Optional[Groups]  # groups its sockets start in
    allowed_origins: Optional[Groups]  # origins allowed on this path instead of the listener's
    compression: Optional[bool]  # accept permessage-deflate here, whatever the listener says


class Settings(TypedDict, total=False):
    """Every keyword setting of ``Connector`` (and ``AsyncConnector``). ``None`` keeps a
    setting's default, except for ``ping_interval``, ``idle_timeout`` and
    ``client_idle_timeout``, where it turns the feature off. Durations are in seconds, at most
    one year (31,536,000); NaN, negative or longer ones raise ``InvalidArgument``."""

    # The listener (when host or port is given).
    host: Optional[str]  # address to bind (default 127.0.0.1)
    port: Optional[int]  # port to bind; 0 (the default) lets the OS pick: read Connector.port
    base_path: Optional[str]  # prefix of every served path (default "/")
    paths: Union[Mapping[str, Union[Optional[Groups], PathOptions]], Groups, None]  # served
    # paths (exact or "*" patterns) with their default groups, e.g. {"/chat/*": ["lobby"]}, or
    # PathOptions; default: every path. A request path is percent-decoded once before it is
    # matched (Socket.path is the decoded one); dot-segments ("/chat/../admin"), an encoded
    # slash (%2F), control characters or bad encoding get 400
    subprotocols: Optional[Groups]  # subprotocols accepted, in order of preference
    tls_cert: Optional[PemSource]  # certificate chain (leaf first): serves wss://
    tls_key: Optional[PemSource]  # its private key
    tls_client_ca: Optional[PemSource]  # CAs whose client certificates are required (mTLS)
    max_inbound_connections: Optional[int]  # most inbound sockets at once (10000; outbound
    # ones: max_outbound_connections); past it a connection is refused at accept: 503 at once,
    # or over TLS a reset before any handshake
    max_connections: Optional[int]  # deprecated alias: max_inbound_connections under its first
    # name, still taken (giving both raises InvalidArgumentError naming both)
    max_connections_per_ip: Optional[int]  # most of them from one client address, refused
    # past it like max_inbound_connections but with 429 (default None: no limit)
    handshake_timeout: Optional[float]  # TCP accept to end of upgrade, TLS included (10 s)
    idle_timeout: Optional[float]  # inbound sockets idle this long are closed (900 s; None: never)
    max_handshake_bytes: Optional[int]  # largest upgrade request, more get 431 (16384)
    allowed_origins: Optional[Groups]  # origins whose browser pages may connect: exact
    # ("https://app.example.com"), "*.example.com" patterns (with or without a scheme), "null"
    # or "*"; others get 403 before the authorization hook (default: any origin)
    require_origin: Optional[bool]  # refuse (403) requests without an Origin header (False)
    metrics_path: Optional[str]  # plain HTTP GET path on the listener serving the figures as
    # Prometheus text, e.g. "/metrics" (default: none); never a declared WebSocket path
    metrics_allowed_addresses: Optional[Groups]  # client addresses or CIDR blocks ("10.0.0.0/8")
    # that may read metrics_path, or "*"; others get 403 (default: loopback only)
    health_path: Optional[str]  # plain HTTP health path for load balancers, e.g. "/health":
    # 200 while running, 503 once draining (default: none)
    # Outbound sockets.
    default_headers: Optional[Pairs]  # headers of every outbound handshake
    default_query: Optional[Pairs]  # query parameters added to every outbound URL
    connect_timeout: Optional[float]  # DNS, TCP, proxy, TLS, redirects, upgrade together (30 s)
    client_idle_timeout: Optional[float]  # outbound sockets idle this long are closed (never)
    extra_ca: Optional[PemSource]  # CAs trusted besides the trusted_roots
    trusted_roots: Union[  # roots wss:// trusts besides extra_ca (default "bundled")
        Literal["bundled", "system", "extra_ca_only"], TrustedRoots, None
    ]
    client_cert: Optional[PemSource]  # certificate chain presented to servers that ask (mTLS)
    client_key: Optional[PemSource]  # its private key
    dangerous_skip_certificate_verification: Optional[bool]  # trust any server: tests only
    client_scheme: Union[  # the client base's scheme, for opens given a path ("ws")
        Literal["ws", "wss"], ClientScheme, None
    ]
    client_host: Optional[str]  # the client base's host (default none: opens need full URLs)
    client_port: Optional[int]  # the client base's port (default: the scheme's)
    client_base_path: Optional[str]  # the client base's path, above an open's path ("/")
    follow_redirects: Optional[bool]  # follow the handshake's redirects, never wss->ws (True)
    max_redirects: Optional[int]  # most redirects one handshake follows (5)
    proxy: Optional[str]  # an HTTP proxy, "http://host:port", tunnelled through with CONNECT
    proxy_username: Optional[str]  # the proxy's basic credentials (default none)
    proxy_password: Optional[str]
    no_proxy: Optional[Groups]  # hosts (and subdomains), addresses or "*" reached directly
    proxy_from_environment: Optional[bool]  # read HTTPS_PROXY/HTTP_PROXY/NO_PROXY (False)
    basic_auth_username: Optional[str]  # basic authentication on outbound handshakes
    basic_auth_password: Optional[str]
    max_outbound_connections: Optional[int]  # most outbound sockets at once; past it an open
    # raises LimitExceededError (default None: no limit)
    reconnect: Union[bool, Reconnect, None]  # how outbound sockets reconnect unless their
    # open says otherwise: True (the default policy), a Reconnect, or None/False: they do not
    # Every socket.
    max_message_size: Optional[int]  # largest message accepted; larger closes with 1009 (16 MiB)
    send_queue_messages: Optional[int]  # most messages waiting in a socket's send queue (1024)
    send_queue_bytes: Optional[int]  # most bytes waiting in a socket's send queue (16 MiB)
    slow_consumer: Union[  # what a send does when a queue is full (default "fail")
        Literal["fail", "drop_newest", "drop_oldest", "close"], SlowConsumerPolicy, None
    ]
    ping_interval: Optional[float]  # between keepalive pings (30 s; None: no pings)
    pong_timeout: Optional[float]  # a ping unanswered this long closes the socket (20 s)
    close_timeout: Optional[float]  # time the peer has to answer our close frame (5 s)
    message_rate_limit: Optional[Tuple[int, int]]  # (per_second, burst): messages a peer may
    # send per socket, burst at once then per_second on average (default: no limit)
    message_rate_policy: Union[  # what a message past the limit does (default "close": 1008)
        Literal["close", "drop"], MessageRatePolicy, None
    ]
    park_idle_after: Optional[float]  # a plain socket quiet this long parks: less memory
    # while idle, resumed when needed (default 10 s; 0: never; TLS and compressed sockets do not park)
    # permessage-deflate (RFC 7692); off by default.
    compression: Optional[bool]  # on the listener and outbound sockets (False)
    inbound_compression: Optional[bool]  # on the listener only (False; per path: PathOptions)
    outbound_compression: Optional[bool]  # outbound sockets only (False; per open too)
    server_no_context_takeover: Optional[bool]  # the server compresses each message alone:
    # less memory per socket, one compressed frame per broadcast (False)
    client_no_context_takeover: Optional[bool]  # the client compresses each message alone (False)
    server_max_window_bits: Optional[int]  # the server's window, 8-15 bits (None: 15)
    client_max_window_bits: Optional[int]  # the client's window, 8-15 bits (None: 15)
    compression_threshold: Optional[int]  # shorter messages go uncompressed (64 bytes)
    compression_level: Optional[int]  # zlib's level, 1 (fastest) to 9 (smallest) (2)
    # The connector.
    worker_threads: Optional[int]  # I/O threads (default: the CPU count, at most 4)
    # threads running trigger callbacks, each socket's in order on one at a time (default 4:
    # callbacks hold the GIL; more threads only help callbacks that wait on I/O)
    dispatcher_threads: Optional[int]
    stop_timeout: Optional[float]  # how long stop waits for sends and close handshakes (5 s)
    event_queue_capacity: Optional[int]  # events waiting for the application (or held by a
    # batch being delivered); past it, sockets stop reading until it catches up (65536)
    event_queue_bytes: Optional[int]  # memory their payloads keep; past it too, sockets stop
    # reading (64 MiB)
    # The cluster: several connector processes acting as one through Redis (default: none).
    cluster: Optional[str]  # the backplane, "redis://[user:password@]host:port/db" or rediss://
    cluster_name: Optional[str]  # prefix of its keys and channels ("wsconnector")
    node_name: Optional[str]  # this node's name, unique in the cluster (default: generated)
    cluster_password: Optional[str]  # the Redis password, when not in the URL
    cluster_timeout: Optional[float]  # wait for the other nodes and for Redis (2 s)
    cluster_node_expiry: Optional[float]  # a dead node's IDs stop resolving after this (10 s)


class DrainOptions(TypedDict, total=False):
    """The options of ``Connector.drain()`` and of ``stop(drain={...})``: which sockets (as for
    ``broadcast``: ``path``, ``socket_type``, ``groups``, ``all_groups``, ``except_socket_ids``,
    ``except_groups``; default every socket), how many at a time and how far apart, the close
    code and reason, and the ``Retry-After`` that refused handshakes carry."""

    path: str  # full path, exact or "*" pattern
    socket_type: Union[Literal["inbound", "outbound", "all"], SocketType]
    groups: Union[str, Iterable[str]]  # member of any of these groups
    all_groups: Union[str, Iterable[str]]  # member of every one of these groups
    except_socket_ids: Union[str, Iterable[str]]  # socket IDs left out
    except_groups: Union[str, Iterable[str]]  # left out when in any of these groups
    batch_size: int  # sockets closed at a time (1000)
    interval: float  # seconds between two batches (1.0)
    code: int  # close code: 1001 going away (the default) or 1012 service restart
    reason: str  # close reason ("server draining")
    retry_after: float  # seconds refused handshakes are told to wait, rounded up (5.0)
