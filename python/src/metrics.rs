//! The connector's figures (`Connector.metrics()`) and a drain's progress, as Python objects.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::time::Duration;
use wsconnector::{
    ByKind, BySocketType, DrainProgress as CoreProgress, Histogram, MetricsSnapshot,
};

/// The connector's figures read at one time (`Connector.metrics()`): counters (totals since
/// start, which never go backwards from one snapshot to the next) and gauges (values now).
/// Figures by socket type are `{"inbound": n, "outbound": n}`, by message kind
/// `{"text": n, "binary": n}`; histograms are `{"buckets": [(upper_bound_seconds, count), ...],
/// "count": n, "sum": seconds}` with cumulative counts, the last bound `inf`. `as_dict()` gives
/// every figure in one dict; `to_prometheus()` the Prometheus text.
#[pyclass(module = "wsconnector", name = "Metrics", frozen)]
pub(crate) struct Metrics(pub(crate) MetricsSnapshot);

fn by_type(py: Python<'_>, v: BySocketType) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("inbound", v.inbound)?;
    dict.set_item("outbound", v.outbound)?;
    Ok(dict)
}

fn by_kind(py: Python<'_>, v: ByKind) -> PyResult<Bound<'_, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("text", v.text)?;
    dict.set_item("binary", v.binary)?;
    Ok(dict)
}

fn histogram<'py>(py: Python<'py>, h: &Histogram) -> PyResult<Bound<'py, PyDict>> {
    let buckets = PyList::empty(py);
    for bucket in &h.buckets {
        let le = bucket.le.map_or(f64::INFINITY, |le| le.as_secs_f64());
        buckets.append((le, bucket.count))?;
    }
    let dict = PyDict::new(py);
    dict.set_item("buckets", buckets)?;
    dict.set_item("count", h.count)?;
    dict.set_item("sum", h.sum.as_secs_f64())?;
    Ok(dict)
}

