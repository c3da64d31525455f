//! The listener: handshakes, attributes, triggers, refusals, limits, liveness — with
//! tokio-tungstenite's own client and raw TCP as the peers.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, protocol::CloseFrame};
use wsconnector::{
    close_code, AuthDecision, AuthRequest, Config, Connector, Event, InboundPath, Message,
    SocketType, Trigger,
};

#[test]
fn inbound_connection_carries_every_attribute() {
    let (server, events) = start_server(|c| {
        let l = c.listener.as_mut().unwrap();
        l.base_path = "/api".into();
        l.paths
            .push(InboundPath::with_groups("/chat/*", ["lobby", "everyone"]));
        l.subprotocols = vec!["chat.v2".into(), "chat.v1".into()];
    });
    let rt = runtime();
    let url = format!(
        "{}?user=ann%20b&room=1&room=2",
        url(&server, "/api/chat/room1")
    );
    let client = rt.block_on(connect_with(
        &url,
        &[
            ("X-Token", "secret"),
            ("Sec-WebSocket-Protocol", "chat.v1, chat.v2"),
        ],
    ));
    let client = client.unwrap();
    let socket = events.expect(Trigger::InboundConnection).socket().clone();
    assert_eq!(socket.socket_type(), SocketType::Inbound);
    assert_eq!(socket.path(), "/api/chat/room1");
    assert_eq!(
        socket.uri(),
        format!(
            "ws://{}/api/chat/room1?user=ann%20b&room=1&room=2",
            server.local_addr().unwrap()
        )
    );
    assert_eq!(socket.scheme(), "ws");
    assert_eq!(socket.header("x-token"), Some("secret"));
    assert_eq!(socket.query_param("user"), Some("ann b"));
    let rooms: Vec<_> = socket
        .query()
        .iter()
        .filter(|(k, _)| k == "room")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(rooms, ["1", "2"]);
    assert_eq!(
        socket.subprotocol(),
        Some("chat.v2"),
        "the server's preference wins"
    );
    assert_eq!(socket.groups(), ["everyone", "lobby"]);
    assert_eq!(
        socket.remote_addr(),
        client.get_ref().get_ref_tcp().local_addr().unwrap()
    );
    assert_eq!(socket.local_addr(), server.local_addr().unwrap());
    assert!(socket.is_open());
    assert_eq!(server.socket(socket.id().as_str()).unwrap(), socket);
}

trait TcpOf {
    fn get_ref_tcp(&self) -> &tokio::net::TcpStream;
}

impl TcpOf for tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream> {
    fn get_ref_tcp(&self) -> &tokio::net::TcpStream {
        match self {
            tokio_tungstenite::MaybeTlsStream::Plain(s) => s,
            _ => unreachable!(),
        }
    }
}

#[test]
fn messages_flow_both_ways_in_order_text_and_binary_apart() {
    let (server, events) = start_server(|_| {});
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/")));
    let id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();
    rt.block_on(async {
        for i in 0..100 {
            send_text(&mut client, &format!("m{i}")).await;
        }
        client
            .send(tungstenite::Message::binary(vec![0u8, 1, 2, 255]))
            .await
            .unwrap();
    });
    for i in 0..100 {
        assert_eq!(events.text(Trigger::InboundMessage), format!("m{i}"));
    }
    let binary = events.expect(Trigger::InboundMessage);
    let message = binary.message().unwrap();
    assert!(!message.is_text());
    assert_eq!(message.as_bytes(), [0, 1, 2, 255]);

    for i in 0..100 {
        server.send(id.as_str(), format!("s{i}")).unwrap();
    }
    server
        .send(id.as_str(), Message::binary(vec![7u8; 3]))
        .unwrap();
    rt.block_on(async {
        for i in 0..100 {
            assert_eq!(recv_text(&mut client).await, format!("s{i}"));
        }
        match client.next().await.unwrap().unwrap() {
            tungstenite::Message::Binary(b) => assert_eq!(&b[..], [7, 7, 7]),
            other => panic!("expected binary, got {other:?}"),
        }
    });
}

