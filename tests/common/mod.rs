//! Helpers shared by the integration tests: a connector whose events land in a channel, an
//! independent WebSocket client (tokio-tungstenite's own), raw TCP for malformed handshakes,
//! and certificates made at test time.
#![allow(dead_code)]

pub mod backplane;

use futures_util::{SinkExt, StreamExt};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use wsconnector::{Config, Connector, ConnectorBuilder, ConnectorHandle, Event, Trigger};

/// Upper bound for anything a test waits for; tests never sleep to let things settle.
pub const WAIT: Duration = Duration::from_secs(10);

/// Waits (polling, within [`WAIT`]) until `done` holds of `server`'s metrics snapshot; fails
/// the test, naming `what` and showing the last snapshot, otherwise.
pub fn wait_for_metrics(
    server: &Connector,
    what: &str,
    done: impl Fn(&wsconnector::MetricsSnapshot) -> bool,
) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let metrics = server.metrics();
        if done(&metrics) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within {WAIT:?}: {metrics:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Events received by a test connector, in order.
pub struct Events(pub mpsc::Receiver<Event>);

impl Events {
    /// The next event, failing the test after [`WAIT`].
    pub fn next(&self) -> Event {
        self.0
            .recv_timeout(WAIT)
            .expect("an event within the wait limit")
    }

    /// The next event, which must be of `trigger`.
    pub fn expect(&self, trigger: Trigger) -> Event {
        let event = self.next();
        assert_eq!(event.trigger(), trigger, "unexpected event {event:?}");
        event
    }

    /// The next message event's text.
    pub fn text(&self, trigger: Trigger) -> String {
        let event = self.expect(trigger);
        event
            .message()
            .unwrap()
            .as_text()
            .expect("a text message")
            .to_owned()
    }

    /// The next message event's payload, text or binary.
    pub fn bytes(&self, trigger: Trigger) -> Vec<u8> {
        let event = self.expect(trigger);
        event.message().unwrap().as_bytes().to_vec()
    }

    /// The next closed event's code and reason.
    pub fn closed(&self) -> (wsconnector::Socket, u16, String) {
        match self.expect(Trigger::SocketClosed) {
            Event::SocketClosed {
                socket,
                code,
                reason,
            } => (socket, code, reason),
            _ => unreachable!(),
        }
    }

    /// Fails if any event arrives within `within`.
    pub fn assert_none(&self, within: Duration) {
        if let Ok(event) = self.0.recv_timeout(within) {
            panic!("unexpected event {event:?}");
        }
    }
}

/// A handler that forwards every event to the returned channel.
pub fn forwarding() -> (
    impl Fn(&ConnectorHandle, Event) + Send + Sync + 'static,
    Events,
) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let handler = move |_: &ConnectorHandle, event: Event| {
        let _ = tx.lock().unwrap().send(event);
    };
    (handler, Events(rx))
}

/// Starts `builder` with a handler that forwards every event to the returned channel.
pub fn start_builder(builder: ConnectorBuilder) -> (Connector, Events) {
    let (handler, events) = forwarding();
    let connector = builder.on_event(handler).start().expect("connector starts");
    (connector, events)
}

/// A listener on 127.0.0.1 with an OS-chosen port, configured by `configure`. One dispatcher
/// thread unless `configure` says otherwise: the tests read the events of all sockets from one
/// channel, in the order they happened (several threads keep that order per socket only).
pub fn start_server(configure: impl FnOnce(&mut Config)) -> (Connector, Events) {
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.dispatcher_threads = Some(1);
    configure(&mut config);
    start_builder(Connector::builder(config))
}

/// The `ws://` URL of `path` on the connector's listener.
pub fn url(connector: &Connector, path: &str) -> String {
    format!("ws://{}{}", connector.local_addr().unwrap(), path)
}

