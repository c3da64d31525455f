//! The handshake's rules against hostile or sloppy peers: Host and Sec-WebSocket-Key exactly
//! once and well formed, requests that arrive a byte at a time, paths decoded once with
//! dot-segments and encoded slashes refused, the origin policy; and on the client side, user
//! headers that cannot duplicate or override the handshake's own. Raw TCP and
//! tokio-tungstenite are the peers.

mod common;

use common::*;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use tokio_tungstenite::tungstenite;
use wsconnector::{
    AuthDecision, AuthRequest, Config, Connector, ErrorKind, InboundPath, OutboundOptions, Trigger,
};

/// An upgrade request for `path` with exactly the header lines given (no Host unless given).
fn request_with(path: &str, lines: &[&str]) -> Vec<u8> {
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    for line in lines {
        request.push_str(line);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.into_bytes()
}

const UPGRADE: [&str; 3] = [
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Version: 13",
];
/// Why a connector with `config` does not start.
fn start_error(config: Config) -> wsconnector::Error {
    match Connector::builder(config).start() {
        Ok(_) => panic!("the connector started"),
        Err(e) => e,
    }
}

const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";

#[test]
fn no_host_two_hosts_two_keys_and_keys_not_of_16_bytes_get_400() {
    let (server, _events) = start_server(|_| {});
    let addr = server.local_addr().unwrap();
    let with = |extra: &[&str]| {
        let mut lines = UPGRADE.to_vec();
        lines.extend_from_slice(extra);
        raw_http(addr, &request_with("/", &lines))
    };
    assert_eq!(with(&["Host: x", KEY]).0, 101, "the well-formed request");
    let (status, head) = with(&[KEY]);
    assert_eq!(status, 400, "no Host: {head}");
    assert_eq!(with(&["Host:", KEY]).0, 400, "an empty Host");
    assert_eq!(with(&["Host: x", "Host: y", KEY]).0, 400, "two Hosts");
    assert_eq!(
        with(&[
            "Host: x",
            KEY,
            "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="
        ])
        .0,
        400,
        "two keys"
    );
    assert_eq!(
        with(&["Host: x", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB=="]).0,
        400,
        "a key whose last character carries bits past the 16th byte"
    );
    assert_eq!(
        with(&[
            "Host: x",
            KEY,
            "Origin: https://a.example",
            "Origin: https://b.example"
        ])
        .0,
        400,
        "two Origins"
    );
}

#[test]
fn a_request_sent_one_byte_at_a_time_up_to_max_handshake_bytes_is_handled() {
    const MAX: usize = 64 * 1024;
    let (server, events) = start_server(|c| {
        let l = c.listener.as_mut().unwrap();
        l.max_handshake_bytes = MAX;
        l.handshake_timeout = WAIT;
    });
    let addr = server.local_addr().unwrap();
    // The request at exactly the limit: 50 filler headers and one that pads to the byte.
    let filler = format!("X-Filler: {}", "a".repeat(1200));
    let mut lines: Vec<&str> = vec!["Host: localhost", KEY];
    lines.extend(UPGRADE);
    lines.extend(std::iter::repeat_n(filler.as_str(), 50));
    let base = request_with("/slow", &lines).len();
    let pad = format!("X-Pad: {}", "p".repeat(MAX - base - "X-Pad: \r\n".len()));
    lines.push(&pad);
    let request = request_with("/slow", &lines);
    assert_eq!(request.len(), MAX);

    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    for byte in &request {
        tcp.write_all(std::slice::from_ref(byte)).unwrap();
    }
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("an answer");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    assert_eq!(
        events.expect(Trigger::InboundConnection).socket().path(),
        "/slow"
    );

    // One byte more is refused.
    let longer = format!("{pad}p");
    *lines.last_mut().unwrap() = &longer;
    assert_eq!(raw_http(addr, &request_with("/slow", &lines)).0, 431);
}

#[test]
fn paths_are_decoded_once_and_dot_segments_or_encoded_slashes_get_400() {
    let (server, events) = start_server(|c| {
        let l = c.listener.as_mut().unwrap();
        l.base_path = "/ws".into();
        l.paths.push(InboundPath::new("/chat/*"));
    });
    let addr = server.local_addr().unwrap();
    let status = |path: &str| raw_http(addr, &upgrade_request(path, "")).0;
    assert_eq!(status("/ws/ch%61t/room%201"), 101);
    assert_eq!(
        events.expect(Trigger::InboundConnection).socket().path(),
        "/ws/chat/room 1",
        "the path the pattern matched"
    );
    events.closed();
    for refused in [
        "/ws/chat/../admin",
        "/ws/chat/%2e%2e/admin",
        "/ws/chat/./x",
        "/ws/chat/a%2Fb",
        "/ws/chat/a%2fb",
        "/ws/chat/%zz",
        "/ws/chat/%00",
    ] {
        assert_eq!(status(refused), 400, "{refused}");
    }
    assert_eq!(status("/ws/chat%2Fx"), 400, "an encoded slash anywhere");
    assert_eq!(status("/ws/ch%2561t/x"), 404, "decoded once: %25 is a '%'");
    events.assert_none(std::time::Duration::from_millis(100));
}

/// A connector whose listener allows two origins, with a path of its own origins and a path
/// open to any, and a hook that counts its calls.
fn origin_server(require_origin: bool) -> (Connector, Events, Arc<AtomicUsize>) {
    let mut config = Config::with_listener("127.0.0.1", 0);
    let l = config.listener.as_mut().unwrap();
    l.allowed_origins = vec![
        "https://app.example.com".into(),
        "https://*.example.org".into(),
    ];
    l.require_origin = require_origin;
    l.paths = vec![
        InboundPath::new("/admin").allow_origins(["https://admin.example.com"]),
        InboundPath::new("/open").allow_origins(["*"]),
        InboundPath::new("/chat/*"),
    ];
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let (server, events) = start_builder(Connector::builder(config).authorizer(
        move |_: &AuthRequest| {
            counted.fetch_add(1, Ordering::SeqCst);
            AuthDecision::accept()
        },
    ));
    (server, events, calls)
}

#[test]
fn a_browser_origin_that_is_not_allowed_gets_403_before_the_hook_runs() {
    let (server, _events, calls) = origin_server(false);
    let addr = server.local_addr().unwrap();
    let status = |path: &str, origin: Option<&str>| {
        let extra = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
        raw_http(addr, &upgrade_request(path, &extra)).0
    };
    let cases = [
        ("/chat/a", Some("https://app.example.com"), 101),
        ("/chat/a", Some("https://APP.example.com:443"), 101),
        ("/chat/a", Some("https://x.y.example.org"), 101),
        ("/chat/a", None, 101),
        ("/chat/a", Some("https://evil.example"), 403),
        ("/chat/a", Some("http://app.example.com"), 403),
        ("/chat/a", Some("https://app.example.com:8443"), 403),
        ("/chat/a", Some("https://example.org"), 403),
        ("/chat/a", Some("null"), 403),
        ("/admin", Some("https://app.example.com"), 403),
        ("/admin", Some("https://admin.example.com"), 101),
        ("/open", Some("https://evil.example"), 101),
    ];
    let mut upgrades = 0;
    for (path, origin, expected) in cases {
        assert_eq!(status(path, origin), expected, "{path} from {origin:?}");
        upgrades += usize::from(expected == 101);
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        upgrades,
        "the hook ran only for allowed origins"
    );

    // An independent client sees the 403 with its reason.
    let rt = runtime();
    match rt.block_on(connect_with(
        &url(&server, "/chat/x"),
        &[("Origin", "https://evil.example")],
    )) {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
            assert_eq!(response.body().as_deref(), Some(&b"origin not allowed"[..]));
        }
        other => panic!("expected a 403, got {other:?}"),
    }
}

#[test]
fn require_origin_refuses_requests_without_one() {
    let (server, _events, calls) = origin_server(true);
    let addr = server.local_addr().unwrap();
    let (status, _) = raw_http(addr, &upgrade_request("/chat/a", ""));
    assert_eq!(status, 403);
    let allowed = "Origin: https://app.example.com\r\n";
    assert_eq!(raw_http(addr, &upgrade_request("/chat/a", allowed)).0, 101);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn bad_origin_settings_are_refused_at_start_naming_the_setting() {
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.listener.as_mut().unwrap().allowed_origins = vec!["https://app.example.com/".into()];
    let e = start_error(config);
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("allowed_origins"), "{e}");

    let mut config = Config::with_listener("127.0.0.1", 0);
    config.listener.as_mut().unwrap().paths =
        vec![InboundPath::new("/x").allow_origins(["https://a.*.com"])];
    let e = start_error(config);
    assert!(
        e.message().contains("allowed_origins of path \"/x\""),
        "{e}"
    );
}

/// A raw server that reads each handshake request, reports its head, answers 101 and keeps
/// the connection open.
fn capturing_server() -> (std::net::SocketAddr, mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut open = Vec::new();
        while let Ok((mut tcp, _)) = listener.accept() {
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                if tcp.read_exact(&mut byte).is_err() {
                    break;
                }
                request.push(byte[0]);
            }
            let request = String::from_utf8_lossy(&request).into_owned();
            let key = request
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("sec-websocket-key:"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, key)| key.trim().to_owned())
                .unwrap_or_default();
            let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
            let response = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
            let _ = tcp.write_all(response.as_bytes());
            open.push(tcp);
            if tx.send(request).is_err() {
                break;
            }
        }
    });
    (addr, rx)
}

