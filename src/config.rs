//! Every setting of a connector, its default, and its validation.

use crate::cluster::config::ClusterConfig;
use crate::error::{Error, Result};
use crate::origin::AllowedOrigins;
use crate::outbound::policy::Reconnect;
use crate::path::{normalize_base_path, strip_base, PathPattern};
use crate::pem::Pem;
use crate::protocol::extensions::{PerMessageDeflate, WINDOW_BITS};
use crate::settings::{settings, too_long, Choice};
use std::time::Duration;

/// A certificate chain and its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The certificate chain, leaf first.
    pub cert_chain: Pem,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub private_key: Pem,
}

/// TLS for the listener (`wss://`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerTls {
    /// The server's certificate chain and key.
    pub identity: Identity,
    /// When set, clients must present a certificate signed by one of these CAs (mutual TLS).
    pub client_ca: Option<Pem>,
}

impl ServerTls {
    /// Server TLS with a certificate chain and key; no client certificates asked.
    pub fn new(cert_chain: Pem, private_key: Pem) -> Self {
        ServerTls {
            identity: Identity {
                cert_chain,
                private_key,
            },
            client_ca: None,
        }
    }
}

/// What happens when a socket's send queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlowConsumerPolicy {
    /// The send fails with [`crate::ErrorKind::QueueFull`]; nothing queued is lost.
    #[default]
    Fail,
    /// The new message is dropped; the send reports it.
    DropNewest,
    /// The oldest queued messages are dropped to make room for the new one.
    DropOldest,
    /// The socket is closed with 1013 (try again later) and its queue discarded.
    Close,
}

impl SlowConsumerPolicy {
    /// The policy's name as the settings spell it: "fail", "drop_newest", "drop_oldest",
    /// "close".
    pub fn name(self) -> &'static str {
        crate::settings::choice_name(self)
    }
}

impl Choice for SlowConsumerPolicy {
    const NAMES: &'static [&'static str] = &["fail", "drop_newest", "drop_oldest", "close"];
    const ALL: &'static [Self] = &[
        SlowConsumerPolicy::Fail,
        SlowConsumerPolicy::DropNewest,
        SlowConsumerPolicy::DropOldest,
        SlowConsumerPolicy::Close,
    ];
}

/// How many messages a peer may send on one socket: `burst` at once, then `per_second` on
/// average (a token bucket of `burst` tokens refilled at `per_second`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRateLimit {
    /// Messages per second the peer may send, sustained.
    pub per_second: u32,
    /// Messages the peer may send at once after a quiet spell (at least 1).
    pub burst: u32,
}

/// What happens to a message past the socket's [`MessageRateLimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageRatePolicy {
    /// The socket is closed with 1008 (policy violation).
    #[default]
    Close,
    /// The message is dropped (not delivered); the socket stays open.
    Drop,
}

impl MessageRatePolicy {
    /// The policy's name as the settings spell it: "close", "drop".
    pub fn name(self) -> &'static str {
        crate::settings::choice_name(self)
    }
}

impl Choice for MessageRatePolicy {
    const NAMES: &'static [&'static str] = &["close", "drop"];
    const ALL: &'static [Self] = &[MessageRatePolicy::Close, MessageRatePolicy::Drop];
}

/// One path the listener serves, relative to its base path, with the groups its sockets start in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundPath {
    /// Exact path or `*` pattern, relative to the base path, e.g. `/chat/*`.
    pub pattern: String,
    /// Groups every socket accepted on this path is subscribed to.
    pub default_groups: Vec<String>,
    /// Origins allowed on this path, replacing the listener's
    /// [`allowed_origins`](ListenerConfig::allowed_origins) when not empty (same forms).
    pub allowed_origins: Vec<String>,
    /// Whether sockets on this path accept permessage-deflate, replacing
    /// [`Compression::inbound`] when set.
    pub compression: Option<bool>,
}

impl InboundPath {
    /// Checks the pattern and the default groups (needing nothing else of the config, so the
    /// C API checks them as the path is added); the error names the setting and the path.
    pub fn validate(&self) -> Result<()> {
        PathPattern::new(&self.pattern).map_err(|e| e.context("paths"))?;
        validate_groups(&self.default_groups).map_err(|e| {
            e.context(format_args!(
                "paths: the default groups of path {:?}",
                self.pattern
            ))
        })
    }

    /// A served path with no default groups.
    pub fn new(pattern: impl Into<String>) -> Self {
        InboundPath {
            pattern: pattern.into(),
            default_groups: Vec::new(),
            allowed_origins: Vec::new(),
            compression: None,
        }
    }

    /// A served path whose sockets start in `groups`.
    pub fn with_groups<S: Into<String>>(
        pattern: impl Into<String>,
        groups: impl IntoIterator<Item = S>,
    ) -> Self {
        InboundPath {
            default_groups: groups.into_iter().map(Into::into).collect(),
            ..InboundPath::new(pattern)
        }
    }

    /// The same path, open only to browser pages from `origins` (instead of the listener's).
    pub fn allow_origins<S: Into<String>>(mut self, origins: impl IntoIterator<Item = S>) -> Self {
        self.allowed_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// The same path, accepting permessage-deflate or not whatever [`Compression::inbound`]
    /// says.
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = Some(on);
        self
    }
}

/// permessage-deflate (RFC 7692): whether sockets negotiate it, the parameters this endpoint
/// asks for, and which messages it compresses. Off by default on both sides: each compressed
/// socket costs CPU per message and, with context takeover, memory for as long as it lives
/// (see the README), which only a deployment knows whether it pays for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Compression {
    /// The listener accepts a client's offer (default false); a path's
    /// [`InboundPath::compression`] overrides it.
    pub inbound: bool,
    /// Outbound sockets offer it (default false); an open's
    /// [`OutboundOptions::compression`](crate::OutboundOptions::compression) overrides it.
    pub outbound: bool,
    /// The parameters asked for: as a server, in its answer to an offer, within what the offer
    /// allows; as a client, in its offer (which a server may decline). Default: none, both
    /// sides keep their context with 32 KiB windows.
    pub preferred: PerMessageDeflate,
    /// Messages shorter than this many bytes are sent uncompressed (default 64).
    pub threshold: usize,
    /// zlib's compression level, 1 (fastest) to 9 (smallest); default 2, which on JSON comes
    /// within a few percent of zlib's default 6 for about a quarter less CPU.
    pub level: u8,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            inbound: false,
            outbound: false,
            preferred: PerMessageDeflate::default(),
            threshold: 64,
            level: 2,
        }
    }
}

impl Compression {
    /// permessage-deflate on both sides (the listener and outbound sockets), with the default
    /// parameters.
    pub fn on() -> Self {
        Compression {
            inbound: true,
            outbound: true,
            ..Compression::default()
        }
    }
}

