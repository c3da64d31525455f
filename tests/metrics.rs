//! The metrics snapshot: exact counts after scripted traffic (connections, refusals, messages,
//! drops, broadcasts, closes), gauges that follow the sockets, and counters that never go
//! backwards while sockets come and go.

mod common;

use common::*;
use futures_util::SinkExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
use tokio_tungstenite::tungstenite::Message as Frame;
use wsconnector::{
    AuthDecision, AuthRequest, Config, Connector, Delivery, Event, InboundPath, MetricsSnapshot,
    RefusalReason, SlowConsumerPolicy, SocketFilter, SocketType, Trigger,
};

fn refused(m: &MetricsSnapshot, reason: RefusalReason, status: Option<u16>) -> u64 {
    m.handshakes_refused
        .iter()
        .filter(|r| r.reason == reason && r.status == status)
        .map(|r| r.count)
        .sum()
}

/// A known script: 4 sockets on two paths, 6 refusals of 4 kinds, 12 messages in each
/// direction, one broadcast to 3, one close of each kind; every figure is checked exactly.
#[test]
fn counters_are_exact_after_scripted_traffic() {
    let mut config = Config::with_listener("127.0.0.1", 0);
    let listener = config.listener.as_mut().unwrap();
    listener.base_path = "/ws".into();
    listener.paths = vec![
        InboundPath::with_groups("/chat/*", ["room"]),
        InboundPath::new("/feed"),
    ];
    listener.allowed_origins = vec!["https://good.example".into()];
    config.socket.ping_interval = None;
    let builder = Connector::builder(config).authorizer(|request: &AuthRequest| {
        match request.header("x-deny") {
            Some(_) => AuthDecision::reject(401, "denied"),
            None => AuthDecision::accept(),
        }
    });
    // Echo every message on the socket it came from.
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = builder
        .on_event(move |_: &wsconnector::ConnectorHandle, event: Event| {
            if let Event::InboundMessage { socket, message } = &event {
                socket.send(message.clone()).unwrap();
            }
            let _ = tx.lock().unwrap().send(event);
        })
        .start()
        .unwrap();
    let events = Events(rx);
    let addr = server.local_addr().unwrap();

    // Refusals: 2 not found, 1 bad origin, 2 refused by the hook, 1 malformed.
    for path in ["/ws/nowhere", "/other"] {
        assert_eq!(raw_http(addr, &upgrade_request(path, "")).0, 404);
    }
    let bad_origin = upgrade_request("/ws/feed", "Origin: https://evil.example\r\n");
    assert_eq!(raw_http(addr, &bad_origin).0, 403);
    for _ in 0..2 {
        let denied = upgrade_request("/ws/feed", "X-Deny: 1\r\n");
        assert_eq!(raw_http(addr, &denied).0, 401);
    }
    assert_eq!(raw_http(addr, b"GET /ws/feed HTTP/1.1\r\n\r\n").0, 426);

    let rt = runtime();
    let mut chat: Vec<Client> = rt.block_on(async {
        let mut clients = Vec::new();
        for room in ["a", "b", "c"] {
            clients.push(connect(&url(&server, &format!("/ws/chat/{room}"))).await);
        }
        clients
    });
    let mut feed = rt.block_on(connect(&url(&server, "/ws/feed")));
    for _ in 0..4 {
        events.expect(Trigger::InboundConnection);
    }
    // Each chat client: two text messages of 5 bytes and one binary of 3; each is echoed.
    rt.block_on(async {
        for client in &mut chat {
            client.send(Frame::text("hello")).await.unwrap();
            client.send(Frame::text("world")).await.unwrap();
            client.send(Frame::binary(vec![1u8, 2, 3])).await.unwrap();
        }
        for client in &mut chat {
            for _ in 0..3 {
                tokio::time::timeout(WAIT, futures_util::StreamExt::next(client))
                    .await
                    .unwrap();
            }
        }
    });
    for _ in 0..9 {
        events.expect(Trigger::InboundMessage);
    }
    // One broadcast of 4 bytes to the room: the three chat sockets.
    let result = server
        .broadcast("news", &SocketFilter::all().with_groups(["room"]))
        .unwrap();
    assert_eq!(result.delivered, 3);
    rt.block_on(async {
        for client in &mut chat {
            assert_eq!(recv_text(client).await, "news");
        }
    });

    let m = server.metrics();
    assert_eq!(m.sockets_open.inbound, 4);
    assert_eq!(m.sockets_open.outbound, 0);
    assert_eq!(m.sockets_opened.inbound, 4);
    assert_eq!(m.paths.len(), 2);
    assert_eq!(m.paths[0].pattern, "/ws/chat/*");
    assert_eq!((m.paths[0].open, m.paths[0].opened), (3, 3));
    assert_eq!(m.paths[1].pattern, "/ws/feed");
    assert_eq!((m.paths[1].open, m.paths[1].opened), (1, 1));
    assert_eq!(refused(&m, RefusalReason::NotFound, Some(404)), 2);
    assert_eq!(refused(&m, RefusalReason::Origin, Some(403)), 1);
    assert_eq!(refused(&m, RefusalReason::Auth, Some(401)), 2);
    assert_eq!(refused(&m, RefusalReason::BadRequest, Some(426)), 1);
    assert_eq!(m.handshakes_refused.iter().map(|r| r.count).sum::<u64>(), 6);
    assert_eq!((m.messages_in.text, m.messages_in.binary), (6, 3));
    assert_eq!((m.bytes_in.text, m.bytes_in.binary), (30, 9));
    assert_eq!((m.messages_out.text, m.messages_out.binary), (9, 3));
    assert_eq!((m.bytes_out.text, m.bytes_out.binary), (42, 9));
    assert_eq!((m.broadcasts, m.broadcast_deliveries), (1, 3));
    assert_eq!(m.broadcast_fanout.count, 1);
    assert_eq!(m.send_queue_messages, 0);
    assert_eq!((m.pings_sent, m.pong_timeouts), (0, 0));
    assert!(!m.draining);

    // Closes: a client's 1000, a client's 4001 (an application code: "other"), ours 1008,
    // and a connection dropped without a close frame (1006).
    rt.block_on(async {
        let mut first = chat.remove(0);
        first.close(None).await.unwrap();
        let mut second = chat.remove(0);
        let frame = CloseFrame {
            code: CloseCode::from(4001),
            reason: "bye".into(),
        };
        second.close(Some(frame)).await.unwrap();
    });
    let closed = [events.closed().1, events.closed().1];
    assert!(
        closed.contains(&1005) && closed.contains(&4001),
        "{closed:?}"
    );
    let feed_socket = server
        .sockets(&SocketFilter::all().with_path("/ws/feed").unwrap())
        .unwrap();
    server
        .close(feed_socket[0].id().as_str(), 1008, "policy")
        .unwrap();
    rt.block_on(async { recv_close(&mut feed).await });
    assert_eq!(events.closed().1, 1008);
    drop(chat);
    assert_eq!(events.closed().1, 1006);
    server.stop().unwrap();

    let m = server.metrics();
    assert_eq!(m.sockets_open.inbound, 0);
    assert_eq!(m.paths[0].open, 0);
    assert_eq!(m.closed_with(Some(1005)), 1);
    assert_eq!(m.closed_with(Some(4001)), 1);
    assert_eq!(m.closed_with(None), 1, "4001 counts as other");
    assert_eq!(m.closed_with(Some(1008)), 1);
    assert_eq!(m.closed_with(Some(1006)), 1);
    assert_eq!(m.sockets_closed.iter().map(|c| c.count).sum::<u64>(), 4);
    // Every event the handler got (4 connections, 9 messages, 4 closes) had its wait timed.
    assert_eq!(m.event_wait.count, 17);
}

