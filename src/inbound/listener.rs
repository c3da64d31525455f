//! The listener: the bound socket, the accept loop, the connection limits enforced at accept
//! (503, 429, or a reset over TLS), and each connection's task: TLS, the upgrade, the socket.

use super::auth::Authorizer;
use super::upgrade::{upgrade, Accepted, Refusal, Rules};
use crate::config::{Compression, ListenerConfig};
use crate::driver::SocketTask;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::RefusalReason;
use crate::shared::Shared;
use crate::tcp::Tcp;
use crate::tls::IoStream;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::unix::AsyncFd;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// A bound listener, ready to run.
pub(crate) struct Listener {
    /// Watched by the general thread's reactor; accepted connections are not (see `accept`).
    tcp: AsyncFd<std::net::TcpListener>,
    local_addr: SocketAddr,
    settings: Arc<Settings>,
}

/// What the accept loop and each connection's task need, fixed at start.
struct Settings {
    rules: Rules,
    tls: Option<tokio_rustls::TlsAcceptor>,
    max_inbound_connections: usize,
    max_connections_per_ip: Option<usize>,
    handshake_timeout: std::time::Duration,
    /// The local address of every accepted connection when the listener is bound to one
    /// address (not the unspecified one): each connection then needs no `getsockname`.
    bound_addr: Option<SocketAddr>,
    /// Inbound sockets open plus handshakes under way.
    active: AtomicUsize,
    /// The same, by client address (only with `max_connections_per_ip`; no entry at zero).
    active_per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl Listener {
    /// Binds the listening socket (must run inside the runtime's context).
    pub(crate) fn bind(
        config: &ListenerConfig,
        compression: &Compression,
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
        let tcp = listen(addr)
            .and_then(TcpListener::into_std)
            .map_err(listen_error)?;
        #[cfg(target_os = "linux")]
        reserve_descriptors(&tcp, config.max_inbound_connections);
        let local_addr = tcp.local_addr().map_err(listen_error)?;
        // SAFETY: a std listener's descriptor is open and the same until it is dropped, with
        // the AsyncFd that owns it.
        let tcp = unsafe { AsyncFd::register_with_interest(tcp, tokio::io::Interest::READABLE) }
            .map_err(|e| listen_error(e.into_parts().1))?;
        let tls = match &config.tls {
            Some(tls) => Some(tokio_rustls::TlsAcceptor::from(crate::tls::server_config(
                tls,
            )?)),
            None => None,
        };
        Ok(Listener {
            tcp,
            local_addr,
            settings: Arc::new(Settings {
                rules: Rules::new(config, compression, authorizer)?,
                tls,
                max_inbound_connections: config.max_inbound_connections,
                max_connections_per_ip: config.max_connections_per_ip,
                handshake_timeout: config.handshake_timeout,
                bound_addr: (!local_addr.ip().is_unspecified()).then_some(local_addr),
                active: AtomicUsize::new(0),
                active_per_ip: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The bound address (with the port the OS chose when the port was 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Accepts connections until the connector stops: each within the limits gets a task of
    /// its own, the others are turned away at once.
    pub(crate) async fn run(self, shared: Arc<Shared>) {
        loop {
            let accepted = tokio::select! {
                _ = shared.shutdown.cancelled() => break,
                accepted = accept(&self.tcp) => accepted,
            };
            match accepted {
                Ok((tcp, remote_addr)) => match Slot::take(&self.settings, remote_addr.ip()) {
                    Ok(slot) => self.hand_over(&shared, slot, tcp, remote_addr),
                    Err(refusal) => {
                        tracing::debug!(target: super::LOG_TARGET, %remote_addr, reason = %refusal.reason, "connection refused at accept");
                        let answer = self.settings.tls.is_none().then_some(&refusal);
                        shared
                            .metrics
                            .refused(refusal.why, answer.map(Refusal::status));
                        turn_away(tcp, answer);
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(target: super::LOG_TARGET, error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Starts an accepted connection's task on the next I/O thread (this loop runs on the
    /// general one), where the task registers the stream with that thread's reactor, so that
    /// its reads wake only that thread.
    fn hand_over(
        &self,
        shared: &Arc<Shared>,
        slot: Slot,
        tcp: std::net::TcpStream,
        addr: SocketAddr,
    ) {
        let task = serve(shared.clone(), self.settings.clone(), slot, tcp, addr);
        let thread = shared.io.next();
        if thread.general {
            shared.tasks.spawn(task);
        } else {
            shared.tasks.spawn_on(task, thread.handle);
        }
    }
}

/// The next connection, non-blocking and registered with no reactor: its task registers it
/// on the I/O thread it runs on, one `epoll_ctl` in all (tokio's own accept registers it with
/// the accepting thread's reactor, which a connection for another thread must then leave).
async fn accept(
    listener: &AsyncFd<std::net::TcpListener>,
) -> std::io::Result<(std::net::TcpStream, SocketAddr)> {
    loop {
        let mut ready = listener.readable().await?;
        if let Ok(accepted) = ready.try_io(|listener| accept_non_blocking(listener.get_ref())) {
            return accepted;
        }
    }
}

/// `accept4` with SOCK_NONBLOCK: the connection comes non-blocking in one system call.
#[cfg(target_os = "linux")]
fn accept_non_blocking(
    listener: &std::net::TcpListener,
) -> std::io::Result<(std::net::TcpStream, SocketAddr)> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: zeroed sockaddr_storage is a valid (empty) value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: a listening descriptor this listener owns, and an address buffer of `len` bytes
    // that outlives the call.
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by accept4 and nothing else owns it.
    let tcp = std::net::TcpStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok((tcp, socket_addr(&storage)?))
}

/// The peer address accept4 wrote.
#[cfg(target_os = "linux")]
fn socket_addr(storage: &libc::sockaddr_storage) -> std::io::Result<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in, which sockaddr_storage has room for.
            let a =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Ok(SocketAddr::from((ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, a sockaddr_in6.
            let a = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Ok(std::net::SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )
            .into())
        }
        family => Err(std::io::Error::other(format!(
            "accept gave an address of family {family}"
        ))),
    }
}

/// The standard library's accept, then non-blocking mode.
#[cfg(not(target_os = "linux"))]
fn accept_non_blocking(
    listener: &std::net::TcpListener,
) -> std::io::Result<(std::net::TcpStream, SocketAddr)> {
    let (tcp, addr) = listener.accept()?;
    tcp.set_nonblocking(true)?;
    Ok((tcp, addr))
}

/// Connections the kernel holds for the listener, handshake done, until it accepts them
/// (`listen`'s backlog; Linux caps it at `net.core.somaxconn`, 4,096 by default). The
/// standard library's 128 overflows in a burst, such as clients reconnecting together after
/// a restart or while the accepting I/O thread is busy: the kernel then drops their SYNs and
/// each waits for its retry, 1 s later, then 3 s, 7 s. tokio's own `TcpListener::bind` takes
/// 1,024, as here.
const LISTEN_BACKLOG: u32 = 1024;

/// A listening socket on `addr` with a backlog of [`LISTEN_BACKLOG`] (and, on Unix, the
/// `SO_REUSEADDR` the standard library sets: a restarted server binds its port again while
/// the old connections wait in TIME_WAIT).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    if NODELAY_INHERITED {
        socket.set_nodelay(true)?;
    }
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Linux gives an accepted connection the listening socket's TCP_NODELAY: set once on the
/// listener, it costs no system call per connection. Elsewhere each connection sets it.
const NODELAY_INHERITED: bool = cfg!(target_os = "linux");

/// Descriptors the process table holds beyond the inbound connections (the listener's,
/// outbound sockets', the application's own files).
#[cfg(target_os = "linux")]
const DESCRIPTOR_HEADROOM: usize = 256;

/// Grows the process's descriptor table now, once, to hold `connections` sockets and some
/// headroom (at most the open-file limit), so that accepting them never has to. Linux grows
/// the table by doubling when a descriptor does not fit, and in a multi-threaded process (ours:
/// the runtime's threads) every growth waits for an RCU grace period, milliseconds, inside the
/// `accept` that needed it: opening 3,000 connections spent 26 ms of 80 blocked there,
/// while a single-threaded server (the raw tokio-tungstenite one) never waits. The table would
/// reach this size anyway once the listener is full: a few bytes a descriptor, 128 KiB for the
/// default limit of 10,000. Best effort: a refusal leaves the table to grow as before.
#[cfg(target_os = "linux")]
fn reserve_descriptors(listener: &std::net::TcpListener, connections: usize) {
    use std::os::fd::AsRawFd;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid pointer to an rlimit the call fills in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    let open_limit = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
    let highest = connections
        .saturating_add(DESCRIPTOR_HEADROOM)
        .min(open_limit)
        .saturating_sub(1);
    let Ok(highest) = libc::c_int::try_from(highest) else {
        return;
    };
    // The lowest free descriptor at or above `highest`: the kernel grows the table to hold it.
    // SAFETY: duplicates a descriptor this listener owns; the copy is closed at once.
    let copy = unsafe { libc::fcntl(listener.as_raw_fd(), libc::F_DUPFD_CLOEXEC, highest) };
    if copy >= 0 {
        // SAFETY: `copy` was just opened here and nothing else knows it.
        unsafe { libc::close(copy) };
    }
}

/// One unit of `max_inbound_connections` (and of the client address's
/// `max_connections_per_ip`), held from accept until the socket or its failed handshake ends
/// (a socket's before its closed event is queued).
struct Slot {
    settings: Arc<Settings>,
    /// The client's address, counted under `max_connections_per_ip` when that is set (boxed:
    /// the slot lives as long as the connection, and most listeners set no such limit).
    ip: Option<Box<IpAddr>>,
}

impl Slot {
    /// A slot for a connection from `ip`, or the refusal when a limit is reached. Only the
    /// accept loop takes slots, so a check and the count that follows it cannot interleave
    /// with another take.
    fn take(settings: &Arc<Settings>, ip: IpAddr) -> std::result::Result<Self, Refusal> {
        if settings.active.load(Ordering::Acquire) >= settings.max_inbound_connections {
            return Err(Refusal::new(
                RefusalReason::Limit,
                503,
                "too many connections",
            ));
        }
        let mut counted = None;
        if let Some(max) = settings.max_connections_per_ip {
            let ip = ip.to_canonical();
            let mut per_ip = lock(&settings.active_per_ip);
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= max {
                return Err(Refusal::new(
                    RefusalReason::Limit,
                    429,
                    "too many connections from your address",
                ));
            }
            *count += 1;
            counted = Some(Box::new(ip));
        }
        settings.active.fetch_add(1, Ordering::AcqRel);
        Ok(Slot {
            settings: settings.clone(),
            ip: counted,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.settings.active.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = &self.ip {
            let mut per_ip = lock(&self.settings.active_per_ip);
            if let Some(count) = per_ip.get_mut(&**ip) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&**ip);
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
fn turn_away(mut tcp: std::net::TcpStream, refusal: Option<&Refusal>) {
    let Some(refusal) = refusal else {
        let _ = TcpSocket::from_std_stream(tcp).set_zero_linger();
        return;
    };
    // The stream, non-blocking, writes and reads at once (no reactor needed).
    let _ = tcp.write(&refusal.response());
    let mut sink = [0u8; 1024];
    for _ in 0..16 {
        if !matches!(tcp.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
}

/// A connection's task: the handshake (within the handshake timeout, abandoned at stop), then
/// the socket, holding the connection's slot until it ends (released before its closed event
/// is queued, see `SocketTask`); a refused or failed handshake just ends it.
fn serve(
    shared: Arc<Shared>,
    settings: Arc<Settings>,
    slot: Slot,
    tcp: std::net::TcpStream,
    remote_addr: SocketAddr,
) -> SocketTask<Slot> {
    SocketTask::after(Box::pin(async move {
        let handshake = tokio::time::timeout(
            settings.handshake_timeout,
            handshake(&shared, &settings, tcp, remote_addr),
        );
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => return None,
            result = handshake => result,
        };
        match accepted {
            Ok(Ok(Some((mut registration, wire)))) => {
                registration.announce();
                Some((registration, wire, slot))
            }
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                if e.kind() == ErrorKind::Tls {
                    shared.metrics.refused(RefusalReason::Tls, None);
                }
                tracing::debug!(target: super::LOG_TARGET, %remote_addr, error = %e, "inbound handshake failed");
                None
            }
            Err(_) => {
                shared.metrics.refused(RefusalReason::Timeout, None);
                tracing::debug!(target: super::LOG_TARGET, %remote_addr, "inbound handshake timed out");
                None
            }
        }
    }))
}

/// A connection's handshake: TLS on a wss:// listener, then the upgrade.
async fn handshake(
    shared: &Arc<Shared>,
    settings: &Settings,
    tcp: std::net::TcpStream,
    remote_addr: SocketAddr,
) -> Result<Accepted> {
    let connectivity = |e: std::io::Error| Error::new(ErrorKind::Connectivity, e.to_string());
    // Registered with the reactor of the I/O thread this task runs on.
    let tcp = TcpStream::from_std(tcp).map_err(connectivity)?;
    let local_addr = match settings.bound_addr {
        Some(addr) => addr,
        None => tcp.local_addr().map_err(connectivity)?,
    };
    if !NODELAY_INHERITED {
        let _ = tcp.set_nodelay(true);
    }
    let tcp = Tcp(tcp);
    let stream = match &settings.tls {
        None => IoStream::Plain(tcp),
        Some(acceptor) => {
            let tls = acceptor
                .accept(tcp)
                .await
                .map_err(|e| Error::new(ErrorKind::Tls, crate::tls::describe_tls_failure(&e)))?;
            IoStream::ServerTls(Box::new(tls))
        }
    };
    upgrade(shared, &settings.rules, stream, local_addr, remote_addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_connections_have_nodelay() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let _client = std::net::TcpStream::connect(addr).unwrap();
            let (accepted, _) = listener.accept().await.unwrap();
            assert!(accepted.nodelay().unwrap());
        });
    }

    #[test]
    fn accept_gives_a_non_blocking_stream_and_the_peer_address() {
        for host in ["127.0.0.1:0", "[::1]:0"] {
            let listener = std::net::TcpListener::bind(host).unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut accepted, peer) = accept_non_blocking(&listener).unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            let mut byte = [0u8; 1];
            let nothing_yet = accepted.read(&mut byte).unwrap_err();
            assert_eq!(nothing_yet.kind(), std::io::ErrorKind::WouldBlock);
        }
    }

    /// Every idle connection keeps its task. Tokio allocates a task as one cell aligned to
    /// 128 bytes (on x86-64), with 104 bytes of its own beside the future, which the task
    /// tracker wraps in 8 more: a socket task of at most 400 bytes takes a 512-byte cell, one
    /// of 401 a 640-byte cell.
    #[test]
    fn an_inbound_socket_task_fits_a_512_byte_task_cell() {
        let size = std::mem::size_of::<SocketTask<Slot>>();
        assert!(
            size <= 400,
            "{size} bytes: every connection's task would take 640 bytes, not 512"
        );
    }
}
