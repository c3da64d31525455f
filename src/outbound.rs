//! Outbound sockets: URL, DNS, TCP, TLS and the client handshake, with failures that name
//! their cause.

use crate::config::{validate_groups, validate_header, validate_token};
use crate::connector::Shared;
use crate::error::{Error, ErrorKind, Result};
use crate::socket::{Attributes, Socket, SocketId, SocketType};
use crate::tls::IoStream;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, Uri};
use tokio_tungstenite::tungstenite::Error as WsError;

/// Options of one outbound socket.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OutboundOptions {
    /// Extra handshake headers (after the connector's default headers).
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

    /// Adds a handshake header.
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
    for (name, value) in &options.headers {
        validate_header(name, value)?;
    }
    for protocol in &options.subprotocols {
        validate_token("subprotocol", protocol)?;
    }
    if options.connect_timeout.is_some_and(|t| t.is_zero()) {
        return Err(Error::invalid("connect timeout must be greater than 0"));
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
    let connecting = tokio::time::timeout(timeout, connect(&shared, &target, &options, id.clone()));
    let socket_and_stream = tokio::select! {
        _ = shared.shutdown.cancelled() => return Err(Error::stopped()),
        result = connecting => result.map_err(|_| {
            Error::new(ErrorKind::Timeout, format!("connecting to {url} took longer than {timeout:?}"))
        })??,
    };
    let (socket, ws) = socket_and_stream;
    shared.register(&socket, &options.groups)?;
    shared
        .tasks
        .spawn(crate::driver::drive(shared.clone(), socket, ws));
    Ok(id)
}

async fn connect(
    shared: &Shared,
    target: &Target,
    options: &OutboundOptions,
    id: SocketId,
) -> Result<(Socket, crate::driver::WsStream)> {
    let tcp = connect_tcp(&target.host, target.port).await?;
    let _ = tcp.set_nodelay(true);
    let io_error = |e: std::io::Error| Error::new(ErrorKind::Connectivity, e.to_string());
    let local_addr = tcp.local_addr().map_err(io_error)?;
    let remote_addr = tcp.peer_addr().map_err(io_error)?;
    let stream = if target.secure {
        let name = crate::tls::server_name(&target.host)?;
        let tls = tokio_rustls::TlsConnector::from(shared.client_tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| Error::new(ErrorKind::Tls, crate::tls::describe_tls_failure(&e)))?;
        IoStream::ClientTls(Box::new(tls))
    } else {
        IoStream::Plain(tcp)
    };

    let mut request = (&target.uri)
        .into_client_request()
        .map_err(|e| Error::invalid(e.to_string()))?;
    let headers = request.headers_mut();
    for (name, value) in shared
        .config
        .client
        .default_headers
        .iter()
        .chain(&options.headers)
    {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| Error::invalid(format!("header {name:?}: {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| Error::invalid(format!("header {name:?}: {e}")))?;
        headers.append(name, value);
    }
    if !options.subprotocols.is_empty() {
        let offered = options.subprotocols.join(", ");
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(&offered).map_err(|e| Error::invalid(e.to_string()))?,
        );
    }
    let sent_headers = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let (ws, response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(shared.ws_config()))
            .await
            .map_err(handshake_error)?;
    let subprotocol = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let attrs = Attributes {
        id,
        socket_type: SocketType::Outbound,
        path: target.uri.path().to_owned(),
        uri: target.uri.to_string(),
        secure: target.secure,
        headers: sent_headers,
        query: crate::inbound::parse_query(&target.uri.to_string()),
        subprotocol,
        local_addr,
        remote_addr,
        peer_certificate_subject: None,
    };
    Ok((Socket::new(attrs, shared.send_queue()), ws))
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

fn handshake_error(error: WsError) -> Error {
    match error {
        WsError::Http(response) => {
            let status = response.status();
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned())
                .unwrap_or_default();
            Error::handshake(
                status.as_u16(),
                format!(
                    "the server refused the upgrade with HTTP {} {}{}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or(""),
                    if body.is_empty() {
                        String::new()
                    } else {
                        format!(": {body}")
                    }
                ),
            )
        }
        WsError::Io(e) => Error::new(
            ErrorKind::Connectivity,
            format!("handshake I/O failed: {e}"),
        ),
        WsError::Tls(e) => Error::new(ErrorKind::Tls, e.to_string()),
        other => Error::new(
            ErrorKind::Protocol,
            format!("invalid handshake response: {other}"),
        ),
    }
}
