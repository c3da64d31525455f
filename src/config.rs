//! Every setting of a connector, its default, and its validation.

use crate::error::{Error, Result};
use crate::path::{normalize_base_path, PathPattern};
use std::path::PathBuf;
use std::time::Duration;

/// PEM text, given inline or as a file to read at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// A path to a PEM file.
    File(PathBuf),
    /// PEM text itself.
    Inline(String),
}

impl Pem {
    /// Reads the PEM bytes (from the file, or the inline text).
    pub(crate) fn load(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
            Pem::File(path) => std::fs::read(path).map_err(|e| {
                Error::new(
                    crate::ErrorKind::Tls,
                    format!("cannot read {what} from {}: {e}", path.display()),
                )
            }),
        }
    }
}

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

/// One path the listener serves, relative to its base path, with the groups its sockets start in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundPath {
    /// Exact path or `*` pattern, relative to the base path, e.g. `/chat/*`.
    pub pattern: String,
    /// Groups every socket accepted on this path is subscribed to.
    pub default_groups: Vec<String>,
}

impl InboundPath {
    /// A served path with no default groups.
    pub fn new(pattern: impl Into<String>) -> Self {
        InboundPath {
            pattern: pattern.into(),
            default_groups: Vec::new(),
        }
    }

    /// A served path whose sockets start in `groups`.
    pub fn with_groups<S: Into<String>>(
        pattern: impl Into<String>,
        groups: impl IntoIterator<Item = S>,
    ) -> Self {
        InboundPath {
            pattern: pattern.into(),
            default_groups: groups.into_iter().map(Into::into).collect(),
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
    /// Served paths; when empty, every path under the base path is served.
    pub paths: Vec<InboundPath>,
    /// Subprotocols the server accepts, in order of preference.
    pub subprotocols: Vec<String>,
    /// TLS (`wss://`); `None` serves plain `ws://`.
    pub tls: Option<ServerTls>,
    /// Most inbound sockets (and handshakes in progress) at once; more are refused with 503.
    pub max_connections: usize,
    /// Time a client has from TCP accept to the end of the upgrade (TLS included).
    pub handshake_timeout: Duration,
    /// Inbound sockets with no message in either direction for this long are closed.
    pub idle_timeout: Option<Duration>,
    /// Largest accepted handshake request (request line and headers), in bytes; more gets 431.
    pub max_handshake_bytes: usize,
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
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(15 * 60)),
            max_handshake_bytes: 16 * 1024,
        }
    }
}

/// Settings for outbound sockets (WebSocket clients).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Headers sent with every outbound handshake (per-call headers come after them).
    pub default_headers: Vec<(String, String)>,
    /// Query parameters added to every outbound URL.
    pub default_query: Vec<(String, String)>,
    /// Time allowed for DNS, TCP, TLS and the upgrade together (default 30 s).
    pub connect_timeout: Option<Duration>,
    /// Outbound sockets idle this long are closed; none by default.
    pub idle_timeout: Option<Duration>,
    /// Extra trusted CA certificates (PEM) besides the bundled web roots.
    pub extra_ca: Option<Pem>,
    /// A client certificate to present to servers that ask for one (mutual TLS).
    pub identity: Option<Identity>,
    /// Accepts any server certificate: no authenticity at all. Only for tests.
    pub dangerous_skip_certificate_verification: bool,
}

impl ClientConfig {
    /// The connect timeout in force.
    pub(crate) fn effective_connect_timeout(&self) -> Duration {
        self.connect_timeout.unwrap_or(Duration::from_secs(30))
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
        }
    }
}

/// Everything a connector needs to start.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The inbound listener; `None` makes a client-only connector.
    pub listener: Option<ListenerConfig>,
    /// Outbound socket settings.
    pub client: ClientConfig,
    /// Per-socket limits and liveness.
    pub socket: SocketConfig,
    /// Tokio worker threads of the connector's own runtime (default: the CPU count, at most 4).
    pub worker_threads: Option<usize>,
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listener: None,
            client: ClientConfig::default(),
            socket: SocketConfig::default(),
            worker_threads: None,
            stop_timeout: Duration::from_secs(5),
            event_queue_capacity: 64 * 1024,
            event_queue_bytes: 64 << 20,
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

    /// Checks every setting; the error names the one that is wrong.
    pub fn validate(&self) -> Result<()> {
        if let Some(listener) = &self.listener {
            if listener.host.trim().is_empty() {
                return Err(Error::invalid("listener host must not be empty"));
            }
            normalize_base_path(&listener.base_path)?;
            for path in &listener.paths {
                PathPattern::new(&path.pattern)?;
                validate_groups(&path.default_groups)?;
            }
            for protocol in &listener.subprotocols {
                validate_token("subprotocol", protocol)?;
            }
            positive("listener max_connections", listener.max_connections)?;
            positive_duration("listener handshake_timeout", listener.handshake_timeout)?;
            if listener.max_handshake_bytes < 256 {
                return Err(Error::invalid(
                    "listener max_handshake_bytes must be at least 256",
                ));
            }
            if let Some(idle) = listener.idle_timeout {
                positive_duration("listener idle_timeout", idle)?;
            }
        }
        for (name, value) in &self.client.default_headers {
            validate_header(name, value)?;
        }
        if let Some(t) = self.client.connect_timeout {
            positive_duration("client connect_timeout", t)?;
        }
        if let Some(t) = self.client.idle_timeout {
            positive_duration("client idle_timeout", t)?;
        }
        let s = &self.socket;
        positive("max_message_size", s.max_message_size)?;
        positive("send_queue_messages", s.send_queue_messages)?;
        positive("send_queue_bytes", s.send_queue_bytes)?;
        if let Some(p) = s.ping_interval {
            positive_duration("ping_interval", p)?;
        }
        positive_duration("pong_timeout", s.pong_timeout)?;
        positive_duration("close_timeout", s.close_timeout)?;
        if let Some(limit) = s.message_rate_limit {
            positive("message_rate_limit per_second", limit.per_second as usize)?;
            positive("message_rate_limit burst", limit.burst as usize)?;
        }
        if self.worker_threads == Some(0) {
            return Err(Error::invalid("worker_threads must be at least 1"));
        }
        positive("event_queue_capacity", self.event_queue_capacity)?;
        positive("event_queue_bytes", self.event_queue_bytes)?;
        Ok(())
    }
}

fn positive(name: &str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(Error::invalid(format!("{name} must be greater than 0")));
    }
    Ok(())
}

fn positive_duration(name: &str, value: Duration) -> Result<()> {
    if value.is_zero() {
        return Err(Error::invalid(format!("{name} must be greater than 0")));
    }
    Ok(())
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

/// Checks an HTTP token (header name, subprotocol) per RFC 7230.
pub(crate) fn validate_token(what: &str, token: &str) -> Result<()> {
    let ok = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{what} {token:?} is not a valid HTTP token"
        )))
    }
}

/// Checks a header name and value: a token, and a value without CR, LF or NUL.
pub(crate) fn validate_header(name: &str, value: &str) -> Result<()> {
    validate_token("header name", name)?;
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::invalid(format!(
            "header {name:?} has CR, LF or NUL in its value"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
