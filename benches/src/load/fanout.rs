//! Fan-out: N receiver sockets in the server's group and one trigger socket; each message on
//! the trigger is broadcast by the server to the group. The trigger keeps a few broadcasts in
//! flight (a broadcast is done when every receiver has it). Reports deliveries per second,
//! delivery latency (trigger send to receiver read), and the server's CPU time per delivery.

use super::{CONNECT_CONCURRENCY, READ_CHUNK};
use crate::connect::{Conn, Target};
use crate::measure::{Phase, Tally};
use crate::payload::{self, Kind};
use crate::procfs::Process;
use crate::report::Report;
use crate::wire::{self, Frame, FrameReader};
use flate2::{Decompress, FlushDecompress};
use futures_util::TryStreamExt;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Broadcasts remembered at once; more than can be in flight, so a slot is reused only long
/// after its broadcast finished or was abandoned.
const SLOTS: usize = 64;
/// Broadcasts sent before every receiver is known to be in the group.
const READY_ATTEMPTS: usize = 30;
/// How long one readiness broadcast may take to reach every receiver.
const READY_WAIT: Duration = Duration::from_secs(1);

/// The shape of a fan-out run.
#[derive(Debug, Clone)]
pub struct Fanout {
    /// Receiver sockets in the group (N).
    pub receivers: usize,
    /// Broadcasts in flight.
    pub in_flight: usize,
    /// Payload bytes per message (at least 8: the sequence number).
    pub payload: usize,
    /// What the payloads are after their sequence number: filler or JSON-like text. With
    /// `deflate`, the receivers negotiate permessage-deflate and inflate each delivery to read
    /// its number (the trigger sends plain: the server compresses what it broadcasts).
    pub kind: Kind,
    /// Load before the window opens.
    pub warmup: Duration,
    /// The measured window.
    pub window: Duration,
}

/// Runs the fan-out load against `target` and reports the window; with a `second` node, every
/// other receiver connects there (the trigger stays on `target`).
pub async fn run(
    target: Target,
    second: Option<Target>,
    server: Process,
    fanout: &Fanout,
) -> Result<Report, String> {
    if fanout.payload < 8 || fanout.in_flight == 0 || fanout.in_flight > SLOTS / 2 {
        return Err(format!(
            "fan-out needs a payload of at least 8 bytes and 1 to {} broadcasts in flight",
            SLOTS / 2
        ));
    }
    let on_second = if second.is_some() {
        fanout.receivers / 2
    } else {
        0
    };
    let mut receivers: Vec<Conn> = target
        .open_many(
            crate::FANOUT_RECV_PATH,
            1,
            fanout.receivers - on_second,
            CONNECT_CONCURRENCY,
        )
        .try_collect()
        .await?;
    if let Some(second) = second {
        let more: Vec<Conn> = second
            .open_many(crate::FANOUT_RECV_PATH, 1, on_second, CONNECT_CONCURRENCY)
            .try_collect()
            .await?;
        receivers.extend(more);
    }
    let mut trigger = Trigger::new(
        target
            .with_deflate(false)
            .open(crate::FANOUT_TRIGGER_PATH, 0)
            .await?,
        fanout.payload,
        fanout.kind,
    );
    let broadcasts = Rc::new(Broadcasts::new(fanout.receivers));
    let tasks: Vec<_> = receivers
        .into_iter()
        .map(|conn| tokio::task::spawn_local(receive(conn, broadcasts.clone())))
        .collect();
    trigger.wait_until_subscribed(&broadcasts).await?;
    let in_flight = fanout.in_flight;
    let sender = {
        let broadcasts = broadcasts.clone();
        tokio::task::spawn_local(
            async move { trigger.keep_in_flight(&broadcasts, in_flight).await },
        )
    };
    let span = broadcasts
        .tally
        .run_window(server, fanout.warmup, fanout.window)
        .await?;
    super::first_failure(tasks).await?;
    super::first_failure(vec![sender]).await?;
    let mut report = Report::default();
    report
        .text("load", "fanout")
        .int("receivers", fanout.receivers as u64)
        .int("in_flight", fanout.in_flight as u64)
        .int("payload", fanout.payload as u64)
        .window(
            broadcasts.tally.count(),
            broadcasts.tally.received_bytes(),
            &span,
            &broadcasts.tally.latencies(),
        );
    Ok(report)
}

