//! Chat server: rooms are groups. Every example of the README speaks this protocol, in Rust,
//! C (examples/c/chat.c), Python (examples/python/chat.py) and Node.js:
//!
//! - connect to any path (`ws://127.0.0.1:8080/chat`), optionally `?name=ann`; the server says
//!   `welcome to the lobby; send /join ROOM to change rooms`;
//! - `/join ROOM` answers `you are in room ROOM`; `/join` without a room answers
//!   `a room needs a name: /join ROOM`; any other `/command` answers
//!   `unknown command /command; send /join ROOM, or text for your room`;
//! - any other text goes to everyone in the sender's room (the sender too) as `[NAME] text`, NAME
//!   being the `name` query parameter or the first 8 characters of the socket ID; binary
//!   messages answer `text only, please`.
//!
//! Run: `cargo run --release --example chat [HOST:PORT [REDIS_URL]]` (default 127.0.0.1:8080;
//! `make demo PORT=9000`). With a Redis URL the server is a node of a cluster: run it twice on
//! two ports with the same URL, and the rooms span both (`make demo-cluster` does that).

use std::process::ExitCode;
use wsconnector::{
    ClusterConfig, Config, Connector, ConnectorHandle, Event, Socket, SocketFilter, SocketType,
};

/// Groups that stand for rooms carry this prefix, so other groups are left alone.
const ROOM_PREFIX: &str = "room:";

/// The chat's answer to a message: a reply to the sender, a move to a room, or a line for the room.
enum Said<'a> {
    Reply(String),
    Join(&'a str),
    Line(&'a str),
}

/// What a text message asks for, by the protocol above.
fn parse(text: &str) -> Said<'_> {
    let Some(command) = text.strip_prefix('/') else {
        return Said::Line(text);
    };
    let (verb, argument) = command.split_once(' ').unwrap_or((command, ""));
    match (verb, argument.trim()) {
        ("join", "") => Said::Reply("a room needs a name: /join ROOM".into()),
        ("join", room) => Said::Join(room),
        _ => Said::Reply(format!(
            "unknown command /{verb}; send /join ROOM, or text for your room"
        )),
    }
}

/// Who the socket is in the room: its `name` query parameter, or the start of its ID.
fn name_of(socket: &Socket) -> String {
    match socket.query_param("name") {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => socket.id().as_str().chars().take(8).collect(),
    }
}

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
                let _ = socket.send("text only, please");
                return;
            };
            let id = socket.id().as_str();
            let rooms: Vec<String> = socket
                .groups()
                .into_iter()
                .filter(|g| g.starts_with(ROOM_PREFIX))
                .collect();
            match parse(text) {
                Said::Reply(answer) => {
                    let _ = socket.send(answer);
                }
                Said::Join(room) => {
                    let _ = chat.unsubscribe(id, &rooms);
                    match chat.subscribe(id, &[format!("{ROOM_PREFIX}{room}")]) {
                        Ok(_) => socket.send(format!("you are in room {room}")),
                        Err(e) => socket.send(format!("cannot join {room}: {e}")),
                    }
                    .ok();
                }
                Said::Line(text) => {
                    let line = format!("[{}] {text}", name_of(&socket));
                    let everyone_in_room = SocketFilter::all()
                        .with_type(SocketType::Inbound)
                        .with_groups(rooms);
                    if let Err(e) = chat.broadcast(line, &everyone_in_room) {
                        eprintln!("broadcast failed: {e}");
                    }
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

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
fn wait_for_stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = terminate.recv() => Ok(()),
        }
    })
}

fn serve(address: &str, cluster: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("{address:?} is not HOST:PORT"))?;
    let port = port
        .parse()
        .map_err(|_| format!("{address:?}: the port must be 0-65535"))?;
    let mut config = Config::with_listener(host, port);
    config.cluster = cluster.map(ClusterConfig::new);
    let connector = Connector::builder(config).on_event(on_event).start()?;
    let bound = connector.local_addr().ok_or("no listener")?;
    println!("chat server on ws://{bound}/chat (any path works; ?name=ann names you)");
    if let Some(node) = connector.node_name() {
        println!("node {node} of a cluster: rooms are shared with the other nodes on that Redis");
    }
    println!("connect with any WebSocket client, for example (after `pip install websockets`):");
    println!("  python3 -m websockets 'ws://{bound}/chat?name=ann'");
    println!("or from a browser console: ws = new WebSocket('ws://{bound}/chat'); ws.onmessage = e => console.log(e.data)");
    println!("then type a line to talk to your room, '/join ROOM' to change rooms. Ctrl-C stops.");
    wait_for_stop_signal()?;
    connector.stop()?;
    println!("stopped");
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    match serve(&address, args.next()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e}");
            ExitCode::FAILURE
        }
    }
}
