//! The client side of the WebSocket handshake: the upgrade request and the checks of its 101.

use super::target::Target;
use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind, HandshakeResponse, Result};
use crate::protocol::close::{close_code, truncate_reason};
use crate::protocol::extensions::{check_response, client_offer, PerMessageDeflate};
use crate::protocol::frame::{close_payload, opcode, put_frame};
use crate::protocol::handshake::{accept_key, HeadScanner, HeaderLines, NotHttp};
use crate::tls::IoStream;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What an outbound socket's handshake asks for, the same at every reconnect: where, with
/// which headers (the connector's default ones, then the open's), offering which subprotocols,
/// and the basic credentials of the client settings.
#[derive(Debug, Clone)]
pub(super) struct Request {
    /// Where the open pointed (redirects start from here again at each reconnect).
    pub(super) target: Target,
    /// The connector's default headers (less those the open names), then the open's.
    pub(super) headers: Vec<(String, String)>,
    pub(super) subprotocols: Vec<String>,
    /// The `Authorization` value for the client settings' basic credentials, if any.
    pub(super) basic_auth: Option<String>,
    /// permessage-deflate offered, with these preferred parameters.
    pub(super) compression: Option<PerMessageDeflate>,
}

impl Request {
    /// The request of an open: the client's default headers and basic credentials with the
    /// open's own headers and subprotocols. An open's header replaces every default header of
    /// the same name (case-insensitive) instead of being sent beside it.
    pub(super) fn new(
        client: &ClientConfig,
        target: Target,
        headers: &[(String, String)],
        subprotocols: Vec<String>,
    ) -> Self {
        let basic_auth = (!client.basic_auth_username.is_empty())
            .then(|| basic_credentials(&client.basic_auth_username, &client.basic_auth_password));
        Request {
            target,
            headers: client
                .default_headers
                .iter()
                .filter(|(name, _)| !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
                .chain(headers)
                .cloned()
                .collect(),
            subprotocols,
            basic_auth,
            compression: None,
        }
    }

    /// The same request, offering permessage-deflate with `preferred` parameters.
    pub(super) fn offering_compression(mut self, preferred: Option<PerMessageDeflate>) -> Self {
        self.compression = preferred;
        self
    }

    /// Replaces the headers named in `fresh` (each name's values all at once) and adds the
    /// others: a header refresher's answer.
    pub(super) fn refresh_headers(&mut self, fresh: &[(String, String)]) {
        self.headers
            .retain(|(name, _)| !fresh.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)));
        self.headers.extend(fresh.iter().cloned());
    }

    /// Whether the handshake to `target` carries the client settings' basic credentials.
    pub(super) fn sends_basic_auth(&self, target: &Target) -> bool {
        self.basic_auth.is_some()
            && self.target.same_origin(target)
            && !self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
    }
}

/// `Basic base64(user:password)`, the value of an `Authorization` (or `Proxy-Authorization`)
/// header.
pub(super) fn basic_credentials(user: &str, password: &str) -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

/// The handshake request's headers to `target`, in the order sent: ours, then the request's
/// (the connector's default ones, then the open's), then basic credentials unless one of those
/// is an `Authorization`. A `Host` among them replaces ours (the open's wins), so there is
/// always exactly one; the others cannot name a header of ours (checked before). After a
/// redirect to another origin, `Host`, `Authorization` and the basic credentials stay behind.
pub(super) fn request_headers(
    request: &Request,
    target: &Target,
    key: &str,
) -> Vec<(String, String)> {
    let mut headers = vec![
        ("Host".to_owned(), target.authority.clone()),
        ("Upgrade".to_owned(), "websocket".to_owned()),
        ("Connection".to_owned(), "Upgrade".to_owned()),
        ("Sec-WebSocket-Key".to_owned(), key.to_owned()),
        ("Sec-WebSocket-Version".to_owned(), "13".to_owned()),
    ];
    if !request.subprotocols.is_empty() {
        headers.push((
            "Sec-WebSocket-Protocol".to_owned(),
            request.subprotocols.join(", "),
        ));
    }
    if let Some(preferred) = &request.compression {
        headers.push((
            "Sec-WebSocket-Extensions".to_owned(),
            client_offer(preferred),
        ));
    }
    let same_origin = request.target.same_origin(target);
    for (name, value) in &request.headers {
        let credentials =
            name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("authorization");
        if credentials && !same_origin {
            continue;
        }
        if name.eq_ignore_ascii_case("host") {
            headers[0].1.clone_from(value);
        } else {
            headers.push((name.clone(), value.clone()));
        }
    }
    if request.sends_basic_auth(target) {
        if let Some(basic) = &request.basic_auth {
            headers.push(("Authorization".to_owned(), basic.clone()));
        }
    }
    headers
}

/// Largest handshake response head accepted, and most of an error body kept.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;
const MAX_ERROR_BODY: usize = HandshakeResponse::MAX_BODY;

/// How a server answered an upgrade request.
pub(super) enum Answer {
    /// 101: the negotiated subprotocol and permessage-deflate, and the bytes that followed
    /// the response (the server's first frames).
    Upgraded {
        subprotocol: Option<String>,
        compression: Option<PerMessageDeflate>,
        rest: Vec<u8>,
    },
    /// A redirect (301, 302, 303, 307 or 308 with a `Location`).
    Redirect { status: u16, location: String },
}

