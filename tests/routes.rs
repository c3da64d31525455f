//! Per-path triggers as Mule declares them (the most specific pattern wins, else the trigger's
//! catch-all, else the connector-wide handler), inbound path templates (`{name}` segments)
//! whose values become the socket's URI parameters, and the request attributes Mule users read
//! (query string, method, HTTP version). The clients are tokio-tungstenite's.

mod common;

use common::*;
use std::sync::mpsc;
use std::sync::Mutex;
use wsconnector::{
    Config, Connector, ConnectorHandle, ErrorKind, Event, InboundPath, OutboundOptions, Trigger,
};

/// Which handler got an event: its name, the trigger and the socket's path.
type Seen = (&'static str, Trigger, String);

/// A handler that reports to `tx` under `name`.
fn handler(
    tx: &mpsc::Sender<Seen>,
    name: &'static str,
) -> impl Fn(&ConnectorHandle, Event) + Send + Sync + 'static {
    let tx = Mutex::new(tx.clone());
    move |_: &ConnectorHandle, event: Event| {
        let seen = (name, event.trigger(), event.socket().path().to_owned());
        let _ = tx.lock().unwrap().send(seen);
    }
}

fn next(rx: &mpsc::Receiver<Seen>) -> Seen {
    rx.recv_timeout(WAIT)
        .expect("an event within the wait limit")
}

#[test]
fn an_event_goes_to_the_most_specific_registration_of_its_trigger() {
    let (tx, rx) = mpsc::channel();
    let mut config = Config::with_listener("127.0.0.1", 0);
    let listener = config.listener.as_mut().unwrap();
    listener.paths.push(InboundPath::new("/chat/{room}"));
    listener.paths.push(InboundPath::new("/chat/vip/*"));
    listener.paths.push(InboundPath::new("/feed"));
    let hub = Connector::builder(config)
        .on_event(handler(&tx, "fallback"))
        .on_trigger(Trigger::InboundMessage, handler(&tx, "any message"))
        .on_trigger_at(Trigger::InboundMessage, "/chat/*", handler(&tx, "chat"))
        .on_trigger_at(
            Trigger::InboundMessage,
            "/chat/{room}",
            handler(&tx, "room"),
        )
        .on_trigger_at(Trigger::InboundMessage, "/chat/vip/*", handler(&tx, "vip"))
        .on_trigger_at(
            Trigger::InboundMessage,
            "/chat/lobby",
            handler(&tx, "lobby"),
        )
        .on_trigger_at(
            Trigger::InboundConnection,
            "*",
            handler(&tx, "any connection"),
        )
        .on_trigger_at(Trigger::SocketClosed, "/feed", handler(&tx, "feed closed"))
        .on_trigger_at(Trigger::OutboundMessage, "/feed", handler(&tx, "from feed"))
        .start()
        .unwrap();
    let rt = runtime();
    let cases = [
        ("/chat/lobby", "lobby"),
        ("/chat/r1", "room"),
        ("/chat/vip/a", "vip"),
        ("/feed", "any message"),
    ];
    for (path, expected) in cases {
        let mut client = rt.block_on(connect(&url(&hub, path)));
        let connected = next(&rx);
        assert_eq!(
            connected,
            ("any connection", Trigger::InboundConnection, path.into())
        );
        rt.block_on(send_text(&mut client, "hi"));
        assert_eq!(next(&rx), (expected, Trigger::InboundMessage, path.into()));
        drop(client);
        let closed = if path == "/feed" {
            "feed closed"
        } else {
            "fallback"
        };
        assert_eq!(next(&rx), (closed, Trigger::SocketClosed, path.into()));
    }
    // An outbound socket's messages go by its own path: here to its own listener's /feed.
    let feed = hub
        .open_outbound(&url(&hub, "/feed"), OutboundOptions::new())
        .unwrap();
    let (_, trigger, _) = next(&rx);
    assert_eq!(trigger, Trigger::InboundConnection);
    let inbound = hub
        .sockets(&wsconnector::SocketFilter::all().with_type(wsconnector::SocketType::Inbound))
        .unwrap();
    hub.send(inbound[0].id().as_str(), "quote").unwrap();
    assert_eq!(
        next(&rx),
        ("from feed", Trigger::OutboundMessage, "/feed".into())
    );
    hub.close(feed.as_str(), 1000, "").unwrap();
    for _ in 0..2 {
        let (name, trigger, _) = next(&rx);
        assert_eq!((name, trigger), ("feed closed", Trigger::SocketClosed));
    }
}

