//! The listener: accept (and the connection limits, enforced there), TLS, the HTTP upgrade
//! (path, headers, origin, query, subprotocol), the pre-upgrade authorization hook, and the
//! refusals (400, 403, 404, 426, 429, 431, 503, the hook's).

use crate::config::{validate_groups, InboundPath, ListenerConfig};
use crate::connector::{Registration, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::origin::AllowedOrigins;
use crate::path::{decode_request_path, normalize_base_path, strip_base, PathPattern};
use crate::socket::{Attributes, Socket, SocketId, SocketType};
use crate::tcp::Tcp;
use crate::tls::{IoStream, PeerCertificate};
use crate::wire::{Role, Wire};
use bytes::Bytes;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::http::StatusCode;

/// What the authorization hook sees of an upgrade request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The full request path (base path included), percent-decoded, without the query: the
    /// path the served patterns matched.
    pub path: String,
    /// The full request URI.
    pub uri: String,
    /// The request headers, in order.
    pub headers: Vec<(String, String)>,
    /// The decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The client's address.
    pub remote_addr: SocketAddr,
    /// The subprotocols the client offered.
    pub subprotocols: Vec<String>,
    /// The certificate the client presented with mutual TLS (the leaf of its chain, DER), for
    /// an X.509 library to read; see [`crate::Socket::peer_certificate`].
    pub peer_certificate: Option<Bytes>,
    /// Its subject as RFC 4514 text; see [`crate::Socket::peer_certificate_subject`].
    pub peer_certificate_subject: Option<String>,
}

