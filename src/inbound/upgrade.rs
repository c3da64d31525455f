//! The upgrade of one inbound connection: its request read and checked against the protocol,
//! the served paths, the origin policy and the authorization hook, then answered with the 101
//! (the socket registered) or with a refusal (400, 403, 404, 405, 426, 431, 500, 503, the
//! hook's status).

use super::auth::{AuthDecision, AuthRequest, Authorizer};
use super::endpoints::Endpoints;
use crate::config::{validate_groups, Compression, InboundPath, ListenerConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::RefusalReason;
use crate::origin::AllowedOrigins;
use crate::path::{decode_request_path, normalize_base_path, strip_base, PathPattern};
use crate::protocol::extensions::{accept_offer, PerMessageDeflate};
use crate::protocol::handshake::{
    accept_key, is_valid_key, parse_query, status_text, HeadScanner, HeaderLines, NotHttp,
    SplitHeaders,
};
use crate::shared::{Registration, Shared};
use crate::socket::{Attributes, Link, Socket, SocketId, SocketType};
use crate::tls::{IoStream, PeerCertificate};
use crate::wire::{Role, Wire};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A served path, ready to match.
struct ServedPath {
    pattern: PathPattern,
    default_groups: Vec<String>,
    /// The path's own origins, or the listener's.
    origins: AllowedOrigins,
    /// Whether its sockets accept permessage-deflate.
    compression: bool,
}

/// What an upgrade request must satisfy, fixed at start: the served paths, the origin
/// policy, the subprotocols, the authorization hook, the size of the request.
pub(super) struct Rules {
    base_path: String,
    paths: Vec<ServedPath>,
    /// The listener's origins (those of every path when no path is declared).
    origins: AllowedOrigins,
    require_origin: bool,
    subprotocols: Vec<String>,
    authorizer: Option<Arc<dyn Authorizer>>,
    max_handshake_bytes: usize,
    /// The plain HTTP endpoints (health, metrics), answered before any upgrade check.
    endpoints: Endpoints,
    /// permessage-deflate: whether every path accepts it (when no path is declared), and the
    /// parameters asked for.
    compression: Compression,
}

impl Rules {
    /// The listener's rules, checked (every path pattern, group and origin).
    pub(super) fn new(
        config: &ListenerConfig,
        compression: &Compression,
        authorizer: Option<Arc<dyn Authorizer>>,
    ) -> Result<Self> {
        let origins = AllowedOrigins::parse("listener allowed_origins", &config.allowed_origins)?;
        let paths = config
            .paths
            .iter()
            .map(
                |InboundPath {
                     pattern,
                     default_groups,
                     allowed_origins,
                     compression: path_compression,
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
                        compression: path_compression.unwrap_or(compression.inbound),
                    })
                },
            )
            .collect::<Result<Vec<_>>>()?;
        Ok(Rules {
            base_path: normalize_base_path(&config.base_path)?,
            paths,
            origins,
            require_origin: config.require_origin,
            subprotocols: config.subprotocols.clone(),
            authorizer,
            max_handshake_bytes: config.max_handshake_bytes,
            endpoints: Endpoints::new(config)?,
            compression: compression.clone(),
        })
    }
}

/// A parsed upgrade request.
struct Request {
    method: String,
    /// The HTTP minor version (1 for HTTP/1.1).
    version: u8,
    /// The target's path, percent-decoded (see `decode_request_path`).
    path: String,
    /// The request target as sent.
    target: String,
    headers: HeaderLines,
    /// Bytes received after the request (the client's first frames).
    rest: Vec<u8>,
}

/// An HTTP answer that ends the handshake without an upgrade.
pub(super) struct Refusal {
    /// Why, for the figures.
    pub(super) why: RefusalReason,
    status: u16,
    /// Why, the body of the answer.
    pub(super) reason: String,
    extra_headers: Cow<'static, str>,
    /// The `Connection` header's tokens: the connection always closes after a refusal, and a
    /// 426 that names the protocol to upgrade to lists `Upgrade` too (one header, RFC 9110 7.6.1).
    connection: &'static str,
}

impl Refusal {
    /// A refusal for `why` with `status` and `reason`.
    pub(super) fn new(why: RefusalReason, status: u16, reason: impl Into<String>) -> Self {
        Refusal {
            why,
            status,
            reason: reason.into(),
            extra_headers: Cow::Borrowed(""),
            connection: "close",
        }
    }

