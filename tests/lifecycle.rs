//! Trigger order, the connection gate, operations from inside the handler, pull mode, stop,
//! and what every call does once the connector has stopped.

mod common;

use common::*;
use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use wsconnector::{
    AuthDecision, AuthRequest, Config, Connector, ConnectorHandle, ErrorKind, Event, EventBatch,
    OutboundOptions, SocketFilter, Trigger,
};

#[test]
fn triggers_fire_in_order_for_each_socket() {
    let (server, events) = start_server(|_| {});
    let rt = runtime();
    const CLIENTS: usize = 8;
    const MESSAGES: usize = 200;
    let url = url(&server, "/order");
    rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut client = connect(&url).await;
                for m in 0..MESSAGES {
                    send_text(&mut client, &format!("{c}:{m}")).await;
                }
                let _ = futures_util::SinkExt::close(&mut client).await;
                while let Some(Ok(_)) = futures_util::StreamExt::next(&mut client).await {}
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    // Per socket: connection, then 0..MESSAGES in order, then closed once.
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    let mut closed = 0;
    while closed < CLIENTS {
        let event = events.next();
        let log = seen.entry(event.socket().id().to_string()).or_default();
        match &event {
            Event::InboundConnection { .. } => {
                assert!(log.is_empty(), "connection first");
                log.push("open".into());
            }
            Event::InboundMessage { message, .. } => {
                assert_eq!(log.first().map(String::as_str), Some("open"));
                log.push(message.as_text().unwrap().to_owned());
            }
            Event::SocketClosed { .. } => {
                log.push("closed".into());
                closed += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    events.assert_none(Duration::from_millis(100));
    assert_eq!(seen.len(), CLIENTS);
    for log in seen.values() {
        assert_eq!(log.len(), MESSAGES + 2);
        assert_eq!(log.last().unwrap(), "closed");
        let client = log[1].split(':').next().unwrap().to_owned();
        for (m, text) in log[1..=MESSAGES].iter().enumerate() {
            assert_eq!(*text, format!("{client}:{m}"));
        }
    }
}

/// Starts a server whose inbound-connection trigger waits for `release`, then closes the
/// socket when its path is `/close-in-trigger`; every event is logged to the channel.
fn gated_server(release: mpsc::Receiver<()>) -> (Connector, Events) {
    let release = Mutex::new(release);
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let connector = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event(move |conn: &ConnectorHandle, event: Event| {
            if let Event::InboundConnection { socket } = &event {
                release
                    .lock()
                    .unwrap()
                    .recv_timeout(WAIT)
                    .expect("the test releases the trigger");
                if socket.path() == "/close-in-trigger" {
                    conn.close(socket.id().as_str(), 4000, "not welcome")
                        .unwrap();
                }
            }
            let _ = tx.lock().unwrap().send(event);
        })
        .start()
        .unwrap();
    (connector, Events(rx))
}

/// A raw client that sends three messages and a ping with its handshake, then waits for the
/// pong: once it has it, the server has read the three messages.
fn client_whose_messages_were_read(server: &Connector, path: &str) -> std::net::TcpStream {
    let frames = [
        client_frame(TEXT, b"one"),
        client_frame(TEXT, b"two"),
        client_frame(TEXT, b"three"),
        client_frame(PING, b"sync"),
    ];
    let mut tcp = raw_ws(server.local_addr().unwrap(), path, &frames);
    assert_eq!(read_server_frame(&mut tcp), (PONG, b"sync".to_vec()));
    tcp
}

#[test]
fn messages_wait_for_the_connection_trigger() {
    let (release, gate) = mpsc::channel();
    let (server, events) = gated_server(gate);
    let _tcp = client_whose_messages_were_read(&server, "/gate");
    release.send(()).unwrap();
    events.expect(Trigger::InboundConnection);
    for expected in ["one", "two", "three"] {
        assert_eq!(events.text(Trigger::InboundMessage), expected);
    }
}

#[test]
fn messages_are_dropped_when_the_connection_trigger_closes_the_socket() {
    let (release, gate) = mpsc::channel();
    let (server, events) = gated_server(gate);
    let mut tcp = client_whose_messages_were_read(&server, "/close-in-trigger");
    release.send(()).unwrap();
    events.expect(Trigger::InboundConnection);
    let (close_opcode, payload) = read_server_frame(&mut tcp);
    assert_eq!(close_opcode, CLOSE);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 4000);
    std::io::Write::write_all(&mut tcp, &client_frame(CLOSE, &payload[..2])).unwrap();
    let (_, code, reason) = events.closed();
    assert_eq!((code, reason.as_str()), (4000, "not welcome"));
    events.assert_none(Duration::from_millis(100));
}

#[test]
fn the_handler_may_call_every_operation_including_open_outbound_to_itself() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .authorizer(|_: &AuthRequest| AuthDecision::accept())
        .on_event(move |conn: &ConnectorHandle, event: Event| {
            let report = |what: String| tx.lock().unwrap().send(what).unwrap();
            match &event {
                Event::InboundMessage { socket, message } if message.as_text() == Some("dial") => {
                    let url = format!("ws://{}/loopback", conn.local_addr().unwrap());
                    let id = conn
                        .open_outbound(&url, OutboundOptions::new().socket_id("loop"))
                        .unwrap();
                    conn.subscribe(id.as_str(), &["loops"]).unwrap();
                    conn.send(id.as_str(), "through the loop").unwrap();
                    let sent = conn
                        .broadcast("to loops", &SocketFilter::all().with_groups(["loops"]))
                        .unwrap();
                    report(format!("dialed {} {}", socket.path(), sent.delivered));
                }
                Event::InboundMessage { socket, message } if socket.path() == "/loopback" => {
                    report(format!("loop got {}", message.as_text().unwrap()));
                    if message.as_text() == Some("to loops") {
                        conn.bulk_close(&SocketFilter::all().with_groups(["loops"]), 1000, "done")
                            .unwrap();
                    }
                }
                Event::SocketClosed { socket, .. } if socket.id().as_str() == "loop" => {
                    report("loop closed".into())
                }
                _ => {}
            }
        })
        .start()
        .unwrap();
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/control")));
    rt.block_on(send_text(&mut client, "dial"));
    let reports: Vec<String> = (0..4).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    // The loop socket's events may run beside the dialing handler (another dispatcher
    // thread), so only each socket's own order is fixed.
    assert!(
        reports.contains(&"dialed /control 1".to_owned()),
        "{reports:?}"
    );
    let looped: Vec<&str> = reports
        .iter()
        .map(String::as_str)
        .filter(|r| r.starts_with("loop"))
        .collect();
    assert_eq!(
        looped,
        [
            "loop got through the loop",
            "loop got to loops",
            "loop closed"
        ]
    );
}

#[test]
fn a_panicking_handler_is_survived() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event(move |_: &ConnectorHandle, event: Event| {
            if let Some(m) = event.message() {
                if m.as_text() == Some("panic") {
                    panic!("handler bug");
                }
                tx.lock()
                    .unwrap()
                    .send(m.as_text().unwrap().to_owned())
                    .unwrap();
            }
        })
        .start()
        .unwrap();
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/")));
    rt.block_on(async {
        send_text(&mut client, "panic").await;
        send_text(&mut client, "after").await;
    });
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "after");
}