impl AuthRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter named `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The authorization hook's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// Upgrade, and subscribe the new socket to these groups (besides the path's defaults).
    Accept {
        /// Extra initial groups.
        groups: Vec<String>,
    },
    /// Refuse with an HTTP status (400-599) and a reason; no socket is created.
    Reject {
        /// The HTTP status, e.g. 401 or 403.
        status: u16,
        /// The reason phrase and body.
        reason: String,
    },
}

impl AuthDecision {
    /// Accept with no extra groups.
    pub fn accept() -> Self {
        AuthDecision::Accept { groups: Vec::new() }
    }

    /// Accept and subscribe to `groups`.
    pub fn accept_with_groups<S: Into<String>>(groups: impl IntoIterator<Item = S>) -> Self {
        AuthDecision::Accept {
            groups: groups.into_iter().map(Into::into).collect(),
        }
    }

    /// Refuse with `status` and `reason`.
    pub fn reject(status: u16, reason: impl Into<String>) -> Self {
        AuthDecision::Reject {
            status,
            reason: reason.into(),
        }
    }
}

/// Decides, before the 101, whether an upgrade request becomes a socket.
pub trait Authorizer: Send + Sync + 'static {
    /// Called once per upgrade request that passed the protocol, path and origin checks.
    fn authorize(&self, request: &AuthRequest) -> AuthDecision;
}

impl<F> Authorizer for F
where
    F: Fn(&AuthRequest) -> AuthDecision + Send + Sync + 'static,
{
    fn authorize(&self, request: &AuthRequest) -> AuthDecision {
        self(request)
    }
}

struct ServedPath {
    pattern: PathPattern,
    default_groups: Vec<String>,
    /// The path's own origins, or the listener's.
    origins: AllowedOrigins,
}

/// A bound listener, ready to run.
pub(crate) struct Listener {
    tcp: TcpListener,
    local_addr: SocketAddr,
    settings: Arc<Settings>,
}

/// What each handshake needs, fixed at start.
struct Settings {
    base_path: String,
    paths: Vec<ServedPath>,
    /// The listener's origins (those of every path when no path is declared).
    origins: AllowedOrigins,
    require_origin: bool,
    subprotocols: Vec<String>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    authorizer: Option<Arc<dyn Authorizer>>,
    max_connections: usize,
    max_connections_per_ip: Option<usize>,
    max_handshake_bytes: usize,
    handshake_timeout: std::time::Duration,
    /// Inbound sockets open plus handshakes under way.
    active: AtomicUsize,
    /// The same, by client address (only with `max_connections_per_ip`; no entry at zero).
    active_per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl Listener {
    /// Binds the listening socket (must run inside the runtime's context).
    pub(crate) fn bind(
        config: &ListenerConfig,
        authorizer: Option<Arc<dyn Authorizer>>,
    ) -> Result<Self> {
        let addr = (config.host.as_str(), config.port)
            .to_socket_addrs()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Dns,
                    format!("cannot resolve listener host {:?}: {e}", config.host),
                )
            })?
            .next()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Dns,
                    format!("listener host {:?} has no address", config.host),
                )
            })?;
        let listen_error = |e: std::io::Error| {
            Error::new(
                ErrorKind::Connectivity,
                format!("cannot listen on {addr}: {e}"),
            )
        };
        let std_listener = std::net::TcpListener::bind(addr).map_err(listen_error)?;
        std_listener.set_nonblocking(true).map_err(listen_error)?;
        let tcp = TcpListener::from_std(std_listener).map_err(listen_error)?;
        let local_addr = tcp.local_addr().map_err(listen_error)?;
        let tls = match &config.tls {
            Some(tls) => Some(tokio_rustls::TlsAcceptor::from(crate::tls::server_config(
                tls,
            )?)),
            None => None,
        };
        let origins = AllowedOrigins::parse("listener allowed_origins", &config.allowed_origins)?;
        let paths = config
            .paths
            .iter()
            .map(
                |InboundPath {
                     pattern,
                     default_groups,
                     allowed_origins,
                 }| {
                    validate_groups(default_groups)?;
                    let own = AllowedOrigins::parse(
                        &format!("allowed_origins of path {pattern:?}"),
                        allowed_origins,
                    )?;
                    Ok(ServedPath {
                        pattern: PathPattern::new(pattern)?,
                        default_groups: default_groups.clone(),
                        origins: if own.is_empty() { origins.clone() } else { own },
                    })
                },
            )
            .collect::<Result<Vec<_>>>()?;
        Ok(Listener {
            tcp,
            local_addr,
            settings: Arc::new(Settings {
                base_path: normalize_base_path(&config.base_path)?,
                paths,
                origins,
                require_origin: config.require_origin,
                subprotocols: config.subprotocols.clone(),
                tls,
                authorizer,
                max_connections: config.max_connections,
                max_connections_per_ip: config.max_connections_per_ip,
                max_handshake_bytes: config.max_handshake_bytes,
                handshake_timeout: config.handshake_timeout,
                active: AtomicUsize::new(0),
                active_per_ip: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Accepts connections until the connector stops: each within the limits gets a task of
    /// its own, the others are turned away at once.
    pub(crate) async fn run(self, shared: Arc<Shared>) {
        loop {
            let accepted = tokio::select! {
                _ = shared.shutdown.cancelled() => break,
                accepted = self.tcp.accept() => accepted,
            };
            match accepted {
                Ok((tcp, remote_addr)) => match Slot::take(&self.settings, remote_addr.ip()) {
                    Ok(slot) => {
                        let settings = self.settings.clone();
                        let task_shared = shared.clone();
                        shared.tasks.spawn(async move {
                            serve(task_shared, settings, slot, tcp, remote_addr).await;
                        });
                    }
                    Err(refusal) => {
                        tracing::debug!(%remote_addr, reason = %refusal.reason, "connection refused at accept");
                        turn_away(tcp, self.settings.tls.is_none().then_some(&refusal));
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// One unit of `max_connections` (and of the client address's `max_connections_per_ip`), held
/// from accept until the socket or its failed handshake ends.
struct Slot {
    settings: Arc<Settings>,
    ip: IpAddr,
}

impl Slot {
    /// A slot for a connection from `ip`, or the refusal when a limit is reached. Only the
    /// accept loop takes slots, so a check and the count that follows it cannot interleave
    /// with another take.
    fn take(settings: &Arc<Settings>, ip: IpAddr) -> std::result::Result<Self, Refusal> {
        if settings.active.load(Ordering::Acquire) >= settings.max_connections {
            return Err(Refusal::new(503, "too many connections"));
        }
        let ip = ip.to_canonical();
        if let Some(max) = settings.max_connections_per_ip {
            let mut per_ip = lock(&settings.active_per_ip);
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= max {
                return Err(Refusal::new(429, "too many connections from your address"));
            }
            *count += 1;
        }
        settings.active.fetch_add(1, Ordering::AcqRel);
        Ok(Slot {
            settings: settings.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.settings.active.fetch_sub(1, Ordering::AcqRel);
        if self.settings.max_connections_per_ip.is_some() {
            let mut per_ip = lock(&self.settings.active_per_ip);
            if let Some(count) = per_ip.get_mut(&self.ip) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&self.ip);
                }
            }
        }
    }
}

/// The per-address counts; a panic elsewhere cannot leave them inconsistent (each change is
/// one step), so a poisoned lock is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Refuses a connection at accept, before anything is read and without a task: a plain
/// listener writes `refusal` as the whole answer (it fits the empty send buffer) and closes; a
/// TLS listener (no `refusal`) resets the connection (SO_LINGER 0) without a TLS handshake,
/// which is what the limit saves, leaving no TIME_WAIT behind. What the client had already
/// sent is read and dropped first (a bounded amount), so that the close is a FIN after the
/// answer rather than a reset that could destroy it.
fn turn_away(tcp: TcpStream, refusal: Option<&Refusal>) {
    let Some(refusal) = refusal else {
        let _ = tcp.set_zero_linger();
        return;
    };
    // A fresh tokio stream reports no readiness until the reactor has polled it: the blocking
    // std stream (in non-blocking mode) writes and reads at once.
    let Ok(mut tcp) = tcp.into_std() else {
        return;
    };
    let _ = tcp.write(&refusal.response());
    let mut sink = [0u8; 1024];
    for _ in 0..16 {
        if !matches!(tcp.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
}

/// Handshake, then drive the socket; a refused or failed handshake just ends the task.
async fn serve(
    shared: Arc<Shared>,
    settings: Arc<Settings>,
    slot: Slot,
    tcp: TcpStream,
    remote_addr: SocketAddr,
) {
    let handshake = tokio::time::timeout(
        settings.handshake_timeout,
        handshake(&shared, &settings, tcp, remote_addr),
    );
    let accepted = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        result = handshake => result,
    };
    let (mut registration, ws) = match accepted {
        Ok(Ok(Some(accepted))) => accepted,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            tracing::debug!(%remote_addr, error = %e, "inbound handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote_addr, "inbound handshake timed out");
            return;
        }
    };
    registration.announce();
    crate::driver::drive(shared, registration, ws).await;
    drop(slot);
}

/// A parsed upgrade request.
struct Request {
    /// The target's path, percent-decoded (see `decode_request_path`).
    path: String,
    /// The request target as sent.
    target: String,
    headers: Vec<(String, String)>,
    /// Bytes received after the request (the client's first frames).
    rest: Vec<u8>,
}

/// An HTTP answer that ends the handshake without an upgrade.
struct Refusal {
    status: u16,
    reason: String,
    extra_headers: &'static str,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Self {
        Refusal {
            status,
            reason: reason.into(),
            extra_headers: "",
        }
    }

    /// The whole HTTP answer: status line, headers, and the reason as a text body.
    fn response(&self) -> Vec<u8> {
        let reason = self.reason.replace(['\r', '\n'], " ");
        let phrase = StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Refused");
        format!(
            "HTTP/1.1 {} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{reason}",
            self.status,
            reason.len(),
            self.extra_headers,
        )
        .into_bytes()
    }
}

type Accepted = Option<(Registration, Wire)>;

async fn handshake(
    shared: &Arc<Shared>,
    settings: &Settings,
    tcp: TcpStream,
    remote_addr: SocketAddr,
) -> Result<Accepted> {
    let io_error = |e: std::io::Error| Error::new(ErrorKind::Connectivity, e.to_string());
    let local_addr = tcp.local_addr().map_err(io_error)?;
    let _ = tcp.set_nodelay(true);
    let tcp = Tcp(tcp);
    let mut stream = match &settings.tls {
        None => IoStream::Plain(tcp),
        Some(acceptor) => {
            let tls = acceptor
                .accept(tcp)
                .await
                .map_err(|e| Error::new(ErrorKind::Tls, crate::tls::describe_tls_failure(&e)))?;
            IoStream::ServerTls(Box::new(tls))
        }
    };
    let peer_certificate = PeerCertificate::of(&stream);
    let request = match read_request(&mut stream, settings.max_handshake_bytes).await {
        Ok(Some(request)) => request,
        Ok(None) => return Ok(None),
        Err(refusal) => return refuse(stream, refusal).await,
    };
    let peer = peer_certificate.as_ref();
    match accept(shared, settings, &request, remote_addr, peer).await {
        Err(refusal) => refuse(stream, refusal).await,
        Ok(accept) => {
            let secure = settings.tls.is_some();
            let host = header(&request.headers, "host").unwrap_or_default();
            let attrs = Attributes {
                id: SocketId::generate(),
                socket_type: SocketType::Inbound,
                uri: format!(
                    "{}://{}{}",
                    if secure { "wss" } else { "ws" },
                    host,
                    request.target
                ),
                path: request.path.clone(),
                secure,
                query: parse_query(&request.target),
                headers: request.headers.clone(),
                subprotocol: accept.subprotocol.clone(),
                local_addr,
                remote_addr,
                peer_certificate,
            };
            let socket = Socket::new(attrs, shared.send_queue());
            let registration = match shared.register(&socket, &accept.groups).await {
                Ok(registration) => registration,
                Err(e) if e.kind() == ErrorKind::Stopped => {
                    return refuse(stream, Refusal::new(503, "server is stopping")).await
                }
                Err(e) => return refuse(stream, Refusal::new(500, e.message().to_owned())).await,
            };
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{}\r\n",
                accept.accept_key,
                accept.subprotocol.as_ref().map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n")).unwrap_or_default(),
            );
            // Failing here drops the registration: the socket leaves the registry unannounced.
            stream
                .write_all(response.as_bytes())
                .await
                .map_err(io_error)?;
            let wire = Wire::new(
                stream,
                Role::Server,
                &request.rest,
                shared.config.socket.max_message_size,
            );
            Ok(Some((registration, wire)))
        }
    }
}

/// What an accepted request becomes.
struct Acceptance {
    accept_key: String,
    subprotocol: Option<String>,
    groups: Vec<String>,
}

/// Checks an upgrade request against the protocol, the served paths, the origin policy and the
/// authorization hook, in that order.
async fn accept(
    shared: &Arc<Shared>,
    settings: &Settings,
    request: &Request,
    remote_addr: SocketAddr,
    peer_certificate: Option<&PeerCertificate>,
) -> std::result::Result<Acceptance, Refusal> {
    let headers = &request.headers;
    let has_token = |name: &str, token: &str| {
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Err(Refusal {
            status: 426,
            reason: "this endpoint only speaks WebSocket".into(),
            extra_headers: "Upgrade: websocket\r\nConnection: Upgrade\r\n",
        });
    }
    if single_header(headers, "host")?.is_none_or(str::is_empty) {
        return Err(Refusal::new(400, "missing Host header"));
    }
    if single_header(headers, "sec-websocket-version")? != Some("13") {
        return Err(Refusal {
            status: 426,
            reason: "unsupported WebSocket version".into(),
            extra_headers: "Sec-WebSocket-Version: 13\r\n",
        });
    }
    let key = single_header(headers, "sec-websocket-key")?.unwrap_or_default();
    if !is_valid_key(key) {
        return Err(Refusal::new(400, "missing or malformed Sec-WebSocket-Key"));
    }
    let Some(relative) = strip_base(&settings.base_path, &request.path) else {
        return Err(Refusal::new(404, "no WebSocket endpoint at this path"));
    };
    let mut groups = Vec::new();
    let origins = if settings.paths.is_empty() {
        &settings.origins
    } else {
        match settings.paths.iter().find(|p| p.pattern.matches(relative)) {
            Some(served) => {
                groups.extend(served.default_groups.iter().cloned());
                &served.origins
            }
            None => return Err(Refusal::new(404, "no WebSocket endpoint at this path")),
        }
    };
    match single_header(headers, "origin")? {
        Some(origin) if !origins.allows(origin) => {
            return Err(Refusal::new(403, "origin not allowed"));
        }
        None if settings.require_origin => {
            return Err(Refusal::new(403, "an Origin header is required"));
        }
        _ => {}
    }
    let offered: Vec<String> = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-protocol"))
        .flat_map(|(_, v)| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let subprotocol = settings
        .subprotocols
        .iter()
        .find(|p| offered.contains(p))
        .cloned();
    if let Some(authorizer) = &settings.authorizer {
        let auth_request = AuthRequest {
            path: request.path.clone(),
            uri: request.target.clone(),
            headers: headers.clone(),
            query: parse_query(&request.target),
            remote_addr,
            subprotocols: offered,
            peer_certificate: peer_certificate.map(|c| c.der.clone()),
            peer_certificate_subject: peer_certificate.and_then(|c| c.subject.clone()),
        };
        let authorizer = authorizer.clone();
        let decision = shared
            .runtime
            .spawn_blocking(move || authorizer.authorize(&auth_request))
            .await;
        match decision {
            Ok(AuthDecision::Accept { groups: extra }) => {
                if let Err(e) = validate_groups(&extra) {
                    tracing::error!(error = %e, "the authorization hook returned an invalid group");
                    return Err(Refusal::new(500, "authorization failed"));
                }
                groups.extend(extra);
            }
            Ok(AuthDecision::Reject { status, reason }) => {
                let status = if (400..=599).contains(&status) {
                    status
                } else {
                    tracing::error!(status, "the authorization hook refused with a status outside 400-599; answering 403");
                    403
                };
                return Err(Refusal::new(status, reason));
            }
            Err(e) => {
                tracing::error!(error = %e, "the authorization hook panicked; refusing with 500");
                return Err(Refusal::new(500, "authorization failed"));
            }
        }
    }
    Ok(Acceptance {
        accept_key: derive_accept_key(key.as_bytes()),
        subprotocol,
        groups,
    })
}

/// A Sec-WebSocket-Key is the base64 of 16 bytes: 22 characters and `==`, the last character
/// holding 2 bits of the 16th byte and 4 zero bits (so it is one of `A`, `Q`, `g`, `w`).
fn is_valid_key(key: &str) -> bool {
    let key = key.as_bytes();
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        && matches!(key[21], b'A' | b'Q' | b'g' | b'w')
}

/// The value of header `name` when it is there once; two or more are a malformed request.
fn single_header<'a>(
    headers: &'a [(String, String)],
    name: &str,
) -> std::result::Result<Option<&'a str>, Refusal> {
    let mut values = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim());
    let first = values.next();
    if values.next().is_some() {
        return Err(Refusal::new(400, format!("more than one {name} header")));
    }
    Ok(first)
}

/// Reads the request line and headers. `Ok(None)`: the client went away first. Each byte is
/// looked at once while the head is incomplete, and the head is parsed once it is whole, so
/// a request sent in many small pieces costs no more than one sent at once.
async fn read_request(
    stream: &mut IoStream,
    max_bytes: usize,
) -> std::result::Result<Option<Request>, Refusal> {
    let too_large = || Refusal::new(431, "request header fields too large");
    let mut buf = Vec::with_capacity(1024);
    let mut head = HeadScanner::default();
    let len = loop {
        buf.reserve(1024);
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
        match head.end(&buf) {
            Err(NotHttp) => return Err(Refusal::new(400, "not an HTTP request")),
            Ok(Some(len)) if len > max_bytes => return Err(too_large()),
            Ok(Some(len)) => break len,
            Ok(None) if buf.len() > max_bytes => return Err(too_large()),
            Ok(None) => {}
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&buf[..len]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Refusal::new(400, "malformed request: incomplete head"))
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::new(431, "too many request header fields"));
        }
        Err(e) => return Err(Refusal::new(400, format!("malformed request: {e}"))),
    }
    if parsed.method != Some("GET") {
        return Err(Refusal::new(405, "a WebSocket upgrade must be a GET"));
    }
    if parsed.version != Some(1) {
        return Err(Refusal::new(400, "a WebSocket upgrade needs HTTP/1.1"));
    }
    let target = parsed.path.unwrap_or("/").to_owned();
    if !target.starts_with('/') {
        return Err(Refusal::new(
            400,
            "the request target must be an absolute path",
        ));
    }
    let raw_path = target.split(['?', '#']).next().unwrap_or("/");
    let path = decode_request_path(raw_path).map_err(|why| Refusal::new(400, why))?;
    let headers = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    Ok(Some(Request {
        path,
        target,
        headers,
        rest: buf[len..].to_vec(),
    }))
}

/// Finds where an HTTP head ends (just past its empty line) in a buffer that grows with each
/// read, looking at each new byte once. Bytes that cannot start an HTTP head (a TLS hello on a
/// plain port, a binary protocol) are caught in the first line, without waiting for more.
#[derive(Default)]
pub(crate) struct HeadScanner {
    /// How much of the buffer has been looked at.
    scanned: usize,
    /// The first line (request or status line) has ended, all of it printable.
    first_line_seen: bool,
}

/// The first line of what the peer sent holds a byte no HTTP request or status line has.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotHttp;

impl HeadScanner {
    /// The head's length once `buf` (the same buffer, grown) holds all of it. Lines end in
    /// CRLF or, as httparse also allows, a bare LF.
    pub(crate) fn end(&mut self, buf: &[u8]) -> std::result::Result<Option<usize>, NotHttp> {
        let from = self.scanned;
        self.scanned = buf.len();
        for i in from..buf.len() {
            let byte = buf[i];
            if !self.first_line_seen {
                match byte {
                    b'\n' => self.first_line_seen = true,
                    b'\r' | b'\t' | 0x20..=0x7e => {}
                    _ => return Err(NotHttp),
                }
            }
            if byte == b'\n' && (buf[..i].ends_with(b"\n") || buf[..i].ends_with(b"\n\r")) {
                return Ok(Some(i + 1));
            }
        }
        Ok(None)
    }
}

/// Answers with an HTTP error and closes the connection; no socket is created.
async fn refuse(mut stream: IoStream, refusal: Refusal) -> Result<Accepted> {
    let _ = stream.write_all(&refusal.response()).await;
    let _ = stream.shutdown().await;
    Ok(None)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The decoded query parameters of a request target.
pub(crate) fn parse_query(target: &str) -> Vec<(String, String)> {
    match target.split_once('?') {
        Some((_, query)) => {
            let query = query.split('#').next().unwrap_or_default();
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        }
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_read_one_byte_at_a_time_is_scanned_once() {
        let mut request = b"GET /chat HTTP/1.1\r\nHost: x\r\n".to_vec();
        for i in 0..500 {
            request.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(20)).as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        let mut head = HeadScanner::default();
        let mut looked_at = 0;
        for len in 1..request.len() {
            let before = head.scanned;
            assert_eq!(head.end(&request[..len]), Ok(None), "not whole at {len}");
            looked_at += head.scanned - before;
        }
        let before = head.scanned;
        assert_eq!(head.end(&request), Ok(Some(request.len())));
        looked_at += head.scanned - before;
        assert_eq!(looked_at, request.len(), "each byte looked at once");
    }

    #[test]
    fn a_head_ends_at_its_first_empty_line_whatever_the_line_ends() {
        let ends = |bytes: &[u8]| HeadScanner::default().end(bytes);
        assert_eq!(ends(b"GET / HTTP/1.1\r\nA: b\r\n\r\nframes"), Ok(Some(24)));
        assert_eq!(ends(b"GET / HTTP/1.1\nA: b\n\nframes"), Ok(Some(21)));
        assert_eq!(ends(b"GET / HTTP/1.1\r\nA: b\r\n"), Ok(None));
        let mut split = HeadScanner::default();
        let whole = b"GET / HTTP/1.1\r\n\r\n";
        assert_eq!(split.end(&whole[..16]), Ok(None));
        assert_eq!(split.end(&whole[..17]), Ok(None));
        assert_eq!(split.end(whole), Ok(Some(18)), "the end found across reads");
    }

    #[test]
    fn a_first_line_that_is_not_http_is_caught_at_once() {
        // A TLS ClientHello on a plain port: its first byte is 0x16.
        assert_eq!(
            HeadScanner::default().end(b"\x16\x03\x01\x02\x00"),
            Err(NotHttp)
        );
        assert_eq!(HeadScanner::default().end(b"GET /\x00"), Err(NotHttp));
        // Header values after the first line may carry any byte httparse accepts.
        assert_eq!(
            HeadScanner::default().end(b"GET / HTTP/1.1\r\nA: \xe9\r\n"),
            Ok(None)
        );
    }

    #[test]
    fn a_key_must_be_the_base64_of_exactly_16_bytes() {
        assert!(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_valid_key("AAAAAAAAAAAAAAAAAAAAAA=="));
        assert!(is_valid_key("/////////////////////w=="));
        for bad in [
            "",
            "dGhlIHNhbXBsZSBub25jZQ",
            "dGhlIHNhbXBsZSBub25jZR==",
            "AAAAAAAAAAAAAAAAAAAAAB==",
            "dGhlIHNhbXBsZSBub25jZQ=",
            "dGhlIHNhbXBsZSBub25j=Q==",
            "dGhlIHNhbXBsZSBub25jZQ===",
            "dGhlIHNhbXBsZSBub25jZ-==",
        ] {
            assert!(!is_valid_key(bad), "{bad:?}");
        }
    }
}