    /// A malformed or unsupported request.
    pub(super) fn bad_request(status: u16, reason: impl Into<String>) -> Self {
        Refusal::new(RefusalReason::BadRequest, status, reason)
    }

    /// The HTTP status answered.
    pub(super) fn status(&self) -> u16 {
        self.status
    }

    /// The whole HTTP answer: status line, headers, and the reason as a text body.
    pub(super) fn response(&self) -> Vec<u8> {
        let reason = self.reason.replace(['\r', '\n'], " ");
        let phrase = status_text(self.status);
        format!(
            "HTTP/1.1 {} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: {}\r\n{}\r\n{reason}",
            self.status,
            reason.len(),
            self.connection,
            self.extra_headers,
        )
        .into_bytes()
    }
}

/// A socket whose 101 is sent, with its wire; `None` when there is none to drive.
pub(super) type Accepted = Option<(Registration, Wire)>;

/// Reads the upgrade request from `stream` (TLS done, if any) and answers it: a registered
/// socket and its wire after the 101, or `None` after a refusal (or when the client left).
pub(super) async fn upgrade(
    shared: &Arc<Shared>,
    rules: &Rules,
    mut stream: IoStream,
    local_addr: SocketAddr,
    remote_addr: SocketAddr,
) -> Result<Accepted> {
    let peer_certificate = PeerCertificate::of(&stream);
    let request = match read_request(&mut stream, rules.max_handshake_bytes).await {
        Ok(Some(request)) => request,
        Ok(None) => return Ok(None),
        Err(refusal) => return refuse(shared, stream, refusal).await,
    };
    if let Some(endpoint) = rules.endpoints.at(&request.path) {
        let client = remote_addr.ip();
        rules
            .endpoints
            .serve(shared, stream, endpoint, &request.method, client)
            .await;
        return Ok(None);
    }
    if let Err(refusal) = check_method_and_version(&request) {
        return refuse(shared, stream, refusal).await;
    }
    if shared.is_draining() {
        let refusal = Refusal {
            extra_headers: Cow::Owned(format!("Retry-After: {}\r\n", shared.retry_after_secs())),
            ..Refusal::new(RefusalReason::Draining, 503, "server is draining")
        };
        return refuse(shared, stream, refusal).await;
    }
    let peer = peer_certificate.as_ref();
    match accept(shared, rules, &request, remote_addr, peer).await {
        Err(refusal) => refuse(shared, stream, refusal).await,
        Ok(accept) => {
            let response = accept.response();
            let secure = matches!(stream, IoStream::ServerTls(_));
            let host = request.headers.get("host").unwrap_or_default();
            let scheme = if secure { "wss://" } else { "ws://" };
            let uri = [scheme, host, &request.target].concat();
            let query_at = request
                .target
                .find('?')
                .map(|at| scheme.len() + host.len() + at + 1);
            let Request {
                path,
                headers,
                rest,
                ..
            } = request;
            let attrs = Attributes {
                id: SocketId::generate(),
                socket_type: SocketType::Inbound,
                uri,
                query_at,
                path,
                secure,
                headers,
                uri_params: accept.uri_params,
                subprotocol: accept.subprotocol.clone(),
            };
            let link = Link {
                local_addr,
                remote_addr,
                peer_certificate: peer_certificate.map(Box::new),
                compression: accept.compression,
            };
            let socket = Socket::new(attrs, link, shared.send_queue());
            let registration = match shared
                .register(&socket, &accept.groups, Some(accept.path))
                .await
            {
                Ok(registration) => registration,
                Err(e) if e.kind() == ErrorKind::Stopped => {
                    let refusal = Refusal::new(RefusalReason::Draining, 503, "server is stopping");
                    return refuse(shared, stream, refusal).await;
                }
                Err(e) => {
                    let refusal = Refusal::new(RefusalReason::Internal, 500, e.message());
                    return refuse(shared, stream, refusal).await;
                }
            };
            // Failing here drops the registration: the socket leaves the registry unannounced.
            stream
                .write_all(response.as_bytes())
                .await
                .map_err(|e| Error::new(ErrorKind::Connectivity, e.to_string()))?;
            let mut wire = Wire::new(
                stream,
                Role::Server,
                &rest,
                shared.config.socket.max_message_size,
            );
            if let Some(params) = &accept.compression {
                wire = wire.with_compression(params, &rules.compression);
            }
            Ok(Some((registration, wire)))
        }
    }
}