/// Sends the upgrade request and checks the 101 (see [`Answer`]); any other status is a
/// `Handshake` error with the status and the start of the body. A 101 whose extensions the
/// request's offer cannot take fails the connection with 1010.
pub(super) async fn handshake(
    stream: &mut IoStream,
    target: &Target,
    headers: &[(String, String)],
    key: &str,
    request: &Request,
) -> Result<Answer> {
    let request_line = format!("GET {} HTTP/1.1", target.path_and_query);
    send_head(stream, &request_line, headers).await?;
    let mut buf = Vec::with_capacity(1024);
    let response = read_response(stream, &mut buf, "server").await?;
    let (status, head_len) = (response.status, response.head_len);
    let field = |name: &str| response.headers.get(name);
    if status != 101 {
        if let Some(location) = redirect_location(status, &response.headers) {
            return Ok(Answer::Redirect { status, location });
        }
        let body = error_body(stream, buf.split_off(head_len), field("content-length")).await;
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        let message = format!(
            "the server refused the upgrade with HTTP {status} {}{}",
            response.reason,
            if text.is_empty() {
                String::new()
            } else {
                format!(": {text}")
            }
        );
        return Err(
            Error::handshake(status, message).with_response(HandshakeResponse {
                body,
                headers: response.headers.to_pairs(),
            }),
        );
    }
    let headers = response.headers.split();
    if !headers.has_token("upgrade", "websocket") || !headers.has_token("connection", "upgrade") {
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
    let subprotocol = field("sec-websocket-protocol").map(str::to_owned);
    if let Some(chosen) = &subprotocol {
        if !request.subprotocols.contains(chosen) {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("the server chose subprotocol {chosen:?}, which was not offered"),
            ));
        }
    }
    let extensions = headers.all("sec-websocket-extensions");
    let compression = match check_response(extensions, request.compression.as_ref()) {
        Ok(compression) => compression,
        Err(why) => {
            let why = format!("the server's extensions cannot be accepted: {why}");
            fail_with_1010(stream, &why).await;
            return Err(Error::new(ErrorKind::Protocol, why));
        }
    };
    Ok(Answer::Upgraded {
        subprotocol,
        compression,
        rest: buf.split_off(head_len),
    })
}

/// Fails a connection whose 101 negotiated extensions the client must refuse: the WebSocket
/// connection exists, so it ends with a close frame of 1010 (RFC 6455 section 7.4.1), then the
/// end of the stream; the server's answer is not waited for.
async fn fail_with_1010(stream: &mut IoStream, why: &str) {
    let reason = truncate_reason(why.to_owned());
    let mut frame = bytes::BytesMut::new();
    let mask = rand::random::<[u8; 4]>();
    let payload = close_payload(close_code::MANDATORY_EXTENSION, &reason);
    put_frame(&mut frame, opcode::CLOSE, &payload, Some(mask));
    let _ = stream.write_all(&frame).await;
    let _ = stream.shutdown().await;
}

/// The target of a redirect: the `Location` of a 301, 302, 303, 307 or 308.
fn redirect_location(status: u16, headers: &HeaderLines) -> Option<String> {
    matches!(status, 301 | 302 | 303 | 307 | 308)
        .then(|| headers.get("location"))
        .flatten()
        .map(|location| location.trim().to_owned())
        .filter(|location| !location.is_empty())
}

/// The start of an error response's body (up to its `Content-Length`, at most
/// [`MAX_ERROR_BODY`] bytes); `body` holds what came with the head.
async fn error_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut body: Vec<u8>,
    content_length: Option<&str>,
) -> Vec<u8> {
    let announced = content_length
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    while body.len() < announced.min(MAX_ERROR_BODY) {
        if !read_more(stream, &mut body).await.unwrap_or(false) {
            break;
        }
    }
    body.truncate(MAX_ERROR_BODY.min(announced.max(body.len())));
    body
}

/// An HTTP response's head, read and parsed.
pub(super) struct Response {
    pub(super) status: u16,
    pub(super) reason: String,
    pub(super) headers: HeaderLines,
    /// Where the head ends in the buffer it was read into.
    pub(super) head_len: usize,
}

/// Writes a request line and headers, then flushes.
pub(super) async fn send_head<S: AsyncWrite + Unpin>(
    stream: &mut S,
    request_line: &str,
    headers: &[(String, String)],
) -> Result<()> {
    let mut request = format!("{request_line}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(io_error)?;
    stream.flush().await.map_err(io_error)
}

fn io_error(e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Connectivity,
        format!("handshake I/O failed: {e}"),
    )
}

/// Reads an HTTP response head (at most [`MAX_RESPONSE_HEAD`] bytes) into `buf` and parses
/// it; `who` ("server", "proxy") names the peer in errors. What follows the head stays in
/// `buf`, from `head_len` on.
pub(super) async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    who: &str,
) -> Result<Response> {
    let mut head = HeadScanner::default();
    let too_large = || {
        Error::new(
            ErrorKind::Protocol,
            format!("the {who}'s response head is too large"),
        )
    };
    let head_len = loop {
        read_more(stream, buf)
            .await
            .map_err(io_error)?
            .then_some(())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Connectivity,
                    format!("the {who} closed the connection during the handshake"),
                )
            })?;
        match head.end(buf) {
            Err(NotHttp) => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("the {who}'s answer is not HTTP (a TLS server asked with ws://?)"),
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
            format!("invalid response from the {who}: {why}"),
        )
    };
    let mut parsed_headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut parsed_headers);
    match response.parse(&buf[..head_len]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(invalid("incomplete head".into())),
        Err(e) => return Err(invalid(e.to_string())),
    }
    Ok(Response {
        status: response.code.unwrap_or(0),
        reason: response.reason.unwrap_or("").to_owned(),
        headers: HeaderLines::parsed(response.headers),
        head_len,
    })
}

/// Reads once more into `buf`; false at end of stream.
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<bool> {
    buf.reserve(1024);
    Ok(stream.read_buf(buf).await? > 0)
}
