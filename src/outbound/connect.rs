//! The connection of an outbound socket: DNS, TCP, TLS, then the handshake.

use super::handshake::{handshake, request_headers};
use super::options::OutboundOptions;
use super::target::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::{new_key, parse_query};
use crate::shared::Shared;
use crate::socket::{Attributes, Socket, SocketId, SocketType};
use crate::tcp::Tcp;
use crate::tls::{IoStream, PeerCertificate};
use crate::wire::{Role, Wire};
use tokio::net::TcpStream;

pub(super) async fn connect(
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
