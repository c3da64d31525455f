//! Outbound sockets that reconnect, against an independent feed server (tokio-tungstenite's
//! own) that is killed (its connections dropped without a close frame) and started again on
//! the same port: the socket keeps its ID, groups and queue, the application sees
//! reconnecting then reconnected, buffered messages arrive once and in order; attempts that
//! run out end it with RetryExhausted and one closed event.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::{
    self,
    handshake::server::{Request, Response},
};
use wsconnector::{
    Config, Connector, Delivery, ErrorKind, Event, OutboundOptions, Reconnect, ReconnectSendPolicy,
    SocketFilter, SocketState, Trigger,
};

/// What the feed saw: a handshake (with its headers) or a message.
#[derive(Debug, PartialEq)]
enum Seen {
    Handshake(Vec<(String, String)>),
    Text(String),
}

/// A feed server on a fixed port: echoes every message, records what it sees, closes with
/// the code a `close:CODE` message names. `kill` drops every connection without a close
/// frame and stops listening; `start` listens again on the same port.
struct Feed {
    addr: SocketAddr,
    seen: mpsc::Sender<Seen>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Feed {
    fn new(rt: &tokio::runtime::Runtime) -> (Feed, mpsc::Receiver<Seen>) {
        let (seen, rx) = mpsc::channel();
        let addr = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap()
            .local_addr()
            .unwrap();
        let feed = Feed {
            addr,
            seen,
            tasks: Arc::default(),
        };
        feed.start(rt);
        (feed, rx)
    }

    fn url(&self) -> String {
        format!("ws://{}/feed", self.addr)
    }

    fn start(&self, rt: &tokio::runtime::Runtime) {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(self.addr))
            .expect("the feed binds its port again");
        let (seen, tasks) = (self.seen.clone(), self.tasks.clone());
        let accepting = rt.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let seen = seen.clone();
                let connection = tokio::spawn(async move {
                    #[allow(clippy::result_large_err)] // the error type is tungstenite's
                    let record = |request: &Request, response: Response| {
                        let headers = request
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                            .collect();
                        let _ = seen.send(Seen::Handshake(headers));
                        Ok(response)
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, record).await else {
                        return;
                    };
                    while let Some(Ok(message)) = ws.next().await {
                        let Ok(text) = message.to_text().map(str::to_owned) else {
                            continue;
                        };
                        if !message.is_text() {
                            continue;
                        }
                        if let Some(code) = text.strip_prefix("close:") {
                            let frame = tungstenite::protocol::CloseFrame {
                                code: code.parse::<u16>().unwrap().into(),
                                reason: "as asked".into(),
                            };
                            let _ = ws.close(Some(frame)).await;
                            continue;
                        }
                        let _ = seen.send(Seen::Text(text));
                        if ws.send(message).await.is_err() {
                            break;
                        }
                    }
                });
                tasks.lock().unwrap().push(connection);
            }
        });
        self.tasks.lock().unwrap().push(accepting);
    }

    /// Drops the listener and every connection at once, as a crashed process would.
    fn kill(&self, rt: &tokio::runtime::Runtime) {
        let tasks: Vec<_> = self.tasks.lock().unwrap().drain(..).collect();
        for task in &tasks {
            task.abort();
        }
        rt.block_on(async {
            for task in tasks {
                let _ = task.await;
            }
        });
    }
}

/// The next text the feed saw (skipping handshakes).
fn next_text(seen: &mpsc::Receiver<Seen>) -> String {
    loop {
        match seen.recv_timeout(WAIT).expect("the feed saw something") {
            Seen::Text(text) => return text,
            Seen::Handshake(_) => continue,
        }
    }
}

/// The next handshake's headers the feed saw.
fn next_handshake(seen: &mpsc::Receiver<Seen>) -> Vec<(String, String)> {
    loop {
        if let Seen::Handshake(headers) = seen.recv_timeout(WAIT).expect("a handshake") {
            return headers;
        }
    }
}

fn client() -> (Connector, Events) {
    start_builder(Connector::builder(Config::default()))
}

/// Small delays, so that a test sees several attempts quickly.
fn fast() -> Reconnect {
    Reconnect::new().delays(Duration::from_millis(20), Duration::from_millis(160), 2.0)
}

