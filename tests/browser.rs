//! A real browser as the peer: headless Chromium connects to the listener from a page,
//! receives a server push, exchanges text and binary, and sees the server close, without and
//! with permessage-deflate (which every browser offers). Needs
//! Chromium and playwright-core (make test-browser installs both), so a plain `cargo test`
//! ignores it; make test runs it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use wsconnector::{Compression, Config, Connector, ConnectorHandle, Event, Socket};

#[test]
#[ignore = "needs Chromium and tests/node/node_modules: run by make test-browser"]
fn chromium_receives_pushes_and_echoes() {
    let (line, socket) = push_and_echo(Compression::default());
    let expected = r#"{"seen":["text:welcome, browser","text:hello from the browser","binary:1,2,3,250"],"code":4003,"reason":"bye, browser","protocol":"push.v1","extensions":""}"#;
    assert_eq!(line.trim(), expected);
    assert_eq!(socket.compression(), None);
}

/// The page sees the extension negotiated (`WebSocket.extensions`), and every message, each
/// compressed both ways, arrives intact.
#[test]
#[ignore = "needs Chromium and tests/node/node_modules: run by make test-browser"]
fn chromium_negotiates_permessage_deflate() {
    let mut compression = Compression::on();
    compression.threshold = 0;
    let (line, socket) = push_and_echo(compression);
    let expected = r#"{"seen":["text:welcome, browser","text:hello from the browser","binary:1,2,3,250"],"code":4003,"reason":"bye, browser","protocol":"push.v1","extensions":"permessage-deflate"}"#;
    assert_eq!(line.trim(), expected);
    assert_eq!(socket.extensions().as_deref(), Some("permessage-deflate"));
    assert!(socket
        .header("sec-websocket-extensions")
        .is_some_and(|offer| offer.contains("permessage-deflate")));
}

/// Serves one page's socket with `compression`: a push, echoes, then a close from the server;
/// returns the page's report and the socket.
fn push_and_echo(compression: Compression) -> (String, Socket) {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.listener.as_mut().unwrap().subprotocols = vec!["push.v1".into()];
    config.compression = compression;
    let server = Connector::builder(config)
        .on_event(move |_: &ConnectorHandle, event: Event| match &event {
            // Server push: the browser hears from us first.
            Event::InboundConnection { socket } => {
                socket.send("welcome, browser").unwrap();
            }
            Event::InboundMessage { socket, message } => {
                socket.send(message.clone()).unwrap();
                let _ = tx.lock().unwrap().send(socket.clone());
            }
            _ => {}
        })
        .start()
        .unwrap();
    let url = format!("ws://{}/live", server.local_addr().unwrap());
    let mut browser = Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/node/browser.mjs"
        ))
        .arg(&url)
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (make test-browser installs what it needs)");
    // After both echoes went out, close from the server with a code the page must see.
    let socket = rx.recv_timeout(common::WAIT).unwrap();
    rx.recv_timeout(common::WAIT).unwrap();
    assert!(socket
        .header("user-agent")
        .is_some_and(|ua| ua.contains("Chrome")));
    assert!(
        socket.header("origin").is_some(),
        "a browser sends its origin"
    );
    server
        .close(socket.id().as_str(), 4003, "bye, browser")
        .unwrap();
    let mut line = String::new();
    BufReader::new(browser.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(browser.wait().unwrap().success(), "{line}");
    (line, socket)
}