#[test]
fn closes_report_code_and_reason_whoever_closes() {
    let (server, events) = start_server(|_| {});
    let rt = runtime();

    // The client closes.
    let mut client = rt.block_on(connect(&url(&server, "/a")));
    let socket = events.expect(Trigger::InboundConnection).socket().clone();
    rt.block_on(client.close(Some(CloseFrame {
        code: 4001u16.into(),
        reason: "bye now".into(),
    })))
    .unwrap();
    let (closed, code, reason) = events.closed();
    assert_eq!(closed, socket);
    assert_eq!((code, reason.as_str()), (4001, "bye now"));
    assert!(!socket.is_open());
    assert_eq!(
        server.socket(socket.id().as_str()).unwrap_err().kind(),
        wsconnector::ErrorKind::NoSuchSocket
    );

    // The server closes.
    let mut client = rt.block_on(connect(&url(&server, "/b")));
    let id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();
    server.send(id.as_str(), "last words").unwrap();
    server.close(id.as_str(), 4002, "kicked").unwrap();
    rt.block_on(async {
        assert_eq!(
            recv_text(&mut client).await,
            "last words",
            "queued messages leave before the close"
        );
        assert_eq!(recv_close(&mut client).await, (4002, "kicked".to_owned()));
    });
    let (_, code, reason) = events.closed();
    assert_eq!((code, reason.as_str()), (4002, "kicked"));

    // The client vanishes without a close frame.
    let client = rt.block_on(connect(&url(&server, "/c")));
    events.expect(Trigger::InboundConnection);
    drop(client);
    let (_, code, _) = events.closed();
    assert_eq!(code, close_code::ABNORMAL);
    assert_eq!(server.socket_count(), 0);
}

#[test]
fn bad_close_arguments_are_errors() {
    let (server, events) = start_server(|_| {});
    let rt = runtime();
    let _client = rt.block_on(connect(&url(&server, "/")));
    let id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2000, 5000] {
        let e = server.close(id.as_str(), code, "").unwrap_err();
        assert_eq!(
            e.kind(),
            wsconnector::ErrorKind::InvalidArgument,
            "code {code}"
        );
    }
    let e = server
        .close(id.as_str(), 1000, &"x".repeat(124))
        .unwrap_err();
    assert_eq!(e.kind(), wsconnector::ErrorKind::InvalidArgument);
    assert!(
        server.socket(id.as_str()).unwrap().is_open(),
        "nothing was closed by the bad calls"
    );
}