/// Drops and closes by the slow-consumer policy are counted exactly as the sends report them.
#[test]
fn slow_consumer_drops_are_counted_as_the_sends_report_them() {
    for policy in [
        SlowConsumerPolicy::DropNewest,
        SlowConsumerPolicy::DropOldest,
        SlowConsumerPolicy::Close,
    ] {
        let (server, events) = start_server(|c| {
            c.socket.send_queue_messages = 4;
            c.socket.slow_consumer = policy;
        });
        let addr = server.local_addr().unwrap();
        // A peer that never reads: sends pile up once the socket buffers are full.
        let stalled = raw_ws(addr, "/", &[]);
        let Event::InboundConnection { socket } = events.expect(Trigger::InboundConnection) else {
            unreachable!()
        };
        let payload = vec![0u8; 64 * 1024];
        let (mut dropped, mut closed) = (0, 0);
        for _ in 0..2000 {
            match socket.send(payload.clone()) {
                Ok(Delivery::DroppedNewest) => dropped += 1,
                Ok(Delivery::QueuedDroppingOldest(n)) => dropped += n as u64,
                Ok(Delivery::ClosedSlowConsumer) => {
                    closed += 1;
                    break;
                }
                Ok(_) => {}
                Err(e) => panic!("{policy:?}: {e}"),
            }
        }
        let m = server.metrics();
        assert!(dropped + closed > 0, "{policy:?}: the queue never filled");
        assert_eq!(m.slow_consumer_dropped, dropped, "{policy:?}");
        assert_eq!(m.slow_consumer_closed, closed, "{policy:?}");
        assert!(m.send_queue_largest <= 4, "{policy:?}");
        if policy == SlowConsumerPolicy::Close {
            assert_eq!(m.send_queue_messages, 0, "its queue was discarded");
        } else {
            assert_eq!(m.send_queue_messages, m.send_queue_largest);
        }
        drop(stalled);
        server.stop().unwrap();
    }
}