/// What an accepted request becomes.
struct Acceptance {
    accept_key: String,
    subprotocol: Option<String>,
    groups: Vec<String>,
    /// The served path it matched (its index; 0 when none is declared).
    path: usize,
    /// permessage-deflate, when the path takes it and an offer could be accepted.
    compression: Option<PerMessageDeflate>,
    /// The served path's `{name}` segments and what they matched.
    uri_params: Vec<(String, String)>,
}

impl Acceptance {
    /// The 101 answer, put together by appending (no formatting machinery on every handshake).
    fn response(&self) -> String {
        let mut response = String::with_capacity(160);
        response.push_str(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
        );
        response.push_str(&self.accept_key);
        response.push_str("\r\n");
        if let Some(subprotocol) = &self.subprotocol {
            response.push_str("Sec-WebSocket-Protocol: ");
            response.push_str(subprotocol);
            response.push_str("\r\n");
        }
        if let Some(compression) = &self.compression {
            response.push_str("Sec-WebSocket-Extensions: ");
            response.push_str(&compression.header_value());
            response.push_str("\r\n");
        }
        response.push_str("\r\n");
        response
    }
}

/// Checks an upgrade request against the protocol, the served paths, the origin policy and the
/// authorization hook, in that order.
async fn accept(
    shared: &Arc<Shared>,
    rules: &Rules,
    request: &Request,
    remote_addr: SocketAddr,
    peer_certificate: Option<&PeerCertificate>,
) -> std::result::Result<Acceptance, Refusal> {
    let headers = &request.headers.split();
    if !headers.has_token("upgrade", "websocket") || !headers.has_token("connection", "upgrade") {
        return Err(Refusal {
            extra_headers: Cow::Borrowed("Upgrade: websocket\r\n"),
            connection: "Upgrade, close",
            ..Refusal::bad_request(426, "this endpoint only speaks WebSocket")
        });
    }
    if single_header(headers, "host")?.is_none_or(str::is_empty) {
        return Err(Refusal::bad_request(400, "missing Host header"));
    }
    if single_header(headers, "sec-websocket-version")? != Some("13") {
        return Err(Refusal {
            extra_headers: Cow::Borrowed("Sec-WebSocket-Version: 13\r\n"),
            ..Refusal::bad_request(426, "unsupported WebSocket version")
        });
    }
    let key = single_header(headers, "sec-websocket-key")?.unwrap_or_default();
    if !is_valid_key(key) {
        return Err(Refusal::bad_request(
            400,
            "missing or malformed Sec-WebSocket-Key",
        ));
    }
    let not_found = || {
        Refusal::new(
            RefusalReason::NotFound,
            404,
            "no WebSocket endpoint at this path",
        )
    };
    let Some(relative) = strip_base(&rules.base_path, &request.path) else {
        return Err(not_found());
    };
    let mut groups = Vec::new();
    let mut uri_params = Vec::new();
    let (origins, path, compression) = if rules.paths.is_empty() {
        (&rules.origins, 0, rules.compression.inbound)
    } else {
        let served = rules
            .paths
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.pattern.captures(relative).map(|params| (i, p, params)));
        match served {
            Some((index, served, params)) => {
                groups.extend(served.default_groups.iter().cloned());
                uri_params = params;
                (&served.origins, index, served.compression)
            }
            None => return Err(not_found()),
        }
    };
    match single_header(headers, "origin")? {
        Some(origin) if !origins.allows(origin) => {
            return Err(Refusal::new(
                RefusalReason::Origin,
                403,
                "origin not allowed",
            ));
        }
        None if rules.require_origin => {
            return Err(Refusal::new(
                RefusalReason::Origin,
                403,
                "an Origin header is required",
            ));
        }
        _ => {}
    }
    let offered: Vec<String> = headers
        .all("sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let subprotocol = rules
        .subprotocols
        .iter()
        .find(|p| offered.contains(p))
        .cloned();
    if let Some(authorizer) = &rules.authorizer {
        let auth_request = AuthRequest {
            path: request.path.clone(),
            uri: request.target.clone(),
            headers: request.headers.to_pairs(),
            query: parse_query(&request.target),
            remote_addr,
            subprotocols: offered,
            peer_certificate: peer_certificate.map(|c| c.der.clone()),
            peer_certificate_subject: peer_certificate.and_then(|c| c.subject.clone()),
        };
        let authorizer = authorizer.clone();
        let decision = shared
            .io
            .general()
            .spawn_blocking(move || authorizer.authorize(&auth_request))
            .await;
        match decision {
            Ok(AuthDecision::Accept { groups: extra }) => {
                if let Err(e) = validate_groups(&extra) {
                    tracing::error!(target: super::LOG_TARGET, error = %e, "the authorization hook returned an invalid group");
                    return Err(Refusal::new(
                        RefusalReason::Auth,
                        500,
                        "authorization failed",
                    ));
                }
                groups.extend(extra);
            }
            Ok(AuthDecision::Reject { status, reason }) => {
                let status = if (400..=599).contains(&status) {
                    status
                } else {
                    tracing::error!(target: super::LOG_TARGET, status, "the authorization hook refused with a status outside 400-599; answering 403");
                    403
                };
                return Err(Refusal::new(RefusalReason::Auth, status, reason));
            }
            Err(e) => {
                tracing::error!(target: super::LOG_TARGET, error = %e, "the authorization hook panicked; refusing with 500");
                return Err(Refusal::new(
                    RefusalReason::Auth,
                    500,
                    "authorization failed",
                ));
            }
        }
    }
    let compression = compression
        .then(|| {
            accept_offer(
                headers.all("sec-websocket-extensions"),
                &rules.compression.preferred,
            )
        })
        .flatten();
    Ok(Acceptance {
        accept_key: accept_key(key),
        subprotocol,
        groups,
        path,
        compression,
        uri_params,
    })
}