/// The inbound listener (WebSocket server).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListenerConfig {
    /// Address to bind, e.g. `127.0.0.1`, `0.0.0.0`, `::1`.
    pub host: String,
    /// Port to bind; 0 lets the OS pick (read it with `Connector::local_addr`).
    pub port: u16,
    /// Prefix of every served path (default `/`).
    pub base_path: String,
    /// Served paths; when empty, every path under the base path is served. A request's path is
    /// percent-decoded once before it is matched (and the socket's path is the decoded one); a
    /// path with a dot-segment (`/chat/../admin`, also encoded), an encoded slash (`%2F`), a
    /// control character or malformed encoding is refused with 400.
    pub paths: Vec<InboundPath>,
    /// Subprotocols the server accepts, in order of preference.
    pub subprotocols: Vec<String>,
    /// TLS (`wss://`); `None` serves plain `ws://`.
    pub tls: Option<ServerTls>,
    /// Most inbound sockets (and handshakes in progress) at once: the setting
    /// `max_inbound_connections` (deprecated alias `max_connections`, its first name); outbound
    /// sockets have [`ClientConfig::max_outbound_connections`]. A connection past it is refused
    /// at accept, before anything is read: a plain listener answers 503 at once; a TLS
    /// listener closes the connection with a reset (SO_LINGER 0) and no TLS handshake, so the
    /// client sees a connection reset rather than a 503 it could only read after a full
    /// handshake, which is the cost the limit is there to avoid. On Linux the process's
    /// descriptor table is grown for this many sockets when the listener starts (see README).
    pub max_inbound_connections: usize,
    /// Most inbound sockets (and handshakes in progress) from one client IP address at once;
    /// `None` (the default): no such limit. Past it a connection is refused at accept like one
    /// past `max_inbound_connections`, with 429 instead of 503 on a plain listener. Clients
    /// behind one NAT or proxy share an address, and an IPv6 client may hold many addresses.
    pub max_connections_per_ip: Option<usize>,
    /// Origins whose browser pages may open sockets here: exact origins
    /// (`https://app.example.com`, `http://localhost:3000`), subdomain patterns
    /// (`https://*.example.com`; without a scheme, `*.example.com` allows any scheme), `null`,
    /// or `*` for any. A handshake whose `Origin` header is not allowed is refused with 403
    /// before the authorization hook runs; one without `Origin` (not from a browser) passes
    /// unless [`require_origin`](Self::require_origin) is set. Empty (the default): any origin.
    /// A port left out means the scheme's default one.
    pub allowed_origins: Vec<String>,
    /// Refuses (403) upgrade requests that carry no `Origin` header.
    pub require_origin: bool,
    /// Time a client has from TCP accept to the end of the upgrade (TLS included).
    pub handshake_timeout: Duration,
    /// Inbound sockets with no message in either direction for this long are closed.
    pub idle_timeout: Option<Duration>,
    /// Largest accepted handshake request (request line and headers), in bytes; more gets 431.
    pub max_handshake_bytes: usize,
    /// Path of a plain HTTP endpoint on the listener that serves the connector's figures as
    /// Prometheus text (`GET /metrics`), to the clients in
    /// [`metrics_allowed_addresses`](Self::metrics_allowed_addresses); empty (the default):
    /// none. An exact path, outside every declared WebSocket path (checked at start); when no
    /// path is declared, it is simply not a WebSocket path.
    pub metrics_path: String,
    /// Client addresses that may read [`metrics_path`](Self::metrics_path): IP addresses, CIDR
    /// blocks (`10.0.0.0/8`) or `*`; others get 403. Empty (the default): loopback only. The
    /// address is the TCP peer's: behind a proxy, the proxy's.
    pub metrics_allowed_addresses: Vec<String>,
    /// Path of a plain HTTP health endpoint on the listener, for load balancers: 200 while the
    /// connector runs, 503 once it drains; open to every client; empty (the default): none.
    /// Same rules as [`metrics_path`](Self::metrics_path).
    pub health_path: String,
}

impl ListenerConfig {
    /// A plain listener on `host:port` with every other setting at its default.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ListenerConfig {
            host: host.into(),
            port,
            base_path: "/".into(),
            paths: Vec::new(),
            subprotocols: Vec::new(),
            tls: None,
            max_inbound_connections: 10_000,
            max_connections_per_ip: None,
            allowed_origins: Vec::new(),
            require_origin: false,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(15 * 60)),
            max_handshake_bytes: 16 * 1024,
            metrics_path: String::new(),
            metrics_allowed_addresses: Vec::new(),
            health_path: String::new(),
        }
    }
}

impl ListenerConfig {
    /// The plain HTTP endpoints, by setting name, that are configured.
    pub(crate) fn endpoints(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("metrics_path", self.metrics_path.as_str()),
            ("health_path", self.health_path.as_str()),
        ]
        .into_iter()
        .filter(|(_, path)| !path.is_empty())
    }

    /// Checks what the endpoints' rows cannot alone: distinct paths, never a declared
    /// WebSocket path (each path's own form is [`rule::endpoint`]'s).
    fn validate_endpoints(&self) -> Result<()> {
        let base = normalize_base_path(&self.base_path)?;
        for (setting, path) in self.endpoints() {
            let relative = strip_base(&base, path);
            if let Some(served) = self.paths.iter().find(|p| {
                relative.is_some_and(|r| PathPattern::new(&p.pattern).is_ok_and(|p| p.matches(r)))
            }) {
                return Err(Error::invalid(format!(
                    "{setting} {path:?} is a WebSocket path (it matches {:?}): choose another",
                    served.pattern
                )));
            }
        }
        if !self.metrics_path.is_empty() && self.metrics_path == self.health_path {
            return Err(Error::invalid(
                "metrics_path and health_path must be different paths",
            ));
        }
        Ok(())
    }
}

/// The scheme of the client base ([`ClientConfig::scheme`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientScheme {
    /// `ws://`, plain.
    #[default]
    Ws,
    /// `wss://`, over TLS.
    Wss,
}

impl ClientScheme {
    /// "ws" or "wss".
    pub fn name(self) -> &'static str {
        crate::settings::choice_name(self)
    }
}

impl Choice for ClientScheme {
    const NAMES: &'static [&'static str] = &["ws", "wss"];
    const ALL: &'static [Self] = &[ClientScheme::Ws, ClientScheme::Wss];
}

/// Which certificate authorities outbound `wss://` sockets trust, besides
/// [`ClientConfig::extra_ca`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrustedRoots {
    /// The web's public roots bundled with the library (Mozilla's, from `webpki-roots`).
    #[default]
    Bundled,
    /// The operating system's certificate store (on Linux the distribution's CA bundle;
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR` override where it is read from).
    System,
    /// None: only `extra_ca` (a private CA), which must then be set.
    ExtraCaOnly,
}

impl TrustedRoots {
    /// "bundled", "system" or "extra_ca_only".
    pub fn name(self) -> &'static str {
        crate::settings::choice_name(self)
    }
}

impl Choice for TrustedRoots {
    const NAMES: &'static [&'static str] = &["bundled", "system", "extra_ca_only"];
    const ALL: &'static [Self] = &[
        TrustedRoots::Bundled,
        TrustedRoots::System,
        TrustedRoots::ExtraCaOnly,
    ];
}

/// Settings for outbound sockets (WebSocket clients).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Headers sent with every outbound handshake (per-call headers come after them, and one
    /// replaces every default header of its name, case-insensitive). A `Host`
    /// header replaces the URL's `host[:port]`; the handshake's own headers (`Upgrade`,
    /// `Connection`, `Sec-WebSocket-*`) cannot be set.
    pub default_headers: Vec<(String, String)>,
    /// Query parameters added to every outbound URL.
    pub default_query: Vec<(String, String)>,
    /// Time allowed for DNS, TCP, proxy, TLS, redirects and the upgrade together (default 30 s).
    pub connect_timeout: Option<Duration>,
    /// Outbound sockets idle this long are closed; none by default.
    pub idle_timeout: Option<Duration>,
    /// Extra trusted CA certificates (PEM) besides the [`trusted_roots`](Self::trusted_roots).
    pub extra_ca: Option<Pem>,
    /// Which roots `wss://` trusts besides `extra_ca` (default: the bundled web roots).
    pub trusted_roots: TrustedRoots,
    /// A client certificate to present to servers that ask for one (mutual TLS).
    pub identity: Option<Identity>,
    /// Accepts any server certificate: no authenticity at all. Only for tests.
    pub dangerous_skip_certificate_verification: bool,
    /// The client base's scheme: an open that gives a path (not a full URL) connects to
    /// `scheme://host[:port]base_path/path` (Mule's client settings).
    pub scheme: ClientScheme,
    /// The client base's host; empty (the default): an open must give a full URL.
    pub host: String,
    /// The client base's port; `None`: the scheme's (80 or 443).
    pub port: Option<usize>,
    /// The client base's path, which an open's path goes under (default `/`).
    pub base_path: String,
    /// Follows the handshake's redirects (301, 302, 303, 307, 308), never from `wss://` to
    /// `ws://`; credentials go only to the origin the open named (default true, as in Mule).
    pub follow_redirects: bool,
    /// Most redirects one handshake follows (default 5).
    pub max_redirects: usize,
    /// An HTTP proxy (`http://host:port`) that outbound sockets tunnel through with CONNECT,
    /// for `ws://` and `wss://` alike; empty (the default): none.
    pub proxy: String,
    /// The proxy's basic credentials (user name); empty: none.
    pub proxy_username: String,
    /// The proxy's basic credentials (password).
    pub proxy_password: String,
    /// Hosts reached without the proxy: a host name (its subdomains too; a leading dot
    /// optional), an IP address, or `*` for all.
    pub no_proxy: Vec<String>,
    /// Reads the proxy from `HTTPS_PROXY` (`wss://`) or `HTTP_PROXY` (`ws://`) and adds
    /// `NO_PROXY` to [`no_proxy`](Self::no_proxy) when [`proxy`](Self::proxy) is empty
    /// (lower-case names too), read once at start. Default false: the environment is ignored.
    pub proxy_from_environment: bool,
    /// User name for basic authentication on the handshake; empty (the default): none.
    pub basic_auth_username: String,
    /// Password for basic authentication on the handshake.
    pub basic_auth_password: String,
    /// Most outbound sockets at once (reconnecting ones and opens in progress included); past
    /// it an open fails with `LimitExceeded`. `None` (the default): no limit. (Inbound sockets
    /// have their own limit, [`ListenerConfig::max_inbound_connections`].)
    pub max_outbound_connections: Option<usize>,
    /// The reconnect policy of outbound sockets whose open does not choose one; `None` (the
    /// default): they do not reconnect.
    pub reconnect: Option<Reconnect>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            default_headers: Vec::new(),
            default_query: Vec::new(),
            connect_timeout: None,
            idle_timeout: None,
            extra_ca: None,
            trusted_roots: TrustedRoots::Bundled,
            identity: None,
            dangerous_skip_certificate_verification: false,
            scheme: ClientScheme::Ws,
            host: String::new(),
            port: None,
            base_path: "/".into(),
            follow_redirects: true,
            max_redirects: 5,
            proxy: String::new(),
            proxy_username: String::new(),
            proxy_password: String::new(),
            no_proxy: Vec::new(),
            proxy_from_environment: false,
            basic_auth_username: String::new(),
            basic_auth_password: String::new(),
            max_outbound_connections: None,
            reconnect: None,
        }
    }
}