#[test]
fn pull_mode_hands_out_events_and_ends_after_stop() {
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .start()
        .unwrap();
    assert!(server
        .next_event(Some(Duration::from_millis(10)))
        .unwrap()
        .is_none());
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/pull")));
    rt.block_on(send_text(&mut client, "pulled"));
    let event = server.next_event(Some(WAIT)).unwrap().unwrap();
    assert_eq!(event.trigger(), Trigger::InboundConnection);
    let event = server.next_event(Some(WAIT)).unwrap().unwrap();
    assert_eq!(event.message().unwrap().as_text(), Some("pulled"));
    let handle = server.handle();
    let stopper = std::thread::spawn(move || server.stop());
    rt.block_on(recv_close(&mut client));
    stopper.join().unwrap().unwrap();
    let event = handle.next_event(Some(WAIT)).unwrap().unwrap();
    assert_eq!(event.trigger(), Trigger::SocketClosed);
    assert_eq!(
        handle.next_event(Some(WAIT)).unwrap_err().kind(),
        ErrorKind::Stopped
    );

    let (with_handler, _events) = start_server(|_| {});
    assert_eq!(
        with_handler.next_event(None).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
}

/// Pops events from batch after batch until `count` were taken.
fn pop_events(server: &Connector, batch: &mut EventBatch, count: usize) -> Vec<Event> {
    let mut events = Vec::new();
    while events.len() < count {
        if batch.is_empty() {
            server.next_events(batch, 64, Some(WAIT)).unwrap();
            assert!(!batch.is_empty(), "events within the wait limit");
        }
        events.extend(batch.pop());
    }
    events
}

#[test]
fn pull_mode_takes_batches_and_skips_messages_of_sockets_the_application_closed() {
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .start()
        .unwrap();
    let mut batch = EventBatch::new();
    server
        .next_events(&mut batch, 64, Some(Duration::from_millis(10)))
        .unwrap();
    assert!(batch.is_empty(), "a timeout leaves the batch empty");
    let _tcp = client_whose_messages_were_read(&server, "/batch");
    let events = pop_events(&server, &mut batch, 4);
    let texts: Vec<_> = events[1..]
        .iter()
        .map(|e| e.message().and_then(|m| m.as_text()))
        .collect();
    assert_eq!(events[0].trigger(), Trigger::InboundConnection);
    assert_eq!(texts, [Some("one"), Some("two"), Some("three")]);

    // Once the application closes a socket, its messages not yet popped are left out, whether
    // they were taken in the same batch as its connection or come in a later one.
    let mut tcp = client_whose_messages_were_read(&server, "/stale");
    let connection = pop_events(&server, &mut batch, 1).remove(0);
    assert_eq!(connection.trigger(), Trigger::InboundConnection);
    connection.socket().close(4000, "enough").unwrap();
    let (opcode, payload) = read_server_frame(&mut tcp);
    assert_eq!((opcode, &payload[..2]), (CLOSE, &4000u16.to_be_bytes()[..]));
    std::io::Write::write_all(&mut tcp, &client_frame(CLOSE, &payload[..2])).unwrap();
    let after = pop_events(&server, &mut batch, 1);
    assert_eq!(
        after.iter().map(Event::trigger).collect::<Vec<_>>(),
        [Trigger::SocketClosed],
        "no message of the closed socket"
    );
    let handle = server.handle();
    server.stop().unwrap();
    let rest = std::iter::from_fn(|| match handle.next_events(&mut batch, 64, Some(WAIT)) {
        Ok(()) => Some(batch.by_ref().map(|e| e.trigger()).collect::<Vec<_>>()),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Stopped);
            None
        }
    })
    .flatten()
    .collect::<Vec<_>>();
    assert_eq!(
        rest,
        [Trigger::SocketClosed],
        "the first socket's close at stop"
    );

    let (with_handler, _events) = start_server(|_| {});
    assert_eq!(
        with_handler
            .next_events(&mut batch, 64, None)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidState
    );
}