#[test]
fn a_bad_trigger_pattern_fails_the_start() {
    let e = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_trigger_at(
            Trigger::InboundMessage,
            "chat",
            |_: &ConnectorHandle, _: Event| {},
        )
        .start()
        .err()
        .expect("a bad pattern");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("chat"), "{e}");
}

#[test]
fn templates_capture_uri_params_and_the_request_attributes_are_there() {
    let (hub, events) = start_server(|c| {
        let listener = c.listener.as_mut().unwrap();
        listener.base_path = "/ws".into();
        listener
            .paths
            .push(InboundPath::new("/u/{user}/room/{room}"));
    });
    let rt = runtime();
    let _client = rt.block_on(connect(&url(
        &hub,
        "/ws/u/ann%20b/room/r1?since=10&tag=a%26b",
    )));
    let socket = events.expect(Trigger::InboundConnection).socket().clone();
    assert_eq!(socket.path(), "/ws/u/ann b/room/r1");
    assert_eq!(
        socket.uri_params(),
        [
            ("user".to_owned(), "ann b".to_owned()),
            ("room".to_owned(), "r1".to_owned())
        ]
    );
    assert_eq!(socket.uri_param("room"), Some("r1"));
    assert_eq!(socket.uri_param("nope"), None);
    assert_eq!(socket.query_string(), "since=10&tag=a%26b");
    assert_eq!(socket.query_param("tag"), Some("a&b"));
    assert_eq!(socket.method(), "GET");
    assert_eq!(socket.http_version(), "HTTP/1.1");
    // A template matches one whole segment: two segments, or none, are not served.
    for path in ["/ws/u/ann/x/room/r1", "/ws/u//room/r1"] {
        let (status, _) = raw_http(hub.local_addr().unwrap(), &upgrade_request(path, ""));
        assert_eq!(status, 404, "{path}");
    }
    // Without a query string, and without templates: none of either.
    let (plain, plain_events) = start_server(|_| {});
    let _client = rt.block_on(connect(&url(&plain, "/x")));
    let socket = plain_events
        .expect(Trigger::InboundConnection)
        .socket()
        .clone();
    assert_eq!((socket.query_string(), socket.uri_params().len()), ("", 0));
}

/// Events handed to the application through the event queue (each taken one is timed).
fn handed_over(connector: &Connector) -> u64 {
    connector.metrics().event_wait.count
}

#[test]
fn a_trigger_without_a_handler_makes_no_connection_or_closed_events() {
    // Messages alone are handled: no connection or closed event is queued for them. The
    // control, `on_event`, queues all three for each socket. One dispatcher thread takes the
    // queue in order, so once the last socket's message is handled, every event queued before
    // it has been handed over.
    const SOCKETS: u64 = 3;
    for (messages_only, handed) in [(true, SOCKETS + 1), (false, SOCKETS * 3 + 2)] {
        let (tx, rx) = mpsc::channel();
        let mut config = Config::with_listener("127.0.0.1", 0);
        config.dispatcher_threads = Some(1);
        let builder = Connector::builder(config);
        let builder = if messages_only {
            builder.on_trigger(Trigger::InboundMessage, handler(&tx, "message"))
        } else {
            builder.on_event(handler(&tx, "any"))
        };
        let hub = builder.start().unwrap();
        let addr = hub.local_addr().unwrap();
        let message_handled = || loop {
            let (_, trigger, _) = next(&rx);
            if trigger == Trigger::InboundMessage {
                return;
            }
        };
        for _ in 0..SOCKETS {
            let client = raw_ws(addr, "/x", &[client_frame(1, b"hello")]);
            message_handled();
            drop(client);
        }
        wait_for_metrics(&hub, "every socket closed", |m| {
            m.closed_with(Some(1006)) == SOCKETS
        });
        let last = raw_ws(addr, "/x", &[client_frame(1, b"last")]);
        message_handled();
        assert_eq!(handed_over(&hub), handed, "messages only: {messages_only}");
        drop(last);
        hub.stop().unwrap();
    }
}