#[test]
fn unknown_paths_plain_http_and_malformed_requests_are_refused() {
    let (server, events) = start_server(|c| {
        let l = c.listener.as_mut().unwrap();
        l.base_path = "/ws".into();
        l.paths.push(InboundPath::new("/feed"));
        l.paths.push(InboundPath::new("/rooms/*"));
    });
    let addr = server.local_addr().unwrap();
    assert_eq!(raw_http(addr, &upgrade_request("/ws/other", "")).0, 404);
    assert_eq!(
        raw_http(addr, &upgrade_request("/feed", "")).0,
        404,
        "outside the base path"
    );
    assert_eq!(raw_http(addr, &upgrade_request("/ws/feed/x", "")).0, 404);
    assert_eq!(raw_http(addr, &upgrade_request("/ws/feed", "")).0, 101);
    assert_eq!(raw_http(addr, &upgrade_request("/ws/rooms/a/b", "")).0, 101);
    let (status, head) = raw_http(addr, b"GET /ws/feed HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 426);
    assert!(
        head.to_ascii_lowercase().contains("upgrade: websocket"),
        "{head}"
    );
    let connection: Vec<&str> = head
        .lines()
        .filter(|line| line.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    assert_eq!(
        connection,
        ["Connection: Upgrade, close"],
        "one Connection header: {head}"
    );
    assert_eq!(raw_http(addr, b"NOT HTTP AT ALL\r\n\r\n").0, 400);
    let no_key = b"GET /ws/feed HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
    assert_eq!(raw_http(addr, no_key).0, 400);
    let old_version = String::from_utf8(upgrade_request("/ws/feed", ""))
        .unwrap()
        .replace("Version: 13", "Version: 8");
    let (status, head) = raw_http(addr, old_version.as_bytes());
    assert_eq!(status, 426);
    assert!(head.contains("Sec-WebSocket-Version: 13"));
    let huge = upgrade_request("/ws/feed", &format!("X-Big: {}\r\n", "a".repeat(20_000)));
    assert_eq!(raw_http(addr, &huge).0, 431);
    let post = String::from_utf8(upgrade_request("/ws/feed", ""))
        .unwrap()
        .replace("GET", "POST");
    assert_eq!(raw_http(addr, post.as_bytes()).0, 405);

    // Only the two 101s became sockets (each closed when its raw client hung up).
    let mut connected = Vec::new();
    let mut closed = Vec::new();
    for _ in 0..4 {
        match events.next() {
            Event::InboundConnection { socket } => connected.push(socket.path().to_owned()),
            Event::SocketClosed { socket, .. } => closed.push(socket.path().to_owned()),
            other => panic!("{other:?}"),
        }
    }
    connected.sort();
    closed.sort();
    assert_eq!(connected, ["/ws/feed", "/ws/rooms/a/b"]);
    assert_eq!(closed, connected);
    events.assert_none(Duration::from_millis(100));
}

#[test]
fn authorization_hook_refuses_with_its_status_and_accepts_with_groups() {
    let (server, events) = start_builder(
        Connector::builder(Config::with_listener("127.0.0.1", 0)).authorizer(
            |request: &AuthRequest| match request.header("authorization") {
                None => AuthDecision::reject(401, "log in first"),
                Some("Bearer banned") => AuthDecision::reject(403, "you are banned"),
                Some(_) => AuthDecision::accept_with_groups([format!(
                    "user:{}",
                    request.query_param("user").unwrap_or("?")
                )]),
            },
        ),
    );
    let rt = runtime();
    let url = url(&server, "/chat?user=ann");
    match rt.block_on(connect_with(&url, &[])) {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
            assert_eq!(response.body().as_deref(), Some(&b"log in first"[..]));
        }
        other => panic!("expected a 401, got {other:?}"),
    }
    match rt.block_on(connect_with(&url, &[("Authorization", "Bearer banned")])) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected a 403, got {other:?}"),
    }
    let _client = rt
        .block_on(connect_with(&url, &[("Authorization", "Bearer ok")]))
        .unwrap();
    let socket = events.expect(Trigger::InboundConnection).socket().clone();
    assert_eq!(socket.groups(), ["user:ann"]);
    assert_eq!(
        server.socket_count(),
        1,
        "refused clients never became sockets"
    );
}

#[test]
fn authorization_hook_that_panics_refuses_with_500_and_the_listener_carries_on() {
    let (server, events) = start_builder(
        Connector::builder(Config::with_listener("127.0.0.1", 0)).authorizer(
            |request: &AuthRequest| {
                if request.path == "/boom" {
                    panic!("hook failure");
                }
                AuthDecision::accept()
            },
        ),
    );
    let addr = server.local_addr().unwrap();
    assert_eq!(raw_http(addr, &upgrade_request("/boom", "")).0, 500);
    assert_eq!(raw_http(addr, &upgrade_request("/fine", "")).0, 101);
    assert_eq!(
        events.expect(Trigger::InboundConnection).socket().path(),
        "/fine"
    );
    events.closed();
    events.assert_none(Duration::from_millis(100));
}

