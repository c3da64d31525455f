//! The listener: accept, TLS, the HTTP upgrade (path, headers, query, subprotocol), the
//! pre-upgrade authorization hook, and the refusals (400, 404, 426, 431, 503, the hook's).

use crate::config::{validate_groups, InboundPath, ListenerConfig};
use crate::connector::{Registration, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::path::{normalize_base_path, strip_base, PathPattern};
use crate::socket::{Attributes, Socket, SocketId, SocketType};
use crate::tcp::Tcp;
use crate::tls::{IoStream, PeerCertificate};
use crate::wire::{Role, Wire};
use bytes::Bytes;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// What the authorization hook sees of an upgrade request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The full request path (base path included), without the query.
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
    /// Called once per upgrade request that passed the path check.
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
    subprotocols: Vec<String>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    authorizer: Option<Arc<dyn Authorizer>>,
    max_connections: usize,
    max_handshake_bytes: usize,
    handshake_timeout: std::time::Duration,
    /// Inbound sockets open plus handshakes under way.
    active: AtomicUsize,
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
        let paths = config
            .paths
            .iter()
            .map(
                |InboundPath {
                     pattern,
                     default_groups,
                 }| {
                    validate_groups(default_groups)?;
                    Ok(ServedPath {
                        pattern: PathPattern::new(pattern)?,
                        default_groups: default_groups.clone(),
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
                subprotocols: config.subprotocols.clone(),
                tls,
                authorizer,
                max_connections: config.max_connections,
                max_handshake_bytes: config.max_handshake_bytes,
                handshake_timeout: config.handshake_timeout,
                active: AtomicUsize::new(0),
            }),
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Accepts connections until the connector stops; each gets a task of its own.
    pub(crate) async fn run(self, shared: Arc<Shared>) {
        loop {
            let accepted = tokio::select! {
                _ = shared.shutdown.cancelled() => break,
                accepted = self.tcp.accept() => accepted,
            };
            match accepted {
                Ok((tcp, remote_addr)) => {
                    let slot = Slot::take(&self.settings);
                    let settings = self.settings.clone();
                    let task_shared = shared.clone();
                    shared.tasks.spawn(async move {
                        serve(task_shared, settings, slot, tcp, remote_addr).await;
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// One unit of `max_connections`, held from accept until the socket (or the refusal) ends.
struct Slot {
    settings: Arc<Settings>,
    over_limit: bool,
}

impl Slot {
    fn take(settings: &Arc<Settings>) -> Self {
        let before = settings.active.fetch_add(1, Ordering::AcqRel);
        Slot {
            settings: settings.clone(),
            over_limit: before >= settings.max_connections,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.settings.active.fetch_sub(1, Ordering::AcqRel);
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
        handshake(&shared, &settings, &slot, tcp, remote_addr),
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
    path: String,
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
}

type Accepted = Option<(Registration, Wire)>;

async fn handshake(
    shared: &Arc<Shared>,
    settings: &Settings,
    slot: &Slot,
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
    match accept(shared, settings, slot, &request, remote_addr, peer).await {
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
            let registration = match shared.register(&socket, &accept.groups) {
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

/// Checks an upgrade request against the protocol, the served paths, the connection limit and
/// the authorization hook, in that order.
async fn accept(
    shared: &Arc<Shared>,
    settings: &Settings,
    slot: &Slot,
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
    if header(headers, "sec-websocket-version") != Some("13") {
        return Err(Refusal {
            status: 426,
            reason: "unsupported WebSocket version".into(),
            extra_headers: "Sec-WebSocket-Version: 13\r\n",
        });
    }
    let key = header(headers, "sec-websocket-key").unwrap_or_default();
    if !is_valid_key(key) {
        return Err(Refusal::new(400, "missing or malformed Sec-WebSocket-Key"));
    }
    let Some(relative) = strip_base(&settings.base_path, &request.path) else {
        return Err(Refusal::new(404, "no WebSocket endpoint at this path"));
    };
    let mut groups = Vec::new();
    if !settings.paths.is_empty() {
        match settings.paths.iter().find(|p| p.pattern.matches(relative)) {
            Some(served) => groups.extend(served.default_groups.iter().cloned()),
            None => return Err(Refusal::new(404, "no WebSocket endpoint at this path")),
        }
    }
    if slot.over_limit {
        return Err(Refusal::new(503, "too many connections"));
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

/// A Sec-WebSocket-Key is the base64 of 16 bytes: 24 characters ending in `==`.
fn is_valid_key(key: &str) -> bool {
    key.len() == 24
        && key.ends_with("==")
        && key[..22]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Reads the request line and headers. `Ok(None)`: the client went away first.
async fn read_request(
    stream: &mut IoStream,
    max_bytes: usize,
) -> std::result::Result<Option<Request>, Refusal> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.reserve(1024);
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                if len > max_bytes {
                    return Err(Refusal::new(431, "request header fields too large"));
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
                let path = target.split(['?', '#']).next().unwrap_or("/").to_owned();
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
                return Ok(Some(Request {
                    path,
                    target,
                    headers,
                    rest: buf[len..].to_vec(),
                }));
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > max_bytes {
                    return Err(Refusal::new(431, "request header fields too large"));
                }
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Refusal::new(431, "too many request header fields"));
            }
            Err(e) => return Err(Refusal::new(400, format!("malformed request: {e}"))),
        }
    }
}

/// Answers with an HTTP error and closes the connection; no socket is created.
async fn refuse(mut stream: IoStream, refusal: Refusal) -> Result<Accepted> {
    let reason = refusal.reason.replace(['\r', '\n'], " ");
    let response = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}",
        refusal.status,
        reason_phrase(refusal.status),
        reason.len(),
        refusal.extra_headers,
        reason,
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    Ok(None)
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Refused",
    }
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