#[pymethods]
impl Metrics {
    /// Gauge: sockets open now, by type.
    #[getter]
    fn sockets_open<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        by_type(py, self.0.sockets_open)
    }

    /// Counter: sockets opened (handshake done) since start, by type.
    #[getter]
    fn sockets_opened<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        by_type(py, self.0.sockets_opened)
    }

    /// Inbound sockets by served path pattern: `{pattern: {"open": n, "opened": n}}` (the
    /// configured patterns, base path included; `"*"`-ended base path when none is declared).
    #[getter]
    fn paths<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for path in &self.0.paths {
            let figures = PyDict::new(py);
            figures.set_item("open", path.open)?;
            figures.set_item("opened", path.opened)?;
            dict.set_item(&path.pattern, figures)?;
        }
        Ok(dict)
    }

    /// Counter: sockets closed, by close code: `{1000: n, ..., "other": n}` ("other": the
    /// codes without a label of their own, 3000-4999 among them).
    #[getter]
    fn sockets_closed<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for closed in &self.0.sockets_closed {
            match closed.code {
                Some(code) => dict.set_item(code, closed.count)?,
                None => dict.set_item("other", closed.count)?,
            }
        }
        Ok(dict)
    }

    /// Counter: handshakes refused, `{reason: {status: n}}` with reasons "bad_request",
    /// "not_found", "origin", "auth", "limit", "timeout", "tls", "draining", "internal" and
    /// the HTTP status answered (`None` when none was).
    #[getter]
    fn handshakes_refused<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for refusal in &self.0.handshakes_refused {
            let reason = refusal.reason.as_str();
            let by_status = match dict.get_item(reason)? {
                Some(existing) => existing.cast_into::<PyDict>()?,
                None => {
                    let new = PyDict::new(py);
                    dict.set_item(reason, &new)?;
                    new
                }
            };
            by_status.set_item(refusal.status, refusal.count)?;
        }
        Ok(dict)
    }

    /// Counter: messages received from peers, by kind.
    #[getter]
    fn messages_in<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        by_kind(py, self.0.messages_in)
    }

    /// Counter: payload bytes received from peers, by kind.
    #[getter]
    fn bytes_in<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        by_kind(py, self.0.bytes_in)
    }

    /// Counter: messages written to peers, by kind.
    #[getter]
    fn messages_out<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        by_kind(py, self.0.messages_out)
    }

    /// Counter: payload bytes written to peers, by kind.
    #[getter]
    fn bytes_out<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        by_kind(py, self.0.bytes_out)
    }

    /// Counter: messages received compressed (permessage-deflate).
    #[getter]
    fn compressed_messages_in(&self) -> u64 {
        self.0.compressed_messages_in
    }

    /// Counter: their payload bytes on the wire, compressed (inflated: `bytes_in`).
    #[getter]
    fn compressed_bytes_in(&self) -> u64 {
        self.0.compressed_bytes_in
    }

    /// Counter: messages written compressed (permessage-deflate).
    #[getter]
    fn compressed_messages_out(&self) -> u64 {
        self.0.compressed_messages_out
    }

    /// Counter: their payload bytes on the wire, compressed (before: `bytes_out`).
    #[getter]
    fn compressed_bytes_out(&self) -> u64 {
        self.0.compressed_bytes_out
    }

    /// Gauge: messages waiting in every socket's send queue.
    #[getter]
    fn send_queue_messages(&self) -> u64 {
        self.0.send_queue_messages
    }

    /// Gauge: payload bytes waiting in every socket's send queue.
    #[getter]
    fn send_queue_bytes(&self) -> u64 {
        self.0.send_queue_bytes
    }

    /// Gauge: messages waiting in the fullest send queue.
    #[getter]
    fn send_queue_largest(&self) -> u64 {
        self.0.send_queue_largest
    }

    /// Counter: messages dropped by the slow-consumer policy.
    #[getter]
    fn slow_consumer_dropped(&self) -> u64 {
        self.0.slow_consumer_dropped
    }

    /// Counter: sockets closed (1013) by the slow-consumer policy.
    #[getter]
    fn slow_consumer_closed(&self) -> u64 {
        self.0.slow_consumer_closed
    }

    /// Counter: broadcasts.
    #[getter]
    fn broadcasts(&self) -> u64 {
        self.0.broadcasts
    }

    /// Counter: sockets broadcasts queued their message for.
    #[getter]
    fn broadcast_deliveries(&self) -> u64 {
        self.0.broadcast_deliveries
    }

    /// Gauge: events waiting for the application, or held by it.
    #[getter]
    fn events_waiting(&self) -> u64 {
        self.0.events_waiting
    }

    /// Gauge: memory those events keep, in bytes.
    #[getter]
    fn event_bytes_waiting(&self) -> u64 {
        self.0.event_bytes_waiting
    }

    /// Counter: times the event queue filled up and sockets stopped reading.
    #[getter]
    fn backpressure_episodes(&self) -> u64 {
        self.0.backpressure_episodes
    }

    /// Counter: keepalive pings sent.
    #[getter]
    fn pings_sent(&self) -> u64 {
        self.0.pings_sent
    }

    /// Counter: sockets dropped for not answering a ping in time.
    #[getter]
    fn pong_timeouts(&self) -> u64 {
        self.0.pong_timeouts
    }

    /// Counter: reconnect attempts of outbound sockets.
    #[getter]
    fn reconnect_attempts(&self) -> u64 {
        self.0.reconnect_attempts
    }

    /// Counter: reconnect attempts that connected again.
    #[getter]
    fn reconnects(&self) -> u64 {
        self.0.reconnects
    }

    /// Counter: outbound sockets closed because their reconnect attempts ran out.
    #[getter]
    fn reconnects_exhausted(&self) -> u64 {
        self.0.reconnects_exhausted
    }

    /// Histogram: seconds from when a socket read an event to when a dispatcher thread took it
    /// from the event queue (for its callback).
    #[getter]
    fn event_wait<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        histogram(py, &self.0.event_wait)
    }

    /// Histogram: seconds a broadcast took to queue its message for every matching socket.
    #[getter]
    fn broadcast_fanout<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        histogram(py, &self.0.broadcast_fanout)
    }

    /// Gauge: the connector drains (new handshakes get 503).
    #[getter]
    fn draining(&self) -> bool {
        self.0.draining
    }

    /// Gauge: sockets parked now (idle, out of the scheduler; see `park_idle_after`).
    #[getter]
    fn sockets_parked(&self) -> u64 {
        self.0.sockets_parked
    }

    /// Counter: times the memory that parked sockets freed was given back to the system (once
    /// after each batch of parks).
    #[getter]
    fn memory_purges(&self) -> u64 {
        self.0.memory_purges
    }

    /// Every figure in one dict, keyed by the attribute names.
    fn as_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let dict = PyDict::new(py);
        for name in FIGURES {
            dict.set_item(*name, slf.getattr(*name)?)?;
        }
        Ok(dict)
    }

    /// The figures as Prometheus text (exposition format 0.0.4; serve it with the content type
    /// `"text/plain; version=0.0.4; charset=utf-8"`), for an endpoint of the application's own.
    fn to_prometheus(&self) -> String {
        self.0.to_prometheus()
    }

    fn __repr__(&self) -> String {
        let m = &self.0;
        format!(
            "Metrics(sockets_open={}, messages_in={}, messages_out={}, draining={})",
            m.sockets_open.inbound + m.sockets_open.outbound,
            m.messages_in.text + m.messages_in.binary,
            m.messages_out.text + m.messages_out.binary,
            if m.draining { "True" } else { "False" },
        )
    }
}

