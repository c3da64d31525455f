//! The connector's figures in C: the main ones in a sized struct (`wsc_metrics`), every one of
//! them (labelled and histograms too) as the samples of a snapshot handle, and the Prometheus
//! text.

use super::connector::wsc_connector;
use super::error::{copy_to_buffer, FfiError, FfiResult};
use super::macros::{
    arg_out, arg_ref, ffi, ffi_value, into_handle, take_handle, write_sized, Opaque, Out,
};
use super::{wsc_result, wsc_str};
use crate::{MetricsSnapshot, Sample};
use std::ffi::c_char;

/// The connector's main figures, read at one time: counters (totals since start, which never
/// go backwards) and gauges (values now). Versioned by size: set `struct_size` to
/// `sizeof(wsc_metrics)` before the call; the library fills the fields that fit in that size
/// (a program built against an older header gets the fields it knows) and writes back the size
/// it filled. New fields are only ever added at the end.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct wsc_metrics {
    /// In: `sizeof(wsc_metrics)` as the caller knows it; out: the bytes filled.
    pub struct_size: usize,
    /// Gauge: inbound sockets open.
    pub sockets_open_inbound: u64,
    /// Gauge: outbound sockets open.
    pub sockets_open_outbound: u64,
    /// Counter: inbound sockets opened (handshake done).
    pub sockets_opened_inbound: u64,
    /// Counter: outbound sockets opened.
    pub sockets_opened_outbound: u64,
    /// Counter: sockets closed, every close code (by code: the samples).
    pub sockets_closed: u64,
    /// Counter: handshakes refused, every reason (by reason and status: the samples).
    pub handshakes_refused: u64,
    /// Counter: text messages received from peers.
    pub messages_in_text: u64,
    /// Counter: binary messages received from peers.
    pub messages_in_binary: u64,
    /// Counter: payload bytes of the text messages received.
    pub bytes_in_text: u64,
    /// Counter: payload bytes of the binary messages received.
    pub bytes_in_binary: u64,
    /// Counter: text messages written to peers.
    pub messages_out_text: u64,
    /// Counter: binary messages written to peers.
    pub messages_out_binary: u64,
    /// Counter: payload bytes of the text messages written.
    pub bytes_out_text: u64,
    /// Counter: payload bytes of the binary messages written.
    pub bytes_out_binary: u64,
    /// Counter: messages received compressed (permessage-deflate).
    pub compressed_messages_in: u64,
    /// Counter: their payload bytes on the wire, as they arrived compressed (inflated, they count
    /// in the bytes_in fields).
    pub compressed_bytes_in: u64,
    /// Counter: messages written compressed (permessage-deflate).
    pub compressed_messages_out: u64,
    /// Counter: their payload bytes on the wire, compressed (before compression, they count in
    /// the bytes_out fields).
    pub compressed_bytes_out: u64,
    /// Gauge: messages waiting in every socket's send queue.
    pub send_queue_messages: u64,
    /// Gauge: payload bytes waiting in every socket's send queue.
    pub send_queue_bytes: u64,
    /// Gauge: messages waiting in the fullest send queue.
    pub send_queue_largest: u64,
    /// Counter: messages dropped by the slow-consumer policy.
    pub slow_consumer_dropped: u64,
    /// Counter: sockets closed (1013) by the slow-consumer policy.
    pub slow_consumer_closed: u64,
    /// Counter: broadcasts.
    pub broadcasts: u64,
    /// Counter: sockets broadcasts queued their message for.
    pub broadcast_deliveries: u64,
    /// Gauge: events waiting for the application, or held by it.
    pub events_waiting: u64,
    /// Gauge: memory those events keep, in bytes.
    pub event_bytes_waiting: u64,
    /// Counter: times the event queue filled up and sockets stopped reading.
    pub backpressure_episodes: u64,
    /// Counter: keepalive pings sent.
    pub pings_sent: u64,
    /// Counter: sockets dropped for not answering a ping in time.
    pub pong_timeouts: u64,
    /// Counter: reconnect attempts of outbound sockets.
    pub reconnect_attempts: u64,
    /// Counter: reconnect attempts that connected again.
    pub reconnects: u64,
    /// Counter: outbound sockets closed because their reconnect attempts ran out.
    pub reconnects_exhausted: u64,
    /// Counter: events whose wait for the application was timed (the histogram: the samples).
    pub event_wait_count: u64,
    /// Counter: their waits added up, in nanoseconds.
    pub event_wait_sum_ns: u64,
    /// Counter: broadcasts whose fan-out was timed.
    pub broadcast_fanout_count: u64,
    /// Counter: their fan-out times added up, in nanoseconds.
    pub broadcast_fanout_sum_ns: u64,
    /// Gauge: 1 while the connector drains, else 0.
    pub draining: u32,
    /// Gauge: sockets parked now (idle, out of the scheduler; see park_idle_after); they
    /// count among the open ones too.
    pub sockets_parked: u64,
    /// Counter: times the memory that parked sockets freed was given back to the system (once
    /// after each batch of parks).
    pub memory_purges: u64,
}

