//! A connector's figures: what is recorded where it happens, cheaply, and read together as a
//! [`MetricsSnapshot`] (rendered as Prometheus text by `prometheus.rs`).
//!
//! The counters of the per-message path (messages and bytes, slow-consumer drops, broadcasts,
//! the two latency histograms) live on per-thread slots (`slots.rs`): a thread adds to its own
//! cache lines with a plain load and store, no lock and no locked instruction. The counters of
//! rarer things (sockets opened and closed, refusals, pings) are shared atomics. Gauges (open
//! sockets, queue depths, events waiting) are read when the snapshot is taken. Every counter in
//! a snapshot is a sum of values that only grow: read again, it never goes backwards.

mod prometheus;
mod slots;
mod snapshot;

pub use prometheus::{Sample, PROMETHEUS_CONTENT_TYPE};
pub use snapshot::{
    Bucket, ByKind, BySocketType, CloseCodeCount, Histogram, MetricsSnapshot, PathFigures,
    RefusalCount, RefusalReason,
};

use crate::protocol::message::MessageKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histograms' buckets (and +Inf after them), in nanoseconds.
pub(crate) const LATENCY_BOUNDS_NS: [u64; 22] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];
/// Buckets of a latency histogram: one per bound, and +Inf.
const BUCKETS: usize = LATENCY_BOUNDS_NS.len() + 1;

/// The close codes that have a label of their own; every other code counts as "other".
pub(crate) const CLOSE_CODES: [u16; 15] = [
    1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015,
];

/// What one poll of a socket read and wrote, counted in its own variables as it goes and added
/// to the figures a direction at a time.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    received: Direction,
    sent: Direction,
}

/// One direction's counts: messages (text, binary), bytes (text, binary), compressed messages
/// and their bytes on the wire, in the order of a direction's counters in a slot (indexed as
/// the received ones, which come first).
#[derive(Debug, Default, Clone, Copy)]
struct Direction([u64; hot::DIRECTION]);

impl Direction {
    #[inline]
    fn message(&mut self, kind: MessageKind, len: usize) {
        let k = kind_index(kind);
        self.0[hot::MESSAGES_IN + k] += 1;
        self.0[hot::BYTES_IN + k] += len as u64;
    }

    #[inline]
    fn compressed(&mut self, len: usize) {
        self.0[hot::COMPRESSED_IN] += 1;
        self.0[hot::COMPRESSED_BYTES_IN] += len as u64;
    }
}

impl Traffic {
    /// A message of `len` payload bytes arrived from the peer.
    #[inline]
    pub(crate) fn received(&mut self, kind: MessageKind, len: usize) {
        self.received.message(kind, len);
    }

    /// A message of `len` payload bytes went to the wire.
    #[inline]
    pub(crate) fn sent(&mut self, kind: MessageKind, len: usize) {
        self.sent.message(kind, len);
    }

    /// The message just received arrived compressed, in `len` payload bytes on the wire.
    #[inline]
    pub(crate) fn compressed_received(&mut self, len: usize) {
        self.received.compressed(len);
    }

    /// The message just sent went compressed, in `len` payload bytes on the wire.
    #[inline]
    pub(crate) fn compressed_sent(&mut self, len: usize) {
        self.sent.compressed(len);
    }
}

/// Where each counter of the per-message path sits in a slot.
mod hot {
    use super::BUCKETS;
    /// Messages received; + 0 for text, + 1 for binary (also for the bytes, and out). The
    /// order of a direction's six counters is the order of [`super::Direction`]'s.
    pub const MESSAGES_IN: usize = 0;
    pub const BYTES_IN: usize = 2;
    /// Messages received compressed, and their payload bytes on the wire.
    pub const COMPRESSED_IN: usize = 4;
    pub const COMPRESSED_BYTES_IN: usize = 5;
    /// The counters of one direction.
    pub const DIRECTION: usize = 6;
    pub const MESSAGES_OUT: usize = DIRECTION;
    pub const BYTES_OUT: usize = DIRECTION + 2;
    pub const COMPRESSED_OUT: usize = DIRECTION + 4;
    pub const COMPRESSED_BYTES_OUT: usize = DIRECTION + 5;
    pub const DROPPED: usize = 2 * DIRECTION;
    pub const BROADCASTS: usize = DROPPED + 1;
    pub const DELIVERIES: usize = DROPPED + 2;
    /// The event wait histogram: its buckets, then its sum in nanoseconds.
    pub const EVENT_WAIT: usize = DELIVERIES + 1;
    pub const EVENT_WAIT_SUM: usize = EVENT_WAIT + BUCKETS;
    /// The broadcast fan-out histogram, likewise.
    pub const FANOUT: usize = EVENT_WAIT_SUM + 1;
    pub const FANOUT_SUM: usize = FANOUT + BUCKETS;
    pub const COUNT: usize = FANOUT_SUM + 1;
}

