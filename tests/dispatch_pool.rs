//! The dispatcher pool: events of different sockets run side by side, each socket's in order;
//! a failing inbound-connection handler refuses its socket; the closed event shows the groups
//! the socket had. No timing assertions: every wait is bounded and the bound fails the test.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use tokio_tungstenite::tungstenite;
use wsconnector::{Config, Connector, ConnectorHandle, Event, InboundPath, Trigger};

/// Socket X's connection handler waits for socket Y's message handler. With one dispatcher
/// thread (the connector before the pool) it waits until the bound and the test fails.
#[test]
fn a_blocked_handler_delays_no_other_socket() {
    let (y_ran_tx, y_ran_rx) = mpsc::sync_channel::<()>(1);
    let y_ran_rx = Mutex::new(y_ran_rx);
    let (report_tx, report) = mpsc::channel::<&str>();
    let report_tx = Mutex::new(report_tx);
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event(move |_: &ConnectorHandle, event: Event| {
            let report = |what| report_tx.lock().unwrap().send(what).unwrap();
            match event {
                Event::InboundConnection { socket } if socket.path() == "/x" => {
                    report("x waits");
                    let waited = y_ran_rx.lock().unwrap().recv_timeout(WAIT);
                    report(if waited.is_ok() {
                        "x saw y"
                    } else {
                        "x timed out"
                    });
                }
                Event::InboundMessage { socket, .. } if socket.path() == "/y" => {
                    let _ = y_ran_tx.try_send(());
                }
                _ => {}
            }
        })
        .start()
        .unwrap();
    let rt = runtime();
    let _x = rt.block_on(connect(&url(&server, "/x")));
    assert_eq!(report.recv_timeout(WAIT), Ok("x waits"));
    let mut y = rt.block_on(connect(&url(&server, "/y")));
    rt.block_on(send_text(&mut y, "hello"));
    assert_eq!(report.recv_timeout(WAIT * 2), Ok("x saw y"));
}

/// Thousands of sockets come and go, each sending numbered messages, on a pool of four
/// threads whose handler yields now and then: every socket's events arrive exactly once and
/// in order (connection, its messages, closed last).
#[test]
fn order_per_socket_holds_under_churn_on_several_threads() {
    const SOCKETS: usize = 2_000;
    const MESSAGES: usize = 5;
    const AT_ONCE: usize = 50;
    let seen: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let (closed_tx, closed) = mpsc::channel::<()>();
    let closed_tx = Mutex::new(closed_tx);
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.dispatcher_threads = Some(4);
    let record = seen.clone();
    let server = Connector::builder(config)
        .on_event(move |_: &ConnectorHandle, event: Event| {
            let entry = match &event {
                Event::InboundConnection { .. } => "connection".to_owned(),
                Event::InboundMessage { message, .. } => message.as_text().unwrap().to_owned(),
                Event::SocketClosed { .. } => "closed".to_owned(),
                other => format!("{:?}", other.trigger()),
            };
            let id = event.socket().id().to_string();
            if entry.ends_with('0') {
                std::thread::yield_now(); // lets another thread overtake this socket's next event
            }
            record.lock().unwrap().entry(id).or_default().push(entry);
            if matches!(event, Event::SocketClosed { .. }) {
                closed_tx.lock().unwrap().send(()).unwrap();
            }
        })
        .start()
        .unwrap();
    let url = url(&server, "/");
    let rt = runtime();
    rt.block_on(async {
        let mut running = tokio::task::JoinSet::new();
        for n in 0..SOCKETS {
            if running.len() == AT_ONCE {
                running.join_next().await.unwrap().unwrap();
            }
            let url = url.clone();
            running.spawn(async move {
                let mut client = connect(&url).await;
                for m in 0..MESSAGES {
                    client
                        .send(tungstenite::Message::text(format!("{n}-{m}")))
                        .await
                        .unwrap();
                }
                client.close(None).await.unwrap();
                while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, client.next()).await {}
            });
        }
        while let Some(done) = running.join_next().await {
            done.unwrap();
        }
    });
    for _ in 0..SOCKETS {
        closed
            .recv_timeout(WAIT)
            .expect("every socket's closed event");
    }
    server.stop().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), SOCKETS);
    for events in seen.values() {
        let n = events[1].split('-').next().unwrap();
        let mut expected = vec!["connection".to_owned()];
        expected.extend((0..MESSAGES).map(|m| format!("{n}-{m}")));
        expected.push("closed".to_owned());
        assert_eq!(events, &expected);
    }
}