/// The attributes `as_dict()` gathers.
const FIGURES: &[&str] = &[
    "sockets_open",
    "sockets_opened",
    "paths",
    "sockets_closed",
    "handshakes_refused",
    "messages_in",
    "bytes_in",
    "messages_out",
    "bytes_out",
    "compressed_messages_in",
    "compressed_bytes_in",
    "compressed_messages_out",
    "compressed_bytes_out",
    "send_queue_messages",
    "send_queue_bytes",
    "send_queue_largest",
    "slow_consumer_dropped",
    "slow_consumer_closed",
    "broadcasts",
    "broadcast_deliveries",
    "events_waiting",
    "event_bytes_waiting",
    "backpressure_episodes",
    "pings_sent",
    "pong_timeouts",
    "reconnect_attempts",
    "reconnects",
    "reconnects_exhausted",
    "event_wait",
    "broadcast_fanout",
    "draining",
    "sockets_parked",
    "memory_purges",
];

/// Where a drain stands (`Connector.drain()` returns the last one, `on_progress` gets each).
#[pyclass(module = "wsconnector", name = "DrainProgress", frozen, get_all, eq)]
#[derive(PartialEq, Eq)]
pub(crate) struct DrainProgress {
    /// Sockets that matched the filter when the drain began.
    matched: usize,
    /// Sockets the drain asked to close.
    requested: usize,
    /// Matched sockets that have closed.
    closed: usize,
    /// Batches of close requests sent.
    batches: usize,
    /// Every matched socket has closed (or the connector stopped).
    finished: bool,
}

impl From<CoreProgress> for DrainProgress {
    fn from(p: CoreProgress) -> Self {
        DrainProgress {
            matched: p.matched,
            requested: p.requested,
            closed: p.closed,
            batches: p.batches,
            finished: p.finished,
        }
    }
}

#[pymethods]
impl DrainProgress {
    fn __repr__(&self) -> String {
        format!(
            "DrainProgress(matched={}, requested={}, closed={}, batches={}, finished={})",
            self.matched,
            self.requested,
            self.closed,
            self.batches,
            if self.finished { "True" } else { "False" },
        )
    }
}

/// Seconds as given to `drain()` (`interval`, `retry_after`, `timeout`).
pub(crate) fn seconds(py: Python<'_>, name: &str, secs: f64) -> PyResult<Duration> {
    wsconnector::duration_from_secs(name, secs).map_err(|e| crate::errors::to_py(py, &e))
}

/// Drain options from keywords (the filter's, as for broadcast: `path`, `socket_type`,
/// `groups`, `all_groups`, `except_socket_ids`, `except_groups`; `batch_size`, `interval`,
/// `code`, `reason`, `retry_after`), over the core's defaults; any other keyword is an error.
pub(crate) fn drain_options(
    py: Python<'_>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<wsconnector::DrainOptions> {
    let mut drain = wsconnector::DrainOptions::new();
    let (mut path, mut socket_type) = (None::<String>, None::<String>);
    let (mut groups, mut all_groups, mut except_socket_ids, mut except_groups) =
        (None, None, None, None);
    for (key, value) in options.into_iter().flat_map(|o| o.iter()) {
        let key: String = key.extract()?;
        let wrong = |what: &str| crate::errors::invalid(py, format!("drain {key} must be {what}"));
        match key.as_str() {
            "path" => path = Some(value.extract().map_err(|_| wrong("a string"))?),
            "socket_type" => socket_type = Some(value.extract().map_err(|_| wrong("a string"))?),
            "groups" => groups = Some(value),
            "all_groups" => all_groups = Some(value),
            "except_socket_ids" => except_socket_ids = Some(value),
            "except_groups" => except_groups = Some(value),
            "batch_size" => drain.batch_size = value.extract().map_err(|_| wrong("an integer"))?,
            "interval" => {
                let secs = value.extract().map_err(|_| wrong("a number of seconds"))?;
                drain.interval = seconds(py, "drain interval", secs)?;
            }
            "code" => drain.code = value.extract().map_err(|_| wrong("a close code"))?,
            "reason" => drain.reason = value.extract().map_err(|_| wrong("a string"))?,
            "retry_after" => {
                let secs = value.extract().map_err(|_| wrong("a number of seconds"))?;
                drain.retry_after = seconds(py, "drain retry_after", secs)?;
            }
            _ => {
                return Err(crate::errors::invalid(
                    py,
                    format!("drain has no option {key:?}"),
                ))
            }
        }
    }
    let selection = crate::broadcast::Selection {
        groups: groups.as_ref(),
        all_groups: all_groups.as_ref(),
        except_socket_ids: except_socket_ids.as_ref(),
        except_groups: except_groups.as_ref(),
    };
    drain.filter =
        crate::broadcast::filter(py, path.as_deref(), socket_type.as_deref(), selection)?;
    Ok(drain)
}
