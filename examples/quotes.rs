//! Stock-quote feed: one outbound socket reads a quote source, and each quote goes to the
//! clients subscribed to its symbol (the group `quote:SYMBOL`). Every example of the README
//! speaks this protocol, in Rust, C (examples/c/quotes.c) and Python (examples/python/quotes.py):
//!
//! - connect to any path (`ws://127.0.0.1:8081/quotes`);
//! - `/sub SYMBOL` answers `following SYMBOL`, then its quotes arrive as `SYMBOL PRICE`
//!   (`ACME 101.52`), five a second; `/unsub SYMBOL` answers `no longer following SYMBOL`;
//! - a symbol other than ACME, GLOBEX, INITECH answers
//!   `unknown symbol XYZ; symbols: ACME GLOBEX INITECH`, and anything else
//!   `unknown command; send /sub SYMBOL or /unsub SYMBOL (symbols: ACME GLOBEX INITECH)`.
//!
//! The quote source is built in: a second connector in this process that sends a random-walk
//! price for each symbol to whoever connects, every 200 ms.
//!
//! Run: `cargo run --release --example quotes [HOST:PORT]` (default 127.0.0.1:8081).

use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;
use wsconnector::{
    Config, Connector, ConnectorHandle, Event, OutboundOptions, Socket, SocketFilter, SocketType,
};

const SYMBOLS: [&str; 3] = ["ACME", "GLOBEX", "INITECH"];
const SOURCE_ID: &str = "quote-source";
const COMMANDS: &str = "send /sub SYMBOL or /unsub SYMBOL (symbols: ACME GLOBEX INITECH)";

/// The group of a symbol's subscribers.
fn group(symbol: &str) -> String {
    format!("quote:{symbol}")
}

/// A client's command, answered on its socket.
fn command(socket: &Socket, text: &str) -> String {
    let (verb, symbol) = text.split_once(' ').unwrap_or((text, ""));
    let symbol = symbol.trim().to_ascii_uppercase();
    let follow = match verb {
        "/sub" => true,
        "/unsub" => false,
        _ => return format!("unknown command; {COMMANDS}"),
    };
    if !SYMBOLS.contains(&symbol.as_str()) {
        return format!("unknown symbol {symbol}; symbols: ACME GLOBEX INITECH");
    }
    let groups = [group(&symbol)];
    let done = if follow {
        socket.subscribe(&groups)
    } else {
        socket.unsubscribe(&groups)
    };
    match (done, follow) {
        (Ok(()), true) => format!("following {symbol}"),
        (Ok(()), false) => format!("no longer following {symbol}"),
        (Err(e), _) => format!("cannot change {symbol}: {e}"),
    }
}

/// Handles every event of the feed: clients' commands, and quotes from the source.
pub fn on_event(feed: &ConnectorHandle, event: Event) {
    match event {
        Event::InboundMessage { socket, message } => {
            let answer = match message.as_text() {
                Some(text) => command(&socket, text),
                None => format!("text only, please; {COMMANDS}"),
            };
            let _ = socket.send(answer);
        }
        Event::OutboundMessage { message, .. } => {
            // "SYMBOL PRICE" goes to the subscribers of SYMBOL, as it came: no copy.
            let Some((symbol, _)) = message.as_text().and_then(|t| t.split_once(' ')) else {
                return;
            };
            let subscribers = SocketFilter::all()
                .with_type(SocketType::Inbound)
                .with_groups([group(symbol)]);
            if let Err(e) = feed.broadcast(message, &subscribers) {
                eprintln!("broadcast failed: {e}");
            }
        }
        _ => {}
    }
}

/// The built-in quote source: a connector on a free port, and a thread that sends a quote for
/// each symbol to all its sockets every 200 ms until `stop` is dropped or sent to.
fn start_source() -> wsconnector::Result<(Connector, mpsc::Sender<()>)> {
    let source = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event(|_: &ConnectorHandle, _: Event| {}) // it only sends
        .start()?;
    let handle = source.handle();
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut prices = [101.5_f64, 48.25, 12.75];
        let mut seed: u32 = 42;
        while let Err(mpsc::RecvTimeoutError::Timeout) =
            stopped.recv_timeout(Duration::from_millis(200))
        {
            for (symbol, price) in SYMBOLS.iter().zip(prices.iter_mut()) {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223); // an LCG
                *price *= 1.0 + (f64::from(seed >> 16 & 0xff) - 127.5) / 12_750.0;
                let _ = handle.broadcast(format!("{symbol} {price:.2}"), &SocketFilter::all());
            }
        }
    });
    Ok((source, stop))
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

fn serve(address: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("{address:?} is not HOST:PORT"))?;
    let port = port
        .parse()
        .map_err(|_| format!("{address:?}: the port must be 0-65535"))?;
    let feed = Connector::builder(Config::with_listener(host, port))
        .on_event(on_event)
        .start()?;
    let (source, stop_source) = start_source()?;
    let source_addr = source.local_addr().ok_or("the source has no listener")?;
    feed.open_outbound(
        &format!("ws://{source_addr}/quotes"),
        OutboundOptions::new().socket_id(SOURCE_ID),
    )?;
    let bound = feed.local_addr().ok_or("no listener")?;
    println!("quote feed on ws://{bound}/quotes (any path works)");
    println!("connect with any WebSocket client, for example (after `pip install websockets`):");
    println!("  python3 -m websockets ws://{bound}/quotes");
    println!("then type '/sub ACME' (symbols: ACME GLOBEX INITECH); '/unsub ACME' stops them. Ctrl-C stops.");
    wait_for_stop_signal()?;
    feed.stop()?;
    drop(stop_source);
    source.stop()?;
    println!("stopped");
    Ok(())
}

fn main() -> ExitCode {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into());
    match serve(&address) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quotes: {e}");
            ExitCode::FAILURE
        }
    }
}
