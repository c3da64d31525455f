//! Idle: opens N connections and holds them; each carries one message (echoed) so the server
//! has set up whatever a socket needs once it has been used. Reports handshakes per second
//! while opening, the server's CPU time per handshake, and its resident memory per held
//! connection.
//!
//! A server whose memory would outgrow the machine is not pushed further: opening stops at a
//! memory cap and the report says how many connections were held.

use super::CONNECT_CONCURRENCY;
use crate::connect::{Conn, Target};
use crate::measure::{Mark, Span};
use crate::payload::{self, Kind};
use crate::procfs::{self, Process};
use crate::report::Report;
use crate::wire::{Frame, FrameReader};
use futures_util::{stream, StreamExt, TryStreamExt};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest server memory growth the run allows by default, and its share of available memory.
const MEMORY_CAP: u64 = 8 << 30;
const MEMORY_CAP_SHARE: f64 = 0.4;
/// Connections opened between two looks at the server's memory.
const MEMORY_CHECK_EVERY: usize = 500;
/// Pause between the last echo and the memory reading, for the server to settle.
const SETTLE: Duration = Duration::from_secs(1);
/// Bytes read at a time while waiting for the echo.
const ECHO_READ: usize = 4096;

/// The shape of an idle run.
#[derive(Debug, Clone)]
pub struct Idle {
    /// Connections to open and hold (N).
    pub connections: usize,
    /// Most server memory growth allowed, in bytes; `None`: the default cap.
    pub memory_cap: Option<u64>,
    /// Bytes of each connection's one message.
    pub payload: usize,
    /// What it is: filler or JSON-like text, compressed or not (a compressed socket's state
    /// is set up by its first compressed message each way).
    pub kind: Kind,
}

/// Runs the idle load against `target` and reports it.
pub async fn run(target: Target, server: Process, idle: &Idle) -> Result<Report, String> {
    let rss = || {
        server
            .rss_bytes()
            .map_err(|e| format!("server memory: {e}"))
    };
    let cap = match idle.memory_cap {
        Some(cap) => cap,
        None => {
            let available = procfs::mem_available().map_err(|e| e.to_string())?;
            MEMORY_CAP.min((available as f64 * MEMORY_CAP_SHARE) as u64)
        }
    };
    let rss_before = rss()?;
    let start = Mark::now(server)?;
    let mut conns = Vec::with_capacity(idle.connections);
    let mut stopped = String::new();
    {
        let mut opening = std::pin::pin!(target.open_many(
            crate::ECHO_PATH,
            0,
            idle.connections,
            CONNECT_CONCURRENCY
        ));
        while let Some(opened) = opening.next().await {
            match opened {
                Ok(conn) => conns.push(conn),
                Err(e) => {
                    stopped = format!("stopped at {} connections: {e}", conns.len());
                    break;
                }
            }
            if conns.len() % MEMORY_CHECK_EVERY == 0 && rss()?.saturating_sub(rss_before) > cap {
                stopped = format!(
                    "stopped at {} connections: server memory grew past the cap of {} MiB",
                    conns.len(),
                    cap >> 20
                );
                break;
            }
        }
    }
    let span = Span::between(&start, &Mark::now(server)?);
    if conns.is_empty() {
        return Err(format!("no connection opened; {stopped}"));
    }
    let frame = payload::client_frames(idle.payload, idle.kind, 1).remove(0);
    stream::iter(conns.iter_mut().map(Ok))
        .try_for_each_concurrent(CONNECT_CONCURRENCY, |conn| round_trip(conn, &frame))
        .await?;
    tokio::time::sleep(SETTLE).await;
    let rss_after = rss()?;
    let held = conns.len() as u64;
    let secs = span.elapsed.as_secs_f64();
    let mut report = Report::default();
    report
        .text("load", "idle")
        .int("requested", idle.connections as u64)
        .int("connections", held)
        .float("open_s", secs)
        .float("handshakes_per_s", held as f64 / secs)
        .float(
            "server_cpu_us_per_handshake",
            span.server_cpu.as_secs_f64() * 1e6 / held as f64,
        )
        .cpu_load(&span)
        .int("rss_before", rss_before)
        .int("rss_after", rss_after)
        .float(
            "rss_per_conn_kib",
            rss_after.saturating_sub(rss_before) as f64 / held as f64 / 1024.0,
        )
        .text("note", stopped);
    Ok(report)
}

/// Sends one message on `conn` and waits for its echo.
async fn round_trip(conn: &mut Conn, frame: &[u8]) -> Result<(), String> {
    conn.stream
        .write_all(frame)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut reader = FrameReader::default();
    let mut echoed = false;
    let mut buf = std::mem::take(&mut conn.leftover);
    loop {
        reader.feed(&buf, |f| {
            echoed |= matches!(f, Frame::Data { .. } | Frame::Compressed(_))
        })?;
        if echoed {
            return Ok(());
        }
        buf.resize(ECHO_READ, 0);
        let n = conn
            .stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if n == 0 {
            return Err("the server closed an idle connection".into());
        }
        buf.truncate(n);
    }
}
