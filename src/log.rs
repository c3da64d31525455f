//! Forwarding of the library's `tracing` events to one process-wide sink, for hosts that do
//! not run a tracing subscriber of their own (the C API's log callback, Python's `logging`).
//!
//! The sink can be installed, replaced or removed at any time; the subscriber behind it is
//! installed once, on first use, and only if the process has no global subscriber yet.
//!
//! A record made inside spans carries their fields too: everything a socket's task logs is in
//! its `socket` span (`socket_id`, `socket_type`, `socket_path`), so filtering the records by
//! `socket_id` shows a socket's whole life.

use crate::error::{Error, ErrorKind, Result};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

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

/// One log record, borrowed for the sink's call.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct LogRecord<'a> {
    /// Its severity.
    pub level: LogLevel,
    /// The module that logged, e.g. `wsconnector::inbound`.
    pub target: &'a str,
    /// The message, then the record's fields and those of the spans it is in that it does not
    /// have itself, as ` key=value` each: `socket closed code=1000 socket_id=...`.
    pub message: &'a str,
    /// The fields of the spans the record is in, outermost first (a socket's task: its
    /// `socket_id`, `socket_type` and `socket_path`), for a sink that keeps them apart.
    pub span_fields: &'a [(&'static str, String)],
}

/// Receives each log record. Called on the thread that logged; must not block for long.
pub type LogSink = Arc<dyn Fn(&LogRecord<'_>) + Send + Sync>;

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

/// A span's fields as text, kept with the span for the records made inside it.
struct SpanFields(Vec<(&'static str, String)>);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for SinkLayer {
    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        enabled(metadata)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        span.extensions_mut().insert(SpanFields(fields.0));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if !enabled(metadata) {
            return;
        }
        let sink = SINK.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(sink) = sink else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut span_fields = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(own)) = span.extensions().get::<SpanFields>() {
                    span_fields.extend(own.iter().cloned());
                }
            }
        }
        let mut text = fields.1;
        for (name, value) in &fields.0 {
            let _ = write!(text, " {name}={value}");
        }
        for (name, value) in &span_fields {
            if !fields.0.iter().any(|(own, _)| own == name) {
                let _ = write!(text, " {name}={value}");
            }
        }
        sink(&LogRecord {
            level: LogLevel::from_tracing(metadata.level()),
            target: metadata.target(),
            message: &text,
            span_fields: &span_fields,
        });
    }
}

/// The fields of an event or span as text, and its message apart.
#[derive(Default)]
struct Fields(Vec<(&'static str, String)>, String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.1 = value.to_owned();
        } else {
            self.0.push((field.name(), value.to_owned()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.1 = format!("{value:?}");
        } else {
            self.0.push((field.name(), format!("{value:?}")));
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
        let sink: LogSink = Arc::new(move |record: &LogRecord<'_>| {
            // Other tests of this process log too; keep this module's records only.
            if record.target == "wsconnector::log::tests" {
                sink_seen.lock().unwrap().push((
                    record.level,
                    record.target.to_owned(),
                    record.message.to_owned(),
                    record.span_fields.to_vec(),
                ));
            }
        });
        set_log_sink(Some(sink), LogLevel::Info).unwrap();
        tracing::info!(socket = "abc", "socket opened");
        tracing::debug!("too verbose for the sink");
        tracing::info_span!("outer", socket_id = "s1", n = 2).in_scope(|| {
            tracing::info!(code = 1000, "closed");
            tracing::info!(n = 3, "its own n");
        });
        set_log_sink(None, LogLevel::Info).unwrap();
        tracing::error!("after removal");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[0].0, LogLevel::Info);
        assert_eq!(seen[0].1, "wsconnector::log::tests");
        assert_eq!(seen[0].2, "socket opened socket=abc");
        assert!(seen[0].3.is_empty());
        assert_eq!(seen[1].2, "closed code=1000 socket_id=s1 n=2");
        let span = vec![("socket_id", "s1".to_owned()), ("n", "2".to_owned())];
        assert_eq!(seen[1].3, span);
        assert_eq!(
            seen[2].2, "its own n n=3 socket_id=s1",
            "a record's own field wins"
        );
    }
}