/// The values of header `name` in a request head.
fn values(head: &str, name: &str) -> Vec<String> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

#[test]
fn an_outbound_host_header_replaces_the_default_and_never_doubles_it() {
    let (addr, requests) = capturing_server();
    // The raw server never answers a close: stopping waits for none.
    let quick_stop = || {
        let mut config = Config::default();
        config.stop_timeout = std::time::Duration::from_millis(50);
        config
    };
    let mut config = quick_stop();
    config.client.default_headers = vec![("HOST".into(), "default.example".into())];
    let (client, _events) = start_builder(Connector::builder(config));
    let url = format!("ws://{addr}/h");

    client.open_outbound(&url, OutboundOptions::new()).unwrap();
    let head = requests.recv_timeout(WAIT).unwrap();
    assert_eq!(values(&head, "host"), ["default.example"], "{head}");

    let id = client
        .open_outbound(&url, OutboundOptions::new().header("host", "call.example"))
        .unwrap();
    let head = requests.recv_timeout(WAIT).unwrap();
    assert_eq!(values(&head, "host"), ["call.example"], "{head}");
    assert_eq!(
        client.socket(id.as_str()).unwrap().header("host"),
        Some("call.example")
    );

    let (plain, _events) = start_builder(Connector::builder(quick_stop()));
    plain
        .open_outbound(&url, OutboundOptions::new().header("Host", "only.example"))
        .unwrap();
    let head = requests.recv_timeout(WAIT).unwrap();
    assert_eq!(values(&head, "host"), ["only.example"], "{head}");
    plain.open_outbound(&url, OutboundOptions::new()).unwrap();
    let head = requests.recv_timeout(WAIT).unwrap();
    assert_eq!(values(&head, "host"), [addr.to_string()], "{head}");

    let e = plain
        .open_outbound(
            &url,
            OutboundOptions::new()
                .header("Host", "a.example")
                .header("host", "b.example"),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

#[test]
fn the_handshakes_own_headers_cannot_be_set_by_the_caller() {
    let (addr, requests) = capturing_server();
    let (client, _events) = start_builder(Connector::builder(Config::default()));
    let url = format!("ws://{addr}/");
    for name in [
        "Upgrade",
        "connection",
        "Sec-WebSocket-Key",
        "sec-websocket-version",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol",
    ] {
        let e = client
            .open_outbound(&url, OutboundOptions::new().header(name, "x"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name}: {e}");
        assert!(e.message().contains(name), "{e}");
    }
    assert!(
        requests.try_recv().is_err(),
        "no request went out for a refused open"
    );

    let mut config = Config::default();
    config.client.default_headers = vec![("Connection".into(), "keep-alive".into())];
    let e = start_error(config);
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("default_headers"), "{e}");
}

/// A TLS client on a plain listener, and a plain client of a TLS-speaking peer, fail at once
/// with what went wrong, not at a timeout: the first line of a head is checked as it arrives.
#[test]
fn bytes_that_are_not_http_are_refused_at_once_not_at_the_timeout() {
    let (server, _events) = start_server(|c| {
        c.listener.as_mut().unwrap().handshake_timeout = std::time::Duration::from_secs(60);
    });
    let addr = server.local_addr().unwrap();
    // A TLS ClientHello's first bytes, then the client waits for an answer.
    let (status, _) = raw_http(addr, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
    assert_eq!(status, 400);

    let (client, _client_events) = start_server(|_| {});
    let options = OutboundOptions::new().connect_timeout(std::time::Duration::from_secs(60));
    let error = client
        .open_outbound(&format!("wss://{addr}/"), options)
        .expect_err("wss:// to a plain listener");
    assert_eq!(error.kind(), ErrorKind::Tls, "{error}");
}