#[test]
fn stop_closes_every_socket_with_1001_and_reports_each() {
    let (server, events) = start_server(|_| {});
    let (client_side, client_events) = start_builder(Connector::builder(Config::default()));
    let rt = runtime();
    let mut a = rt.block_on(connect(&url(&server, "/a")));
    let mut b = rt.block_on(connect(&url(&server, "/b")));
    client_side
        .open_outbound(&url(&server, "/c"), OutboundOptions::new())
        .unwrap();
    for _ in 0..3 {
        events.expect(Trigger::InboundConnection);
    }
    let id = server
        .sockets(&SocketFilter::all().with_path("/a").unwrap())
        .unwrap()[0]
        .id()
        .clone();
    server.send(id.as_str(), "before stop").unwrap();
    let readers = rt.spawn(async move {
        let first = recv_text(&mut a).await;
        (first, recv_close(&mut a).await, recv_close(&mut b).await)
    });
    server.stop().unwrap();
    let (first, close_a, close_b) = rt.block_on(readers).unwrap();
    assert_eq!(first, "before stop", "queued sends drain before the close");
    assert_eq!(close_a, (1001, "going away".to_owned()));
    assert_eq!(close_b, (1001, "going away".to_owned()));
    // Stop returned after every closed event was handed to the handler.
    let mut codes = Vec::new();
    while let Ok(Event::SocketClosed { code, .. }) = events.0.try_recv() {
        codes.push(code);
    }
    assert_eq!(codes, [1001, 1001, 1001]);
    assert_eq!(
        client_events.closed().1,
        1001,
        "the outbound peer saw 1001 as well"
    );

    assert!(!server.is_running());
    assert_eq!(server.socket_count(), 0);
    for e in [
        server.send(id.as_str(), "x").unwrap_err(),
        server.broadcast("x", &SocketFilter::all()).unwrap_err(),
        server.subscribe(id.as_str(), &["g"]).unwrap_err(),
        server.close(id.as_str(), 1000, "").unwrap_err(),
        server
            .bulk_close(&SocketFilter::all(), 1000, "")
            .unwrap_err(),
        server
            .open_outbound("ws://127.0.0.1:1/", OutboundOptions::new())
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::Stopped, "{e}");
    }
    server.stop().unwrap();
}

