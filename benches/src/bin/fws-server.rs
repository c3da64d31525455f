//! A second baseline: the benchmark's server written on fastwebsockets 0.10 (the crate behind
//! Deno's WebSocket server, the fastest Rust one we know, our stand-in for uWebSockets, which
//! cannot be fetched here), the way its own examples write one: hyper's HTTP/1 server with
//! `fastwebsockets::upgrade`, one task per socket, on tokio's current-thread runtime. Same
//! behaviour as every other server measured (see the crate docs): echo, a fan-out group,
//! broadcast from the trigger path.
//!
//! ```text
//! fws-server [--port 0]
//! ```
//!
//! An echo socket reads a frame and writes it back (`FragmentCollector`, as in the crate's
//! `echo_server` example). A fan-out receiver is split (the crate's `unstable-split`
//! feature): its reader waits for the close while a writer task drains the receiver's
//! unbounded channel into its stream; the trigger hands each message to every receiver's
//! channel as shared `Bytes`, written without a copy.

use bytes::Bytes;
use fastwebsockets::{upgrade, FragmentCollector, FragmentCollectorRead, Frame, OpCode, Payload};
use fastwebsockets::{WebSocketError, WebSocketWrite};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wsconnector_bench::args::Args;
use wsconnector_bench::{FANOUT_RECV_PATH, FANOUT_TRIGGER_PATH};

/// The fan-out group: each receiver's channel by connection number.
type Group = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<(OpCode, Bytes)>>>>;

/// The upgraded stream of one socket.
type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

fn main() {
    if let Err(error) = run() {
        eprintln!("fws-server: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = Args::from_env()?;
    let port: u16 = args.get("port", 0)?;
    args.finish()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(serve(port))
}

async fn serve(port: u16) -> Result<(), String> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    println!("{port}");
    let group = Group::default();
    let next_id = Arc::new(AtomicU64::new(0));
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                let _ = tcp.set_nodelay(true);
                let (group, next_id) = (group.clone(), next_id.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let id = next_id.fetch_add(1, Ordering::Relaxed);
                        upgrade_request(request, group.clone(), id)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .with_upgrades()
                        .await;
                });
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Answers the upgrade request with the 101 and spawns the socket's task, by its path.
async fn upgrade_request(
    mut request: Request<Incoming>,
    group: Group,
    id: u64,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, upgrading) = upgrade::upgrade(&mut request)?;
    let path = request.uri().path().to_owned();
    tokio::spawn(async move {
        let Ok(ws) = upgrading.await else {
            return;
        };
        let _ = match path.as_str() {
            FANOUT_RECV_PATH => receive(ws, &group, id).await,
            FANOUT_TRIGGER_PATH => trigger(FragmentCollector::new(ws), &group).await,
            _ => echo(FragmentCollector::new(ws)).await,
        };
    });
    Ok(response)
}

/// Writes every data message back.
async fn echo(mut ws: FragmentCollector<Upgraded>) -> Result<(), WebSocketError> {
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

/// Hands every data message to each receiver of the group.
async fn trigger(mut ws: FragmentCollector<Upgraded>, group: &Group) -> Result<(), WebSocketError> {
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => {
                let payload = Bytes::copy_from_slice(&frame.payload);
                for receiver in lock(group).values() {
                    let _ = receiver.send((frame.opcode, payload.clone()));
                }
            }
            _ => {}
        }
    }
}

/// A receiver: joins the group, then reads (for the close; tungstenite-like automatic pongs
/// and close replies are the crate's own) while its writer task sends what the group gets.
async fn receive(
    ws: fastwebsockets::WebSocket<Upgraded>,
    group: &Group,
    id: u64,
) -> Result<(), WebSocketError> {
    let (tx, rx) = mpsc::unbounded_channel();
    lock(group).insert(id, tx);
    let (read, write) = ws.split(tokio::io::split);
    let writer = tokio::spawn(write_group(write, rx));
    let mut read = FragmentCollectorRead::new(read);
    // Receivers send nothing but their close, which needs no reply from this benchmark.
    let result = loop {
        match read
            .read_frame(&mut |_| async { Ok::<_, WebSocketError>(()) })
            .await
        {
            Ok(frame) if frame.opcode == OpCode::Close => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
    };
    lock(group).remove(&id);
    writer.abort();
    result
}

/// Writes the group's messages to one receiver, each from the shared buffer.
async fn write_group(
    mut ws: WebSocketWrite<tokio::io::WriteHalf<Upgraded>>,
    mut rx: mpsc::UnboundedReceiver<(OpCode, Bytes)>,
) -> Result<(), WebSocketError> {
    while let Some((opcode, payload)) = rx.recv().await {
        let frame = Frame::new(true, opcode, None, Payload::Borrowed(&payload));
        ws.write_frame(frame).await?;
    }
    Ok(())
}

fn lock(
    group: &Group,
) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<(OpCode, Bytes)>>> {
    group.lock().unwrap_or_else(|e| e.into_inner())
}