impl ClientConfig {
    /// The connect timeout in force.
    pub(crate) fn effective_connect_timeout(&self) -> Duration {
        self.connect_timeout.unwrap_or(Duration::from_secs(30))
    }

    /// Checks what the client settings' rows cannot alone; the error names the setting.
    fn validate(&self) -> Result<()> {
        if self.trusted_roots == TrustedRoots::ExtraCaOnly && self.extra_ca.is_none() {
            return Err(Error::invalid(
                "trusted_roots \"extra_ca_only\" needs extra_ca (the private CA to trust)",
            ));
        }
        if let Some(policy) = &self.reconnect {
            policy.validate()?;
        }
        Ok(())
    }
}

/// Limits and liveness rules that every socket, inbound or outbound, follows.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SocketConfig {
    /// Largest message (and frame) accepted from a peer; larger ones close the socket with 1009.
    pub max_message_size: usize,
    /// Most messages waiting in one socket's send queue.
    pub send_queue_messages: usize,
    /// Most payload bytes waiting in one socket's send queue.
    pub send_queue_bytes: usize,
    /// What a send does when the queue is full.
    pub slow_consumer: SlowConsumerPolicy,
    /// Interval between pings; `None` sends none.
    pub ping_interval: Option<Duration>,
    /// A ping not answered by a pong within this time closes the socket (dead peer).
    pub pong_timeout: Duration,
    /// Time the peer has to answer our close frame before the connection is dropped.
    pub close_timeout: Duration,
    /// Most messages the peer may send, per socket; `None` (the default) sets no limit.
    pub message_rate_limit: Option<MessageRateLimit>,
    /// What a message past the rate limit does (default: closes the socket with 1008).
    pub message_rate_policy: MessageRatePolicy,
    /// A plain (ws://, uncompressed) socket quiet this long, with nothing buffered or owed,
    /// leaves its I/O thread's scheduler until its peer sends, the application sends or its
    /// next deadline comes (see the module `park`): it then holds a few hundred bytes instead
    /// of a task and a reactor registration, whose memory the library gives back to the
    /// system after each batch of parks. Zero turns parking off. The default is
    /// [`DEFAULT_PARK_IDLE_AFTER`]: 10 s with feature `mimalloc-purge` (the C library and the
    /// Python package, whose allocator is mimalloc), well above the gap of a socket that gets
    /// a message every few seconds, which thus never pays a park and a resume (a task spawn
    /// and a registration) per message; off otherwise, as glibc's malloc keeps most of what
    /// parking frees (see the README's memory paragraph).
    pub park_idle_after: Duration,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            max_message_size: 16 << 20,
            send_queue_messages: 1024,
            send_queue_bytes: 16 << 20,
            slow_consumer: SlowConsumerPolicy::Fail,
            ping_interval: Some(Duration::from_secs(30)),
            pong_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(5),
            message_rate_limit: None,
            message_rate_policy: MessageRatePolicy::Close,
            park_idle_after: DEFAULT_PARK_IDLE_AFTER,
        }
    }
}

/// The default of [`SocketConfig::park_idle_after`]: 10 s where the library returns what
/// parked sockets free (feature `mimalloc-purge`: 0.97 KiB per parked connection against
/// 1.59 unparked), off on other allocators (glibc's malloc: 1.64 parked, 1.58 unparked).
pub const DEFAULT_PARK_IDLE_AFTER: Duration = if cfg!(feature = "mimalloc-purge") {
    Duration::from_secs(10)
} else {
    Duration::ZERO
};

/// Everything a connector needs to start. Every duration in it (timeouts, intervals) is at
/// most [`MAX_DURATION`], one year.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The inbound listener; `None` makes a client-only connector.
    pub listener: Option<ListenerConfig>,
    /// Outbound socket settings.
    pub client: ClientConfig,
    /// Per-socket limits and liveness.
    pub socket: SocketConfig,
    /// permessage-deflate, inbound and outbound (off by default).
    pub compression: Compression,
    /// The connector's I/O threads (default: the CPU count, at most 4): the workers of its tokio
    /// runtime, or with inline dispatch one current-thread runtime each, where each socket stays
    /// on one of them (they take new sockets in turn). Unused by
    /// [`crate::ConnectorBuilder::start_on`], which runs on the caller's runtime.
    pub worker_threads: Option<usize>,
    /// Threads that run the event handler (default: the CPU count, at least 2 and at most 8;
    /// see [`Config::dispatcher_threads`]). Events of one socket run one at a time and in
    /// order; events of different sockets run side by side, so a handler that blocks delays
    /// only its own socket while a thread is free. 1 makes one thread handle every event.
    pub dispatcher_threads: Option<usize>,
    /// How long stop waits for queued sends to drain and close handshakes to finish.
    pub stop_timeout: Duration,
    /// Most events waiting for the application, with those its dispatcher (or an
    /// [`crate::EventBatch`]) still holds; past it, sockets stop reading (backpressure), and
    /// the peers' ping deadlines and idle timeouts stop while they do.
    pub event_queue_capacity: usize,
    /// Most bytes of memory kept by those events (their payloads; one left in its read buffer
    /// counts that buffer); past it too, sockets stop reading, so a slow application makes the
    /// connector hold at most about this much received data.
    pub event_queue_bytes: usize,
    /// The cluster this connector is a node of (a Redis backplane); `None`: a connector alone.
    pub cluster: Option<ClusterConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listener: None,
            client: ClientConfig::default(),
            socket: SocketConfig::default(),
            compression: Compression::default(),
            worker_threads: None,
            dispatcher_threads: None,
            stop_timeout: Duration::from_secs(5),
            event_queue_capacity: 64 * 1024,
            event_queue_bytes: 64 << 20,
            cluster: None,
        }
    }
}

impl Config {
    /// A connector with a plain listener on `host:port` and default settings.
    pub fn with_listener(host: impl Into<String>, port: u16) -> Self {
        Config {
            listener: Some(ListenerConfig::new(host, port)),
            ..Config::default()
        }
    }

    /// The dispatcher threads to start: the setting, or by default the CPU count, at least 2
    /// (so that one handler that blocks does not hold up every other socket, even on one core)
    /// and at most 8 (short handlers gain little from more, and each thread costs a stack).
    pub fn dispatcher_threads(&self) -> usize {
        self.dispatcher_threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
        })
    }

    /// Checks every setting (every duration greater than 0, except `stop_timeout`, and at most
    /// [`MAX_DURATION`]); the error names the one that is wrong. The rules on one setting's
    /// value are the table's (`check` in its rows, also run as a setting is set by name); the
    /// rest, settings made of several values and rules across settings, are here.
    pub fn validate(&self) -> Result<()> {
        self.check_each_setting()?;
        if let Some(listener) = &self.listener {
            if listener.host.trim().is_empty() {
                return Err(Error::invalid("listener host must not be empty"));
            }
            for path in &listener.paths {
                path.validate()?;
                AllowedOrigins::parse(
                    &format!("allowed_origins of path {:?}", path.pattern),
                    &path.allowed_origins,
                )?;
            }
            listener.validate_endpoints()?;
        }
        self.client.validate()?;
        if let Some(limit) = self.socket.message_rate_limit {
            rule::positive(
                "message_rate_limit per_second",
                &(limit.per_second as usize),
            )?;
            rule::positive("message_rate_limit burst", &(limit.burst as usize))?;
        }
        // The rows that set more than a field have no place to read: their rules, by hand.
        let preferred = &self.compression.preferred;
        for (name, bits) in [
            ("server_max_window_bits", preferred.server_max_window_bits),
            ("client_max_window_bits", preferred.client_max_window_bits),
        ] {
            rule::window_bits(name, &bits.map(usize::from))?;
        }
        rule::level("compression_level", &usize::from(self.compression.level))?;
        if let Some(cluster) = &self.cluster {
            check_duration("cluster_timeout", cluster.timeout)?;
            check_duration("cluster_node_expiry", cluster.node_expiry)?;
            cluster.validate()?;
        }
        Ok(())
    }
}