/// The next reconnecting event's attempt, delay and error kind, checked against the bound.
fn reconnecting(events: &Events, policy: &Reconnect) -> (u32, Duration, ErrorKind) {
    match events.expect(Trigger::OutboundReconnecting) {
        Event::OutboundReconnecting {
            attempt,
            delay,
            error,
            ..
        } => {
            assert!(
                delay <= policy.delay_bound(attempt),
                "attempt {attempt}: {delay:?} past {:?}",
                policy.delay_bound(attempt)
            );
            (attempt, delay, error.kind())
        }
        _ => unreachable!(),
    }
}

#[test]
fn a_feed_that_restarts_gets_the_same_socket_back_with_its_groups_and_buffered_messages() {
    let rt = runtime();
    let (feed, seen) = Feed::new(&rt);
    let (conn, events) = client();
    let policy = fast();
    let id = conn
        .open_outbound(
            &feed.url(),
            OutboundOptions::new()
                .socket_id("quotes")
                .group("feeds")
                .header("Authorization", "Bearer first")
                .reconnect(policy.clone()),
        )
        .unwrap();
    next_handshake(&seen);
    conn.send(id.as_str(), "before").unwrap();
    assert_eq!(next_text(&seen), "before");
    assert_eq!(events.text(Trigger::OutboundMessage), "before");

    feed.kill(&rt);
    // Attempts fail while the feed is down (connection refused), each with its own delay.
    let mut delays = Vec::new();
    let mut last_seen = Instant::now();
    let mut gaps = Vec::new();
    while delays.len() < 5 {
        let (attempt, delay, kind) = reconnecting(&events, &policy);
        assert_eq!(attempt as usize, delays.len() + 1);
        // The connection dropped without a close frame, then connections are refused.
        assert_eq!(kind, ErrorKind::Connectivity);
        gaps.push(last_seen.elapsed());
        last_seen = Instant::now();
        delays.push(delay);
    }
    let socket = conn.socket("quotes").unwrap();
    assert_eq!(socket.state(), SocketState::Reconnecting);
    assert_eq!(socket.last_error().unwrap().kind(), ErrorKind::Connectivity);
    // The figures for the report: the configured bound, the delay drawn, the gap measured
    // between two reconnecting events (the delay plus a refused connect).
    for (n, (delay, gap)) in delays.iter().zip(&gaps[1..]).enumerate() {
        println!(
            "attempt {}: bound {:?}, delay {:?}, next attempt's event after {:?}",
            n + 1,
            policy.delay_bound(n as u32 + 1),
            delay,
            gap
        );
    }
    // Sends meanwhile wait in the queue; a broadcast to its group says it buffered.
    for text in ["one", "two", "three"] {
        assert_eq!(conn.send("quotes", text).unwrap(), Delivery::Buffered);
    }
    let result = conn
        .broadcast("to the group", &SocketFilter::all().with_groups(["feeds"]))
        .unwrap();
    assert_eq!((result.delivered, result.buffered), (1, 1), "{result:?}");

    feed.start(&rt);
    let reconnected = loop {
        match events.next() {
            Event::OutboundReconnected { socket, attempts } => break (socket, attempts),
            Event::OutboundReconnecting { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(reconnected.0.id().as_str(), "quotes");
    assert!(reconnected.1 >= 5);
    let figures = conn.metrics();
    assert_eq!(
        (figures.reconnect_attempts, figures.reconnects),
        (u64::from(reconnected.1), 1)
    );
    assert_eq!(figures.reconnects_exhausted, 0);
    assert_eq!(
        figures.sockets_opened.outbound, 1,
        "a reconnect opens no socket"
    );
    assert_eq!(socket.state(), SocketState::Connected);
    assert_eq!(socket.last_error(), None);
    assert_eq!(socket.groups(), ["feeds"]);
    let headers = next_handshake(&seen);
    assert!(
        headers.contains(&("authorization".into(), "Bearer first".into())),
        "the handshake repeats the open's headers: {headers:?}"
    );
    // The buffered messages arrive once, in order, then what follows.
    for want in ["one", "two", "three", "to the group"] {
        assert_eq!(next_text(&seen), want);
        assert_eq!(events.text(Trigger::OutboundMessage), want);
    }
    let result = conn
        .broadcast("after", &SocketFilter::all().with_groups(["feeds"]))
        .unwrap();
    assert_eq!((result.delivered, result.buffered), (1, 0));
    assert_eq!(next_text(&seen), "after");
    assert_eq!(events.text(Trigger::OutboundMessage), "after");
    assert!(seen.try_recv().is_err(), "nothing twice");
    conn.stop().unwrap();
    let (_, code, _) = events.closed();
    assert_eq!(code, 1001);
    events.assert_none(Duration::from_millis(100));
}

#[test]
fn attempts_that_run_out_close_the_socket_once_with_retry_exhausted() {
    let rt = runtime();
    let (feed, _seen) = Feed::new(&rt);
    let (conn, events) = client();
    let policy = fast().max_attempts(Some(3));
    let id = conn
        .open_outbound(
            &feed.url(),
            OutboundOptions::new().reconnect(policy.clone()),
        )
        .unwrap();
    feed.kill(&rt);
    for n in 1..=3 {
        assert_eq!(reconnecting(&events, &policy).0, n);
    }
    let (socket, code, reason) = events.closed();
    assert_eq!(code, 1006);
    assert!(reason.contains("3 reconnect attempts failed"), "{reason}");
    assert_eq!(socket.state(), SocketState::Closed);
    let error = socket.last_error().unwrap();
    assert_eq!(error.kind(), ErrorKind::RetryExhausted);
    assert!(error.message().contains("connection refused"), "{error}");
    let figures = conn.metrics();
    assert_eq!(
        (
            figures.reconnect_attempts,
            figures.reconnects,
            figures.reconnects_exhausted
        ),
        (3, 0, 1)
    );
    assert_eq!(figures.closed_with(Some(1006)), 1);
    assert_eq!(
        conn.send(id.as_str(), "late").unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );
    assert_eq!(conn.socket_count(), 0);
    conn.stop().unwrap();
    events.assert_none(Duration::from_millis(100));
}

#[test]
fn an_inline_handler_sees_the_attempts_and_the_reconnection() {
    // Inline dispatch has no dispatcher threads: the attempts' events must reach the handler
    // on the I/O thread, as every other event does, and never wait in the event queue.
    let rt = runtime();
    let (feed, _seen) = Feed::new(&rt);
    let (handler, events) = forwarding();
    let conn = Connector::builder(Config::default())
        .on_event_inline(handler)
        .start()
        .unwrap();
    let policy = fast();
    conn.open_outbound(
        &feed.url(),
        OutboundOptions::new().reconnect(policy.clone()),
    )
    .unwrap();
    feed.kill(&rt);
    assert_eq!(reconnecting(&events, &policy).0, 1);
    feed.start(&rt);
    loop {
        match events.next() {
            Event::OutboundReconnecting { .. } => continue,
            Event::OutboundReconnected { .. } => break,
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(conn.metrics().reconnects, 1);
    conn.stop().unwrap();
}

#[test]
fn the_fail_policy_fails_sends_and_broadcasts_while_reconnecting() {
    let rt = runtime();
    let (feed, seen) = Feed::new(&rt);
    let (conn, events) = client();
    // Long delays: the socket stays reconnecting while the test sends.
    let policy = Reconnect::new()
        .delays(Duration::from_secs(30), Duration::from_secs(30), 2.0)
        .send_policy(ReconnectSendPolicy::Fail);
    let id = conn
        .open_outbound(
            &feed.url(),
            OutboundOptions::new().group("feeds").reconnect(policy),
        )
        .unwrap();
    next_handshake(&seen);
    feed.kill(&rt);
    let event = events.expect(Trigger::OutboundReconnecting);
    let e = conn.send(id.as_str(), "lost").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Reconnecting, "not NoSuchSocket: {e}");
    let result = conn
        .broadcast("lost too", &SocketFilter::all().with_groups(["feeds"]))
        .unwrap();
    assert_eq!(result.delivered, 0);
    match &result.failures[..] {
        [failure] => assert!(
            matches!(&failure.what, wsconnector::Undelivered::Failed(e) if e.kind() == ErrorKind::Reconnecting),
            "{failure:?}"
        ),
        other => panic!("{other:?}"),
    }
    // Closing a reconnecting socket ends it at once, with the application's code.
    assert_eq!(
        conn.bulk_close(&SocketFilter::all().with_groups(["feeds"]), 4001, "done")
            .unwrap(),
        1
    );
    let (socket, code, reason) = events.closed();
    assert_eq!((code, reason.as_str()), (4001, "done"));
    assert_eq!(&socket, event.socket());
    conn.stop().unwrap();
    events.assert_none(Duration::from_millis(100));
}

#[test]
fn final_close_codes_end_the_socket_and_others_reconnect() {
    let rt = runtime();
    let (feed, seen) = Feed::new(&rt);
    let (conn, events) = client();
    let policy = fast().final_close_codes([1000..=1000, 4000..=4099]);
    for (code, reconnects) in [(1001, true), (1000, false), (4050, false), (4100, true)] {
        let id = conn
            .open_outbound(
                &feed.url(),
                OutboundOptions::new().reconnect(policy.clone()),
            )
            .unwrap();
        next_handshake(&seen);
        conn.send(id.as_str(), format!("close:{code}")).unwrap();
        if reconnects {
            let (attempt, _, kind) = reconnecting(&events, &policy);
            assert_eq!((attempt, kind), (1, ErrorKind::RemotelyClosed), "{code}");
            events.expect(Trigger::OutboundReconnected);
            next_handshake(&seen);
            conn.close(id.as_str(), 1000, "bye").unwrap();
            assert_eq!(events.closed().1, 1000);
        } else {
            assert_eq!(events.closed().1, code);
        }
    }
    conn.stop().unwrap();
}

#[test]
fn a_lazy_socket_reconnects_when_a_message_is_next_sent_to_it() {
    let rt = runtime();
    let (feed, seen) = Feed::new(&rt);
    let (conn, events) = client();
    let policy = fast().lazy(true);
    let id = conn
        .open_outbound(
            &feed.url(),
            OutboundOptions::new().reconnect(policy.clone()),
        )
        .unwrap();
    next_handshake(&seen);
    let socket = conn.socket(id.as_str()).unwrap();
    feed.kill(&rt);
    wait_for(|| socket.state() == SocketState::Disconnected);
    events.assert_none(Duration::from_millis(200));
    feed.start(&rt);
    assert_eq!(
        conn.send(id.as_str(), "wake up").unwrap(),
        Delivery::Buffered
    );
    let (attempt, _, _) = reconnecting(&events, &policy);
    assert_eq!(attempt, 1);
    events.expect(Trigger::OutboundReconnected);
    assert_eq!(next_text(&seen), "wake up");
    assert_eq!(events.text(Trigger::OutboundMessage), "wake up");
    conn.stop().unwrap();
    assert_eq!(events.closed().1, 1001);
}

#[test]
fn the_header_refresher_gives_each_attempt_fresh_headers() {
    let rt = runtime();
    let (feed, seen) = Feed::new(&rt);
    let (tx, asked) = mpsc::channel();
    let tx = Mutex::new(tx);
    let (conn, events) = start_builder(Connector::builder(Config::default()).header_refresher(
        move |socket: &wsconnector::Socket, attempt: u32| {
            let _ = tx.lock().unwrap().send((socket.id().to_string(), attempt));
            Ok(vec![(
                "Authorization".to_owned(),
                format!("Bearer fresh-{attempt}"),
            )])
        },
    ));
    let id = conn
        .open_outbound(
            &feed.url(),
            OutboundOptions::new()
                .header("Authorization", "Bearer stale")
                .reconnect(fast()),
        )
        .unwrap();
    next_handshake(&seen);
    conn.send(id.as_str(), "close:1012").unwrap();
    events.expect(Trigger::OutboundReconnecting);
    events.expect(Trigger::OutboundReconnected);
    let headers = next_handshake(&seen);
    let authorization: Vec<_> = headers
        .iter()
        .filter(|(name, _)| name == "authorization")
        .collect();
    assert_eq!(
        authorization,
        [&("authorization".to_owned(), "Bearer fresh-1".to_owned())]
    );
    assert_eq!(asked.recv_timeout(WAIT).unwrap(), (id.to_string(), 1));
    conn.stop().unwrap();
}

#[test]
fn stop_ends_a_reconnecting_socket_with_one_closed_event() {
    let rt = runtime();
    let (feed, _seen) = Feed::new(&rt);
    let (conn, events) = client();
    conn.open_outbound(
        &feed.url(),
        OutboundOptions::new().reconnect(Reconnect::new().delays(
            Duration::from_secs(60),
            Duration::from_secs(60),
            1.0,
        )),
    )
    .unwrap();
    feed.kill(&rt);
    events.expect(Trigger::OutboundReconnecting);
    conn.stop().unwrap();
    let (socket, code, _) = events.closed();
    assert_eq!(code, 1001);
    assert_eq!(socket.state(), SocketState::Closed);
    events.assert_none(Duration::from_millis(100));
}

#[test]
fn the_client_wide_default_applies_unless_the_open_says_otherwise() {
    let rt = runtime();
    let (feed, seen) = Feed::new(&rt);
    let mut config = Config::default();
    config.client.reconnect = Some(fast());
    let (conn, events) = start_builder(Connector::builder(config));
    let by_default = conn
        .open_outbound(&feed.url(), OutboundOptions::new())
        .unwrap();
    let opted_out = conn
        .open_outbound(&feed.url(), OutboundOptions::new().reconnect(false))
        .unwrap();
    next_handshake(&seen);
    next_handshake(&seen);
    feed.kill(&rt);
    let mut closed = None;
    let mut reconnecting = None;
    while closed.is_none() || reconnecting.is_none() {
        match events.next() {
            Event::SocketClosed { socket, .. } => closed = Some(socket.id().clone()),
            Event::OutboundReconnecting { socket, .. } => {
                reconnecting.get_or_insert(socket.id().clone());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(closed, Some(opted_out));
    assert_eq!(reconnecting, Some(by_default));
    conn.stop().unwrap();
}

/// Waits (bounded) until `condition` holds: for a state that no event announces.
fn wait_for(condition: impl Fn() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < WAIT, "the condition never held");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A socket that cannot reconnect queues no more events than the event queue's bounds while
/// the application takes none: its attempts wait for room, as reads do.
#[test]
fn attempts_wait_for_an_application_that_is_behind() {
    let rt = runtime();
    let (feed, seen) = Feed::new(&rt);
    let mut config = Config::default();
    config.event_queue_capacity = 3;
    let conn = Connector::builder(config).start().unwrap(); // pull mode: nobody takes events
    let policy = Reconnect::new().delays(Duration::from_millis(1), Duration::from_millis(1), 1.0);
    conn.open_outbound(&feed.url(), OutboundOptions::new().reconnect(policy))
        .unwrap();
    next_handshake(&seen);
    feed.kill(&rt);
    // Unbounded, a millisecond apart, the attempts would queue hundreds of events by now.
    std::thread::sleep(Duration::from_millis(300));
    let mut batch = wsconnector::EventBatch::new();
    conn.next_events(&mut batch, 1000, Some(Duration::ZERO))
        .unwrap();
    assert_eq!(batch.len(), 3, "no more than event_queue_capacity");
    let attempts: Vec<u32> = batch
        .map(|event| match event {
            Event::OutboundReconnecting { attempt, .. } => attempt,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    conn.stop().unwrap();
}

#[test]
fn bulk_close_counts_reconnecting_and_disconnected_sockets_like_connected_ones() {
    let rt = runtime();
    let (up, up_seen) = Feed::new(&rt);
    let (down, down_seen) = Feed::new(&rt);
    let (conn, events) = client();
    let slow = Reconnect::new().delays(Duration::from_secs(30), Duration::from_secs(30), 1.0);
    let feeds = || OutboundOptions::new().group("feeds");
    let connected = conn.open_outbound(&up.url(), feeds()).unwrap();
    next_handshake(&up_seen);
    let between_attempts = conn
        .open_outbound(&down.url(), feeds().reconnect(slow.clone()))
        .unwrap();
    let lazy = conn
        .open_outbound(&down.url(), feeds().reconnect(slow.lazy(true)))
        .unwrap();
    next_handshake(&down_seen);
    next_handshake(&down_seen);
    let lazy_socket = conn.socket(lazy.as_str()).unwrap();
    down.kill(&rt);
    events.expect(Trigger::OutboundReconnecting);
    wait_for(|| lazy_socket.state() == SocketState::Disconnected);
    let reconnecting = conn.socket(between_attempts.as_str()).unwrap();
    assert_eq!(reconnecting.state(), SocketState::Reconnecting);

    let closed = conn
        .bulk_close(&SocketFilter::all().with_groups(["feeds"]), 4001, "done")
        .unwrap();
    assert_eq!(closed, 3);
    let mut ids: Vec<String> = (0..3)
        .map(|_| {
            let (socket, code, reason) = events.closed();
            assert_eq!((code, reason.as_str()), (4001, "done"), "{}", socket.id());
            socket.id().to_string()
        })
        .collect();
    ids.sort();
    let mut want = [connected, between_attempts, lazy].map(|id| id.to_string());
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(conn.socket_count(), 0);
    conn.stop().unwrap();
    events.assert_none(Duration::from_millis(100));
}
