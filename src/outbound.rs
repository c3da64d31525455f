//! Outbound sockets: URL, DNS, TCP, TLS and the client handshake, with failures that name
//! their cause.

use crate::config::{check_duration, validate_groups};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::{
    accept_key, has_token, header, new_key, owned_headers, parse_query, validate_client_headers,
    validate_token, HeadScanner, NotHttp,
};
use crate::shared::{Claim, Shared};
use crate::socket::{Attributes, Socket, SocketId, SocketType};
use crate::tcp::Tcp;
use crate::tls::{IoStream, PeerCertificate};
use crate::wire::{Role, Wire};
use http::Uri;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Options of one outbound socket.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OutboundOptions {
    /// Extra handshake headers (after the connector's default headers). A `Host` header
    /// replaces the URL's `host[:port]` (and a default `Host`); the handshake's own headers
    /// (`Upgrade`, `Connection`, `Sec-WebSocket-*`) cannot be set: opening fails with
    /// [`ErrorKind::InvalidArgument`].
    pub headers: Vec<(String, String)>,
    /// Extra query parameters (after the connector's default ones).
    pub query: Vec<(String, String)>,
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// Groups the socket starts in.
    pub groups: Vec<String>,
    /// The socket's ID; a random UUID when `None`.
    pub socket_id: Option<String>,
    /// Overrides the connector's connect timeout.
    pub connect_timeout: Option<Duration>,
}

impl OutboundOptions {
    /// No options: a generated ID, no extra headers, no groups.
    pub fn new() -> Self {
        OutboundOptions::default()
    }

    /// Adds a handshake header (see [`headers`](Self::headers)).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Offers a subprotocol.
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Starts the socket in a group.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.groups.push(group.into());
        self
    }

    /// Chooses the socket's ID.
    pub fn socket_id(mut self, id: impl Into<String>) -> Self {
        self.socket_id = Some(id.into());
        self
    }

    /// Sets the connect timeout for this socket.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }
}

/// A parsed `ws://` or `wss://` URL with the extra query parameters added.
struct Target {
    uri: Uri,
    secure: bool,
    host: String,
    port: u16,
    /// `host[:port]` as written in the URL: the Host header.
    authority: String,
    /// The request target: path and query.
    path_and_query: String,
}

impl Target {
    fn parse(url: &str, extra_query: &[(String, String)]) -> Result<Self> {
        let invalid = |why: &str| Error::invalid(format!("URL {url:?} {why}"));
        let uri: Uri = url
            .parse()
            .map_err(|e| invalid(&format!("is not a valid URL: {e}")))?;
        let secure = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("ws") => false,
            Some("wss") => true,
            _ => return Err(invalid("must start with ws:// or wss://")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("has no host"))?
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let mut path_and_query = uri
            .path_and_query()
            .map_or("/".to_owned(), |pq| pq.as_str().to_owned());
        if path_and_query.is_empty() {
            path_and_query.push('/');
        }
        if !extra_query.is_empty() {
            let mut encoded = form_urlencoded::Serializer::new(String::new());
            for (name, value) in extra_query {
                encoded.append_pair(name, value);
            }
            path_and_query.push(if path_and_query.contains('?') {
                '&'
            } else {
                '?'
            });
            path_and_query.push_str(&encoded.finish());
        }
        let authority = uri
            .authority()
            .map_or(host.clone(), |a| a.as_str().to_owned());
        if authority.contains('@') {
            return Err(invalid(
                "carries credentials; send them in a header (e.g. Authorization) instead",
            ));
        }
        let full = format!(
            "{}://{authority}{path_and_query}",
            if secure { "wss" } else { "ws" }
        );
        let uri = full
            .parse()
            .map_err(|e| invalid(&format!("is not valid with its query: {e}")))?;
        Ok(Target {
            uri,
            secure,
            host,
            port,
            authority,
            path_and_query,
        })
    }
}

