//! The client side of the WebSocket handshake: the upgrade request and the checks of its 101.

use super::options::OutboundOptions;
use super::target::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::{
    accept_key, has_token, header, owned_headers, HeadScanner, NotHttp,
};
use crate::shared::Shared;
use crate::tls::IoStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The handshake request's headers, in the order sent: ours, then the connector's default
/// headers, then the call's. A `Host` among these replaces ours (the call's wins), so there is
/// always exactly one; the others cannot name a header of ours (checked before).
pub(super) fn request_headers(
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
pub(super) async fn handshake(
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