#[test]
fn connections_past_the_limit_get_503() {
    let (server, events) =
        start_server(|c| c.listener.as_mut().unwrap().max_inbound_connections = 2);
    let rt = runtime();
    let a = rt.block_on(connect(&url(&server, "/")));
    let _b = rt.block_on(connect(&url(&server, "/")));
    events.expect(Trigger::InboundConnection);
    events.expect(Trigger::InboundConnection);
    assert_eq!(
        raw_http(server.local_addr().unwrap(), &upgrade_request("/", "")).0,
        503
    );
    // A socket's place is free once its closed event is out: a client that reconnects on it
    // is never refused.
    let mut previous = a;
    for _ in 0..20 {
        drop(previous);
        events.closed();
        previous = rt.block_on(connect(&url(&server, "/")));
        events.expect(Trigger::InboundConnection);
    }
}

#[test]
fn oversized_messages_close_with_1009_and_others_carry_on() {
    let (server, events) = start_server(|c| c.socket.max_message_size = 1024);
    let rt = runtime();
    let mut big = rt.block_on(connect(&url(&server, "/big")));
    events.expect(Trigger::InboundConnection);
    let mut small = rt.block_on(connect(&url(&server, "/small")));
    let small_id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();
    rt.block_on(async {
        send_text(&mut big, &"x".repeat(1024)).await;
        send_text(&mut big, &"x".repeat(1025)).await;
    });
    assert_eq!(
        events.text(Trigger::InboundMessage).len(),
        1024,
        "a message at the limit passes"
    );
    let (socket, code, _) = events.closed();
    assert_eq!((socket.path(), code), ("/big", close_code::MESSAGE_TOO_BIG));
    rt.block_on(async {
        assert_eq!(recv_close(&mut big).await.0, close_code::MESSAGE_TOO_BIG);
        send_text(&mut small, "still here").await;
    });
    assert_eq!(events.text(Trigger::InboundMessage), "still here");
    server.send(small_id.as_str(), "and you").unwrap();
    assert_eq!(rt.block_on(recv_text(&mut small)), "and you");
}

#[test]
fn idle_sockets_are_closed_with_1001() {
    let (server, events) = start_server(|c| {
        c.listener.as_mut().unwrap().idle_timeout = Some(Duration::from_millis(300));
        c.socket.ping_interval = None;
    });
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/")));
    events.expect(Trigger::InboundConnection);
    let started = std::time::Instant::now();
    rt.block_on(send_text(&mut client, "activity"));
    events.expect(Trigger::InboundMessage);
    let (code, reason) = rt.block_on(recv_close(&mut client));
    assert_eq!(
        (code, reason.as_str()),
        (close_code::GOING_AWAY, "idle timeout")
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    let (_, code, reason) = events.closed();
    assert_eq!(
        (code, reason.as_str()),
        (close_code::GOING_AWAY, "idle timeout")
    );
}

#[test]
fn a_peer_that_never_answers_pings_is_dropped_and_one_that_does_is_kept() {
    let (server, events) = start_server(|c| {
        c.socket.ping_interval = Some(Duration::from_millis(100));
        c.socket.pong_timeout = Duration::from_millis(200);
    });
    let rt = runtime();
    // A responsive client: tungstenite answers pings while it reads.
    let mut alive = rt.block_on(connect(&url(&server, "/alive")));
    events.expect(Trigger::InboundConnection);
    let reader = rt.spawn(async move {
        while let Some(Ok(frame)) = alive.next().await {
            if frame.is_close() {
                break;
            }
        }
    });
    // A dead one: it completes the handshake over raw TCP and then never reads or answers.
    let mut dead = std::net::TcpStream::connect(server.local_addr().unwrap()).unwrap();
    std::io::Write::write_all(&mut dead, &upgrade_request("/dead", "")).unwrap();
    events.expect(Trigger::InboundConnection);
    let (socket, code, reason) = events.closed();
    assert_eq!(socket.path(), "/dead");
    assert_eq!(code, close_code::ABNORMAL);
    assert!(reason.contains("pong"), "{reason}");
    // Several ping rounds later the responsive one is still open.
    events.assert_none(Duration::from_millis(500));
    assert_eq!(server.socket_count(), 1);
    drop(server);
    rt.block_on(reader).unwrap();
}

#[test]
fn handshake_that_never_completes_is_cut_at_the_timeout() {
    let (server, _events) = start_server(|c| {
        c.listener.as_mut().unwrap().handshake_timeout = Duration::from_millis(200)
    });
    let mut tcp = std::net::TcpStream::connect(server.local_addr().unwrap()).unwrap();
    std::io::Write::write_all(&mut tcp, b"GET / HTTP/1.1\r\n").unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 16];
    let n = std::io::Read::read(&mut tcp, &mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server closed the connection without answering");
}

#[test]
fn socket_ids_are_unique_uuids() {
    let (server, events) = start_server(|_| {});
    let rt = runtime();
    let mut ids = std::collections::HashSet::new();
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(rt.block_on(connect(&url(&server, "/"))));
        let id = events
            .expect(Trigger::InboundConnection)
            .socket()
            .id()
            .clone();
        assert_eq!(id.as_str().len(), 36);
        assert!(ids.insert(id));
    }
    assert_eq!(server.socket_count(), 20);
}

