//! wsconnector through its Rust API, with the same behaviour as every other server measured
//! (see the crate docs): echo (through the socket the event carries, as a Rust handler
//! replies), a fan-out group, broadcast from the trigger path.
//!
//! ```text
//! wsc-server [--port 0] [--nodes 1|2] [--inline 0|1] [--compression off|context|no-context]
//!            [--dispatcher-threads N] [--handler-sleep-us N]
//! ```
//!
//! `--dispatcher-threads` sets the pool that runs the handler (default: the library's; 1 is
//! the single dispatcher thread of before the pool); `--handler-sleep-us` makes the handler
//! sleep that long before it answers each message, as a handler that waits on a database
//! would: its throughput then grows with the pool.
//!
//! `--compression` turns permessage-deflate on (`compression`, with the default parameters:
//! `context`), or on with `server_no_context_takeover` asked for (`no-context`: a broadcast
//! compresses once for every receiver); the first line then says `--deflate 1` after the port,
//! for the load client to negotiate it.
//!
//! Settings are the library's defaults except the connection limit, raised so that the idle
//! load can hold as many sockets as the machine allows. Receivers join the group through the
//! served path's default groups, before their 101 is sent. `--inline 1` registers the same
//! handler with `on_event_inline` (it never blocks) instead of `on_event`.
//!
//! With `--nodes 2`, the process is two nodes of one cluster (two connectors, each with its
//! listener) and the redis-server they share, started here on a free loopback port and ended
//! with the process. Node A serves `--port` and broadcasts; node B's port follows A's on the
//! first line, as `--second-port B`, for the load client to spread the receivers over both.

use std::process::{Child, Command, Stdio};
use wsconnector::{
    ClusterConfig, Compression, Config, Connector, ConnectorHandle, Event, InboundPath,
    SocketFilter,
};
use wsconnector_bench::args::Args;
use wsconnector_bench::{ECHO_PATH, FANOUT_GROUP, FANOUT_RECV_PATH, FANOUT_TRIGGER_PATH};

/// Idle sockets park after this (by default 10 s, with the feature `mimalloc-purge` this crate
/// turns on): the idle load reads memory once they have and their memory was purged, as the
/// `sockets_parked` gauge and `memory_purges_total` at [`METRICS_PATH`] say.
const PARK_IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
/// The plain HTTP path serving the figures.
const METRICS_PATH: &str = "/metrics";

/// mimalloc, as the README recommends for many idle sockets, with the library's feature
/// `mimalloc-purge`: the memory parked sockets free goes back to the system (glibc's malloc
/// keeps the holes between live allocations).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(error) = run() {
        eprintln!("wsc-server: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = Args::from_env()?;
    let port: u16 = args.get("port", 0)?;
    let cluster = match args.get("nodes", 1)? {
        1 => false,
        2 => true,
        n => return Err(format!("--nodes {n}: 1 or 2")),
    };
    let inline: u8 = args.get("inline", 0)?;
    let compression = match args.get("compression", "off".to_owned())?.as_str() {
        "off" => None,
        "context" => Some(Compression::on()),
        "no-context" => {
            let mut compression = Compression::on();
            compression.preferred.server_no_context_takeover = true;
            Some(compression)
        }
        other => return Err(format!("--compression {other}: off, context or no-context")),
    };
    let deflate = compression.is_some();
    let dispatcher_threads: Option<usize> = args.optional("dispatcher-threads")?;
    let handler_sleep = std::time::Duration::from_micros(args.get("handler-sleep-us", 0)?);
    args.finish()?;
    let config = |port: u16| {
        let mut config = Config::with_listener("127.0.0.1", port);
        if let Some(listener) = config.listener.as_mut() {
            listener.paths = vec![
                InboundPath::with_groups(FANOUT_RECV_PATH, [FANOUT_GROUP]),
                // The loads' other paths, each declared, rather than "*": the metrics path
                // must not be a WebSocket path.
                InboundPath::new(ECHO_PATH),
                InboundPath::new(FANOUT_TRIGGER_PATH),
            ];
            listener.max_inbound_connections = 1 << 20;
            // The idle load reads memory once the sockets are parked, as this path says.
            listener.metrics_path = METRICS_PATH.to_owned();
        }
        config.socket.park_idle_after = PARK_IDLE_AFTER;
        if let Some(compression) = &compression {
            config.compression = compression.clone();
        }
        config.dispatcher_threads = dispatcher_threads;
        config
    };
    let mut second = None;
    let mut node_a = config(port);
    let _redis = if cluster {
        let (redis, url) = start_redis()?;
        node_a.cluster = Some(ClusterConfig::new(&url).with_node_name("a"));
        let mut node_b = config(0);
        node_b.cluster = Some(ClusterConfig::new(&url).with_node_name("b"));
        let node_b = Connector::builder(node_b)
            .on_event(|_: &ConnectorHandle, _: Event| {})
            .start()
            .map_err(|e| e.to_string())?;
        second = Some(node_b);
        Some(redis)
    } else {
        None
    };
    let fan = SocketFilter::all().with_groups([FANOUT_GROUP]);
    let handler = move |conn: &ConnectorHandle, event: Event| {
        if let Event::InboundMessage { socket, message } = event {
            if !handler_sleep.is_zero() {
                std::thread::sleep(handler_sleep);
            }
            if socket.path() == FANOUT_TRIGGER_PATH {
                let _ = conn.broadcast(message, &fan);
            } else {
                let _ = socket.send(message);
            }
        }
    };
    let builder = Connector::builder(node_a);
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
    let deflate = if deflate { " --deflate 1" } else { "" };
    let metrics = format!(" --metrics-path {METRICS_PATH}");
    match second.as_ref().and_then(|node_b| node_b.local_addr()) {
        Some(b) => println!("{port} --second-port {}{deflate}{metrics}", b.port()),
        None => println!("{port}{deflate}{metrics}"),
    }
    // Serve until the runner ends the process.
    loop {
        std::thread::park();
    }
}

/// A redis-server on a free loopback port, without persistence, killed when this process
/// ends (however it ends: PR_SET_PDEATHSIG); and its URL.
fn start_redis() -> Result<(Child, String), String> {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    // Nothing is written there: no snapshots, no append-only file.
    let dir = std::env::temp_dir();
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run redis-server: {e}"))?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    if !lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains("Ready to accept connections"))
    {
        return Err("redis-server did not start".into());
    }
    // Its log keeps coming: read and dropped, so that it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Ok((child, format!("redis://127.0.0.1:{port}/0")))
}
