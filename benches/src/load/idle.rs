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
/// Longest wait for a parking server's sockets to be parked.
const PARK_WAIT: Duration = Duration::from_secs(60);
/// Between two readings of its gauge.
const PARK_POLL: Duration = Duration::from_millis(200);
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
    /// The server's metrics path, when its idle sockets park: memory is read once its
    /// `sockets_parked` gauge counts every connection held (waited for up to [`PARK_WAIT`]).
    pub metrics_path: Option<String>,
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
    let held = conns.len() as u64;
    let parked = match &idle.metrics_path {
        Some(path) => wait_parked(target.port(), path, held).await?,
        None => 0,
    };
    let rss_after = rss()?;
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
        .int("parked", parked)
        .text("note", stopped);
    Ok(report)
}

/// Waits until the server's `sockets_parked` gauge (Prometheus text at `path`) reaches `held`,
/// then, from a server that gives parked sockets' memory back after each batch of parks, for
/// its next `memory_purges_total` (so that the batch's memory is back), up to [`PARK_WAIT`] in
/// all; returns the last reading of the gauge.
async fn wait_parked(port: u16, path: &str, held: u64) -> Result<u64, String> {
    const PARKED: &str = "wsconnector_sockets_parked";
    const PURGES: &str = "wsconnector_memory_purges_total";
    let deadline = tokio::time::Instant::now() + PARK_WAIT;
    let parked = loop {
        let parked = metric(port, path, PARKED)
            .await?
            .ok_or_else(|| format!("no sockets_parked gauge at {path}"))?;
        if parked >= held || tokio::time::Instant::now() >= deadline {
            break parked;
        }
        tokio::time::sleep(PARK_POLL).await;
    };
    if let Some(purges) = metric(port, path, PURGES).await? {
        while tokio::time::Instant::now() < deadline
            && metric(port, path, PURGES).await? == Some(purges)
        {
            tokio::time::sleep(PARK_POLL).await;
        }
    }
    Ok(parked)
}

/// The sample `name` of the server's metrics at `path`, read over plain HTTP (within 5 s);
/// `None` when the server has no such sample.
async fn metric(port: u16, path: &str, name: &str) -> Result<Option<u64>, String> {
    let prefix = format!("{name} ");
    let read = async {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await?;
        let mut text = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = tcp.read(&mut chunk).await?;
            text.extend_from_slice(&chunk[..n]);
            let body = String::from_utf8_lossy(&text);
            let value = body
                .lines()
                .find_map(|line| line.strip_prefix(&prefix))
                .filter(|_| n == 0 || body.ends_with('\n'))
                .and_then(|value| value.trim().parse::<u64>().ok());
            if value.is_some() || n == 0 {
                return Ok::<_, std::io::Error>(value);
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(5), read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("server metrics: {e}")),
        Err(_) => Err(format!("server metrics: no answer at {path} within 5 s")),
    }
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