// The settings table: every setting by name, its kind, its scope and the field it sets. Adding
// a field to the structs above means adding its row here (and to `config_fields` below); the C
// API and the Python package reach it through `Config::set` with no change of theirs.
settings! {
    /// Address and port to bind; without them the connector has no listener (client-only).
    listener: Listener, Custom;
    /// Prefix of every served path (default "/").
    base_path: Listener, Text, check rule::base_path, |c| listener(c)?.base_path;
    /// Served paths (exact, `*` or `{name}` patterns, with default groups and allowed origins); none: every path.
    paths: Listener, Custom;
    /// Subprotocols the server accepts, in order of preference.
    subprotocols: Listener, TextList, check rule::subprotocols, |c| listener(c)?.subprotocols;
    /// The listener's certificate chain and private key: it serves wss://.
    tls: Listener, Custom;
    /// CAs whose client certificates the listener requires (mutual TLS; needs `tls` first).
    tls_client_ca: Listener, Pem, |c| server_tls(c)?.client_ca;
    /// Most inbound sockets and handshakes at once (10,000); deprecated alias: max_connections.
    max_inbound_connections (alias max_connections):
        Listener, Count, check rule::positive, |c| listener(c)?.max_inbound_connections;
    /// Most inbound sockets and handshakes at once from one client IP address (default: none).
    max_connections_per_ip: Listener, OptionalCount, check rule::positive_or_none, |c| listener(c)?.max_connections_per_ip;
    /// Time a client has from TCP accept to the end of the upgrade, TLS included (default 10 s).
    handshake_timeout: Listener, Duration, check rule::duration, |c| listener(c)?.handshake_timeout;
    /// Inbound sockets idle this long are closed (default 15 minutes; none: never).
    idle_timeout: Listener, OptionalDuration, check rule::duration_or_none, |c| listener(c)?.idle_timeout;
    /// Largest handshake request accepted, in bytes; more gets 431 (default 16 KiB).
    max_handshake_bytes: Listener, Bytes, check rule::handshake_bytes, |c| listener(c)?.max_handshake_bytes;
    /// Origins whose browser pages may open sockets on the listener (default: any).
    allowed_origins: Listener, TextList, check rule::origins, |c| listener(c)?.allowed_origins;
    /// Refuses (403) upgrade requests without an Origin header (default false).
    require_origin: Listener, Bool, |c| listener(c)?.require_origin;
    /// Path of the Prometheus endpoint on the listener, e.g. "/metrics" (default "": none).
    metrics_path: Listener, Text, check rule::endpoint, |c| listener(c)?.metrics_path;
    /// Client addresses or CIDR blocks that may read metrics_path, or "*" (default: loopback).
    metrics_allowed_addresses: Listener, TextList, check rule::addresses, |c| listener(c)?.metrics_allowed_addresses;
    /// Path of the health endpoint: 200 running, 503 draining, e.g. "/health" (default "": none).
    health_path: Listener, Text, check rule::endpoint, |c| listener(c)?.health_path;
    /// Headers sent with every outbound handshake; an open's header of the same name replaces them.
    default_headers: Client, Pairs, check rule::client_headers, |c| c.client.default_headers;
    /// Query parameters added to every outbound URL.
    default_query: Client, Pairs, |c| c.client.default_query;
    /// Time allowed for DNS, TCP, TLS and the upgrade of an outbound socket (none: 30 s).
    connect_timeout: Client, OptionalDuration, check rule::duration_or_none, |c| c.client.connect_timeout;
    /// Outbound sockets idle this long are closed (default none: never).
    client_idle_timeout: Client, OptionalDuration, check rule::duration_or_none, |c| c.client.idle_timeout;
    /// CA certificates trusted for wss:// besides the trusted_roots.
    extra_ca: Client, Pem, |c| c.client.extra_ca;
    /// Roots wss:// trusts besides extra_ca: "bundled", "system" or "extra_ca_only" (bundled).
    trusted_roots: Client, Choice(TrustedRoots), |c| c.client.trusted_roots;
    /// A client certificate chain and key presented to servers that ask (mutual TLS).
    client_identity: Client, Custom;
    /// Outbound sockets accept any server certificate: no authenticity at all; tests only.
    dangerous_skip_certificate_verification: Client, Bool,
        |c| c.client.dangerous_skip_certificate_verification;
    /// The client base's scheme, "ws" or "wss", for opens that give a path (default "ws").
    client_scheme: Client, Choice(ClientScheme), |c| c.client.scheme;
    /// The client base's host, for opens that give a path (default none: a full URL is needed).
    client_host: Client, Text, check rule::host, |c| c.client.host;
    /// The client base's port (default none: the scheme's).
    client_port: Client, OptionalCount, check rule::port, |c| c.client.port;
    /// The client base's path, which an open's path goes under (default "/").
    client_base_path: Client, Text, check rule::base_path, |c| c.client.base_path;
    /// Follows the handshake's redirects, never from wss:// to ws:// (default true).
    follow_redirects: Client, Bool, |c| c.client.follow_redirects;
    /// Most redirects one handshake follows (default 5).
    max_redirects: Client, Count, |c| c.client.max_redirects;
    /// An HTTP proxy, http://host:port, tunnelled through with CONNECT (default none).
    proxy: Client, Text, |c| c.client.proxy;
    /// The proxy's basic-authentication user name (default none).
    proxy_username: Client, Text, |c| c.client.proxy_username;
    /// The proxy's basic-authentication password.
    proxy_password: Client, Text, |c| c.client.proxy_password;
    /// Hosts (and their subdomains), addresses, or "*", reached without the proxy.
    no_proxy: Client, TextList, |c| c.client.no_proxy;
    /// Reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY when proxy is empty (default false).
    proxy_from_environment: Client, Bool, |c| c.client.proxy_from_environment;
    /// User name for basic authentication on outbound handshakes (default none).
    basic_auth_username: Client, Text, |c| c.client.basic_auth_username;
    /// Password for basic authentication on outbound handshakes.
    basic_auth_password: Client, Text, |c| c.client.basic_auth_password;
    /// Most outbound sockets at once; past it an open fails with LimitExceeded (default none).
    max_outbound_connections: Client, OptionalCount, check rule::positive_or_none, |c| c.client.max_outbound_connections;
    /// The reconnect policy of outbound sockets whose open does not choose one (default none).
    reconnect: Client, Custom;
    /// Largest message accepted from a peer; larger closes the socket with 1009 (16 MiB).
    max_message_size: Socket, Bytes, check rule::positive, |c| c.socket.max_message_size;
    /// Most messages waiting in one socket's send queue (default 1,024).
    send_queue_messages: Socket, Count, check rule::positive, |c| c.socket.send_queue_messages;
    /// Most payload bytes waiting in one socket's send queue (default 16 MiB).
    send_queue_bytes: Socket, Bytes, check rule::positive, |c| c.socket.send_queue_bytes;
    /// What a send does when the queue is full (default "fail").
    slow_consumer: Socket, Choice(SlowConsumerPolicy), |c| c.socket.slow_consumer;
    /// Interval between pings (default 30 s; none: no pings).
    ping_interval: Socket, OptionalDuration, check rule::duration_or_none, |c| c.socket.ping_interval;
    /// A ping not answered by a pong within this time closes the socket (default 20 s).
    pong_timeout: Socket, Duration, check rule::duration, |c| c.socket.pong_timeout;
    /// Time the peer has to answer our close frame (default 5 s).
    close_timeout: Socket, Duration, check rule::duration, |c| c.socket.close_timeout;
    /// Messages a peer may send on one socket: a burst, then so many per second (default: any).
    message_rate_limit: Socket, Custom;
    /// What a message past the rate limit does (default "close": the socket closes with 1008).
    message_rate_policy: Socket, Choice(MessageRatePolicy), |c| c.socket.message_rate_policy;
    /// A plain socket quiet this long is parked, holding less memory (default 10 s with mimalloc-purge: C, Python; else 0: never).
    park_idle_after: Socket, Duration, check rule::within_a_year, |c| c.socket.park_idle_after;
    /// permessage-deflate on the listener and outbound sockets (default false: off).
    compression: Socket, Bool, set |c, on| {
        c.compression.inbound = on;
        c.compression.outbound = on;
    };
    /// The listener accepts permessage-deflate (default false; a path's own setting wins).
    inbound_compression: Listener, Bool, |c| c.compression.inbound;
    /// Outbound sockets offer permessage-deflate (default false; an open's own setting wins).
    outbound_compression: Client, Bool, |c| c.compression.outbound;
    /// permessage-deflate: the server compresses each message on its own (default false).
    server_no_context_takeover: Socket, Bool, |c| c.compression.preferred.server_no_context_takeover;
    /// permessage-deflate: the client compresses each message on its own (default false).
    client_no_context_takeover: Socket, Bool, |c| c.compression.preferred.client_no_context_takeover;
    /// permessage-deflate: the server's compression window, 8-15 bits (default none: 15).
    server_max_window_bits: Socket, OptionalCount, check rule::window_bits, set |c, bits| {
        c.compression.preferred.server_max_window_bits = bits.map(window_bits);
    };
    /// permessage-deflate: the client's compression window, 8-15 bits (default none: 15).
    client_max_window_bits: Socket, OptionalCount, check rule::window_bits, set |c, bits| {
        c.compression.preferred.client_max_window_bits = bits.map(window_bits);
    };
    /// Messages shorter than this are sent uncompressed (default 64 bytes).
    compression_threshold: Socket, Bytes, |c| c.compression.threshold;
    /// zlib's compression level, 1 (fastest) to 9 (smallest) (default 2).
    compression_level: Socket, Count, check rule::level, set |c, level| {
        c.compression.level = u8::try_from(level).unwrap_or(u8::MAX);
    };
    /// I/O threads (default none: the CPU count, at most 4); inline, a socket stays on one.
    worker_threads: Connector, OptionalCount, check rule::positive_or_none, |c| c.worker_threads;
    /// Threads running event handlers, one socket on one at a time (default: CPUs, 2 to 8).
    dispatcher_threads: Connector, OptionalCount, check rule::positive_or_none, |c| c.dispatcher_threads;
    /// How long stop waits for queued sends and close handshakes (default 5 s).
    stop_timeout: Connector, Duration, check rule::within_a_year, |c| c.stop_timeout;
    /// Most events waiting for the application; past it, sockets stop reading (65,536).
    event_queue_capacity: Connector, Count, check rule::positive, |c| c.event_queue_capacity;
    /// Most payload bytes in events waiting for the application; past it too (64 MiB).
    event_queue_bytes: Connector, Bytes, check rule::positive, |c| c.event_queue_bytes;
    /// A node of a cluster through a Redis backplane: URL, names, password, timeouts (none).
    cluster: Connector, Custom;
}

