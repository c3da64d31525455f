//! A slow, stalled or hostile peer: liveness under an application's backpressure.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::sync::{mpsc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite;
use wsconnector::{Config, Connector, ConnectorHandle, Event, Trigger};

#[test]
fn a_stalled_application_does_not_get_healthy_peers_dropped_as_unresponsive() {
    // Pings every second and a second to answer; room for one event: while the application
    // is stalled, the server reads nothing, so the client's pongs wait unread.
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.socket.ping_interval = Some(Duration::from_secs(1));
    config.socket.pong_timeout = Duration::from_secs(1);
    config.event_queue_capacity = 1;
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let gate = Mutex::new(gate_rx);
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Connector::builder(config)
        .on_event(move |_: &ConnectorHandle, event: Event| {
            if event.message().is_some() {
                let _ = gate.lock().unwrap().recv_timeout(3 * WAIT);
            }
            let _ = tx.lock().unwrap().send(event);
        })
        .start()
        .unwrap();
    let events = Events(rx);
    let rt = runtime();
    let client = rt.block_on(connect(&url(&server, "/healthy")));
    events.expect(Trigger::InboundConnection);
    // The client reads all along (answering pings) and sends 100 messages at once.
    let (mut sink, mut stream) = client.split();
    let (closed_tx, closed) = mpsc::channel();
    rt.spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            if let tungstenite::Message::Close(close) = frame {
                let _ = closed_tx.send(close);
            }
        }
    });
    let count = 100;
    rt.block_on(async {
        for i in 0..count {
            sink.send(tungstenite::Message::text(i.to_string()))
                .await
                .unwrap();
        }
    });
    // The application stalls for three pong timeouts and more, then catches up.
    std::thread::sleep(Duration::from_secs(4));
    drop(gate_tx);
    for i in 0..count {
        assert_eq!(events.text(Trigger::InboundMessage), i.to_string());
    }
    assert!(closed.try_recv().is_err(), "the server closed the client");
    assert!(server.socket_count() == 1);
}
