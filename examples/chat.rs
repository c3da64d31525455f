//! Chat server: rooms are groups. A client joins a room by sending `/join ROOM`; every other
//! message goes to everyone in the sender's room.
//!
//! Run: `cargo run --release --example chat [HOST:PORT [REDIS_URL]]` (default 127.0.0.1:8080),
//! then connect with any WebSocket client, e.g. `python3 -m websockets ws://127.0.0.1:8080/chat`
//! (after `pip install websockets`) or a browser's developer console. With a Redis URL the server
//! is a node of a cluster: run it twice on two ports with the same URL, and the rooms span both
//! (`make demo-cluster` does that).

use wsconnector::{
    ClusterConfig, Config, Connector, ConnectorHandle, Event, SocketFilter, SocketType,
};

/// Groups that stand for rooms carry this prefix, so other groups are left alone.
const ROOM_PREFIX: &str = "room:";

/// Handles every event of the chat server.
pub fn on_event(chat: &ConnectorHandle, event: Event) {
    match event {
        Event::InboundConnection { socket } => {
            // Through the connector: with a cluster, it returns once every node's broadcasts
            // to the room reach the socket.
            let _ = chat.subscribe(socket.id().as_str(), &[format!("{ROOM_PREFIX}lobby")]);
            let _ = socket.send("welcome to the lobby; send /join ROOM to change rooms");
        }
        Event::InboundMessage { socket, message } => {
            let Some(text) = message.as_text() else {
                return;
            };
            let id = socket.id().as_str();
            let rooms: Vec<String> = socket
                .groups()
                .into_iter()
                .filter(|g| g.starts_with(ROOM_PREFIX))
                .collect();
            if let Some(room) = text
                .strip_prefix("/join ")
                .map(str::trim)
                .filter(|r| !r.is_empty())
            {
                let _ = chat.unsubscribe(id, &rooms);
                let _ = chat.subscribe(id, &[format!("{ROOM_PREFIX}{room}")]);
                let _ = socket.send(format!("you are in room {room}"));
            } else {
                let line = format!("[{}] {}", &id[..8], text);
                let everyone_in_room = SocketFilter::all()
                    .with_type(SocketType::Inbound)
                    .with_groups(rooms);
                if let Err(e) = chat.broadcast(line, &everyone_in_room) {
                    eprintln!("broadcast failed: {e}");
                }
            }
        }
        Event::SocketClosed { socket, code, .. } => {
            println!("{} left (close code {code})", socket.id());
        }
        // The chat server opens no outbound socket.
        Event::OutboundMessage { .. }
        | Event::OutboundReconnecting { .. }
        | Event::OutboundReconnected { .. } => {}
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let (host, port) = addr.rsplit_once(':').ok_or("address must be HOST:PORT")?;
    let mut config = Config::with_listener(host, port.parse()?);
    config.cluster = std::env::args().nth(2).map(ClusterConfig::new);
    let connector = Connector::builder(config).on_event(on_event).start()?;
    let bound = connector.local_addr().ok_or("no listener")?;
    println!("chat server on ws://{bound}/  (any path works)");
    if let Some(node) = connector.node_name() {
        println!("node {node} of a cluster: rooms are shared with the other nodes on that Redis");
    }
    println!("connect with any WebSocket client, for example (after `pip install websockets`):");
    println!("  python3 -m websockets ws://{bound}/chat");
    println!("or from a browser console: ws = new WebSocket('ws://{bound}/chat'); ws.onmessage = e => console.log(e.data)");
    println!("then send '/join ROOM' to change rooms; other lines go to your room. Ctrl-C stops.");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(tokio::signal::ctrl_c())?;
    connector.stop()?;
    Ok(())
}