/// A window size as a setting gives it; one past a byte fails validation as one past 15 does.
fn window_bits(bits: usize) -> u8 {
    u8::try_from(bits).unwrap_or(u8::MAX)
}

// Checked here, with the other settings: the policy's module sits below this one.
impl Reconnect {
    /// Checks the policy; the error names the field that is wrong.
    pub fn validate(&self) -> Result<()> {
        check_duration("reconnect initial_delay", self.initial_delay)?;
        check_duration("reconnect max_delay", self.max_delay)?;
        if self.max_delay < self.initial_delay {
            return Err(Error::invalid(
                "reconnect max_delay must not be shorter than initial_delay",
            ));
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(Error::invalid(format!(
                "reconnect multiplier must be a number of at least 1, not {}",
                self.multiplier
            )));
        }
        if self.max_attempts == Some(0) {
            return Err(Error::invalid(
                "reconnect max_attempts must be at least 1 (or none: forever)",
            ));
        }
        for codes in &self.final_close_codes {
            if codes.start() > codes.end() || *codes.start() < 1000 || *codes.end() > 4999 {
                return Err(Error::invalid(format!(
                    "reconnect final_close_codes: {}-{} is not a range of close codes (1000-4999)",
                    codes.start(),
                    codes.end()
                )));
            }
        }
        Ok(())
    }
}

/// The listener, for a listener setting (`Config::set` has checked that there is one).
fn listener(config: &mut Config) -> Result<&mut ListenerConfig> {
    config.listener.as_mut().ok_or_else(|| {
        Error::new(
            crate::ErrorKind::InvalidState,
            "this configuration has no listener",
        )
    })
}

/// The listener's TLS, for the settings that need it.
fn server_tls(config: &mut Config) -> Result<&mut ServerTls> {
    listener(config)?.tls.as_mut().ok_or_else(|| {
        Error::new(
            crate::ErrorKind::InvalidState,
            "the listener has no TLS certificate and key (the tls setting) yet: set them first",
        )
    })
}