/// A connection past the limit is a refusal for `limit` with its status; a silent peer costs
/// a ping and a pong timeout.
#[test]
fn limits_and_pong_timeouts_are_counted() {
    let (server, events) = start_server(|c| {
        c.listener.as_mut().unwrap().max_inbound_connections = 1;
        c.socket.ping_interval = Some(Duration::from_millis(50));
        c.socket.pong_timeout = Duration::from_millis(100);
    });
    let addr = server.local_addr().unwrap();
    // A raw peer that never answers pings.
    let silent = raw_ws(addr, "/", &[]);
    events.expect(Trigger::InboundConnection);
    assert_eq!(raw_http(addr, &upgrade_request("/", "")).0, 503);
    let (_, code, _) = events.closed();
    assert_eq!(code, 1006);
    let m = server.metrics();
    assert_eq!(refused(&m, RefusalReason::Limit, Some(503)), 1);
    assert_eq!(m.pings_sent, 1);
    assert_eq!(m.pong_timeouts, 1);
    assert_eq!(m.closed_with(Some(1006)), 1);
    drop(silent);
}

/// Outbound sockets count by type; without declared paths, the base path is the one label.
#[test]
fn outbound_sockets_count_by_type_and_an_undeclared_listener_has_one_path() {
    let (server, server_events) =
        start_server(|c| c.listener.as_mut().unwrap().base_path = "/ws".into());
    let (client, _client_events) = start_builder(Connector::builder(Config::default()));
    let id = client
        .open_outbound(&url(&server, "/ws/x"), Default::default())
        .unwrap();
    server_events.expect(Trigger::InboundConnection);
    client.send(id.as_str(), "up").unwrap();
    assert_eq!(server_events.text(Trigger::InboundMessage), "up");
    let m = client.metrics();
    assert_eq!((m.sockets_open.outbound, m.sockets_opened.outbound), (1, 1));
    assert_eq!((m.messages_out.text, m.bytes_out.text), (1, 2));
    assert!(m.paths.is_empty(), "no listener, no path");
    let m = server.metrics();
    assert_eq!(m.paths.len(), 1);
    assert_eq!(m.paths[0].pattern, "/ws/*");
    assert_eq!(m.paths[0].open, 1);
    client.stop().unwrap();
    assert_eq!(client.metrics().sockets_open.outbound, 0);
}