impl wsc_metrics {
    fn of(m: &MetricsSnapshot) -> Self {
        let ns = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        wsc_metrics {
            struct_size: std::mem::size_of::<wsc_metrics>(),
            sockets_open_inbound: m.sockets_open.inbound,
            sockets_open_outbound: m.sockets_open.outbound,
            sockets_opened_inbound: m.sockets_opened.inbound,
            sockets_opened_outbound: m.sockets_opened.outbound,
            sockets_closed: m.sockets_closed.iter().map(|c| c.count).sum(),
            handshakes_refused: m.handshakes_refused.iter().map(|r| r.count).sum(),
            messages_in_text: m.messages_in.text,
            messages_in_binary: m.messages_in.binary,
            bytes_in_text: m.bytes_in.text,
            bytes_in_binary: m.bytes_in.binary,
            messages_out_text: m.messages_out.text,
            messages_out_binary: m.messages_out.binary,
            bytes_out_text: m.bytes_out.text,
            bytes_out_binary: m.bytes_out.binary,
            compressed_messages_in: m.compressed_messages_in,
            compressed_bytes_in: m.compressed_bytes_in,
            compressed_messages_out: m.compressed_messages_out,
            compressed_bytes_out: m.compressed_bytes_out,
            send_queue_messages: m.send_queue_messages,
            send_queue_bytes: m.send_queue_bytes,
            send_queue_largest: m.send_queue_largest,
            slow_consumer_dropped: m.slow_consumer_dropped,
            slow_consumer_closed: m.slow_consumer_closed,
            broadcasts: m.broadcasts,
            broadcast_deliveries: m.broadcast_deliveries,
            events_waiting: m.events_waiting,
            event_bytes_waiting: m.event_bytes_waiting,
            backpressure_episodes: m.backpressure_episodes,
            pings_sent: m.pings_sent,
            pong_timeouts: m.pong_timeouts,
            reconnect_attempts: m.reconnect_attempts,
            reconnects: m.reconnects,
            reconnects_exhausted: m.reconnects_exhausted,
            event_wait_count: m.event_wait.count,
            event_wait_sum_ns: ns(m.event_wait.sum),
            broadcast_fanout_count: m.broadcast_fanout.count,
            broadcast_fanout_sum_ns: ns(m.broadcast_fanout.sum),
            draining: u32::from(m.draining),
            sockets_parked: m.sockets_parked,
            memory_purges: m.memory_purges,
        }
    }
}

/// The figures of a connector read at one time, every one of them as a sample (the
/// Prometheus text's: name, labels, value), in a handle owned by the caller; freed with
/// wsc_metrics_snapshot_free(). Read-only: any thread.
pub struct wsc_metrics_snapshot {
    _private: [u8; 0],
}

/// A snapshot, its samples, and its text.
pub(crate) struct SnapshotData {
    snapshot: MetricsSnapshot,
    samples: Vec<Sample>,
    text: String,
}

impl Opaque for wsc_metrics_snapshot {
    type Rust = SnapshotData;
}

/// Reads the connector's main figures into `*metrics_out`, whose `struct_size` the caller set
/// to `sizeof(wsc_metrics)`. Cheap enough to call every second (visits each open socket once).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (`struct_size` smaller than a size_t).
/// Any thread, also after the connector stopped.
#[no_mangle]
pub extern "C" fn wsc_connector_metrics(
    conn: *const wsc_connector,
    metrics_out: *mut wsc_metrics,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let snapshot = conn.core()?.metrics();
        write_sized(&wsc_metrics::of(&snapshot), metrics_out, "metrics_out")
    }
}

/// Takes a snapshot of every figure: read its main ones with wsc_metrics_snapshot_get(), each
/// sample with wsc_metrics_snapshot_sample() (the labelled figures, by close code, served path,
/// refusal reason and status, and the histograms' buckets), or the whole as Prometheus text
/// with wsc_metrics_snapshot_prometheus(). Free it with wsc_metrics_snapshot_free().
/// Errors: WSC_NULL_POINTER. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_metrics_snapshot(
    conn: *const wsc_connector,
    snapshot_out: *mut *mut wsc_metrics_snapshot,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let snapshot_out = arg_out!(snapshot_out);
        let snapshot = conn.core()?.metrics();
        let text = snapshot.to_prometheus();
        let samples = snapshot.samples();
        snapshot_out.set(into_handle::<wsc_metrics_snapshot>(SnapshotData {
            snapshot,
            samples,
            text,
        }));
        Ok(())
    }
}