/// A tokio runtime for the test's own client side.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects an independent client (tokio-tungstenite) with extra headers.
pub async fn connect_with(
    url: &str,
    headers: &[(&str, &str)],
) -> Result<Client, tungstenite::Error> {
    let mut request = url.into_client_request()?;
    for (name, value) in headers {
        request.headers_mut().append(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("connect in time")?;
    Ok(ws)
}

/// Connects an independent client (tokio-tungstenite).
pub async fn connect(url: &str) -> Client {
    connect_with(url, &[]).await.expect("client connects")
}

/// The next data message a client receives, as text.
pub async fn recv_text(client: &mut Client) -> String {
    loop {
        let frame = tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a message in time");
        match frame.expect("stream open").expect("no error") {
            tungstenite::Message::Text(t) => return t.to_string(),
            tungstenite::Message::Binary(b) => {
                panic!("expected text, got {} binary bytes", b.len())
            }
            tungstenite::Message::Close(c) => panic!("expected text, got close {c:?}"),
            _ => continue,
        }
    }
}

/// Reads until the server's close frame and returns its code and reason, then keeps reading
/// until the stream ends, as a client does, so that its close reply goes out.
pub async fn recv_close(client: &mut Client) -> (u16, String) {
    let closed = loop {
        let frame = tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a close in time");
        match frame {
            Some(Ok(tungstenite::Message::Close(Some(c)))) => {
                break (c.code.into(), c.reason.to_string())
            }
            Some(Ok(tungstenite::Message::Close(None))) => break (1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("error before close: {e}"),
            None => panic!("stream ended without a close frame"),
        }
    };
    while let Ok(Some(_)) = tokio::time::timeout(WAIT, client.next()).await {}
    closed
}

/// Sends text from a client.
pub async fn send_text(client: &mut Client, text: &str) {
    client
        .send(tungstenite::Message::text(text))
        .await
        .expect("client send");
}

/// Sends a raw HTTP request over plain TCP and returns the status line's code and the
/// response head; the connection is closed on return.
pub fn raw_http(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(request).unwrap();
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        match tcp.read(&mut byte) {
            Ok(1) => response.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    (status, text)
}

/// A valid upgrade request for `path`, plus `extra` header lines.
pub fn upgrade_request(path: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// A self-signed certificate authority and a server certificate for `names` (subject
/// `CN=wsconnector test server`), as PEM.
pub struct TestPki {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    ca_cert: rcgen::Certificate,
    ca_issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestPki {
    pub fn new(names: &[&str]) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "wsconnector test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca_issuer = rcgen::Issuer::new(ca_params, ca_key);
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "wsconnector test server");
        let cert = params.signed_by(&key, &ca_issuer).unwrap();
        TestPki {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            ca_cert,
            ca_issuer,
        }
    }

    /// A client certificate with the common name `cn` and the organization "Test Org", signed
    /// by this CA: (cert PEM, key PEM).
    pub fn client_cert(&self, cn: &str) -> (String, String) {
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(rcgen::DnType::CommonName, cn);
        subject.push(rcgen::DnType::OrganizationName, "Test Org");
        self.client_cert_with(subject)
    }

    /// A client certificate with the subject `subject`, signed by this CA: (cert PEM, key PEM).
    pub fn client_cert_with(&self, subject: rcgen::DistinguishedName) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = subject;
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.ca_issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A frame as a client sends it (masked), for raw-TCP peers.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A raw-TCP WebSocket client: the upgrade request and `frames` go out in one write; returns
/// the stream positioned after the server's 101 response head.
pub fn raw_ws(addr: SocketAddr, path: &str, frames: &[Vec<u8>]) -> std::net::TcpStream {
    raw_ws_with(addr, path, "", frames)
}

/// [`raw_ws`] with `extra` header lines in the upgrade request.
pub fn raw_ws_with(
    addr: SocketAddr,
    path: &str,
    extra: &str,
    frames: &[Vec<u8>],
) -> std::net::TcpStream {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut bytes = upgrade_request(path, extra);
    for frame in frames {
        bytes.extend_from_slice(frame);
    }
    tcp.write_all(&bytes).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("a response head");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// Reads one unmasked server frame from a raw client: (opcode, payload).
pub fn read_server_frame(tcp: &mut std::net::TcpStream) -> (u8, Vec<u8>) {
    let (first, payload) = read_server_frame_whole(tcp);
    (first & 0x0f, payload)
}

/// Reads one unmasked server frame from a raw client: (its first byte: FIN, RSV bits and
/// opcode; payload).
pub fn read_server_frame_whole(tcp: &mut std::net::TcpStream) -> (u8, Vec<u8>) {
    let (first, masked, payload) = read_frame(tcp);
    assert!(!masked, "a server frame must not be masked");
    (first, payload)
}

/// Reads one masked client frame from a raw server: (opcode, unmasked payload).
pub fn read_client_frame(tcp: &mut std::net::TcpStream) -> (u8, Vec<u8>) {
    let (first, masked, payload) = read_frame(tcp);
    assert!(masked, "a client frame must be masked");
    (first & 0x0f, payload)
}

/// Reads one frame from raw TCP: (its first byte, whether it was masked, unmasked payload).
fn read_frame(tcp: &mut std::net::TcpStream) -> (u8, bool, Vec<u8>) {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).expect("a frame header");
    let len = match head[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            tcp.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            tcp.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let masked = head[1] & 0x80 != 0;
    let mut mask = [0u8; 4];
    if masked {
        tcp.read_exact(&mut mask).unwrap();
    }
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).unwrap();
    payload
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b ^= mask[i % 4]);
    (head[0], masked, payload)
}

pub const TEXT: u8 = 1;
pub const BINARY: u8 = 2;
pub const CLOSE: u8 = 8;
pub const PING: u8 = 9;
pub const PONG: u8 = 10;

/// The server end of a raw-TCP WebSocket: accepts one connection on `listener`, reads its
/// upgrade request and answers 101; returns the stream, positioned after the request.
pub fn raw_ws_accept(listener: &std::net::TcpListener) -> std::net::TcpStream {
    raw_ws_accept_with(listener, "").0
}

/// [`raw_ws_accept`] with `extra` header lines in the 101; returns the request head too.
pub fn raw_ws_accept_with(
    listener: &std::net::TcpListener,
    extra: &str,
) -> (std::net::TcpStream, String) {
    let (mut tcp, _) = listener.accept().unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("an upgrade request");
        request.push(byte[0]);
    }
    let request = String::from_utf8(request).unwrap();
    let key = request
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("sec-websocket-key:"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, key)| key.trim())
        .expect("a Sec-WebSocket-Key header");
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extra}\r\n");
    tcp.write_all(response.as_bytes()).unwrap();
    (tcp, request)
}

/// Bytes waiting in `tcp`'s receive buffer (FIONREAD).
pub fn bytes_waiting(tcp: &std::net::TcpStream) -> usize {
    use std::os::fd::AsRawFd;
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, on a socket we own.
    let rc = unsafe { libc::ioctl(tcp.as_raw_fd(), libc::FIONREAD, &mut waiting) };
    assert_eq!(rc, 0, "FIONREAD");
    waiting as usize
}

/// Waits, without reading, until the peer has filled `tcp`'s receive buffer and its own send
/// buffer: bytes have arrived and no more arrive for a while (the peer's writes are blocked).
pub fn wait_until_peer_blocked(tcp: &std::net::TcpStream) {
    let start = std::time::Instant::now();
    let (mut last, mut since) = (0, std::time::Instant::now());
    while start.elapsed() < WAIT {
        let now = bytes_waiting(tcp);
        if now != last {
            (last, since) = (now, std::time::Instant::now());
        } else if now > 0 && since.elapsed() >= Duration::from_millis(300) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the peer never blocked: {last} bytes waiting");
}