#[derive(Clone, Copy)]
struct Slot {
    seq: u64,
    sent: Instant,
    remaining: usize,
}

/// The broadcasts under way, shared by the trigger and the receivers.
struct Broadcasts {
    slots: RefCell<Vec<Slot>>,
    receivers: usize,
    in_flight: Cell<usize>,
    completed: Cell<u64>,
    /// Woken each time a broadcast has reached every receiver.
    done: Notify,
    tally: Tally,
    /// One read buffer for all receivers: each reads into it and parses before it yields.
    read_buf: RefCell<Vec<u8>>,
}

impl Broadcasts {
    fn new(receivers: usize) -> Self {
        let unused = Slot {
            seq: u64::MAX,
            sent: Instant::now(),
            remaining: 0,
        };
        Broadcasts {
            slots: RefCell::new(vec![unused; SLOTS]),
            receivers,
            in_flight: Cell::new(0),
            completed: Cell::new(0),
            done: Notify::new(),
            tally: Tally::default(),
            read_buf: RefCell::new(vec![0; READ_CHUNK]),
        }
    }

    fn started(&self, seq: u64, now: Instant) {
        self.slots.borrow_mut()[seq as usize % SLOTS] = Slot {
            seq,
            sent: now,
            remaining: self.receivers,
        };
        self.in_flight.set(self.in_flight.get() + 1);
    }

    fn delivered(&self, seq: u64, now: Instant) {
        let mut slots = self.slots.borrow_mut();
        let slot = &mut slots[seq as usize % SLOTS];
        if slot.seq != seq || slot.remaining == 0 {
            return;
        }
        self.tally.complete(now - slot.sent);
        slot.remaining -= 1;
        if slot.remaining == 0 {
            self.in_flight.set(self.in_flight.get() - 1);
            self.completed.set(self.completed.get() + 1);
            self.done.notify_one();
        }
    }

    /// Gives up on a broadcast that some receiver will never get.
    fn abandon(&self, seq: u64) {
        let mut slots = self.slots.borrow_mut();
        let slot = &mut slots[seq as usize % SLOTS];
        if slot.seq == seq && slot.remaining > 0 {
            slot.remaining = 0;
            self.in_flight.set(self.in_flight.get() - 1);
        }
    }
}

/// The trigger socket: sends numbered messages, encoded once and patched with each number
/// (JSON-like ones differ from one broadcast to the next, in turn among 64).
struct Trigger {
    stream: TcpStream,
    frames: Vec<Vec<u8>>,
    seq_at: usize,
    next_seq: u64,
    out: Vec<u8>,
}

impl Trigger {
    fn new(conn: Conn, payload: usize, kind: Kind) -> Self {
        let frames: Vec<Vec<u8>> = if kind.json {
            (0..64)
                .map(|variant| {
                    let mut body = vec![0; 8];
                    body.extend(payload::json_like(payload - 8, variant));
                    wire::client_frame(wire::OP_BINARY, &body)
                })
                .collect()
        } else {
            vec![wire::client_frame(wire::OP_BINARY, &vec![0xCD; payload])]
        };
        Trigger {
            stream: conn.stream,
            seq_at: frames[0].len() - payload,
            frames,
            next_seq: 0,
            out: Vec::new(),
        }
    }

    async fn send(&mut self, count: usize, broadcasts: &Broadcasts) -> Result<(), String> {
        self.out.clear();
        let now = Instant::now();
        for _ in 0..count {
            let turn = self.next_seq as usize % self.frames.len();
            let frame = &mut self.frames[turn];
            frame[self.seq_at..self.seq_at + 8].copy_from_slice(&self.next_seq.to_le_bytes());
            self.out.extend_from_slice(frame);
            broadcasts.started(self.next_seq, now);
            self.next_seq += 1;
        }
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| format!("trigger send: {e}"))
    }

    /// Sends one broadcast at a time until one reaches every receiver: then every receiver is
    /// in the group, whenever the server subscribes it.
    async fn wait_until_subscribed(&mut self, broadcasts: &Broadcasts) -> Result<(), String> {
        for _ in 0..READY_ATTEMPTS {
            let before = broadcasts.completed.get();
            let seq = self.next_seq;
            self.send(1, broadcasts).await?;
            let _ = tokio::time::timeout(READY_WAIT, async {
                while broadcasts.completed.get() == before {
                    broadcasts.done.notified().await;
                }
            })
            .await;
            if broadcasts.completed.get() > before {
                return Ok(());
            }
            broadcasts.abandon(seq);
        }
        Err(format!(
            "no broadcast reached all {} receivers in {READY_ATTEMPTS} tries",
            broadcasts.receivers
        ))
    }

    /// Keeps `in_flight` broadcasts under way until the window closes.
    async fn keep_in_flight(
        &mut self,
        broadcasts: &Broadcasts,
        in_flight: usize,
    ) -> Result<(), String> {
        loop {
            let missing = in_flight.saturating_sub(broadcasts.in_flight.get());
            if missing > 0 {
                self.send(missing, broadcasts).await?;
            }
            broadcasts.done.notified().await;
            if broadcasts.tally.phase() == Phase::Done {
                return Ok(());
            }
        }
    }
}

