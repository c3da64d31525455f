//! What a metrics snapshot holds: the figures of one connector, read at one time.

use std::time::Duration;

/// A connector's figures, read at one time by [`ConnectorHandle::metrics`]: counters (totals
/// since start, which never go backwards from one snapshot to the next) and gauges (values
/// now). Cheap to take every second: the counters are a few hundred loads; the send-queue
/// gauges visit each open socket once. [`MetricsSnapshot::to_prometheus`] renders it as
/// Prometheus text.
///
/// [`ConnectorHandle::metrics`]: crate::ConnectorHandle::metrics
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Gauge: sockets open now.
    pub sockets_open: BySocketType,
    /// Counter: sockets opened (handshake done) since start.
    pub sockets_opened: BySocketType,
    /// Inbound sockets by the listener's served path pattern (bounded: the configured
    /// patterns, not the request paths; one `*` entry for the base path when no path is
    /// declared).
    pub paths: Vec<PathFigures>,
    /// Counter: sockets closed, by close code: one entry per code 1000-1015 that a close can
    /// carry, then `code: None` for every other code (the application's 3000-4999).
    pub sockets_closed: Vec<CloseCodeCount>,
    /// Counter: handshakes refused, by reason and HTTP status (those that occurred).
    pub handshakes_refused: Vec<RefusalCount>,
    /// Counter: messages received from peers.
    pub messages_in: ByKind,
    /// Counter: payload bytes received from peers.
    pub bytes_in: ByKind,
    /// Counter: messages written to peers.
    pub messages_out: ByKind,
    /// Counter: payload bytes written to peers.
    pub bytes_out: ByKind,
    /// Counter: messages received compressed (permessage-deflate); their inflated payloads
    /// count in `bytes_in`.
    pub compressed_messages_in: u64,
    /// Counter: their payload bytes on the wire, as they arrived compressed.
    pub compressed_bytes_in: u64,
    /// Counter: messages written compressed; their payloads before compression count in
    /// `bytes_out`.
    pub compressed_messages_out: u64,
    /// Counter: their payload bytes on the wire, compressed.
    pub compressed_bytes_out: u64,
    /// Gauge: messages waiting in every socket's send queue.
    pub send_queue_messages: u64,
    /// Gauge: payload bytes waiting in every socket's send queue.
    pub send_queue_bytes: u64,
    /// Gauge: messages waiting in the fullest send queue.
    pub send_queue_largest: u64,
    /// Counter: messages dropped by the slow-consumer policy (`drop_newest`, `drop_oldest`).
    pub slow_consumer_dropped: u64,
    /// Counter: sockets closed (1013) by the slow-consumer policy `close`.
    pub slow_consumer_closed: u64,
    /// Counter: broadcasts.
    pub broadcasts: u64,
    /// Counter: sockets broadcasts queued their message for.
    pub broadcast_deliveries: u64,
    /// Gauge: events waiting for the application, and those it holds (in a batch being
    /// handled), which count against `event_queue_capacity`.
    pub events_waiting: u64,
    /// Gauge: memory kept by those events, which counts against `event_queue_bytes`.
    pub event_bytes_waiting: u64,
    /// Counter: times the event queue filled up and sockets stopped reading (backpressure).
    pub backpressure_episodes: u64,
    /// Counter: keepalive pings sent.
    pub pings_sent: u64,
    /// Counter: sockets dropped because their peer did not answer a ping in time.
    pub pong_timeouts: u64,
    /// Counter: reconnect attempts of outbound sockets with a reconnect policy (one per
    /// `OutboundReconnecting` event).
    pub reconnect_attempts: u64,
    /// Counter: attempts that connected again (one per `OutboundReconnected` event).
    pub reconnects: u64,
    /// Counter: outbound sockets closed because their reconnect attempts ran out.
    pub reconnects_exhausted: u64,
    /// Histogram: time from when a socket read an event to when it was taken from the event
    /// queue (by a dispatcher thread, or in pull mode the application), for every event. The
    /// time it then spent in its batch or its socket's mailbox, behind the events handled
    /// before it, is not in it.
    pub event_wait: Histogram,
    /// Histogram: time a broadcast took to queue its message for every matching socket.
    pub broadcast_fanout: Histogram,
    /// Gauge: the connector is draining (new handshakes get 503, the health path says 503).
    pub draining: bool,
    /// Gauge: sockets parked now (idle, out of the scheduler; see `park_idle_after`). They
    /// count in `sockets_open` too.
    pub sockets_parked: u64,
    /// Counter: times the memory that parked sockets freed was given back to the system (once
    /// after each batch of parks; see `park_idle_after`).
    pub memory_purges: u64,
}

