//! Forwarding of the library's `tracing` events to one process-wide sink, for hosts that do
//! not run a tracing subscriber of their own (the C API's log callback, Python's `logging`).
//!
//! The sink can be installed, replaced or removed at any time; the subscriber behind it is
//! installed once, on first use, and only if the process has no global subscriber yet.

use crate::error::{Error, ErrorKind, Result};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Severity of a log record, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Something failed.
    Error = 1,
    /// Something unexpected that the library handled.
    Warn = 2,
    /// Lifecycle news.
    Info = 3,
    /// Per-connection detail.
    Debug = 4,
    /// Per-frame detail.
    Trace = 5,
}

impl LogLevel {
    fn from_tracing(level: &Level) -> Self {
        match *level {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => LogLevel::Trace,
        }
    }
}

/// Receives one log record: level, target (the module, e.g. `wsconnector::inbound`), and the
/// message with its fields. Called on the thread that logged; must not block for long.
pub type LogSink = Arc<dyn Fn(LogLevel, &str, &str) + Send + Sync>;

/// 0 when no sink is installed, else the most verbose level forwarded.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(0);
static SINK: RwLock<Option<LogSink>> = RwLock::new(None);
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Installs `sink` for records up to `max_level` (replacing any earlier sink), or removes the
/// sink with `None`. Fails with `InvalidState` when the process already has a global tracing
/// subscriber of its own (then that subscriber receives the library's records).
pub fn set_log_sink(sink: Option<LogSink>, max_level: LogLevel) -> Result<()> {
    let installed = *INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(SinkLayer);
        tracing::subscriber::set_global_default(subscriber).is_ok()
    });
    if !installed {
        return Err(Error::new(
            ErrorKind::InvalidState,
            "the process already has a global tracing subscriber; it receives wsconnector's logs",
        ));
    }
    let level = if sink.is_some() { max_level as u8 } else { 0 };
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
    MAX_LEVEL.store(level, Ordering::Release);
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

fn enabled(metadata: &Metadata<'_>) -> bool {
    (LogLevel::from_tracing(metadata.level()) as u8) <= MAX_LEVEL.load(Ordering::Acquire)
        && metadata.target().starts_with("wsconnector")
}

struct SinkLayer;

impl<S: Subscriber> Layer<S> for SinkLayer {
    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        enabled(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        if !enabled(metadata) {
            return;
        }
        let sink = SINK.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(sink) = sink {
            let mut text = Text::default();
            event.record(&mut text);
            sink(
                LogLevel::from_tracing(metadata.level()),
                metadata.target(),
                &text.0,
            );
        }
    }
}

/// Formats an event as `message key=value ...`.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The sink is process-wide: tests that install one hold this lock.
    pub(crate) static SINK_TESTS: Mutex<()> = Mutex::new(());

    #[test]
    fn records_reach_the_sink_until_it_is_removed() {
        let _one_at_a_time = SINK_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink_seen = seen.clone();
        let sink: LogSink = Arc::new(move |level, target: &str, message: &str| {
            // Other tests of this process log too; keep this module's records only.
            if target == "wsconnector::log::tests" {
                sink_seen
                    .lock()
                    .unwrap()
                    .push((level, target.to_owned(), message.to_owned()));
            }
        });
        set_log_sink(Some(sink), LogLevel::Info).unwrap();
        tracing::info!(socket = "abc", "socket opened");
        tracing::debug!("too verbose for the sink");
        set_log_sink(None, LogLevel::Info).unwrap();
        tracing::error!("after removal");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].0, LogLevel::Info);
        assert_eq!(seen[0].1, "wsconnector::log::tests");
        assert_eq!(seen[0].2, "socket opened socket=abc");
    }
}
