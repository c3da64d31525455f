//! Inline dispatch (`ConnectorBuilder::on_event_inline`): the handler runs on the I/O thread
//! where each event happens, with the ordering of the dispatched mode, every operation that
//! does not wait, errors (not deadlocks) for those that would, panics survived, and stop.

mod common;

use common::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use wsconnector::{
    Config, Connector, ConnectorHandle, ErrorKind, Event, OutboundOptions, SocketFilter, Trigger,
};

/// Starts a server whose inline handler forwards every event, with the name of the thread it
/// ran on, after `act` has acted on it.
fn inline_server(
    configure: impl FnOnce(&mut Config),
    act: impl Fn(&ConnectorHandle, &Event) + Send + Sync + 'static,
) -> (Connector, mpsc::Receiver<(String, Event)>) {
    let mut config = Config::with_listener("127.0.0.1", 0);
    configure(&mut config);
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Connector::builder(config)
        .on_event_inline(move |conn: &ConnectorHandle, event: Event| {
            act(conn, &event);
            let thread = std::thread::current().name().unwrap_or("").to_owned();
            let _ = tx.lock().unwrap().send((thread, event));
        })
        .start()
        .unwrap();
    (server, rx)
}

#[test]
fn inline_events_keep_their_order_and_run_on_the_io_threads() {
    let (server, events) = inline_server(
        |config| config.worker_threads = Some(2),
        |_, event| {
            // The echo leaves from the handler, on the socket at hand.
            if let Event::InboundMessage { socket, message } = event {
                socket.send(message.clone()).unwrap();
            }
        },
    );
    const CLIENTS: usize = 8;
    const MESSAGES: usize = 200;
    let url = url(&server, "/order");
    let rt = runtime();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..CLIENTS {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut client = connect(&url).await;
                for m in 0..MESSAGES {
                    send_text(&mut client, &format!("{c}:{m}")).await;
                }
                for m in 0..MESSAGES {
                    assert_eq!(recv_text(&mut client).await, format!("{c}:{m}"));
                }
                let _ = futures_util::SinkExt::close(&mut client).await;
                while let Some(Ok(_)) = futures_util::StreamExt::next(&mut client).await {}
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    let mut closed = 0;
    while closed < CLIENTS {
        let (thread, event) = events.recv_timeout(WAIT).unwrap();
        assert_eq!(thread, "wsc-io", "{event:?} ran on an I/O thread");
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
    assert_eq!(seen.len(), CLIENTS);
    for log in seen.values() {
        let c = log[1].split(':').next().unwrap().to_owned();
        let expected: Vec<String> = std::iter::once("open".to_owned())
            .chain((0..MESSAGES).map(|m| format!("{c}:{m}")))
            .chain(std::iter::once("closed".to_owned()))
            .collect();
        assert_eq!(log, &expected, "messages in order, closed once, last");
    }
    server.stop().unwrap();
    assert!(
        events.try_recv().is_err(),
        "nothing after the closed events"
    );
}

/// Several replies from an inline handler to its own socket, for every message of a
/// pipelined burst: the first skips the queue, the others are queued without waking the
/// socket's task (it takes them in the same poll); all leave, in order, none waits.
#[test]
fn several_inline_replies_to_the_own_socket_all_leave_in_order() {
    let (server, _events) = inline_server(
        |_| {},
        |_, event| {
            if let Event::InboundMessage { socket, message } = event {
                let text = message.as_text().unwrap();
                for part in ["a", "b", "c"] {
                    socket.send(format!("{text}{part}")).unwrap();
                }
            }
        },
    );
    const MESSAGES: usize = 300;
    let url = url(&server, "/replies");
    runtime().block_on(async {
        let mut client = connect(&url).await;
        for m in 0..MESSAGES {
            send_text(&mut client, &m.to_string()).await;
        }
        for m in 0..MESSAGES {
            for part in ["a", "b", "c"] {
                assert_eq!(recv_text(&mut client).await, format!("{m}{part}"));
            }
        }
    });
}

#[test]
fn an_inline_handler_may_call_every_operation_but_those_that_would_wait() {
    let me: Arc<Mutex<Option<Arc<Connector>>>> = Arc::default();
    let handler_me = me.clone();
    let (reports, reported) = mpsc::channel();
    let reports = Mutex::new(reports);
    let (server, _events) = inline_server(
        |_| {},
        move |conn, event| {
            let report = |what: String| reports.lock().unwrap().send(what).unwrap();
            match event {
                Event::InboundMessage { socket, message } if message.as_text() == Some("dial") => {
                    let url = format!("ws://{}/loopback", conn.local_addr().unwrap());
                    // Waiting operations: errors, not deadlocks of the I/O thread.
                    let waited = conn.open_outbound(&url, OutboundOptions::new());
                    report(format!("open_outbound: {:?}", waited.map_err(|e| e.kind())));
                    let stopped = handler_me.lock().unwrap().clone().unwrap().stop();
                    report(format!("stop: {:?}", stopped.map_err(|e| e.kind())));
                    // The non-blocking way: spawned, on the connector's own runtime.
                    let conn = conn.clone();
                    let control = socket.clone();
                    tokio::spawn(async move {
                        let options = OutboundOptions::new().socket_id("loop");
                        let id = conn.open_outbound_async(&url, options).await.unwrap();
                        conn.subscribe(id.as_str(), &["loops"]).unwrap();
                        conn.send(id.as_str(), "through the loop").unwrap();
                        control.send("dialed").unwrap();
                    });
                }
                Event::InboundMessage { socket, message } if socket.path() == "/loopback" => {
                    report(format!("loop got {}", message.as_text().unwrap()));
                    if message.as_text() == Some("through the loop") {
                        socket.subscribe(&["loop ends"]).unwrap();
                        report(format!("in group: {}", socket.in_group("loop ends")));
                        let sent = conn
                            .broadcast("to loops", &SocketFilter::all().with_groups(["loops"]))
                            .unwrap();
                        report(format!("broadcast reached {}", sent.delivered));
                    } else {
                        socket.send("back").unwrap();
                    }
                }
                Event::OutboundMessage { socket, message } => {
                    report(format!("outbound got {}", message.as_text().unwrap()));
                    assert_eq!(socket.id().as_str(), "loop");
                    let loops = SocketFilter::all().with_groups(["loops"]);
                    report(format!(
                        "closing {}",
                        conn.bulk_close(&loops, 1000, "done").unwrap()
                    ));
                }
                Event::SocketClosed { socket, code, .. } if socket.id().as_str() == "loop" => {
                    report(format!("loop closed {code}"))
                }
                _ => {}
            }
        },
    );
    let server = Arc::new(server);
    *me.lock().unwrap() = Some(server.clone());
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/control")));
    rt.block_on(send_text(&mut client, "dial"));
    let next = || reported.recv_timeout(WAIT).unwrap();
    assert_eq!(
        next(),
        format!("open_outbound: {:?}", Err::<(), _>(ErrorKind::InvalidState))
    );
    assert_eq!(
        next(),
        format!("stop: {:?}", Err::<(), _>(ErrorKind::InvalidState))
    );
    assert_eq!(rt.block_on(recv_text(&mut client)), "dialed");
    assert_eq!(next(), "loop got through the loop");
    assert_eq!(next(), "in group: true");
    assert_eq!(next(), "broadcast reached 1");
    assert_eq!(next(), "loop got to loops");
    assert_eq!(next(), "outbound got back");
    assert_eq!(next(), "closing 1");
    assert_eq!(next(), "loop closed 1000");
    assert!(server.is_running());
    me.lock().unwrap().take();
    drop(client);
    server.stop().unwrap();
}

#[test]
fn a_panicking_inline_handler_is_survived_by_its_socket_and_thread() {
    let (server, events) = inline_server(
        |config| config.worker_threads = Some(1),
        |_, event| {
            if let Event::InboundMessage { socket, message } = event {
                if message.as_text() == Some("panic") {
                    panic!("handler bug");
                }
                socket.send(message.clone()).unwrap();
            }
        },
    );
    let rt = runtime();
    let _clients = rt.block_on(async {
        let mut client = connect(&url(&server, "/")).await;
        send_text(&mut client, "panic").await;
        send_text(&mut client, "after").await;
        assert_eq!(recv_text(&mut client).await, "after");
        let mut other = connect(&url(&server, "/")).await;
        send_text(&mut other, "other").await;
        assert_eq!(recv_text(&mut other).await, "other");
        (client, other)
    });
    assert_eq!(server.socket_count(), 2, "the panic closed nothing");
    let messages: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|(_, event)| event.message()?.as_text().map(str::to_owned))
        .collect();
    assert_eq!(
        messages,
        ["after", "other"],
        "the panicking call delivered nothing"
    );
}

/// Inline dispatch delivers through the dispatcher's `deliver`, as the pool does: a handler
/// that panics on an inbound connection refuses that socket (1011), and only that one.
#[test]
fn a_panicking_inline_connection_handler_refuses_its_socket() {
    let (server, events) = inline_server(
        |config| config.worker_threads = Some(1),
        |_, event| {
            if let Event::InboundConnection { socket } = event {
                if socket.path() == "/refused" {
                    panic!("connection handler bug");
                }
            }
        },
    );
    let rt = runtime();
    rt.block_on(async {
        let mut refused = connect(&url(&server, "/refused")).await;
        assert_eq!(recv_close(&mut refused).await.0, 1011);
    });
    let closed = loop {
        let (_, event) = events.recv_timeout(WAIT).unwrap();
        if let Event::SocketClosed { socket, code, .. } = event {
            break (socket.path().to_owned(), code);
        }
    };
    assert_eq!(closed, ("/refused".to_owned(), 1011));
    let kept = rt.block_on(connect(&url(&server, "/kept")));
    assert_eq!(server.socket_count(), 1, "only the refused socket closed");
    drop(kept);
}

#[test]
fn stop_delivers_every_closed_event_inline_before_it_returns() {
    let stopped = Arc::new(AtomicBool::new(false));
    let late = Arc::new(AtomicBool::new(false));
    let (handler_stopped, handler_late) = (stopped.clone(), late.clone());
    let (server, events) = inline_server(
        |_| {},
        move |_, _| {
            if handler_stopped.load(Ordering::SeqCst) {
                handler_late.store(true, Ordering::SeqCst);
            }
        },
    );
    const CLIENTS: usize = 20;
    let rt = runtime();
    let clients: Vec<Client> = rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            clients.push(connect(&url(&server, "/")).await);
        }
        clients
    });
    for _ in 0..CLIENTS {
        let (_, event) = events.recv_timeout(WAIT).unwrap();
        assert_eq!(event.trigger(), Trigger::InboundConnection);
    }
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut client| rt.spawn(async move { recv_close(&mut client).await }))
        .collect();
    server.stop().unwrap();
    stopped.store(true, Ordering::SeqCst);
    let codes: Vec<u16> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|(_, event)| match event {
            Event::SocketClosed { code, .. } => code,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        codes, [1001; CLIENTS],
        "every closed event, before stop returned"
    );
    for reader in readers {
        assert_eq!(rt.block_on(reader).unwrap().0, 1001);
    }
    assert!(!late.load(Ordering::SeqCst), "no call after stop returned");
}

