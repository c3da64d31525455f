//! The connection of an outbound socket: DNS, TCP (direct or through a proxy), TLS, the
//! handshake, and the redirects it follows.

use super::handshake::{handshake, request_headers, Answer, Request};
use super::proxy::tunnel;
use super::target::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::new_key;
use crate::shared::Shared;
use crate::socket::Link;
use crate::tcp::Tcp;
use crate::tls::{IoStream, PeerCertificate};
use crate::wire::{Role, Wire};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// A connection made: its stream, where it ended up (after redirects), the headers the last
/// handshake sent, the subprotocol the server chose, and its ends.
pub(super) struct Connection {
    pub(super) wire: Wire,
    pub(super) target: Target,
    pub(super) headers: Vec<(String, String)>,
    pub(super) subprotocol: Option<String>,
    pub(super) link: Link,
}

/// Connects and upgrades as `request` asks, following redirects as the client settings allow
/// (each on a new connection). A 401 to the client settings' basic credentials is a
/// `BasicAuthentication` error.
pub(super) async fn establish(shared: &Shared, request: &Request) -> Result<Connection> {
    let client = &shared.config.client;
    let mut target = request.target.clone();
    let mut redirects = 0;
    loop {
        let (mut stream, local_addr, remote_addr) = open_stream(shared, &target).await?;
        let peer_certificate = PeerCertificate::of(&stream);
        let key = new_key();
        let headers = request_headers(request, &target, &key);
        match handshake(&mut stream, &target, &headers, &key, request).await {
            Ok(Answer::Upgraded {
                subprotocol,
                compression,
                rest,
            }) => {
                let mut wire = Wire::new(
                    stream,
                    Role::Client,
                    &rest,
                    shared.config.socket.max_message_size,
                );
                if let Some(params) = &compression {
                    wire = wire.with_compression(params, &shared.config.compression);
                }
                return Ok(Connection {
                    wire,
                    target,
                    headers,
                    subprotocol,
                    link: Link {
                        local_addr,
                        remote_addr,
                        peer_certificate: peer_certificate.map(Box::new),
                        compression,
                    },
                });
            }
            Ok(Answer::Redirect { status, location }) => {
                if !client.follow_redirects {
                    return Err(Error::handshake(
                        status,
                        format!("the server redirected (HTTP {status}) to {location}, and follow_redirects is off"),
                    ));
                }
                if redirects == client.max_redirects {
                    return Err(Error::handshake(
                        status,
                        format!(
                            "more than {} redirects (max_redirects); the last to {location}",
                            client.max_redirects
                        ),
                    ));
                }
                redirects += 1;
                target = target.redirect(&location)?;
            }
            Err(e) if e.http_status() == Some(401) && request.sends_basic_auth(&target) => {
                return Err(Error::with_status(
                    ErrorKind::BasicAuthentication,
                    401,
                    format!(
                        "basic authentication as {:?} refused: {}",
                        client.basic_auth_username,
                        e.message()
                    ),
                ))
            }
            Err(e) => return Err(e),
        }
    }
}

/// TCP to `target` (directly or through the proxy that serves it), then TLS for `wss://`;
/// with the connection's two ends.
async fn open_stream(
    shared: &Shared,
    target: &Target,
) -> Result<(IoStream, std::net::SocketAddr, std::net::SocketAddr)> {
    let tcp = match shared.proxies.for_host(target.secure, &target.host) {
        Some(proxy) => {
            let (host, port) = proxy.address();
            let tcp = connect_tcp(host, port).await.map_err(|e| {
                Error::new(e.kind(), format!("proxy {host}:{port}: {}", e.message()))
            })?;
            tunnel(tcp, proxy, &target.host, target.port).await?
        }
        None => connect_tcp(&target.host, target.port).await?,
    };
    let _ = tcp.set_nodelay(true);
    let io_error = |e: std::io::Error| Error::new(ErrorKind::Connectivity, e.to_string());
    let local_addr = tcp.local_addr().map_err(io_error)?;
    let remote_addr = tcp.peer_addr().map_err(io_error)?;
    let tcp = Tcp(tcp);
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
    Ok((stream, local_addr, remote_addr))
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

/// [`establish`] within `timeout`; `Stopped` when the connector stops meanwhile.
pub(super) async fn establish_within(
    shared: &Shared,
    request: &Request,
    timeout: Duration,
) -> Result<Connection> {
    tokio::select! {
        _ = shared.shutdown.cancelled() => Err(Error::stopped()),
        result = tokio::time::timeout(timeout, establish(shared, request)) => result.map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!("connecting to {} took longer than {timeout:?}", request.target.uri),
            )
        })?,
    }
}

/// One of the connector's outbound sockets (or an open in progress), counted against
/// `max_outbound_connections` until dropped.
pub(super) struct Slot(Arc<Shared>);

impl Slot {
    /// Takes a slot; `LimitExceeded` when `max_outbound_connections` are taken.
    pub(super) fn take(shared: &Arc<Shared>) -> Result<Slot> {
        let max = shared.config.client.max_outbound_connections;
        let taken = shared.outbound_sockets.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(shared.clone());
        match max {
            Some(max) if taken >= max => Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "the connector has {max} outbound sockets already (max_outbound_connections)"
                ),
            )),
            _ => Ok(slot),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.outbound_sockets.fetch_sub(1, Ordering::AcqRel);
    }
}
