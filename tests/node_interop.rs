//! Interoperability with Node's `ws` library as the peer on the other side, both ways.
//! Needs Node.js and `npm install` in tests/node (make test-node does both), so it is ignored
//! by a plain `cargo test`; make test runs it.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use wsconnector::{
    Compression, Config, Connector, ConnectorHandle, Event, InboundPath, OutboundOptions, Trigger,
};

fn node(args: &[&str]) -> std::process::Child {
    Command::new("node")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node/peer.mjs"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (make test-node installs what it needs)")
}

fn json_line(child: &mut std::process::Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

/// The port a node server prints once it listens (`{"port":N}`).
fn listening_port(peer: &mut std::process::Child) -> u16 {
    let line = json_line(peer);
    line.trim()
        .trim_start_matches(r#"{"port":"#)
        .trim_end_matches('}')
        .parse()
        .expect(&line)
}

/// A listener that offers subprotocol chat.v1 and echoes every message back on the socket it
/// came from, with `compression`; its events are recorded.
fn echo_listener(compression: Compression) -> (Connector, Events) {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let mut config = Config::with_listener("127.0.0.1", 0);
    let listener = config.listener.as_mut().unwrap();
    listener.subprotocols = vec!["chat.v1".into()];
    listener
        .paths
        .push(InboundPath::with_groups("/node", ["node"]));
    config.compression = compression;
    let server = Connector::builder(config)
        .on_event(move |_: &ConnectorHandle, event: Event| {
            if let Event::InboundMessage { socket, message } = &event {
                socket.send(message.clone()).unwrap();
            }
            let _ = tx.lock().unwrap().send(event);
        })
        .start()
        .unwrap();
    (server, Events(rx))
}

#[test]
#[ignore = "needs Node.js and tests/node/node_modules: run by make test-node"]
fn node_ws_client_against_the_listener() {
    let (server, events) = echo_listener(Compression::default());
    let mut peer = node(&["client", &url(&server, "/node")]);
    let result = json_line(&mut peer);
    assert!(peer.wait().unwrap().success(), "{result}");
    assert!(result.contains(r#""got":["text:héllo from node:16","binary:0,1,2,255","text:fragmented:10","text:xxxxxxxxxxxxxxxxxxxx:70000"]"#), "{result}");
    assert!(result.contains(r#""protocol":"chat.v1""#), "{result}");

    let socket = events.expect(Trigger::InboundConnection).socket().clone();
    assert_eq!(socket.header("x-peer"), Some("node-ws"));
    for _ in 0..4 {
        events.expect(Trigger::InboundMessage);
    }
    let (_, code, reason) = events.closed();
    assert_eq!((code, reason.as_str()), (4001, "node says bye"));
}

#[test]
#[ignore = "needs Node.js and tests/node/node_modules: run by make test-node"]
fn outbound_socket_against_a_node_ws_server() {
    let mut peer = node(&["server"]);
    let port = listening_port(&mut peer);
    let (client, events) = start_builder(Connector::builder(Config::default()));
    let id = client
        .open_outbound(&format!("ws://127.0.0.1:{port}/"), OutboundOptions::new())
        .unwrap();
    let big = "y".repeat(100_000);
    for message in ["to node", big.as_str()] {
        client.send(id.as_str(), message).unwrap();
        assert_eq!(events.text(Trigger::OutboundMessage), message);
    }
    client
        .send(id.as_str(), wsconnector::Message::binary(vec![9u8, 8, 7]))
        .unwrap();
    assert_eq!(events.bytes(Trigger::OutboundMessage), [9, 8, 7]);
    client.send(id.as_str(), "close-me").unwrap();
    let (_, code, reason) = events.closed();
    assert_eq!((code, reason.as_str()), (4002, "node server closing"));
    assert!(peer.wait().unwrap().success());
}

/// permessage-deflate with `ws` as the client: every message it sends is compressed (a
/// fragmented one in one stream, RSV1 on its first frame), and so is every echo.
#[test]
#[ignore = "needs Node.js and tests/node/node_modules: run by make test-node"]
fn node_ws_client_with_permessage_deflate_against_the_listener() {
    let mut compression = Compression::on();
    compression.threshold = 0;
    let (server, events) = echo_listener(compression);
    let mut peer = node(&["client", &url(&server, "/node"), "deflate"]);
    let result = json_line(&mut peer);
    assert!(peer.wait().unwrap().success(), "{result}");
    assert!(result.contains(r#""got":["text:héllo from node:16","binary:0,1,2,255","text:fragmented:10","text:xxxxxxxxxxxxxxxxxxxx:70000"]"#), "{result}");
    assert!(
        result.contains(r#""extensions":"permessage-deflate""#),
        "{result}"
    );
    let socket = events.expect(Trigger::InboundConnection).socket().clone();
    assert_eq!(socket.extensions().as_deref(), Some("permessage-deflate"));
    assert_eq!(events.text(Trigger::InboundMessage), "héllo from node");
    assert_eq!(events.bytes(Trigger::InboundMessage), [0, 1, 2, 255]);
    assert_eq!(events.text(Trigger::InboundMessage), "fragmented");
    assert_eq!(events.text(Trigger::InboundMessage), "x".repeat(70_000));
    let (_, code, _) = events.closed();
    assert_eq!(code, 4001);
}

/// permessage-deflate with `ws` as the server of an outbound socket, both ways compressed.
#[test]
#[ignore = "needs Node.js and tests/node/node_modules: run by make test-node"]
fn outbound_socket_with_permessage_deflate_against_a_node_ws_server() {
    let mut peer = node(&["server", "deflate"]);
    let port = listening_port(&mut peer);
    let mut config = Config::default();
    config.compression = Compression::on();
    let (client, events) = start_builder(Connector::builder(config));
    let id = client
        .open_outbound(&format!("ws://127.0.0.1:{port}/"), OutboundOptions::new())
        .unwrap();
    let socket = client.socket(id.as_str()).unwrap();
    assert_eq!(socket.extensions().as_deref(), Some("permessage-deflate"));
    let big = "{\"symbol\":\"ACME\",\"bid\":101.25},".repeat(3000);
    for message in ["to node", big.as_str(), big.as_str()] {
        client.send(id.as_str(), message).unwrap();
        assert!(events.text(Trigger::OutboundMessage) == message);
    }
    client.send(id.as_str(), "close-me").unwrap();
    let (_, code, reason) = events.closed();
    assert_eq!((code, reason.as_str()), (4002, "node server closing"));
    assert!(peer.wait().unwrap().success());
}
