//! The library's log records, and errors in user callbacks, reach Python's `logging` module
//! under the logger `wsconnector` (core module `wsconnector::inbound` logs to
//! `wsconnector.inbound`).
//!
//! A record made in a socket's task carries the socket's span fields both in its message and
//! as attributes of the `LogRecord` (`record.socket_id`, `record.socket_type`,
//! `record.socket_path`), for a `logging.Filter` to select one socket's records.
//!
//! Records are made on any thread, tokio workers included, where the GIL must not be taken:
//! the sink only queues them (bounded; a full queue drops and counts), and one thread of ours
//! takes the GIL once per batch to hand them to `logging`.

use pyo3::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, OnceLock};
use wsconnector::log::{set_log_sink, LogLevel, LogRecord, LogSink};

/// Records waiting for the logging thread; more are dropped (and counted) until it catches up.
const QUEUE: usize = 4096;
/// Most records handed to `logging` per GIL hold.
const BATCH: usize = 256;

struct Record {
    level: LogLevel,
    target: String,
    message: String,
    /// The fields of the spans it was made in, for `extra`.
    span_fields: Vec<(&'static str, String)>,
}

static QUEUED: OnceLock<SyncSender<Record>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Forwards the library's records to `logging`, at the verbosity the `wsconnector` logger has
/// now (called at every start, so a level set before start takes effect). If the process
/// already has a tracing subscriber of its own, that subscriber keeps receiving the records.
pub(crate) fn install(py: Python<'_>) -> PyResult<()> {
    let level: u32 = logger(py, "wsconnector")?
        .call_method0("getEffectiveLevel")?
        .extract()?;
    let max_level = match level {
        0..=5 => LogLevel::Trace,
        6..=10 => LogLevel::Debug,
        11..=20 => LogLevel::Info,
        21..=30 => LogLevel::Warn,
        _ => LogLevel::Error,
    };
    let queue = QUEUED
        .get_or_init(|| {
            let (tx, rx) = sync_channel(QUEUE);
            let _ = std::thread::Builder::new()
                .name("wsc-py-log".into())
                .spawn(move || forward(rx));
            tx
        })
        .clone();
    let sink: LogSink = Arc::new(move |record: &LogRecord<'_>| {
        let record = Record {
            level: record.level,
            target: record.target.replace("::", "."),
            message: record.message.to_owned(),
            span_fields: record.span_fields.to_vec(),
        };
        if queue.try_send(record).is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    });
    // Fails only when another tracing subscriber owns the process; it then gets the records.
    let _ = set_log_sink(Some(sink), max_level);
    Ok(())
}

/// The logging thread: waits without the GIL, then hands a batch of records to `logging`.
fn forward(records: Receiver<Record>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Ok(first) = records.recv() {
        batch.push(first);
        batch.extend(records.try_iter().take(BATCH - 1));
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        let attached = Python::try_attach(|py| {
            if dropped > 0 {
                let _ = logger(py, "wsconnector").and_then(|log| {
                    log.call_method1(
                        "warning",
                        ("%d log records were dropped: logging fell behind", dropped),
                    )
                });
            }
            for record in batch.drain(..) {
                let _ = logger(py, &record.target).and_then(|log| {
                    let args = (python_level(record.level), "%s", record.message);
                    if record.span_fields.is_empty() {
                        return log.call_method1("log", args);
                    }
                    let extra = pyo3::types::PyDict::new(py);
                    for (name, value) in record.span_fields {
                        extra.set_item(name, value)?;
                    }
                    let kwargs = pyo3::types::PyDict::new(py);
                    kwargs.set_item("extra", extra)?;
                    log.call_method("log", args, Some(&kwargs))
                });
            }
        });
        if attached.is_none() {
            return; // the interpreter is shutting down
        }
    }
}

fn python_level(level: LogLevel) -> u32 {
    match level {
        LogLevel::Error => 40,
        LogLevel::Warn => 30,
        LogLevel::Info => 20,
        LogLevel::Debug => 10,
        LogLevel::Trace => 5,
    }
}

fn logger<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("logging")?.call_method1("getLogger", (name,))
}

/// Logs an exception raised by user code (a trigger, the authorization hook, a completion
/// callback) with its traceback, as an error of the `wsconnector` logger; never raises.
pub(crate) fn log_exception(py: Python<'_>, what: &str, error: &PyErr) {
    let logged = logger(py, "wsconnector").and_then(|log| {
        let kwargs = pyo3::types::PyDict::new(py);
        // The (type, value, traceback) triple: before Python 3.12 the exception object does
        // not carry the traceback PyO3 keeps beside it, so the value alone logs no lines.
        let exc_info = (error.get_type(py), error.value(py), error.traceback(py));
        kwargs.set_item("exc_info", exc_info)?;
        log.call_method("error", ("%s", what), Some(&kwargs))
    });
    if logged.is_err() {
        error.print(py);
    }
}