/// Opens an outbound socket and starts its task; returns its ID once the handshake is done.
pub(crate) async fn open(
    shared: Arc<Shared>,
    url: String,
    options: OutboundOptions,
) -> Result<SocketId> {
    let id = match &options.socket_id {
        Some(id) => SocketId::new(id)?,
        None => SocketId::generate(),
    };
    if shared.registry.contains(id.as_str()) {
        return Err(Error::new(
            ErrorKind::NonUniqueSocketId,
            format!("socket ID {:?} is already in use", id.as_str()),
        ));
    }
    validate_groups(&options.groups)?;
    validate_client_headers(&options.headers)?;
    for protocol in &options.subprotocols {
        validate_token("subprotocol", protocol)?;
    }
    if let Some(timeout) = options.connect_timeout {
        check_duration("connect_timeout", timeout)?;
    }
    let client = &shared.config.client;
    let query: Vec<_> = client
        .default_query
        .iter()
        .chain(&options.query)
        .cloned()
        .collect();
    let target = Target::parse(&url, &query)?;
    let timeout = options
        .connect_timeout
        .unwrap_or_else(|| client.effective_connect_timeout());
    // A caller-chosen ID is claimed in the whole cluster first (generated ones are UUIDs).
    let claim = match (&shared.directory, &options.socket_id) {
        (Some(directory), Some(_)) => Some(Claim::new(directory, &id).await?),
        _ => None,
    };
    let connecting = tokio::time::timeout(timeout, connect(&shared, &target, &options, id.clone()));
    let socket_and_stream = tokio::select! {
        _ = shared.shutdown.cancelled() => return Err(Error::stopped()),
        result = connecting => result.map_err(|_| {
            Error::new(ErrorKind::Timeout, format!("connecting to {url} took longer than {timeout:?}"))
        })??,
    };
    let (socket, ws) = socket_and_stream;
    let mut registration = shared.register(&socket, &options.groups, None).await?;
    if let Some(claim) = claim {
        claim.keep();
    }
    registration.announce();
    shared
        .tasks
        .spawn(crate::driver::drive(shared.clone(), registration, ws));
    Ok(id)
}

async fn connect(
    shared: &Shared,
    target: &Target,
    options: &OutboundOptions,
    id: SocketId,
) -> Result<(Socket, Wire)> {
    let tcp = connect_tcp(&target.host, target.port).await?;
    let _ = tcp.set_nodelay(true);
    let io_error = |e: std::io::Error| Error::new(ErrorKind::Connectivity, e.to_string());
    let local_addr = tcp.local_addr().map_err(io_error)?;
    let remote_addr = tcp.peer_addr().map_err(io_error)?;
    let tcp = Tcp(tcp);
    let mut stream = if target.secure {
        let name = crate::tls::server_name(&target.host)?;
        let tls = tokio_rustls::TlsConnector::from(shared.client_tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| Error::new(ErrorKind::Tls, crate::tls::describe_tls_failure(&e)))?;
        IoStream::ClientTls(Box::new(tls))
    } else {
        IoStream::Plain(tcp)
    };
    let peer_certificate = PeerCertificate::of(&stream);

    let key = new_key();
    let headers = request_headers(shared, target, options, &key);
    let (subprotocol, rest) =
        handshake(&mut stream, target, &headers, &key, &options.subprotocols).await?;
    let attrs = Attributes {
        id,
        socket_type: SocketType::Outbound,
        path: target.uri.path().to_owned(),
        uri: target.uri.to_string(),
        secure: target.secure,
        headers,
        query: parse_query(&target.uri.to_string()),
        subprotocol,
        local_addr,
        remote_addr,
        peer_certificate,
    };
    let wire = Wire::new(
        stream,
        Role::Client,
        &rest,
        shared.config.socket.max_message_size,
    );
    Ok((Socket::new(attrs, shared.send_queue()), wire))
}

/// Resolves `host` and connects to the first address that answers.
async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| Error::new(ErrorKind::Dns, format!("cannot resolve {bare:?}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(Error::new(
            ErrorKind::Dns,
            format!("{bare:?} has no address"),
        ));
    }
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, e) = last.expect("at least one address was tried");
    let what = if e.kind() == std::io::ErrorKind::ConnectionRefused {
        "connection refused"
    } else {
        "cannot connect"
    };
    Err(Error::new(
        ErrorKind::Connectivity,
        format!("{what}: {addr}: {e}"),
    ))
}

/// The handshake request's headers, in the order sent: ours, then the connector's default
/// headers, then the call's. A `Host` among these replaces ours (the call's wins), so there is
/// always exactly one; the others cannot name a header of ours (checked before).
fn request_headers(
    shared: &Shared,
    target: &Target,
    options: &OutboundOptions,
    key: &str,
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("Host".to_owned(), target.authority.clone()),
        ("Upgrade".to_owned(), "websocket".to_owned()),
        ("Connection".to_owned(), "Upgrade".to_owned()),
        ("Sec-WebSocket-Key".to_owned(), key.to_owned()),
        ("Sec-WebSocket-Version".to_owned(), "13".to_owned()),
    ];
    if !options.subprotocols.is_empty() {
        headers.push((
            "Sec-WebSocket-Protocol".to_owned(),
            options.subprotocols.join(", "),
        ));
    }
    for (name, value) in shared
        .config
        .client
        .default_headers
        .iter()
        .chain(&options.headers)
    {
        if name.eq_ignore_ascii_case("host") {
            headers[0].1.clone_from(value);
        } else {
            headers.push((name.clone(), value.clone()));
        }
    }
    headers
}