/// The snapshot's main figures, as wsc_connector_metrics() gives them.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (`struct_size`).
#[no_mangle]
pub extern "C" fn wsc_metrics_snapshot_get(
    snapshot: *const wsc_metrics_snapshot,
    metrics_out: *mut wsc_metrics,
) -> wsc_result {
    ffi! {
        let snapshot = arg_ref!(snapshot);
        write_sized(&wsc_metrics::of(&snapshot.snapshot), metrics_out, "metrics_out")
    }
}

/// How many samples the snapshot has (0 for NULL).
#[no_mangle]
pub extern "C" fn wsc_metrics_snapshot_sample_count(
    snapshot: *const wsc_metrics_snapshot,
) -> usize {
    ffi_value!(0, {
        // SAFETY: the header requires a live snapshot or NULL.
        unsafe { snapshot.cast::<SnapshotData>().as_ref() }.map_or(0, |s| s.samples.len())
    })
}

/// Sample `index` (0 to wsc_metrics_snapshot_sample_count() - 1): its name (e.g.
/// "wsconnector_sockets_closed_total"), how many labels it has (read each with
/// wsc_metrics_snapshot_sample_label()), and its value. The views live as long as the snapshot.
/// Each out pointer may be NULL. Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (`index`).
#[no_mangle]
pub extern "C" fn wsc_metrics_snapshot_sample(
    snapshot: *const wsc_metrics_snapshot,
    index: usize,
    name_out: *mut wsc_str,
    label_count_out: *mut usize,
    value_out: *mut f64,
) -> wsc_result {
    ffi! {
        let sample = sample_at(arg_ref!(snapshot), index)?;
        if let Some(out) = Out::optional(name_out) {
            out.set(wsc_str::from(&sample.name));
        }
        if let Some(out) = Out::optional(label_count_out) {
            out.set(sample.labels.len());
        }
        if let Some(out) = Out::optional(value_out) {
            out.set(sample.value);
        }
        Ok(())
    }
}

/// Label `label` of sample `index`: its name (e.g. "code") and value (e.g. "1000"), views that
/// live as long as the snapshot. Each out pointer may be NULL.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (`index` or `label` past the end).
#[no_mangle]
pub extern "C" fn wsc_metrics_snapshot_sample_label(
    snapshot: *const wsc_metrics_snapshot,
    index: usize,
    label: usize,
    name_out: *mut wsc_str,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let sample = sample_at(arg_ref!(snapshot), index)?;
        let (name, value) = sample.labels.get(label).ok_or_else(|| {
            FfiError::invalid(format!(
                "sample {index} has {} labels, not {}",
                sample.labels.len(),
                label + 1
            ))
        })?;
        if let Some(out) = Out::optional(name_out) {
            out.set(wsc_str::from(name));
        }
        if let Some(out) = Out::optional(value_out) {
            out.set(wsc_str::from(value));
        }
        Ok(())
    }
}

fn sample_at(snapshot: &SnapshotData, index: usize) -> FfiResult<&Sample> {
    snapshot.samples.get(index).ok_or_else(|| {
        FfiError::invalid(format!(
            "there is no sample {index}: there are {}",
            snapshot.samples.len()
        ))
    })
}

/// Copies the snapshot as Prometheus text (exposition format 0.0.4: serve it with Content-Type
/// "text/plain; version=0.0.4; charset=utf-8") into `buf` with a NUL; `*len_out` is its length
/// without the NUL, also when the buffer is too small (WSC_BUFFER_TOO_SMALL: call again with
/// `*len_out` + 1 bytes). Errors: WSC_NULL_POINTER, WSC_BUFFER_TOO_SMALL.
#[no_mangle]
pub extern "C" fn wsc_metrics_snapshot_prometheus(
    snapshot: *const wsc_metrics_snapshot,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> wsc_result {
    ffi! {
        let snapshot = arg_ref!(snapshot);
        copy_to_buffer(&snapshot.text, buf, capacity, arg_out!(len_out))
    }
}

/// The connector's figures now as Prometheus text, copied into `buf` as
/// wsc_metrics_snapshot_prometheus() does (the text's length changes between calls: a buffer
/// of the length reported, plus some, fits the next call).
/// Errors: WSC_NULL_POINTER, WSC_BUFFER_TOO_SMALL. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_metrics_prometheus(
    conn: *const wsc_connector,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let len_out = arg_out!(len_out);
        let text = conn.core()?.metrics().to_prometheus();
        copy_to_buffer(&text, buf, capacity, len_out)
    }
}

/// Frees a snapshot; NULL is a no-op. Views taken from it die with it.
#[no_mangle]
pub extern "C" fn wsc_metrics_snapshot_free(snapshot: *mut wsc_metrics_snapshot) {
    ffi_value!((), {
        // SAFETY: the header requires a snapshot from wsc_connector_metrics_snapshot(), freed
        // once.
        drop(unsafe { take_handle(snapshot) });
    })
}