/// The value of header `name` when it is there once; two or more are a malformed request.
fn single_header<'a>(
    headers: &'a SplitHeaders<'a>,
    name: &'a str,
) -> std::result::Result<Option<&'a str>, Refusal> {
    let mut values = headers.all(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(Refusal::bad_request(
            400,
            format!("more than one {name} header"),
        ));
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
    let too_large = || Refusal::bad_request(431, "request header fields too large");
    let mut buf = Vec::with_capacity(1024);
    let mut head = HeadScanner::default();
    let len = loop {
        buf.reserve(1024);
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
        match head.end(&buf) {
            Err(NotHttp) => return Err(Refusal::bad_request(400, "not an HTTP request")),
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
            return Err(Refusal::bad_request(
                400,
                "malformed request: incomplete head",
            ))
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal::bad_request(431, "too many request header fields"));
        }
        Err(e) => return Err(Refusal::bad_request(400, format!("malformed request: {e}"))),
    }
    let target = parsed.path.unwrap_or("/").to_owned();
    if !target.starts_with('/') {
        return Err(Refusal::bad_request(
            400,
            "the request target must be an absolute path",
        ));
    }
    let raw_path = target.split(['?', '#']).next().unwrap_or("/");
    let path = decode_request_path(raw_path).map_err(|why| Refusal::bad_request(400, why))?;
    let headers = HeaderLines::parsed(parsed.headers);
    Ok(Some(Request {
        method: parsed.method.unwrap_or_default().to_owned(),
        version: parsed.version.unwrap_or_default(),
        path,
        target,
        headers,
        rest: buf[len..].to_vec(),
    }))
}

/// An upgrade must be a GET in HTTP/1.1.
fn check_method_and_version(request: &Request) -> std::result::Result<(), Refusal> {
    if request.method != "GET" {
        return Err(Refusal::bad_request(
            405,
            "a WebSocket upgrade must be a GET",
        ));
    }
    if request.version != 1 {
        return Err(Refusal::bad_request(
            400,
            "a WebSocket upgrade needs HTTP/1.1",
        ));
    }
    Ok(())
}

/// Answers with an HTTP error and closes the connection; no socket is created.
async fn refuse(shared: &Shared, mut stream: IoStream, refusal: Refusal) -> Result<Accepted> {
    shared.metrics.refused(refusal.why, Some(refusal.status));
    let _ = stream.write_all(&refusal.response()).await;
    let _ = stream.shutdown().await;
    Ok(None)
}
