//! Opening the load client's connections: TCP from a 127.0.0.x source address, TCP_NODELAY,
//! and the WebSocket upgrade; many at once with a bound on handshakes in flight.
//!
//! One source address has about 28,000 ephemeral ports, and connect searches them from a
//! random start, preferring even ones: once most are taken, each connect probes thousands of
//! ports and the client, not the server, sets the handshake rate. So connections are spread
//! over several loopback addresses (every 127.0.0.0/8 address is local), a few thousand each.

use crate::wire;
use futures_util::stream::{self, Stream, StreamExt};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Connections per source address, at most.
const PER_SOURCE: usize = 4_000;
/// Time one connect plus upgrade may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An upgraded connection and the bytes that arrived after the server's 101.
pub struct Conn {
    /// The TCP stream, now speaking WebSocket frames.
    pub stream: TcpStream,
    /// Frame bytes read together with the upgrade answer.
    pub leftover: Vec<u8>,
    /// permessage-deflate was negotiated with `server_no_context_takeover`: each of the
    /// server's compressed messages inflates on its own.
    pub server_no_context_takeover: bool,
}

/// The server under test, and how the client spreads its source addresses.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    port: u16,
    sources: usize,
    /// Connections offer permessage-deflate, and fail if the server declines it.
    deflate: bool,
}

impl Target {
    /// A server on 127.0.0.1:`port` that will see up to `connections` at once.
    pub fn new(port: u16, connections: usize) -> Self {
        Target {
            port,
            sources: connections.div_ceil(PER_SOURCE).clamp(1, 250),
            deflate: false,
        }
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The same server, with connections that negotiate permessage-deflate when `deflate`.
    pub fn with_deflate(self, deflate: bool) -> Self {
        Target { deflate, ..self }
    }

    /// Opens connection number `i` on `path` and upgrades it.
    pub async fn open(self, path: &str, i: usize) -> Result<Conn, String> {
        self.open_with(&self.request(path), i).await
    }

    /// The upgrade request for `path`, formatted once and sent by every connection.
    fn request(self, path: &str) -> Arc<[u8]> {
        Arc::from(wire::upgrade_request(self.port, path, self.deflate).into_bytes())
    }

    /// Opens connection number `i`, sending the precomputed upgrade `request`.
    async fn open_with(self, request: &[u8], i: usize) -> Result<Conn, String> {
        let source = Ipv4Addr::new(127, 0, 0, 1 + (i % self.sources) as u8);
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.handshake(request, source))
            .await
            .map_err(|_| format!("connection {i}: no upgrade within {HANDSHAKE_TIMEOUT:?}"))?
            .map_err(|e| format!("connection {i} from {source}: {e}"))
    }

    async fn handshake(self, request: &[u8], source: Ipv4Addr) -> Result<Conn, String> {
        let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
        defer_port_choice(&socket).map_err(|e| format!("IP_BIND_ADDRESS_NO_PORT: {e}"))?;
        socket
            .bind(SocketAddr::from((source, 0)))
            .map_err(|e| format!("bind: {e}"))?;
        let mut stream = socket
            .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream
            .write_all(request)
            .await
            .map_err(|e| format!("upgrade request: {e}"))?;
        let mut received = Vec::with_capacity(256);
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("upgrade answer: {e}"))?;
            if n == 0 {
                return Err("closed during the upgrade".into());
            }
            received.extend_from_slice(&chunk[..n]);
            if let Some(head) = wire::upgrade_response_len(&received)? {
                // Only a deflate offer needs the answer's headers read.
                let server_no_context_takeover = self.deflate && {
                    let answer = String::from_utf8_lossy(&received[..head]).to_ascii_lowercase();
                    if !answer.contains("permessage-deflate") {
                        return Err("the server did not negotiate permessage-deflate".into());
                    }
                    answer.contains("server_no_context_takeover")
                };
                received.drain(..head);
                return Ok(Conn {
                    stream,
                    leftover: received,
                    server_no_context_takeover,
                });
            }
        }
    }

    /// Opens connections `first..first + count` on `path`, at most `concurrency` handshakes at
    /// a time; yields each as it is ready (in any order).
    pub fn open_many<'a>(
        self,
        path: &'a str,
        first: usize,
        count: usize,
        concurrency: usize,
    ) -> impl Stream<Item = Result<Conn, String>> + 'a {
        let request = self.request(path);
        stream::iter(first..first + count)
            .map(move |i| {
                let request = Arc::clone(&request);
                async move { self.open_with(&request, i).await }
            })
            .buffer_unordered(concurrency)
    }
}

/// Lets connect, not bind, choose the source port (IP_BIND_ADDRESS_NO_PORT). A port chosen at
/// bind must be free for every destination, a search that grows slow (milliseconds per bind)
/// once earlier runs have left thousands of ports in TIME_WAIT; at connect only the full
/// four-tuple must be free.
fn defer_port_choice(socket: &TcpSocket) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor, and an option value that lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