/// The per-path triggers run inline too: a message on `/rooms/{room}` goes to its pattern's
/// handler, on an I/O thread, and the socket carries the served path's URI parameter.
#[test]
fn per_path_triggers_run_inline() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let mut config = Config::with_listener("127.0.0.1", 0);
    if let Some(listener) = config.listener.as_mut() {
        listener.paths = vec![wsconnector::InboundPath::new("/rooms/{room}")];
    }
    let server = Connector::builder(config)
        .on_trigger_at(
            Trigger::InboundMessage,
            "/rooms/{room}",
            move |_: &ConnectorHandle, event: Event| {
                let thread = std::thread::current().name().unwrap_or("").to_owned();
                let room = event.socket().uri_param("room").map(str::to_owned);
                let _ = tx.lock().unwrap().send((thread, room));
            },
        )
        .on_event_inline(|_: &ConnectorHandle, _: Event| {})
        .start()
        .unwrap();
    let url = url(&server, "/rooms/red");
    runtime().block_on(async {
        let mut client = connect(&url).await;
        send_text(&mut client, "hi").await;
        let (thread, room) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(thread, "wsc-io");
        assert_eq!(room.as_deref(), Some("red"));
    });
    server.stop().unwrap();
}

/// An inline echo of every size around the wire's thresholds (a payload held in the message
/// itself up to 37 bytes, copied out of the read buffer up to 1 KiB, kept in it past that,
/// a read buffer grown past 64 KiB), text and binary, one at a time (each reply leaves in the
/// buffer its message came in) and pipelined (replies buffered while more is read): every
/// byte comes back, in order.
#[test]
fn an_inline_echo_returns_every_size_intact_and_in_order() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as Frame;
    let (server, _events) = inline_server(
        |_| {},
        |_, event| {
            if let Event::InboundMessage { socket, message } = event {
                socket.send(message.clone()).unwrap();
            }
        },
    );
    const SIZES: [usize; 12] = [0, 1, 36, 37, 38, 125, 126, 1023, 1024, 2047, 5000, 70_000];
    let frames: Vec<Frame> = SIZES
        .iter()
        .enumerate()
        .flat_map(|(i, &len)| {
            let bytes: Vec<u8> = (0..len).map(|b| (b * 7 + i) as u8).collect();
            let text: String = (0..len)
                .map(|b| char::from(b'a' + ((b + i) % 26) as u8))
                .collect();
            [Frame::binary(bytes), Frame::text(text)]
        })
        .collect();
    let url = url(&server, "/sizes");
    runtime().block_on(async {
        let mut client = connect(&url).await;
        for frame in &frames {
            client.send(frame.clone()).await.unwrap();
            let echoed = loop {
                match tokio::time::timeout(WAIT, client.next()).await.unwrap() {
                    Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => continue,
                    other => break other.unwrap().unwrap(),
                }
            };
            assert_eq!(&echoed, frame, "one at a time");
        }
        for frame in &frames {
            client.feed(frame.clone()).await.unwrap();
        }
        client.flush().await.unwrap();
        for frame in &frames {
            let echoed = loop {
                match tokio::time::timeout(WAIT, client.next()).await.unwrap() {
                    Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => continue,
                    other => break other.unwrap().unwrap(),
                }
            };
            assert_eq!(&echoed, frame, "pipelined");
        }
    });
    server.stop().unwrap();
}