#[test]
fn stop_from_inside_the_handler_is_an_error_not_a_deadlock() {
    let slot: Arc<Mutex<Option<Arc<Connector>>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let handler_slot = slot.clone();
    let server = Arc::new(
        Connector::builder(Config::with_listener("127.0.0.1", 0))
            .on_event(move |_: &ConnectorHandle, event: Event| {
                if event.trigger() == Trigger::InboundConnection {
                    let me = handler_slot.lock().unwrap().clone().unwrap();
                    tx.lock()
                        .unwrap()
                        .send(me.stop().map_err(|e| e.kind()))
                        .unwrap();
                }
            })
            .start()
            .unwrap(),
    );
    *slot.lock().unwrap() = Some(server.clone());
    let rt = runtime();
    let client = rt.block_on(connect(&url(&server, "/")));
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Err(ErrorKind::InvalidState));
    assert!(server.is_running());
    slot.lock().unwrap().take();
    drop(client);
    server.stop().unwrap();
}

#[test]
fn unknown_and_closed_sockets_are_errors() {
    let (server, events) = start_server(|_| {});
    assert_eq!(
        server.send("nope", "x").unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );
    assert_eq!(
        server.close("nope", 1000, "").unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );
    assert_eq!(
        server.socket("nope").unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );
    let rt = runtime();
    let client = rt.block_on(connect(&url(&server, "/")));
    let id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();
    drop(client);
    events.closed();
    let e = server.send(id.as_str(), "too late").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchSocket);
    assert!(e.message().contains(id.as_str()), "{e}");
}

#[test]
fn connectors_are_independent() {
    let (one, one_events) = start_server(|_| {});
    let (two, two_events) = start_server(|_| {});
    let rt = runtime();
    let mut c1 = rt.block_on(connect(&url(&one, "/")));
    let mut c2 = rt.block_on(connect(&url(&two, "/")));
    let id1 = one_events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();
    let id2 = two_events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();
    one.subscribe(id1.as_str(), &["room"]).unwrap();
    two.subscribe(id2.as_str(), &["room"]).unwrap();
    assert_eq!(
        one.send(id2.as_str(), "x").unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );
    assert_eq!(
        one.broadcast("for one", &SocketFilter::all().with_groups(["room"]))
            .unwrap()
            .delivered,
        1
    );
    assert_eq!(
        two.broadcast("for two", &SocketFilter::all().with_groups(["room"]))
            .unwrap()
            .delivered,
        1
    );
    assert_eq!(rt.block_on(recv_text(&mut c1)), "for one");
    assert_eq!(rt.block_on(recv_text(&mut c2)), "for two");
    let closing = rt.spawn(async move { recv_close(&mut c1).await });
    one.stop().unwrap();
    assert_eq!(rt.block_on(closing).unwrap().0, 1001);
    two.send(id2.as_str(), "two lives on").unwrap();
    assert_eq!(rt.block_on(recv_text(&mut c2)), "two lives on");
}