/// Every field of a configuration, nested ones by their path (`listener.tls.client_ca`), with
/// its value as text; a field inside an absent `Option` is left out. The C and Python layers'
/// tests set each setting through their own API and compare: every field must be reached.
/// The patterns name every field, so a field added without its setting fails to compile here.
#[doc(hidden)]
pub fn config_fields(config: &Config) -> Vec<(&'static str, String)> {
    let Config {
        listener,
        client,
        socket,
        compression,
        worker_threads,
        dispatcher_threads,
        stop_timeout,
        event_queue_capacity,
        event_queue_bytes,
        cluster,
    } = config;
    let ClientConfig {
        default_headers,
        default_query,
        connect_timeout,
        idle_timeout: client_idle_timeout,
        extra_ca,
        trusted_roots,
        identity: client_identity,
        dangerous_skip_certificate_verification,
        scheme,
        host: client_host,
        port: client_port,
        base_path: client_base_path,
        follow_redirects,
        max_redirects,
        proxy,
        proxy_username,
        proxy_password,
        no_proxy,
        proxy_from_environment,
        basic_auth_username,
        basic_auth_password,
        max_outbound_connections,
        reconnect,
    } = client;
    let SocketConfig {
        max_message_size,
        send_queue_messages,
        send_queue_bytes,
        slow_consumer,
        ping_interval,
        pong_timeout,
        close_timeout,
        message_rate_limit,
        message_rate_policy,
        park_idle_after,
    } = socket;
    let Compression {
        inbound: inbound_compression,
        outbound: outbound_compression,
        preferred:
            PerMessageDeflate {
                server_no_context_takeover,
                client_no_context_takeover,
                server_max_window_bits,
                client_max_window_bits,
            },
        threshold: compression_threshold,
        level: compression_level,
    } = compression;
    let mut fields = vec![
        ("compression.inbound", format!("{inbound_compression:?}")),
        ("compression.outbound", format!("{outbound_compression:?}")),
        (
            "compression.preferred.server_no_context_takeover",
            format!("{server_no_context_takeover:?}"),
        ),
        (
            "compression.preferred.client_no_context_takeover",
            format!("{client_no_context_takeover:?}"),
        ),
        (
            "compression.preferred.server_max_window_bits",
            format!("{server_max_window_bits:?}"),
        ),
        (
            "compression.preferred.client_max_window_bits",
            format!("{client_max_window_bits:?}"),
        ),
        (
            "compression.threshold",
            format!("{compression_threshold:?}"),
        ),
        ("compression.level", format!("{compression_level:?}")),
        ("worker_threads", format!("{worker_threads:?}")),
        ("dispatcher_threads", format!("{dispatcher_threads:?}")),
        ("stop_timeout", format!("{stop_timeout:?}")),
        ("event_queue_capacity", format!("{event_queue_capacity:?}")),
        ("event_queue_bytes", format!("{event_queue_bytes:?}")),
        ("client.default_headers", format!("{default_headers:?}")),
        ("client.default_query", format!("{default_query:?}")),
        ("client.connect_timeout", format!("{connect_timeout:?}")),
        ("client.idle_timeout", format!("{client_idle_timeout:?}")),
        ("client.extra_ca", format!("{extra_ca:?}")),
        (
            "client.dangerous_skip_certificate_verification",
            format!("{dangerous_skip_certificate_verification:?}"),
        ),
        ("client.trusted_roots", format!("{trusted_roots:?}")),
        ("client.scheme", format!("{scheme:?}")),
        ("client.host", format!("{client_host:?}")),
        ("client.port", format!("{client_port:?}")),
        ("client.base_path", format!("{client_base_path:?}")),
        ("client.follow_redirects", format!("{follow_redirects:?}")),
        ("client.max_redirects", format!("{max_redirects:?}")),
        ("client.proxy", format!("{proxy:?}")),
        ("client.proxy_username", format!("{proxy_username:?}")),
        ("client.proxy_password", format!("{proxy_password:?}")),
        ("client.no_proxy", format!("{no_proxy:?}")),
        (
            "client.proxy_from_environment",
            format!("{proxy_from_environment:?}"),
        ),
        (
            "client.basic_auth_username",
            format!("{basic_auth_username:?}"),
        ),
        (
            "client.basic_auth_password",
            format!("{basic_auth_password:?}"),
        ),
        (
            "client.max_outbound_connections",
            format!("{max_outbound_connections:?}"),
        ),
        ("socket.max_message_size", format!("{max_message_size:?}")),
        (
            "socket.send_queue_messages",
            format!("{send_queue_messages:?}"),
        ),
        ("socket.send_queue_bytes", format!("{send_queue_bytes:?}")),
        ("socket.slow_consumer", format!("{slow_consumer:?}")),
        ("socket.ping_interval", format!("{ping_interval:?}")),
        ("socket.pong_timeout", format!("{pong_timeout:?}")),
        ("socket.close_timeout", format!("{close_timeout:?}")),
        ("socket.park_idle_after", format!("{park_idle_after:?}")),
        (
            "socket.message_rate_policy",
            format!("{message_rate_policy:?}"),
        ),
    ];
    if let Some(Reconnect {
        initial_delay,
        max_delay,
        multiplier,
        max_attempts,
        lazy,
        send_policy,
        final_close_codes,
    }) = reconnect
    {
        fields.extend([
            (
                "client.reconnect.initial_delay",
                format!("{initial_delay:?}"),
            ),
            ("client.reconnect.max_delay", format!("{max_delay:?}")),
            ("client.reconnect.multiplier", format!("{multiplier:?}")),
            ("client.reconnect.max_attempts", format!("{max_attempts:?}")),
            ("client.reconnect.lazy", format!("{lazy:?}")),
            ("client.reconnect.send_policy", format!("{send_policy:?}")),
            (
                "client.reconnect.final_close_codes",
                format!("{final_close_codes:?}"),
            ),
        ]);
    }
    if let Some(ClusterConfig {
        url,
        password,
        name,
        node_name,
        timeout,
        node_expiry,
    }) = cluster
    {
        fields.extend([
            ("cluster.url", format!("{url:?}")),
            ("cluster.password", format!("{password:?}")),
            ("cluster.name", format!("{name:?}")),
            ("cluster.node_name", format!("{node_name:?}")),
            ("cluster.timeout", format!("{timeout:?}")),
            ("cluster.node_expiry", format!("{node_expiry:?}")),
        ]);
    }
    if let Some(MessageRateLimit { per_second, burst }) = message_rate_limit {
        fields.push((
            "socket.message_rate_limit.per_second",
            format!("{per_second:?}"),
        ));
        fields.push(("socket.message_rate_limit.burst", format!("{burst:?}")));
    }
    if let Some(Identity {
        cert_chain,
        private_key,
    }) = client_identity
    {
        fields.push(("client.identity.cert_chain", format!("{cert_chain:?}")));
        fields.push(("client.identity.private_key", format!("{private_key:?}")));
    }
    let Some(ListenerConfig {
        host,
        port,
        base_path,
        paths,
        subprotocols,
        tls,
        max_inbound_connections,
        max_connections_per_ip,
        allowed_origins,
        require_origin,
        handshake_timeout,
        idle_timeout,
        max_handshake_bytes,
        metrics_path,
        metrics_allowed_addresses,
        health_path,
    }) = listener
    else {
        return fields;
    };
    fields.extend([
        ("listener.host", format!("{host:?}")),
        ("listener.port", format!("{port:?}")),
        ("listener.base_path", format!("{base_path:?}")),
        ("listener.subprotocols", format!("{subprotocols:?}")),
        (
            "listener.max_inbound_connections",
            format!("{max_inbound_connections:?}"),
        ),
        (
            "listener.max_connections_per_ip",
            format!("{max_connections_per_ip:?}"),
        ),
        ("listener.allowed_origins", format!("{allowed_origins:?}")),
        ("listener.require_origin", format!("{require_origin:?}")),
        (
            "listener.handshake_timeout",
            format!("{handshake_timeout:?}"),
        ),
        ("listener.idle_timeout", format!("{idle_timeout:?}")),
        (
            "listener.max_handshake_bytes",
            format!("{max_handshake_bytes:?}"),
        ),
        ("listener.metrics_path", format!("{metrics_path:?}")),
        (
            "listener.metrics_allowed_addresses",
            format!("{metrics_allowed_addresses:?}"),
        ),
        ("listener.health_path", format!("{health_path:?}")),
    ]);
    let mut patterns = Vec::new();
    let mut groups = Vec::new();
    let mut origins = Vec::new();
    let mut compressions = Vec::new();
    for InboundPath {
        pattern,
        default_groups,
        allowed_origins,
        compression,
    } in paths
    {
        patterns.push(pattern);
        groups.push(default_groups);
        origins.push(allowed_origins);
        compressions.push(compression);
    }
    fields.push(("listener.paths.pattern", format!("{patterns:?}")));
    fields.push(("listener.paths.default_groups", format!("{groups:?}")));
    fields.push(("listener.paths.allowed_origins", format!("{origins:?}")));
    fields.push(("listener.paths.compression", format!("{compressions:?}")));
    if let Some(ServerTls {
        identity: Identity {
            cert_chain,
            private_key,
        },
        client_ca,
    }) = tls
    {
        fields.push((
            "listener.tls.identity.cert_chain",
            format!("{cert_chain:?}"),
        ));
        fields.push((
            "listener.tls.identity.private_key",
            format!("{private_key:?}"),
        ));
        fields.push(("listener.tls.client_ca", format!("{client_ca:?}")));
    }
    fields
}

/// The rules of the settings table's `check` column: each checks one setting's value, needing
/// no other setting, and names the setting (`name`, as the caller spelled it) and the value.
mod rule {
    use super::{check_duration, WINDOW_BITS};
    use crate::allow::AddressList;
    use crate::error::{Error, Result};
    use crate::origin::AllowedOrigins;
    use crate::path::{normalize_base_path, PathPattern};
    use crate::protocol::handshake::{validate_client_headers, validate_token};
    use crate::settings::{too_long, MAX_DURATION};
    use std::time::Duration;

    /// A count of at least 1.
    pub(super) fn positive(name: &str, value: &usize) -> Result<()> {
        if *value == 0 {
            return Err(Error::invalid(format!("{name} must be at least 1, not 0")));
        }
        Ok(())
    }

    /// None, or a count of at least 1.
    pub(super) fn positive_or_none(name: &str, value: &Option<usize>) -> Result<()> {
        value.as_ref().map_or(Ok(()), |value| positive(name, value))
    }

    /// A duration greater than 0 and at most one year.
    pub(super) fn duration(name: &str, value: &Duration) -> Result<()> {
        check_duration(name, *value)
    }

    /// None, or a duration as [`duration`] wants it.
    pub(super) fn duration_or_none(name: &str, value: &Option<Duration>) -> Result<()> {
        value.as_ref().map_or(Ok(()), |value| duration(name, value))
    }

    /// A duration of at most one year (0 allowed).
    pub(super) fn within_a_year(name: &str, value: &Duration) -> Result<()> {
        if *value > MAX_DURATION {
            return Err(too_long(name, value.as_secs()));
        }
        Ok(())
    }

    /// Room for a handshake's request line and a few headers: 256 bytes at least.
    pub(super) fn handshake_bytes(name: &str, value: &usize) -> Result<()> {
        if *value < 256 {
            return Err(Error::invalid(format!(
                "{name} must be at least 256, not {value}"
            )));
        }
        Ok(())
    }

    /// A base path, which normalizes (`/`, `/api`...).
    pub(super) fn base_path(name: &str, value: &str) -> Result<()> {
        normalize_base_path(value)
            .map(drop)
            .map_err(|e| Error::invalid(format!("{name}: {}", e.message())))
    }

    /// Origins or origin patterns.
    pub(super) fn origins(name: &str, value: &[String]) -> Result<()> {
        AllowedOrigins::parse(name, value).map(drop)
    }