/// Snapshots read on several threads while sockets open, talk and close: no counter ever
/// reads less than before on the same thread, and the totals add up once all is done.
#[test]
fn snapshots_during_churn_never_go_backwards() {
    let (server, events) = start_server(|c| c.socket.ping_interval = None);
    let handle = server.handle();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (handle, done) = (handle.clone(), done.clone());
            std::thread::spawn(move || {
                let mut last = counters(&handle.metrics());
                let mut reads = 0u64;
                while !done.load(Ordering::Acquire) || reads == 0 {
                    let now = counters(&handle.metrics());
                    for ((name, before), (_, after)) in last.iter().zip(&now) {
                        assert!(after >= before, "{name} went from {before} to {after}");
                    }
                    last = now;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let rt = runtime();
    const ROUNDS: usize = 20;
    const PER_ROUND: usize = 10;
    rt.block_on(async {
        for _ in 0..ROUNDS {
            let mut clients = Vec::new();
            for _ in 0..PER_ROUND {
                clients.push(connect(&url(&server, "/")).await);
            }
            for client in &mut clients {
                send_text(client, "x").await;
                client.close(None).await.unwrap();
            }
        }
    });
    let mut closed = 0;
    while closed < ROUNDS * PER_ROUND {
        if events.next().trigger() == Trigger::SocketClosed {
            closed += 1;
        }
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
    let m = server.metrics();
    let total = (ROUNDS * PER_ROUND) as u64;
    assert_eq!(m.sockets_opened.inbound, total);
    assert_eq!(m.messages_in.text, total);
    assert_eq!(m.closed_with(Some(1005)), total);
    assert_eq!(m.sockets_open.inbound, 0);
}

/// Every counter of a snapshot, by name.
fn counters(m: &MetricsSnapshot) -> Vec<(String, u64)> {
    let mut out = vec![
        ("opened inbound".to_owned(), m.sockets_opened.inbound),
        (
            "messages in".into(),
            m.messages_in.text + m.messages_in.binary,
        ),
        ("bytes in".into(), m.bytes_in.text + m.bytes_in.binary),
        (
            "messages out".into(),
            m.messages_out.text + m.messages_out.binary,
        ),
        ("event waits".into(), m.event_wait.count),
        ("broadcasts".into(), m.broadcasts),
    ];
    out.extend(
        m.sockets_closed
            .iter()
            .map(|c| (format!("closed {:?}", c.code), c.count)),
    );
    out.extend(
        m.paths
            .iter()
            .map(|p| (format!("opened on {}", p.pattern), p.opened)),
    );
    out.extend(
        m.event_wait
            .buckets
            .iter()
            .map(|b| (format!("wait le {:?}", b.le), b.count)),
    );
    out
}

/// The Prometheus text names every family and carries the figures.
#[test]
fn the_snapshot_renders_as_prometheus_text() {
    let (server, events) = start_server(|c| {
        c.listener.as_mut().unwrap().paths = vec![InboundPath::new("/a")];
    });
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/a")));
    rt.block_on(send_text(&mut client, "hi"));
    events.expect(Trigger::InboundConnection);
    events.expect(Trigger::InboundMessage);
    let text = server.metrics().to_prometheus();
    for line in [
        "# TYPE wsconnector_sockets_open gauge",
        "wsconnector_sockets_open{type=\"inbound\"} 1",
        "wsconnector_path_sockets_open{path=\"/a\"} 1",
        "# TYPE wsconnector_messages_received_total counter",
        "wsconnector_messages_received_total{kind=\"text\"} 1",
        "wsconnector_received_bytes_total{kind=\"text\"} 2",
        "wsconnector_sockets_closed_total{code=\"other\"} 0",
        "# TYPE wsconnector_event_wait_seconds histogram",
        "wsconnector_event_wait_seconds_bucket{le=\"+Inf\"}",
        "wsconnector_draining 0",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    assert!(SocketType::Inbound.as_str() == "inbound");
}