#[test]
fn a_connector_can_run_on_the_callers_runtime() {
    let rt = runtime();
    rt.block_on(async {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
            .on_event(move |_: &ConnectorHandle, event: Event| {
                let _ = tx.lock().unwrap().send(event.trigger());
            })
            .start_on(tokio::runtime::Handle::current())
            .unwrap();
        let mut client = connect(&format!("ws://{}/", server.local_addr().unwrap())).await;
        send_text(&mut client, "on your runtime").await;
        let mut seen = Vec::new();
        while seen.len() < 2 {
            seen.push(rx.recv_timeout(WAIT).unwrap());
        }
        let stopping = server.stop_async();
        let (stopped, close) = tokio::join!(stopping, recv_close(&mut client));
        stopped.unwrap();
        assert_eq!(close.0, 1001);
        seen.extend(rx.try_iter());
        assert_eq!(
            seen,
            [
                Trigger::InboundConnection,
                Trigger::InboundMessage,
                Trigger::SocketClosed
            ]
        );
    });
}

#[test]
fn dropping_the_connector_from_its_own_handler_stops_it_without_deadlock() {
    let slot: Arc<Mutex<Option<Connector>>> = Arc::new(Mutex::new(None));
    let handler_slot = slot.clone();
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event(move |_: &ConnectorHandle, event: Event| {
            if event
                .message()
                .is_some_and(|m| m.as_text() == Some("drop it"))
            {
                drop(handler_slot.lock().unwrap().take());
            }
        })
        .start()
        .unwrap();
    let url = url(&server, "/");
    let handle = server.handle();
    *slot.lock().unwrap() = Some(server);
    let rt = runtime();
    let mut client = rt.block_on(connect(&url));
    rt.block_on(send_text(&mut client, "drop it"));
    assert_eq!(rt.block_on(recv_close(&mut client)).0, 1001);
    assert!(!handle.is_running());
    assert!(slot.lock().unwrap().is_none());
}

#[test]
fn the_dispatcher_thread_is_woken_without_preempting_io() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event(move |_: &ConnectorHandle, _: Event| {
            // SAFETY: reads the calling thread's scheduling policy.
            let policy = unsafe { libc::sched_getscheduler(0) };
            let _ = tx.lock().unwrap().send(policy);
        })
        .start()
        .unwrap();
    let _client = raw_ws(server.local_addr().unwrap(), "/", &[]);
    let policy = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(policy, libc::SCHED_BATCH);
    // SAFETY: as above, on the test's own thread, which keeps the default policy.
    assert_eq!(unsafe { libc::sched_getscheduler(0) }, libc::SCHED_OTHER);
}

/// Both ends of a close handshake end when it completes, not at the close timeout: the client
/// end reads on past the server's close frame to the end of the stream, which came with it.
#[test]
fn a_close_handshake_between_two_connectors_ends_at_once() {
    let long = Duration::from_secs(120);
    let (server, server_events) = start_server(|config| config.socket.close_timeout = long);
    let mut client_config = Config::default();
    client_config.socket.close_timeout = long;
    let (client, client_events) = start_builder(Connector::builder(client_config));
    let id = client
        .open_outbound(&url(&server, "/"), OutboundOptions::new())
        .unwrap();
    server_events.expect(Trigger::InboundConnection);
    client.close(id.as_str(), 1000, "done").unwrap();
    // WAIT is far below the close timeout.
    assert_eq!(client_events.closed().1, 1000);
    assert_eq!(server_events.closed().1, 1000);
}