    /// Subprotocols: HTTP tokens.
    pub(super) fn subprotocols(name: &str, value: &[String]) -> Result<()> {
        value.iter().try_for_each(|protocol| {
            validate_token("subprotocol", protocol)
                .map_err(|e| Error::invalid(format!("{name}: {}", e.message())))
        })
    }

    /// IP addresses, CIDR blocks or `*`.
    pub(super) fn addresses(name: &str, value: &[String]) -> Result<()> {
        AddressList::parse(name, value).map(drop)
    }

    /// An endpoint's path: empty (none), or an exact path starting with '/'.
    pub(super) fn endpoint(name: &str, value: &str) -> Result<()> {
        if value.is_empty() {
            return Ok(());
        }
        if !value.starts_with('/') || !PathPattern::new(value)?.is_exact() {
            return Err(Error::invalid(format!(
                "{name} {value:?} must be an exact path starting with '/'"
            )));
        }
        Ok(())
    }

    /// Headers an outbound handshake may carry.
    pub(super) fn client_headers(name: &str, value: &[(String, String)]) -> Result<()> {
        validate_client_headers(value)
            .map_err(|e| Error::invalid(format!("{name}: {}", e.message())))
    }

    /// A host name or address, or empty (none).
    pub(super) fn host(name: &str, value: &str) -> Result<()> {
        if value.trim() != value || value.contains('/') {
            return Err(Error::invalid(format!(
                "{name} {value:?} is not a host name or address"
            )));
        }
        Ok(())
    }

    /// None, or a TCP port, 1-65535.
    pub(super) fn port(name: &str, value: &Option<usize>) -> Result<()> {
        match value {
            Some(port) if *port == 0 || *port > usize::from(u16::MAX) => Err(Error::invalid(
                format!("{name} must be between 1 and 65535, not {port}"),
            )),
            _ => Ok(()),
        }
    }

    /// None, or a permessage-deflate window size, 8-15 bits.
    pub(super) fn window_bits(name: &str, value: &Option<usize>) -> Result<()> {
        match value {
            Some(bits) if !u8::try_from(*bits).is_ok_and(|bits| WINDOW_BITS.contains(&bits)) => {
                Err(Error::invalid(format!("{name} must be 8-15, not {bits}")))
            }
            _ => Ok(()),
        }
    }

    /// zlib's compression level, 1-9.
    pub(super) fn level(name: &str, value: &usize) -> Result<()> {
        if !(1..=9).contains(value) {
            return Err(Error::invalid(format!("{name} must be 1-9, not {value}")));
        }
        Ok(())
    }
}

pub use crate::settings::MAX_DURATION;

/// Checks a duration setting: greater than 0 and at most [`MAX_DURATION`].
pub(crate) fn check_duration(name: &str, value: Duration) -> Result<()> {
    if value.is_zero() {
        return Err(Error::invalid(format!("{name} must be greater than 0")));
    }
    if value > MAX_DURATION {
        return Err(too_long(name, value.as_secs()));
    }
    Ok(())
}