/// One receiver: reads deliveries (and answers pings) until the window closes.
async fn receive(conn: Conn, broadcasts: Rc<Broadcasts>) -> Result<(), String> {
    let Conn {
        mut stream,
        leftover,
        server_no_context_takeover,
    } = conn;
    let mut reader = FrameReader::keeping_compressed();
    let mut inflater = Inflater::new(server_no_context_takeover);
    let mut pongs = Vec::new();
    let mut closed = false;
    let mut on_bytes = |bytes: &[u8], pongs: &mut Vec<u8>, closed: &mut bool| {
        let now = Instant::now();
        broadcasts.tally.received(bytes.len());
        let mut failed = None;
        reader.feed(bytes, |f| match f {
            Frame::Data { head } => broadcasts.delivered(head, now),
            Frame::Compressed(message) => match inflater.head(message) {
                Ok(head) => broadcasts.delivered(head, now),
                Err(e) => failed = Some(e),
            },
            Frame::Ping(payload) => pongs.extend(wire::client_frame(wire::OP_PONG, payload)),
            Frame::Close => *closed = true,
        })?;
        failed.map_or(Ok(()), Err)
    };
    on_bytes(&leftover, &mut pongs, &mut closed)?;
    loop {
        stream
            .readable()
            .await
            .map_err(|e| format!("receive: {e}"))?;
        {
            let mut buf = broadcasts.read_buf.borrow_mut();
            match stream.try_read(&mut buf) {
                Ok(0) => return Err("the server closed a receiver".into()),
                Ok(n) => on_bytes(&buf[..n], &mut pongs, &mut closed)?,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(format!("receive: {e}")),
            }
        }
        if closed {
            return Err("the server sent a receiver a close frame".into());
        }
        if !pongs.is_empty() {
            stream
                .write_all(&pongs)
                .await
                .map_err(|e| format!("pong: {e}"))?;
            pongs.clear();
        }
        if broadcasts.tally.phase() == Phase::Done {
            return Ok(());
        }
    }
}

/// A receiver's inflater: reads a compressed delivery's sequence number, inflating all of it
/// when the server keeps its context (the next delivery refers to this one).
struct Inflater {
    decompress: Decompress,
    alone: bool,
    out: Vec<u8>,
}

impl Inflater {
    fn new(server_no_context_takeover: bool) -> Self {
        Inflater {
            decompress: Decompress::new(false),
            alone: server_no_context_takeover,
            out: Vec::new(),
        }
    }

    /// The first eight bytes of `message` once inflated, as a number.
    fn head(&mut self, message: &[u8]) -> Result<u64, String> {
        if self.alone {
            self.decompress.reset(false);
        }
        self.out.clear();
        let mut input: Vec<u8> = Vec::with_capacity(message.len() + 4);
        input.extend_from_slice(message);
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut input = &input[..];
        while !input.is_empty() {
            self.out.reserve(64 * 1024);
            let before = self.decompress.total_in();
            self.decompress
                .decompress_vec(input, &mut self.out, FlushDecompress::Sync)
                .map_err(|e| format!("inflate: {e}"))?;
            let used = (self.decompress.total_in() - before) as usize;
            if used == 0 && self.out.len() < self.out.capacity() {
                break;
            }
            input = &input[used..];
        }
        let mut head = [0u8; 8];
        let n = self.out.len().min(8);
        head[..n].copy_from_slice(&self.out[..n]);
        Ok(u64::from_le_bytes(head))
    }
}