#[test]
fn events_carry_the_message_type() {
    let (server, events) = start_server(|_| {});
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/")));
    events.expect(Trigger::InboundConnection);
    rt.block_on(send_text(&mut client, "héllo ✓"));
    match events.next() {
        Event::InboundMessage { message, .. } => {
            assert_eq!(message.kind(), wsconnector::MessageKind::Text);
            assert_eq!(message.as_text(), Some("héllo ✓"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_socket_handle_sends_without_a_lookup_and_fails_once_closed() {
    let (server, events) = start_server(|_| {});
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/")));
    let socket = events.expect(Trigger::InboundConnection).socket().clone();
    socket.send("direct").unwrap();
    server.send(socket.id().as_str(), "by id").unwrap();
    assert_eq!(rt.block_on(recv_text(&mut client)), "direct");
    assert_eq!(rt.block_on(recv_text(&mut client)), "by id");
    drop(client);
    events.closed();
    assert_eq!(
        socket.send("late").unwrap_err().kind(),
        wsconnector::ErrorKind::NoSuchSocket
    );
}

/// A burst of connections arriving while the listener cannot accept (its one I/O thread held
/// by an inline handler) waits in the kernel's listen queue, as many as the listener's backlog
/// (1,024): every one completes its TCP handshake at once. With the standard library's backlog
/// of 128, the kernel dropped the SYNs past it, and those clients waited a second or more for
/// their retry.
#[test]
fn a_burst_of_connections_waits_in_the_listen_queue() {
    const BURST: usize = 600;
    let (held_tx, held) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let handler_side = std::sync::Mutex::new((held_tx, released));
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.worker_threads = Some(1);
    let server = Connector::builder(config)
        .on_event_inline(move |_: &wsconnector::ConnectorHandle, event: Event| {
            if event.trigger() == Trigger::InboundConnection {
                let side = handler_side.lock().unwrap();
                let _ = side.0.send(());
                let _ = side.1.recv_timeout(WAIT);
            }
        })
        .start()
        .unwrap();
    let addr = server.local_addr().unwrap();
    let rt = runtime();
    let _first = rt.block_on(connect(&url(&server, "/first")));
    held.recv_timeout(WAIT).expect("the I/O thread is held");
    // Below the first SYN retry (1 s): a dropped SYN cannot complete in time.
    let within = Duration::from_millis(900);
    let opened = rt.block_on(async {
        let attempts =
            (0..BURST).map(|_| tokio::time::timeout(within, tokio::net::TcpStream::connect(addr)));
        futures_util::future::join_all(attempts).await
    });
    release.send(()).unwrap();
    let complete = opened.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
    assert_eq!(
        complete, BURST,
        "connections through the TCP handshake within {within:?}"
    );
}