/// Starts a server whose inbound-connection handler reports, waits for `go`, then panics,
/// after closing the socket itself with `own_code` if given.
fn server_whose_connection_handler_panics(
    own_code: Option<u16>,
) -> (Connector, Events, mpsc::SyncSender<()>) {
    let (go_tx, go) = mpsc::sync_channel::<()>(1);
    let go = Mutex::new(go);
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event(move |_: &ConnectorHandle, event: Event| {
            let _ = tx.lock().unwrap().send(event.clone());
            if let Event::InboundConnection { socket } = event {
                go.lock().unwrap().recv_timeout(WAIT).unwrap();
                if let Some(code) = own_code {
                    socket.close(code, "not you").unwrap();
                }
                panic!("the connection flow failed");
            }
        })
        .start()
        .unwrap();
    (server, Events(rx), go_tx)
}

/// A client that connects, sends a message and knows the server has read it (the server's
/// pong to a ping sent after it has come back) before the connection handler fails.
async fn connect_send_and_let_fail(url: &str, go: &mpsc::SyncSender<()>) -> Client {
    let mut client = connect(url).await;
    send_text(&mut client, "waits for the connection handler").await;
    client
        .send(tungstenite::Message::Ping(b"p".to_vec().into()))
        .await
        .unwrap();
    loop {
        let frame = tokio::time::timeout(WAIT, client.next()).await.unwrap();
        if let Some(Ok(tungstenite::Message::Pong(_))) = frame {
            break;
        }
    }
    go.send(()).unwrap();
    client
}

#[test]
fn a_panicking_connection_handler_refuses_the_socket_and_drops_what_waited() {
    let (server, events, go) = server_whose_connection_handler_panics(None);
    let rt = runtime();
    let mut client = rt.block_on(connect_send_and_let_fail(&url(&server, "/"), &go));
    assert_eq!(rt.block_on(recv_close(&mut client)).0, 1011);
    events.expect(Trigger::InboundConnection);
    let (_, code, _) = events.closed();
    assert_eq!(code, 1011);
    server.stop().unwrap();
    events.assert_none(std::time::Duration::ZERO);
}

#[test]
fn a_connection_handler_that_closes_then_fails_keeps_its_own_code() {
    let (server, events, go) = server_whose_connection_handler_panics(Some(4001));
    let rt = runtime();
    let mut client = rt.block_on(connect_send_and_let_fail(&url(&server, "/"), &go));
    assert_eq!(
        rt.block_on(recv_close(&mut client)),
        (4001, "not you".into())
    );
    events.expect(Trigger::InboundConnection);
    assert_eq!(events.closed().1, 4001);
    server.stop().unwrap();
    events.assert_none(std::time::Duration::ZERO);
}

/// The closed event shows the groups the socket had when it closed: the path's default
/// groups, those it joined, not those it left.
#[test]
fn the_closed_event_carries_the_groups_the_socket_had() {
    let (server, events) = start_server(|c| {
        let listener = c.listener.as_mut().unwrap();
        listener
            .paths
            .push(InboundPath::with_groups("/chat", ["lobby", "everyone"]));
    });
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/chat")));
    let Event::InboundConnection { socket } = events.expect(Trigger::InboundConnection) else {
        unreachable!()
    };
    socket.subscribe(&["room-1", "room-2"]).unwrap();
    socket.unsubscribe(&["lobby"]).unwrap();
    rt.block_on(client.close(None)).unwrap();
    let (closed, code, _) = events.closed();
    assert_eq!(code, 1005, "closed with no code");
    assert_eq!(closed.groups(), ["everyone", "room-1", "room-2"]);
    assert!(closed.in_group("room-1") && !closed.is_open());
    assert_eq!(closed.path(), "/chat");
    assert_eq!(closed.state(), wsconnector::SocketState::Closed);
    // It has left every group nonetheless: a broadcast to them reaches nobody.
    let to_room = wsconnector::SocketFilter::all().with_groups(["room-1"]);
    assert_eq!(server.broadcast("anyone?", &to_room).unwrap().delivered, 0);
    assert!(socket.subscribe(&["late"]).is_err());
}