/// A duration given as a number of seconds (how Python gives them), checked for what
/// `Duration` cannot hold: not a number, negative, infinite, or longer than [`MAX_DURATION`].
/// Whether 0 is allowed is the setting's own rule, checked by [`Config::validate`].
pub fn duration_from_secs(name: &str, secs: f64) -> Result<Duration> {
    if secs.is_nan() {
        return Err(Error::invalid(format!(
            "{name} must be a number of seconds, not NaN"
        )));
    }
    if secs < 0.0 {
        return Err(Error::invalid(format!(
            "{name} must not be negative, not {secs}"
        )));
    }
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(too_long(name, secs));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Longest group name accepted.
pub const MAX_GROUP_LEN: usize = 1024;

/// Checks group names: non-empty, at most [`MAX_GROUP_LEN`] bytes.
pub(crate) fn validate_groups<S: AsRef<str>>(groups: &[S]) -> Result<()> {
    for group in groups {
        let group = group.as_ref();
        if group.is_empty() {
            return Err(Error::invalid("a group name must not be empty"));
        }
        if group.len() > MAX_GROUP_LEN {
            return Err(Error::invalid(format!(
                "a group name must be at most {MAX_GROUP_LEN} bytes"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SettingInfo, SettingKind, SettingNames, SettingScope, SettingValue};

    #[test]
    fn errors_name_the_setting_and_the_path_and_long_durations_are_refused_as_set() {
        let mut config = Config::with_listener("127.0.0.1", 0);
        let listener = config.listener.as_mut().unwrap();
        listener
            .paths
            .push(InboundPath::with_groups("/chat", ["lobby", ""]));
        let e = config.validate().unwrap_err();
        assert_eq!(
            e.message(),
            "paths: the default groups of path \"/chat\": a group name must not be empty"
        );
        let mut config = Config::default();
        let e = config
            .set(
                "ping_interval",
                SettingValue::Duration(MAX_DURATION + Duration::from_secs(1)),
            )
            .unwrap_err();
        assert!(e.message().contains("ping_interval must be at most"), "{e}");
        assert_eq!(
            config.socket.ping_interval,
            Config::default().socket.ping_interval
        );
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
        Config::with_listener("127.0.0.1", 0).validate().unwrap();
    }

    #[test]
    fn errors_name_the_setting() {
        let mut c = Config::with_listener("127.0.0.1", 0);
        c.socket.send_queue_messages = 0;
        let e = c.validate().unwrap_err();
        assert!(e.message().contains("send_queue_messages"), "{e}");

        let mut c = Config::with_listener("127.0.0.1", 0);
        c.listener
            .as_mut()
            .unwrap()
            .paths
            .push(InboundPath::new("chat"));
        assert!(c.validate().unwrap_err().message().contains("chat"));

        let mut c = Config::default();
        c.client
            .default_headers
            .push(("X-A".into(), "a\r\nb".into()));
        assert!(c.validate().is_err());

        let mut c = Config::default();
        c.socket.message_rate_limit = Some(MessageRateLimit {
            per_second: 10,
            burst: 0,
        });
        let e = c.validate().unwrap_err();
        assert!(e.message().contains("message_rate_limit burst"), "{e}");
    }

    /// A value that breaks its setting's own rule is refused as it is set by name, naming the
    /// setting (as spelled) and the value, and nothing is kept; the same rule still runs at
    /// start on a field set directly.
    #[test]
    fn a_bad_value_is_refused_as_it_is_set() {
        let mut c = Config::with_listener("127.0.0.1", 0);
        for (name, value, says) in [
            (
                "send_queue_messages",
                SettingValue::Int(0),
                "send_queue_messages must be at least 1, not 0",
            ),
            (
                "max_connections",
                SettingValue::Int(0),
                "max_connections must be at least 1, not 0",
            ),
            (
                "compression_level",
                SettingValue::Int(0),
                "compression_level must be 1-9, not 0",
            ),
            (
                "client_max_window_bits",
                SettingValue::Int(300),
                "client_max_window_bits must be 8-15, not 300",
            ),
            (
                "client_port",
                SettingValue::Int(0),
                "client_port must be between 1 and 65535, not 0",
            ),
            (
                "health_path",
                SettingValue::Text("/h/*".into()),
                "health_path \"/h/*\" must be an exact path",
            ),
            (
                "pong_timeout",
                SettingValue::Duration(Duration::ZERO),
                "pong_timeout must be greater than 0",
            ),
        ] {
            let e = c.set(name, value).unwrap_err();
            assert!(e.message().contains(says), "{name}: {e}");
        }
        let e = c
            .add(
                "allowed_origins",
                SettingValue::Text("https://a.com/x".into()),
            )
            .unwrap_err();
        assert!(e.message().contains("allowed_origins"), "{e}");
        c.validate().unwrap(); // nothing bad was kept

        c.compression.level = 12;
        let e = c.validate().unwrap_err();
        assert_eq!(e.message(), "compression_level must be 1-9, not 12");
        let mut c = Config::with_listener("127.0.0.1", 0);
        c.listener.as_mut().unwrap().max_handshake_bytes = 10;
        let e = c.validate().unwrap_err();
        assert_eq!(
            e.message(),
            "max_handshake_bytes must be at least 256, not 10"
        );
    }

    /// Every duration is capped at one year, with an error naming the setting: a huge one
    /// (`ping_interval` of 1e19 s) once panicked in every socket's task.
    #[test]
    fn durations_longer_than_a_year_are_refused_by_name() {
        let too_long = MAX_DURATION + Duration::from_millis(1);
        type Set = fn(&mut Config, Duration);
        let settings: [(&str, Set); 8] = [
            ("handshake_timeout", |c, d| {
                c.listener.as_mut().unwrap().handshake_timeout = d
            }),
            ("idle_timeout", |c, d| {
                c.listener.as_mut().unwrap().idle_timeout = Some(d)
            }),
            ("connect_timeout", |c, d| c.client.connect_timeout = Some(d)),
            ("client_idle_timeout", |c, d| {
                c.client.idle_timeout = Some(d)
            }),
            ("ping_interval", |c, d| c.socket.ping_interval = Some(d)),
            ("pong_timeout", |c, d| c.socket.pong_timeout = d),
            ("close_timeout", |c, d| c.socket.close_timeout = d),
            ("stop_timeout", |c, d| c.stop_timeout = d),
        ];
        for (name, set) in settings {
            let mut c = Config::with_listener("127.0.0.1", 0);
            set(&mut c, MAX_DURATION);
            c.validate().unwrap();
            for bad in [too_long, Duration::from_secs_f64(1e19), Duration::MAX] {
                set(&mut c, bad);
                let e = c.validate().unwrap_err();
                assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
                assert!(
                    e.message().contains(name) && e.message().contains("one year"),
                    "{e}"
                );
            }
        }
    }

    /// A value of each kind that meets the setting's own rule, for the table's tests.
    fn sample(setting: &SettingInfo) -> SettingValue {
        match setting.name {
            "max_handshake_bytes" => return SettingValue::Int(4096),
            "client_host" => return SettingValue::Text("example.com".into()),
            "metrics_allowed_addresses" => return SettingValue::Text("10.0.0.0/8".into()),
            _ => {}
        }
        match setting.kind {
            SettingKind::Bool => SettingValue::Bool(true),
            SettingKind::Count | SettingKind::OptionalCount | SettingKind::Bytes => {
                SettingValue::Int(9)
            }
            SettingKind::Duration | SettingKind::OptionalDuration => {
                SettingValue::Duration(Duration::from_secs(7))
            }
            SettingKind::Text => SettingValue::Text("/x".into()),
            SettingKind::Choice(names) => SettingValue::Text(names[0].into()),
            SettingKind::TextList => SettingValue::Text("x".into()),
            SettingKind::Pairs => SettingValue::Pair("X-A".into(), "1".into()),
            SettingKind::Pem => SettingValue::Pem(Pem::Inline("x".into())),
            SettingKind::Custom => SettingValue::Unset,
        }
    }

    /// Sets (or, for a list, adds to) a setting by one of its names.
    fn set_by_name(config: &mut Config, setting: &SettingInfo, name: &str) -> Result<()> {
        let value = sample(setting);
        match setting.kind {
            SettingKind::TextList | SettingKind::Pairs => config.add(name, value),
            _ => config.set(name, value),
        }
    }

    /// A configuration with a listener that has TLS: every setting can be set on it.
    fn full_config() -> Config {
        let mut full = Config::with_listener("127.0.0.1", 0);
        full.listener.as_mut().unwrap().tls = Some(ServerTls::new(
            Pem::Inline(String::new()),
            Pem::Inline(String::new()),
        ));
        full
    }

    /// Each row's scope matches the field it sets, under each of its names: a listener setting
    /// is refused on a config without a listener, with an error naming it; every other one is
    /// taken there.
    #[test]
    fn each_setting_is_in_the_scope_of_its_field() {
        for setting in SETTINGS.iter().filter(|s| s.kind != SettingKind::Custom) {
            for name in setting.names() {
                let result = set_by_name(&mut Config::default(), setting, name);
                if setting.scope == SettingScope::Listener {
                    let e = result.unwrap_err();
                    assert_eq!(e.kind(), crate::ErrorKind::InvalidState, "{name}");
                    assert!(e.message().contains(name), "{e}");
                } else {
                    result.unwrap();
                }
                set_by_name(&mut full_config(), setting, name).unwrap();
            }
        }
    }

    /// An alias sets the field its setting's name sets, and its errors name what the caller
    /// wrote; a binding's `SettingNames` refuses one setting given under two of its names,
    /// naming both, and takes the same name twice.
    #[test]
    fn an_alias_is_the_same_setting_under_another_name() {
        let aliased: Vec<_> = SETTINGS.iter().filter(|s| !s.aliases.is_empty()).collect();
        assert!(!aliased.is_empty());
        for setting in aliased {
            let mut by_name = full_config();
            set_by_name(&mut by_name, setting, setting.name).unwrap();
            for alias in setting.aliases {
                let mut by_alias = full_config();
                set_by_name(&mut by_alias, setting, alias).unwrap();
                assert_eq!(config_fields(&by_alias), config_fields(&by_name), "{alias}");
                let e = full_config().set(alias, SettingValue::Unset).unwrap_err();
                assert!(e.message().starts_with(&format!("{alias} takes")), "{e}");

                let mut names = SettingNames::default();
                names.note(setting.name).unwrap();
                names.note(setting.name).unwrap();
                names.note("no_such_setting").unwrap();
                let e = names.note(alias).unwrap_err();
                assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
                assert!(
                    e.message().contains(setting.name) && e.message().contains(alias),
                    "{e}"
                );
                let mut names = SettingNames::default();
                names.note(alias).unwrap();
                assert!(names.note(setting.name).is_err());
            }
        }
        let max = SETTINGS
            .iter()
            .find(|s| s.name == "max_inbound_connections");
        assert_eq!(max.map(|s| s.aliases), Some(&["max_connections"][..]));
    }

    #[test]
    fn settings_of_another_kind_or_no_setting_are_refused_by_name() {
        let mut c = Config::with_listener("127.0.0.1", 0);
        let e = c.set("pong_timeout", SettingValue::Int(5)).unwrap_err();
        assert_eq!(e.message(), "pong_timeout takes a duration, not an integer");
        let e = c.set("pong_timeout", SettingValue::Unset).unwrap_err();
        assert_eq!(e.message(), "pong_timeout takes a duration, not none");
        let e = c.set("pong", SettingValue::Int(5)).unwrap_err();
        assert_eq!(e.message(), "there is no setting named \"pong\"");
        let e = c.add("max_connections", SettingValue::Int(5)).unwrap_err();
        assert!(e.message().contains("max_connections is not a list"), "{e}");
        let e = c.set("paths", SettingValue::Texts(vec![])).unwrap_err();
        assert!(
            e.message().contains("paths is made of several values"),
            "{e}"
        );
        let e = c.set("tls_client_ca", SettingValue::Unset).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidState);
        c.set("slow_consumer", SettingValue::Text("close".into()))
            .unwrap();
        assert_eq!(c.socket.slow_consumer, SlowConsumerPolicy::Close);
        c.set("subprotocols", SettingValue::Texts(vec!["a".into()]))
            .unwrap();
        c.add("subprotocols", SettingValue::Text("b".into()))
            .unwrap();
        assert_eq!(c.listener.as_ref().unwrap().subprotocols, ["a", "b"]);
        c.set("idle_timeout", SettingValue::Unset).unwrap();
        assert_eq!(c.listener.as_ref().unwrap().idle_timeout, None);
    }

    #[test]
    fn choices_have_one_name_each() {
        assert_eq!(
            SlowConsumerPolicy::NAMES.len(),
            SlowConsumerPolicy::ALL.len()
        );
        for (name, policy) in SlowConsumerPolicy::NAMES
            .iter()
            .zip(SlowConsumerPolicy::ALL)
        {
            assert_eq!(policy.name(), *name);
            let mut c = Config::default();
            c.set("slow_consumer", SettingValue::Text((*name).into()))
                .unwrap();
            assert_eq!(c.socket.slow_consumer, *policy);
        }
    }

    #[test]
    fn seconds_are_checked_before_they_become_a_duration() {
        assert_eq!(
            duration_from_secs("t", 1.5).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(duration_from_secs("t", 0.0).unwrap(), Duration::ZERO);
        assert_eq!(
            duration_from_secs("t", MAX_DURATION.as_secs_f64()).unwrap(),
            MAX_DURATION
        );
        for (secs, says) in [
            (f64::NAN, "NaN"),
            (-1.0, "negative"),
            (f64::NEG_INFINITY, "negative"),
            (f64::INFINITY, "one year"),
            (1e19, "one year"),
            (1e300, "one year"),
        ] {
            let e = duration_from_secs("ping_interval", secs).unwrap_err();
            assert!(
                e.message().contains("ping_interval") && e.message().contains(says),
                "{secs}: {e}"
            );
        }
    }
}
