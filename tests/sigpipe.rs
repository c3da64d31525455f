//! Writing to a connection the peer reset must not raise SIGPIPE: C and Python hosts do not
//! ignore it, and it would kill them. This test binary restores the default disposition (Rust
//! programs ignore SIGPIPE), so a SIGPIPE fails it by killing it.

mod common;

use common::*;
use std::net::TcpStream;
use wsconnector::{Config, Connector, Message, OutboundOptions, Pem, ServerTls, Trigger};

fn default_sigpipe() {
    // SAFETY: setting a signal disposition has no memory-safety preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// Closes a raw client with a reset (SO_LINGER 0): later writes to it fail with EPIPE.
fn reset(tcp: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized linger option.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&tcp),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as u32,
        );
    }
    drop(tcp);
}

/// Sends large messages (written in place, with vectored writes) to a socket whose peer is
/// gone, until the connector notices; the process must still be alive.
fn write_to_a_reset_peer(server: &Connector, events: &Events, id: &str) {
    let big = Message::binary(vec![7u8; 64 * 1024]);
    while server.send(id, big.clone()).is_ok() {
        if let Ok(wsconnector::Event::SocketClosed { .. }) = events.0.try_recv() {
            break;
        }
    }
}

#[test]
fn writes_to_reset_connections_do_not_raise_sigpipe() {
    default_sigpipe();
    // Plain.
    let (server, events) = start_server(|_| {});
    let tcp = raw_ws(server.local_addr().unwrap(), "/", &[]);
    let id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .to_string();
    reset(tcp);
    write_to_a_reset_peer(&server, &events, &id);

    // TLS: rustls writes with vectored writes too.
    let pki = TestPki::new(&["localhost"]);
    let (tls_server, tls_events) = start_server(|c| {
        c.listener.as_mut().unwrap().tls = Some(ServerTls::new(
            Pem::Inline(pki.cert_pem.clone()),
            Pem::Inline(pki.key_pem.clone()),
        ));
    });
    let mut client_config = Config::default();
    client_config.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone()));
    let (client, _client_events) = start_builder(Connector::builder(client_config));
    let url = format!(
        "wss://localhost:{}/",
        tls_server.local_addr().unwrap().port()
    );
    let out = client.open_outbound(&url, OutboundOptions::new()).unwrap();
    let id = tls_events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .to_string();
    // Stop the client abruptly from the server's point of view: kill its socket with a reset
    // by stopping its connector while the server floods it.
    drop(out);
    let flood = std::thread::spawn({
        let server = tls_server.handle();
        move || {
            let big = Message::binary(vec![9u8; 64 * 1024]);
            while server.send(&id, big.clone()).is_ok() {}
        }
    });
    client.stop().unwrap();
    flood.join().unwrap();
}
