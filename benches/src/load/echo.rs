//! Echo: C connections, each keeping K messages in flight (K = 1: send, wait for the echo, send
//! the next). Reports round trips per second, their latency, and the server's CPU time per
//! round trip.

use super::{CONNECT_CONCURRENCY, READ_CHUNK};
use crate::connect::{Conn, Target};
use crate::measure::{Phase, Tally};
use crate::payload::{self, Kind};
use crate::procfs::Process;
use crate::report::Report;
use crate::wire::{self, Frame, FrameReader};
use futures_util::TryStreamExt;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The shape of an echo run.
#[derive(Debug, Clone)]
pub struct Echo {
    /// Connections (C).
    pub connections: usize,
    /// Messages in flight per connection (K).
    pub in_flight: usize,
    /// Payload bytes per message.
    pub payload: usize,
    /// What the payloads are: filler or JSON-like text, compressed or not.
    pub kind: Kind,
    /// Load before the window opens.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
}

/// Runs the echo load against `target` and reports the window.
pub async fn run(target: Target, server: Process, echo: &Echo) -> Result<Report, String> {
    // Messages of JSON differ (64 of them, sent in turn), so that a server compressing with
    // context finds no copy of a whole message in its window.
    let frames: Rc<[Vec<u8>]> = payload::client_frames(echo.payload, echo.kind, 64).into();
    let conns: Vec<Conn> = target
        .open_many(crate::ECHO_PATH, 0, echo.connections, CONNECT_CONCURRENCY)
        .try_collect()
        .await?;
    let tally = Rc::new(Tally::default());
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|conn| {
            tokio::task::spawn_local(connection(
                conn,
                frames.clone(),
                echo.in_flight,
                tally.clone(),
            ))
        })
        .collect();
    let span = tally.run_window(server, echo.warmup, echo.window).await?;
    super::first_failure(tasks).await?;
    let mut report = Report::default();
    report
        .text("load", "echo")
        .int("connections", echo.connections as u64)
        .int("in_flight", echo.in_flight as u64)
        .int("payload", echo.payload as u64)
        .window(
            tally.count(),
            tally.received_bytes(),
            &span,
            &tally.latencies(),
        );
    Ok(report)
}

/// One connection: sends K messages, then one more for each echo, until the window closes.
async fn connection(
    conn: Conn,
    frames: Rc<[Vec<u8>]>,
    in_flight: usize,
    tally: Rc<Tally>,
) -> Result<(), String> {
    let Conn {
        mut stream,
        leftover,
        ..
    } = conn;
    let mut reader = FrameReader::default();
    let mut sent_at = VecDeque::with_capacity(in_flight);
    let mut out = Vec::with_capacity(frames[0].len() * in_flight);
    let mut next = frames.iter().cycle();
    let start = Instant::now();
    for frame in next.by_ref().take(in_flight) {
        out.extend_from_slice(frame);
        sent_at.push_back(start);
    }
    let mut buf = vec![0u8; READ_CHUNK];
    buf[..leftover.len()].copy_from_slice(&leftover);
    let mut n = leftover.len();
    loop {
        if !out.is_empty() {
            stream
                .write_all(&out)
                .await
                .map_err(|e| format!("send: {e}"))?;
            out.clear();
        }
        if n == 0 {
            n = stream
                .read(&mut buf)
                .await
                .map_err(|e| format!("receive: {e}"))?;
            if n == 0 {
                return Err("the server closed a connection".into());
            }
        }
        let now = Instant::now();
        let mut closed = false;
        tally.received(n);
        reader.feed(&buf[..n], |f| match f {
            Frame::Data { .. } | Frame::Compressed(_) => {
                if let Some(sent) = sent_at.pop_front() {
                    tally.complete(now - sent);
                }
                out.extend_from_slice(next.next().map_or(&[][..], Vec::as_slice));
                sent_at.push_back(now);
            }
            Frame::Ping(payload) => out.extend(wire::client_frame(wire::OP_PONG, payload)),
            Frame::Close => closed = true,
        })?;
        n = 0;
        if closed {
            return Err("the server sent a close frame".into());
        }
        if tally.phase() == Phase::Done {
            return Ok(());
        }
    }
}
