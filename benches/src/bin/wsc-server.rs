//! wsconnector through its Rust API, with the same behaviour as every other server measured
//! (see the crate docs): echo (through the socket the event carries, as a Rust handler
//! replies), a fan-out group, broadcast from the trigger path.
//!
//! ```text
//! wsc-server [--port 0] [--inline 0|1]
//! ```
//!
//! Settings are the library's defaults except the connection limit, raised so that the idle
//! load can hold as many sockets as the machine allows. Receivers join the group through the
//! served path's default groups, before their 101 is sent. `--inline 1` registers the same
//! handler with `on_event_inline` (it never blocks) instead of `on_event`.

use wsconnector::{Config, Connector, ConnectorHandle, Event, InboundPath, SocketFilter};
use wsconnector_bench::args::Args;
use wsconnector_bench::{FANOUT_GROUP, FANOUT_RECV_PATH, FANOUT_TRIGGER_PATH};

fn main() {
    if let Err(error) = run() {
        eprintln!("wsc-server: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = Args::from_env()?;
    let port: u16 = args.get("port", 0)?;
    let inline: u8 = args.get("inline", 0)?;
    args.finish()?;
    let mut config = Config::with_listener("127.0.0.1", port);
    if let Some(listener) = config.listener.as_mut() {
        listener.paths = vec![
            InboundPath::with_groups(FANOUT_RECV_PATH, [FANOUT_GROUP]),
            InboundPath::new("*"),
        ];
        listener.max_connections = 1 << 20;
    }
    let fan = SocketFilter::all().with_groups([FANOUT_GROUP]);
    let handler = move |conn: &ConnectorHandle, event: Event| {
        if let Event::InboundMessage { socket, message } = event {
            if socket.path() == FANOUT_TRIGGER_PATH {
                let _ = conn.broadcast(message, &fan);
            } else {
                let _ = socket.send(message);
            }
        }
    };
    let builder = Connector::builder(config);
    let builder = if inline != 0 {
        builder.on_event_inline(handler)
    } else {
        builder.on_event(handler)
    };
    let connector = builder.start().map_err(|e| e.to_string())?;
    let port = connector
        .local_addr()
        .map(|a| a.port())
        .ok_or("the connector has no listener")?;
    println!("{port}");
    // Serve until the runner ends the process.
    loop {
        std::thread::park();
    }
}
