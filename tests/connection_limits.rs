//! Connections past the listener's limits are refused at accept, before anything is read:
//! plain listeners answer at once (503 past `max_inbound_connections`, 429 past
//! `max_connections_per_ip`), TLS listeners reset the connection without a TLS handshake.
//! Raw TCP, tokio-rustls and tokio-tungstenite are the peers.

mod common;

use common::*;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use wsconnector::{Pem, ServerTls, Trigger};

/// A connection that sends nothing: it holds a slot (a handshake under way) until dropped.
fn silent(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp
}

/// Everything the server sends until it closes (an error, such as a reset, ends it too).
fn read_all(tcp: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        match tcp.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("no answer within the wait limit")
            }
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Connects to `addr` from `source` (another loopback address is another client).
fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let socket = socket_from(source);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tcp = rt
        .block_on(socket.connect(addr))
        .unwrap()
        .into_std()
        .unwrap();
    tcp.set_nonblocking(false).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp
}

fn socket_from(source: &str) -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket
}

/// Whether `retry` succeeds within the wait limit. A slot is given back just after the socket
/// (or handshake) that held it ends, with no event to wait for, so a retry may come first.
fn eventually(mut retry: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if retry() {
            return true;
        }
    }
    false
}

#[test]
fn a_plain_connection_past_the_limit_gets_503_before_it_sends_anything() {
    let (server, events) = start_server(|c| {
        let l = c.listener.as_mut().unwrap();
        l.max_inbound_connections = 1;
        l.handshake_timeout = Duration::from_secs(60);
    });
    let addr = server.local_addr().unwrap();
    let holder = silent(addr);
    let mut refused = silent(addr);
    let answer = read_all(&mut refused);
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer:?}"
    );
    assert!(
        answer.ends_with("\r\n\r\ntoo many connections"),
        "{answer:?}"
    );

    // The slot comes back when the holder goes; a retry is then upgraded.
    drop(holder);
    assert!(
        eventually(|| raw_http(addr, &upgrade_request("/", "")).0 == 101),
        "a connection once the slot is free"
    );
    events.expect(Trigger::InboundConnection);
}

#[test]
fn a_tls_connection_past_the_limit_is_reset_without_a_tls_handshake() {
    let pki = TestPki::new(&["localhost"]);
    let (server, _events) = start_server(|c| {
        let l = c.listener.as_mut().unwrap();
        l.max_inbound_connections = 1;
        l.handshake_timeout = Duration::from_secs(60);
        l.tls = Some(ServerTls::new(
            Pem::Inline(pki.cert_pem.clone()),
            Pem::Inline(pki.key_pem.clone()),
        ));
    });
    let addr = server.local_addr().unwrap();
    let _holder = silent(addr);

    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let rt = runtime();
    let result = rt.block_on(async {
        // The reset can come before connect() has seen its own success: then connect fails.
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let handshake = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect("localhost".try_into().unwrap(), tcp);
        tokio::time::timeout(WAIT, handshake)
            .await
            .expect("an end to the handshake within the wait limit")
    });
    let error = result.expect_err("no TLS handshake for a connection past the limit");
    use std::io::ErrorKind::*;
    assert!(
        matches!(
            error.kind(),
            ConnectionReset | UnexpectedEof | BrokenPipe | ConnectionAborted
        ),
        "{error:?}"
    );
}

#[test]
fn connections_past_the_per_address_limit_get_429_and_other_addresses_go_on() {
    let (server, events) = start_server(|c| {
        let l = c.listener.as_mut().unwrap();
        l.max_connections_per_ip = Some(2);
        l.handshake_timeout = Duration::from_secs(60);
    });
    let addr = server.local_addr().unwrap();
    let rt = runtime();
    let first = rt.block_on(connect(&url(&server, "/")));
    let _second = silent(addr); // a handshake under way counts too
    events.expect(Trigger::InboundConnection);

    let mut third = silent(addr);
    let answer = read_all(&mut third);
    assert!(
        answer.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{answer:?}"
    );

    // Another client address has its own count.
    let mut other = connect_from("127.0.0.2", addr);
    std::io::Write::write_all(&mut other, &upgrade_request("/", "")).unwrap();
    let mut head = [0u8; 12];
    other.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    events.expect(Trigger::InboundConnection);

    // A socket that closes gives its address a slot back.
    drop(first);
    events.closed();
    assert!(
        eventually(|| raw_http(addr, &upgrade_request("/", "")).0 == 101),
        "a connection once the address is under its limit"
    );
}

#[test]
fn a_per_address_limit_of_zero_is_refused_at_start() {
    let mut config = wsconnector::Config::with_listener("127.0.0.1", 0);
    config.listener.as_mut().unwrap().max_connections_per_ip = Some(0);
    let e = config.validate().unwrap_err();
    assert!(e.message().contains("max_connections_per_ip"), "{e}");
}

/// The size of this process's descriptor table (`FDSize` in /proc/self/status).
#[cfg(target_os = "linux")]
fn descriptor_table_size() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
    line["FDSize:".len()..].trim().parse().unwrap()
}

/// A listener grows the process's descriptor table for its connections when it starts, so
/// that no accept has to: in a multi-threaded process every growth waits for an RCU grace
/// period (milliseconds) inside the accept that needs it, which halved the handshake rate.
#[cfg(target_os = "linux")]
#[test]
fn the_descriptor_table_is_grown_for_the_connection_limit_at_start() {
    let connections = 3_000;
    // Room under the open-file limit: raising the soft limit up to the hard one needs no
    // privilege.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointers to an rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_cur.max(limit.rlim_max.min(8_192));
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    let expected = (connections + 256).min(limit.rlim_cur as usize);
    let (_server, _events) = start_server(|c| {
        c.listener.as_mut().unwrap().max_inbound_connections = connections;
    });
    let size = descriptor_table_size();
    assert!(
        size >= expected,
        "a table of {size} descriptors, not grown for {expected}"
    );
}