/// One thread's counters, on cache lines of their own.
#[repr(align(128))]
struct Slot([AtomicU64; hot::COUNT]);

impl Default for Slot {
    fn default() -> Self {
        Slot(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// Everything a connector records, shared by its tasks, queues and handles.
pub(crate) struct Metrics {
    slots: Box<[Slot]>,
    /// Sockets registered and unregistered, by type (inbound, outbound).
    opened: [AtomicU64; 2],
    closed: [AtomicU64; 2],
    /// Sockets closed by code: one per [`CLOSE_CODES`], then "other".
    closed_by_code: [AtomicU64; CLOSE_CODES.len() + 1],
    /// The listener's served path patterns (full paths), and the inbound sockets of each.
    path_labels: Box<[String]>,
    path_opened: Box<[AtomicU64]>,
    path_closed: Box<[AtomicU64]>,
    /// Refused handshakes by reason and status: a handful of pairs, one lock per refusal.
    refusals: Mutex<Vec<RefusalCount>>,
    slow_consumer_closed: AtomicU64,
    backpressure_episodes: AtomicU64,
    pings_sent: AtomicU64,
    pong_timeouts: AtomicU64,
    /// Outbound reconnects: attempts made, attempts that connected, sockets that gave up.
    reconnect_attempts: AtomicU64,
    reconnects: AtomicU64,
    reconnects_exhausted: AtomicU64,
}

/// A socket's index in the by-type counters: inbound, outbound.
fn type_index(inbound: bool) -> usize {
    usize::from(!inbound)
}

/// A message kind's offset in the by-kind counters.
fn kind_index(kind: MessageKind) -> usize {
    match kind {
        MessageKind::Text => 0,
        MessageKind::Binary => 1,
    }
}

/// The monotonic clock in nanoseconds, read directly: the clock `Instant` reads, without the
/// arithmetic of turning an `Instant` into a number (a timestamp per batch of events).
#[cfg(unix)]
fn clock_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec through a valid pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(now.tv_nsec as u64)
}

/// The monotonic clock in nanoseconds since the first reading.
#[cfg(not(unix))]
fn clock_ns() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// For each power of two 2^k: how many bounds are below it, and the one bound in
/// [2^k, 2^(k+1)) (u64::MAX when there is none; the bounds are at least twice apart, so there
/// is never more than one).
const BUCKET_TABLES: ([u8; 64], [u64; 64]) = {
    let (mut below, mut within) = ([0u8; 64], [u64::MAX; 64]);
    let mut k = 0;
    while k < 64 {
        let low = 1u64 << k;
        let mut i = 0;
        while i < LATENCY_BOUNDS_NS.len() {
            let bound = LATENCY_BOUNDS_NS[i];
            if bound < low {
                below[k] += 1;
            } else if k == 63 || bound < low << 1 {
                within[k] = bound;
                break;
            }
            i += 1;
        }
        k += 1;
    }
    (below, within)
};

/// The bucket of a latency: the first whose bound it does not exceed, or +Inf (the number of
/// bounds below it, found from its highest bit rather than by a search).
#[inline]
fn bucket(ns: u64) -> usize {
    if ns == 0 {
        return 0;
    }
    let k = (63 - ns.leading_zeros()) as usize;
    usize::from(BUCKET_TABLES.0[k]) + usize::from(ns > BUCKET_TABLES.1[k])
}

/// The by-code counter of a close code.
fn code_index(code: u16) -> usize {
    CLOSE_CODES
        .iter()
        .position(|&c| c == code)
        .unwrap_or(CLOSE_CODES.len())
}

impl Metrics {
    /// Figures for a connector whose listener serves `path_labels` (full path patterns; empty
    /// without a listener).
    pub(crate) fn new(path_labels: Vec<String>) -> Self {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        Metrics {
            slots: (0..slots::SLOTS).map(|_| Slot::default()).collect(),
            opened: Default::default(),
            closed: Default::default(),
            closed_by_code: Default::default(),
            path_opened: zeros(path_labels.len()),
            path_closed: zeros(path_labels.len()),
            path_labels: path_labels.into_boxed_slice(),
            refusals: Mutex::new(Vec::new()),
            slow_consumer_closed: AtomicU64::new(0),
            backpressure_episodes: AtomicU64::new(0),
            pings_sent: AtomicU64::new(0),
            pong_timeouts: AtomicU64::new(0),
            reconnect_attempts: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            reconnects_exhausted: AtomicU64::new(0),
        }
    }

    /// Adds to counter `index` of the calling thread's slot.
    #[inline]
    fn add(&self, index: usize, n: u64) {
        let slot = slots::current();
        slots::add(slot, &self.slots[slot].0[index], n);
    }

    /// Adds the messages received that `traffic` counted (if any), and counts them no more.
    #[inline]
    pub(crate) fn add_received(&self, traffic: &mut Traffic) {
        self.add_direction(&mut traffic.received, hot::MESSAGES_IN);
    }

    /// Adds the messages sent that `traffic` counted (if any), and counts them no more.
    #[inline]
    pub(crate) fn add_sent(&self, traffic: &mut Traffic) {
        self.add_direction(&mut traffic.sent, hot::MESSAGES_OUT);
    }

    /// Adds one direction's counts to its counters (from `from`) with one look-up of the
    /// thread's slot, and zeroes them; the compressed counts only when there are some.
    #[inline]
    fn add_direction(&self, direction: &mut Direction, from: usize) {
        let counts = &direction.0;
        if counts[0] + counts[1] == 0 {
            return;
        }
        let slot = slots::current();
        let cells = &self.slots[slot].0;
        let (plain, compressed) = counts.split_at(hot::COMPRESSED_IN);
        slots::add_all(slot, &cells[from..], plain);
        if compressed[0] != 0 {
            slots::add_all(slot, &cells[from + hot::COMPRESSED_IN..], compressed);
        }
        *direction = Direction::default();
    }

    /// The slow-consumer policy dropped `n` messages (the new one, or older ones for room).
    pub(crate) fn dropped(&self, n: usize) {
        self.add(hot::DROPPED, n as u64);
    }

    /// The slow-consumer policy closed a socket.
    pub(crate) fn closed_slow_consumer(&self) {
        self.slow_consumer_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// A broadcast reached `deliveries` sockets in `took`.
    pub(crate) fn broadcast(&self, deliveries: usize, took: Duration) {
        let slot = slots::current();
        let counters = &self.slots[slot].0;
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        slots::add(slot, &counters[hot::BROADCASTS], 1);
        slots::add(slot, &counters[hot::DELIVERIES], deliveries as u64);
        slots::add(slot, &counters[hot::FANOUT + bucket(ns)], 1);
        slots::add(slot, &counters[hot::FANOUT_SUM], ns);
    }

    /// Events waited these many nanoseconds each in the event queue (a batch's: one look-up
    /// of the thread's slot for them all).
    #[inline]
    pub(crate) fn events_waited(&self, waits: impl IntoIterator<Item = u64>) {
        let slot = slots::current();
        let counters = &self.slots[slot].0;
        let mut sum = 0u64;
        slots::add_each(
            slot,
            waits.into_iter().map(|ns| {
                sum = sum.wrapping_add(ns);
                &counters[hot::EVENT_WAIT + bucket(ns)]
            }),
        );
        slots::add(slot, &counters[hot::EVENT_WAIT_SUM], sum);
    }

    /// An event timestamp: the monotonic clock in nanoseconds.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        clock_ns()
    }

    /// A socket was registered (an inbound one, or outbound); an inbound one on served path
    /// `path` (an index of the labels).
    pub(crate) fn socket_opened(&self, inbound: bool, path: Option<usize>) {
        self.opened[type_index(inbound)].fetch_add(1, Ordering::Relaxed);
        if let Some(opened) = path.and_then(|p| self.path_opened.get(p)) {
            opened.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A registered socket ended with `code`. (Release: a snapshot that sees the close sees
    /// the open before it, so an open gauge never reads below zero.)
    pub(crate) fn socket_closed(&self, inbound: bool, path: Option<usize>, code: u16) {
        self.closed_by_code[code_index(code)].fetch_add(1, Ordering::Relaxed);
        if let Some(closed) = path.and_then(|p| self.path_closed.get(p)) {
            closed.fetch_add(1, Ordering::Release);
        }
        self.closed[type_index(inbound)].fetch_add(1, Ordering::Release);
    }

    /// A handshake was refused, with an HTTP status or without an answer.
    pub(crate) fn refused(&self, reason: RefusalReason, status: Option<u16>) {
        let mut refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        match refusals
            .iter_mut()
            .find(|r| r.reason == reason && r.status == status)
        {
            Some(known) => known.count += 1,
            None => refusals.push(RefusalCount {
                reason,
                status,
                count: 1,
            }),
        }
    }

    /// The event queue became full: sockets stop reading until the application catches up.
    pub(crate) fn backpressure_episode(&self) {
        self.backpressure_episodes.fetch_add(1, Ordering::Relaxed);
    }

    /// A keepalive ping was sent.
    pub(crate) fn ping_sent(&self) {
        self.pings_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// A peer did not answer a ping in time.
    pub(crate) fn pong_timeout(&self) {
        self.pong_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// An outbound socket tries to connect again (its delay begins).
    pub(crate) fn reconnect_attempt(&self) {
        self.reconnect_attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// An outbound socket connected again.
    pub(crate) fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// An outbound socket's reconnect attempts ran out: it closes.
    pub(crate) fn reconnects_exhausted(&self) {
        self.reconnects_exhausted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counter `index` summed over every thread's slot.
    fn sum(&self, index: usize) -> u64 {
        self.slots
            .iter()
            .map(|slot| slot.0[index].load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    fn by_kind(&self, index: usize) -> ByKind {
        ByKind {
            text: self.sum(index),
            binary: self.sum(index + 1),
        }
    }

    fn histogram(&self, buckets: usize, sum: usize) -> Histogram {
        let mut cumulative = 0;
        let buckets = (0..BUCKETS)
            .map(|i| {
                cumulative += self.sum(buckets + i);
                Bucket {
                    le: LATENCY_BOUNDS_NS.get(i).map(|&ns| Duration::from_nanos(ns)),
                    count: cumulative,
                }
            })
            .collect();
        Histogram {
            count: cumulative,
            sum: Duration::from_nanos(self.sum(sum)),
            buckets,
        }
    }

    /// The counters read now, with the gauges the caller read.
    pub(crate) fn snapshot(&self, gauges: Gauges) -> MetricsSnapshot {
        // Each closed count is read before its opened count (Acquire, against the Release of
        // `socket_closed`), so an open gauge is never negative.
        let closed = [0, 1].map(|t| self.closed[t].load(Ordering::Acquire));
        let opened = [0, 1].map(|t| self.opened[t].load(Ordering::Relaxed));
        let paths = self
            .path_labels
            .iter()
            .zip(self.path_opened.iter().zip(self.path_closed.iter()))
            .map(|(pattern, (path_opened, path_closed))| {
                let closed = path_closed.load(Ordering::Acquire);
                let opened = path_opened.load(Ordering::Relaxed);
                PathFigures {
                    pattern: pattern.clone(),
                    open: opened.saturating_sub(closed),
                    opened,
                }
            })
            .collect();
        let closed_by_code = self
            .closed_by_code
            .iter()
            .enumerate()
            .map(|(i, count)| CloseCodeCount {
                code: CLOSE_CODES.get(i).copied(),
                count: count.load(Ordering::Relaxed),
            })
            .collect();
        let mut handshakes_refused = self
            .refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        handshakes_refused.sort_by_key(|r| (r.reason, r.status));
        MetricsSnapshot {
            sockets_open: BySocketType {
                inbound: opened[0].saturating_sub(closed[0]),
                outbound: opened[1].saturating_sub(closed[1]),
            },
            sockets_opened: BySocketType {
                inbound: opened[0],
                outbound: opened[1],
            },
            paths,
            sockets_closed: closed_by_code,
            handshakes_refused,
            messages_in: self.by_kind(hot::MESSAGES_IN),
            bytes_in: self.by_kind(hot::BYTES_IN),
            messages_out: self.by_kind(hot::MESSAGES_OUT),
            bytes_out: self.by_kind(hot::BYTES_OUT),
            compressed_messages_in: self.sum(hot::COMPRESSED_IN),
            compressed_bytes_in: self.sum(hot::COMPRESSED_BYTES_IN),
            compressed_messages_out: self.sum(hot::COMPRESSED_OUT),
            compressed_bytes_out: self.sum(hot::COMPRESSED_BYTES_OUT),
            send_queue_messages: gauges.send_queue_messages,
            send_queue_bytes: gauges.send_queue_bytes,
            send_queue_largest: gauges.send_queue_largest,
            slow_consumer_dropped: self.sum(hot::DROPPED),
            slow_consumer_closed: self.slow_consumer_closed.load(Ordering::Relaxed),
            broadcasts: self.sum(hot::BROADCASTS),
            broadcast_deliveries: self.sum(hot::DELIVERIES),
            events_waiting: gauges.events_waiting,
            event_bytes_waiting: gauges.event_bytes_waiting,
            backpressure_episodes: self.backpressure_episodes.load(Ordering::Relaxed),
            pings_sent: self.pings_sent.load(Ordering::Relaxed),
            pong_timeouts: self.pong_timeouts.load(Ordering::Relaxed),
            reconnect_attempts: self.reconnect_attempts.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            reconnects_exhausted: self.reconnects_exhausted.load(Ordering::Relaxed),
            event_wait: self.histogram(hot::EVENT_WAIT, hot::EVENT_WAIT_SUM),
            broadcast_fanout: self.histogram(hot::FANOUT, hot::FANOUT_SUM),
            draining: gauges.draining,
            sockets_parked: gauges.sockets_parked,
            memory_purges: gauges.memory_purges,
        }
    }
}

/// The gauges a snapshot reads from the parts that own them (the sockets' send queues, the
/// event queue, the connector's state).
#[derive(Debug, Default)]
pub(crate) struct Gauges {
    pub send_queue_messages: u64,
    pub send_queue_bytes: u64,
    pub send_queue_largest: u64,
    pub events_waiting: u64,
    pub event_bytes_waiting: u64,
    pub draining: bool,
    pub sockets_parked: u64,
    pub memory_purges: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_in_the_first_bucket_they_do_not_exceed() {
        let search = |ns: u64| LATENCY_BOUNDS_NS.partition_point(|&bound| bound < ns);
        for &bound in &LATENCY_BOUNDS_NS {
            for ns in [
                bound - 1,
                bound,
                bound + 1,
                bound / 2,
                bound * 2,
                bound * 3 / 2,
            ] {
                assert_eq!(bucket(ns), search(ns), "{ns}");
            }
        }
        for k in 0..64 {
            let ns = 1u64 << k;
            for ns in [ns, ns - 1, ns.wrapping_add(ns - 1)] {
                assert_eq!(bucket(ns), search(ns), "{ns}");
            }
        }
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1_000), 0);
        assert_eq!(bucket(1_001), 1);
        assert_eq!(bucket(10_000_000_000), BUCKETS - 2);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    /// Threads past the owned slots share the last one: nothing recorded is lost either way.
    #[test]
    fn counts_from_many_threads_add_up_exactly() {
        let metrics = std::sync::Arc::new(Metrics::new(Vec::new()));
        let threads: Vec<_> = (0..slots::SLOTS + 8)
            .map(|_| {
                let metrics = metrics.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        let mut traffic = Traffic::default();
                        traffic.received(MessageKind::Text, 3);
                        metrics.add_received(&mut traffic);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let snapshot = metrics.snapshot(Gauges::default());
        let threads = (slots::SLOTS + 8) as u64;
        assert_eq!(snapshot.messages_in.text, 1000 * threads);
        assert_eq!(snapshot.bytes_in.text, 3000 * threads);
    }

    #[test]
    fn histograms_are_cumulative_with_a_sum() {
        let metrics = Metrics::new(Vec::new());
        metrics.events_waited([500, 2_000]);
        metrics.events_waited([u64::MAX / 4]);
        let h = metrics.snapshot(Gauges::default()).event_wait;
        assert_eq!(h.count, 3);
        assert_eq!(h.buckets[0].count, 1);
        assert_eq!(h.buckets[1].count, 2);
        assert_eq!(h.buckets[BUCKETS - 2].count, 2);
        assert_eq!(h.buckets[BUCKETS - 1].le, None);
        assert_eq!(h.buckets[BUCKETS - 1].count, 3);
    }
}
