//! The README's Rust snippets (examples/readme/*.rs besides main.rs, which is the `readme`
//! example), which it includes verbatim (python/tests/test_readme.py checks the copies): each
//! is compiled here as a module and run against real peers: tokio-tungstenite clients and
//! servers, and a redis-server of the test's own for the cluster.

mod common;

#[path = "../examples/readme/cluster.rs"]
mod cluster;
#[path = "../examples/readme/left.rs"]
mod left;
#[path = "../examples/readme/per_path.rs"]
mod per_path;
#[path = "../examples/readme/reconnect.rs"]
mod reconnect;

use common::backplane::RedisServer;
use common::*;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
use tokio_tungstenite::tungstenite::Message;
use wsconnector::{Config, Connector, InboundPath, SocketFilter, SocketState, Trigger};

/// "Who left room X": the other members of the room hear that the socket left.
#[test]
fn the_closed_event_tells_the_room() {
    let mut config = Config::with_listener("127.0.0.1", 0);
    let listener = config.listener.as_mut().unwrap();
    listener
        .paths
        .push(InboundPath::with_groups("/chat", ["kitchen"]));
    let chat = Connector::builder(config)
        .on_event(left::on_event)
        .start()
        .unwrap();
    let rt = runtime();
    rt.block_on(async {
        let mut ann = connect(&url(&chat, "/chat")).await;
        let mut bob = connect(&url(&chat, "/chat")).await;
        assert_eq!(chat.sockets(&SocketFilter::all()).unwrap().len(), 2);
        bob.close(None).await.unwrap();
        let line = recv_text(&mut ann).await;
        assert!(line.ends_with(" left"), "{line}");
        let id = line.trim_end_matches(" left");
        assert!(
            chat.socket(id).is_err(),
            "the socket that left is gone: {id}"
        );
        ann.close(None).await.unwrap();
    });
    chat.stop().unwrap();
}

/// Messages on a room path go to the room handler, with the room's name; others to the other.
#[test]
fn per_path_handlers_take_their_paths() {
    let chat = per_path::start(Config::with_listener("127.0.0.1", 0)).unwrap();
    let rt = runtime();
    rt.block_on(async {
        let mut room = connect(&url(&chat, "/chat/kitchen")).await;
        let mut other = connect(&url(&chat, "/lobby")).await;
        send_text(&mut room, "hi").await;
        assert_eq!(recv_text(&mut room).await, "/chat/kitchen is a room");
        send_text(&mut other, "hi").await;
        assert_eq!(recv_text(&mut other).await, "not a room");
    });
    chat.stop().unwrap();
}

/// The feed's server goes away (1001, not a final code) and comes back: the socket reconnects
/// with its ID, and a message sent meanwhile or after reaches the new connection.
#[test]
fn the_feed_comes_back() {
    let rt = runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let feed_url = format!("ws://{}/stream", listener.local_addr().unwrap());
    let server = rt.spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut first = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let away = CloseFrame {
            code: CloseCode::Away,
            reason: "restarting".into(),
        };
        first.close(Some(away)).await.unwrap();
        while let Some(Ok(_)) = first.next().await {}
        let (tcp, _) = listener.accept().await.unwrap();
        let mut second = tokio_tungstenite::accept_async(tcp).await.unwrap();
        loop {
            match second.next().await {
                Some(Ok(Message::Text(text))) => break text.to_string(),
                Some(Ok(_)) => continue,
                other => panic!("no message on the new connection: {other:?}"),
            }
        }
    });
    let (client, events) = start_builder(Connector::builder(Config::default()));
    let id = reconnect::open_feed(&client, &feed_url).unwrap();
    assert_eq!(id.as_str(), "quotes");
    events.expect(Trigger::OutboundReconnecting);
    events.expect(Trigger::OutboundReconnected);
    let socket = client.socket(id.as_str()).unwrap();
    assert_eq!(socket.state(), SocketState::Connected);
    assert_eq!(socket.groups(), ["feeds"]);
    client.send(id.as_str(), "/sub ACME").unwrap();
    let received = rt
        .block_on(async { tokio::time::timeout(WAIT, server).await })
        .expect("the server got a message in time")
        .unwrap();
    assert_eq!(received, "/sub ACME");
    client.stop().unwrap();
}

/// Two nodes through a real redis-server: the second one's tick reaches a client of the first,
/// and a broadcast from it is answered by both nodes.
#[test]
fn a_cluster_of_two_nodes() {
    let redis = RedisServer::start();
    let a = cluster::chat_node("127.0.0.1", 0, &redis.url()).unwrap();
    let rt = runtime();
    let mut ann = rt.block_on(connect(&url(&a, "/chat")));
    let b = cluster::chat_node("127.0.0.1", 0, &redis.url()).unwrap();
    assert_eq!(rt.block_on(recv_text(&mut ann)), "tick");
    let result = b.broadcast("hi", &SocketFilter::all()).unwrap();
    assert_eq!((result.delivered, result.nodes_answered), (1, 2));
    assert_eq!(rt.block_on(recv_text(&mut ann)), "hi");
    a.stop().unwrap();
    b.stop().unwrap();
}