/// Largest handshake response head accepted, and most of an error body kept.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;
const MAX_ERROR_BODY: usize = 1024;

/// Sends the upgrade request and checks the 101; returns the negotiated subprotocol and the
/// bytes that followed the response (the server's first frames).
async fn handshake(
    stream: &mut IoStream,
    target: &Target,
    headers: &[(String, String)],
    key: &str,
    offered: &[String],
) -> Result<(Option<String>, Vec<u8>)> {
    let mut request = format!("GET {} HTTP/1.1\r\n", target.path_and_query);
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let io_error = |e: std::io::Error| {
        Error::new(
            ErrorKind::Connectivity,
            format!("handshake I/O failed: {e}"),
        )
    };
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(io_error)?;
    stream.flush().await.map_err(io_error)?;

    let mut buf = Vec::with_capacity(1024);
    let mut head = HeadScanner::default();
    let too_large = || {
        Error::new(
            ErrorKind::Protocol,
            "the handshake response head is too large",
        )
    };
    let head_len = loop {
        read_more(stream, &mut buf)
            .await
            .map_err(io_error)?
            .then_some(())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Connectivity,
                    "the server closed the connection during the handshake",
                )
            })?;
        match head.end(&buf) {
            Err(NotHttp) => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    "the server's answer is not HTTP (a TLS server asked with ws://?)",
                ))
            }
            Ok(Some(len)) if len > MAX_RESPONSE_HEAD => return Err(too_large()),
            Ok(Some(len)) => break len,
            Ok(None) if buf.len() >= MAX_RESPONSE_HEAD => return Err(too_large()),
            Ok(None) => {}
        }
    };
    let invalid = |why: String| {
        Error::new(
            ErrorKind::Protocol,
            format!("invalid handshake response: {why}"),
        )
    };
    let mut parsed_headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut parsed_headers);
    match response.parse(&buf[..head_len]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(invalid("incomplete head".into())),
        Err(e) => return Err(invalid(e.to_string())),
    }
    let status = response.code.unwrap_or(0);
    let reason = response.reason.unwrap_or("").to_owned();
    let response_headers = owned_headers(response.headers);
    let field = |name: &str| header(&response_headers, name);
    if status != 101 {
        let mut body = buf.split_off(head_len);
        let announced = field("content-length")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(0);
        while body.len() < announced.min(MAX_ERROR_BODY) {
            if !read_more(stream, &mut body).await.unwrap_or(false) {
                break;
            }
        }
        body.truncate(MAX_ERROR_BODY.min(announced.max(body.len())));
        let body = String::from_utf8_lossy(&body);
        let body = body.trim();
        return Err(Error::handshake(
            status,
            format!(
                "the server refused the upgrade with HTTP {status} {reason}{}",
                if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body}")
                }
            ),
        ));
    }
    if !has_token(&response_headers, "upgrade", "websocket")
        || !has_token(&response_headers, "connection", "upgrade")
    {
        return Err(Error::new(
            ErrorKind::Protocol,
            "the 101 response does not upgrade to websocket",
        ));
    }
    if field("sec-websocket-accept") != Some(accept_key(key).as_str()) {
        return Err(Error::new(
            ErrorKind::Protocol,
            "the 101 response has a wrong Sec-WebSocket-Accept",
        ));
    }
    if field("sec-websocket-extensions").is_some() {
        return Err(Error::new(
            ErrorKind::Protocol,
            "the server chose an extension that was not offered",
        ));
    }
    let subprotocol = field("sec-websocket-protocol").map(str::to_owned);
    if let Some(chosen) = &subprotocol {
        if !offered.contains(chosen) {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("the server chose subprotocol {chosen:?}, which was not offered"),
            ));
        }
    }
    Ok((subprotocol, buf.split_off(head_len)))
}

/// Reads once more into `buf`; false at end of stream.
async fn read_more(stream: &mut IoStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.reserve(1024);
    Ok(stream.read_buf(buf).await? > 0)
}
