//! The chat example (`make demo`) works: rooms are groups, `/join ROOM` moves a client.

mod common;

#[path = "../examples/chat.rs"]
#[allow(dead_code)]
mod chat;

use common::*;
use wsconnector::{Config, Connector};

#[test]
fn chat_rooms_reach_exactly_their_members() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event(
            move |conn: &wsconnector::ConnectorHandle, event: wsconnector::Event| {
                let closed = event.trigger() == wsconnector::Trigger::SocketClosed;
                chat::on_event(conn, event);
                if closed {
                    let _ = tx.lock().unwrap().send(());
                }
            },
        )
        .start()
        .unwrap();
    let rt = runtime();
    rt.block_on(async {
        let url = url(&server, "/chat");
        let mut ann = connect(&url).await;
        let mut bob = connect(&url).await;
        let mut cid = connect(&url).await;
        for client in [&mut ann, &mut bob, &mut cid] {
            assert_eq!(
                recv_text(client).await,
                "welcome to the lobby; send /join ROOM to change rooms"
            );
        }
        send_text(&mut ann, "/join ").await;
        assert_eq!(recv_text(&mut ann).await, "a room needs a name: /join ROOM");
        send_text(&mut ann, "/leave").await;
        assert_eq!(
            recv_text(&mut ann).await,
            "unknown command /leave; send /join ROOM, or text for your room"
        );
        send_text(&mut ann, "/join rust").await;
        assert_eq!(recv_text(&mut ann).await, "you are in room rust");
        send_text(&mut bob, "/join rust").await;
        assert_eq!(recv_text(&mut bob).await, "you are in room rust");

        send_text(&mut ann, "hello rustaceans").await;
        assert!(
            recv_text(&mut ann).await.ends_with("hello rustaceans"),
            "the sender is in the room too"
        );
        assert!(recv_text(&mut bob).await.ends_with("hello rustaceans"));
        send_text(&mut cid, "anyone in the lobby?").await;
        assert!(recv_text(&mut cid).await.ends_with("anyone in the lobby?"));
        // Neither ann nor bob got the lobby message: their next message is the next rust one.
        send_text(&mut bob, "second").await;
        assert!(recv_text(&mut ann).await.ends_with("second"));
        assert!(recv_text(&mut bob).await.ends_with("second"));
    });
    drop(rt);
    for _ in 0..3 {
        rx.recv_timeout(WAIT).unwrap();
    }
}