/// A figure for each socket type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BySocketType {
    /// Sockets accepted by the listener.
    pub inbound: u64,
    /// Sockets the application opened.
    pub outbound: u64,
}

/// A figure for each message kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByKind {
    /// Text messages.
    pub text: u64,
    /// Binary messages.
    pub binary: u64,
}

/// The inbound sockets of one served path pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PathFigures {
    /// The full path pattern (base path included), as configured.
    pub pattern: String,
    /// Gauge: sockets open on it now.
    pub open: u64,
    /// Counter: sockets opened on it since start.
    pub opened: u64,
}

/// Sockets closed with one close code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloseCodeCount {
    /// The code; `None` for every code without a label of its own (3000-4999 among them).
    pub code: Option<u16>,
    /// How many.
    pub count: u64,
}

/// Handshakes refused for one reason with one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusalCount {
    /// Why.
    pub reason: RefusalReason,
    /// The HTTP status answered; `None` when the connection ended without one (a handshake
    /// timeout, a failed TLS handshake, a TLS listener's reset past the connection limits).
    pub status: Option<u16>,
    /// How many.
    pub count: u64,
}

/// Why a handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RefusalReason {
    /// Not a valid WebSocket upgrade request (400, 405, 426, 431).
    BadRequest,
    /// No WebSocket endpoint at the path (404).
    NotFound,
    /// The origin policy refused it (403).
    Origin,
    /// The authorization hook refused it (its status), or failed (500).
    Auth,
    /// Past `max_inbound_connections` (503) or `max_connections_per_ip` (429), at accept.
    Limit,
    /// The handshake did not finish within `handshake_timeout`.
    Timeout,
    /// The TLS handshake failed.
    Tls,
    /// The connector is draining or stopping (503).
    Draining,
    /// An internal failure (500).
    Internal,
}

impl RefusalReason {
    /// Every reason, in order.
    pub const ALL: [RefusalReason; 9] = [
        RefusalReason::BadRequest,
        RefusalReason::NotFound,
        RefusalReason::Origin,
        RefusalReason::Auth,
        RefusalReason::Limit,
        RefusalReason::Timeout,
        RefusalReason::Tls,
        RefusalReason::Draining,
        RefusalReason::Internal,
    ];

    /// The reason's label: "bad_request", "not_found", "origin", "auth", "limit", "timeout",
    /// "tls", "draining", "internal".
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::BadRequest => "bad_request",
            RefusalReason::NotFound => "not_found",
            RefusalReason::Origin => "origin",
            RefusalReason::Auth => "auth",
            RefusalReason::Limit => "limit",
            RefusalReason::Timeout => "timeout",
            RefusalReason::Tls => "tls",
            RefusalReason::Draining => "draining",
            RefusalReason::Internal => "internal",
        }
    }
}

/// A latency histogram with fixed buckets, 1 µs to 10 s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Cumulative buckets, as Prometheus has them: each counts the observations at most its
    /// bound; the last one's bound is `None` (+Inf) and counts them all.
    pub buckets: Vec<Bucket>,
    /// Observations.
    pub count: u64,
    /// Their sum.
    pub sum: Duration,
}

/// One bucket of a [`Histogram`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    /// The upper bound; `None` for +Inf.
    pub le: Option<Duration>,
    /// Observations at most `le` (cumulative).
    pub count: u64,
}

impl MetricsSnapshot {
    /// Sockets closed with `code` (`None`: the codes without a label of their own).
    pub fn closed_with(&self, code: Option<u16>) -> u64 {
        let code = code.filter(|c| super::CLOSE_CODES.contains(c));
        self.sockets_closed
            .iter()
            .find(|c| c.code == code)
            .map_or(0, |c| c.count)
    }

    /// Handshakes refused for `reason` (every status).
    pub fn refused_for(&self, reason: RefusalReason) -> u64 {
        self.handshakes_refused
            .iter()
            .filter(|r| r.reason == reason)
            .map(|r| r.count)
            .sum()
    }
}
