//! The baseline: the benchmark's server written straight on tokio-tungstenite, the way a user
//! of that crate writes it, with the same behaviour as every other server measured (see the
//! crate docs): echo, a fan-out group, broadcast from the trigger path.
//!
//! ```text
//! raw-server [--port 0] [--read-buffer BYTES]
//! ```
//!
//! Without `--read-buffer` every socket uses tokio-tungstenite's default `WebSocketConfig`
//! (128 KiB read buffer); with it, only the read buffer changes. The runtime is tokio's
//! current-thread one, the natural choice for the single core the runner gives a server (the
//! multi-threaded runtime, with its one worker there, measured the same within noise). Each
//! socket has one task that owns its stream; fan-out reaches a receiver through an unbounded
//! channel that the receiver's task drains into its stream. Frames that are ready together
//! are written together (`feed`, then one `flush`).

use futures_util::{FutureExt, SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use wsconnector_bench::args::Args;
use wsconnector_bench::{FANOUT_RECV_PATH, FANOUT_TRIGGER_PATH};

/// The fan-out group: each receiver's channel by connection number.
type Group = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>>;

/// What a socket does with its messages, from the path it connected on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Echo,
    Receiver,
    Trigger,
}

fn main() {
    if let Err(error) = run() {
        eprintln!("raw-server: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = Args::from_env()?;
    let port: u16 = args.get("port", 0)?;
    let config = args
        .optional::<usize>("read-buffer")?
        .map(|size| WebSocketConfig::default().read_buffer_size(size));
    args.finish()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(serve(port, config))
}

async fn serve(port: u16, config: Option<WebSocketConfig>) -> Result<(), String> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    println!("{port}");
    let group = Group::default();
    let next_id = AtomicU64::new(0);
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(tcp, config, group.clone(), id));
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// One socket, from handshake to close.
async fn connection(tcp: TcpStream, config: Option<WebSocketConfig>, group: Group, id: u64) {
    let _ = tcp.set_nodelay(true);
    let mut path = String::new();
    // The signature is tungstenite's handshake callback; its error type is not ours to shrink.
    #[allow(clippy::result_large_err)]
    let read_path = |request: &Request, response: Response| {
        path = request.uri().path().to_owned();
        Ok::<_, ErrorResponse>(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async_with_config(tcp, read_path, config).await
    else {
        return;
    };
    let role = match path.as_str() {
        FANOUT_RECV_PATH => Role::Receiver,
        FANOUT_TRIGGER_PATH => Role::Trigger,
        _ => Role::Echo,
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    if role == Role::Receiver {
        lock(&group).insert(id, tx);
    }
    let _ = run_socket(&mut ws, role, &group, &mut rx).await;
    lock(&group).remove(&id);
}

/// Reads messages and handles them, and writes what the group sends, until the socket ends.
async fn run_socket(
    ws: &mut WebSocketStream<TcpStream>,
    role: Role,
    group: &Group,
    rx: &mut mpsc::UnboundedReceiver<Message>,
) -> Result<(), WsError> {
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(message) => on_message(ws, role, group, message?).await?,
                None => return Ok(()),
            },
            Some(outgoing) = rx.recv() => ws.feed(outgoing).await?,
        }
        // Whatever else is ready now goes out in the same write.
        loop {
            if let Ok(outgoing) = rx.try_recv() {
                ws.feed(outgoing).await?;
                continue;
            }
            match ws.next().now_or_never() {
                Some(Some(message)) => on_message(ws, role, group, message?).await?,
                Some(None) => return Ok(()),
                None => break,
            }
        }
        ws.flush().await?;
    }
}

/// Echoes a data message, or broadcasts it from the trigger; tungstenite answers pings and
/// close frames itself.
async fn on_message(
    ws: &mut WebSocketStream<TcpStream>,
    role: Role,
    group: &Group,
    message: Message,
) -> Result<(), WsError> {
    if !message.is_binary() && !message.is_text() {
        return Ok(());
    }
    match role {
        Role::Trigger => {
            for receiver in lock(group).values() {
                let _ = receiver.send(message.clone());
            }
        }
        Role::Echo | Role::Receiver => ws.feed(message).await?,
    }
    Ok(())
}

fn lock(group: &Group) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<Message>>> {
    group.lock().unwrap_or_else(|e| e.into_inner())
}
