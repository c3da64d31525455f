//! The log callback: the library's log records, forwarded through `crate::log::set_log_sink`.

use super::macros::ffi;
use super::{wsc_result, wsc_str, FromRaw};
use crate::log::{set_log_sink, LogLevel, LogRecord, LogSink};
use std::ffi::c_void;
use std::sync::Arc;

/// Severity of a log record, most severe first.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_log_level {
    /// Something failed.
    WSC_LOG_ERROR = 1,
    /// Something unexpected that the library handled.
    WSC_LOG_WARN = 2,
    /// Lifecycle news.
    WSC_LOG_INFO = 3,
    /// Per-connection detail.
    WSC_LOG_DEBUG = 4,
    /// Per-frame detail.
    WSC_LOG_TRACE = 5,
}

impl FromRaw for wsc_log_level {
    const WHAT: &'static str = "wsc_log_level";
    const ALL: &'static [Self] = &[
        Self::WSC_LOG_ERROR,
        Self::WSC_LOG_WARN,
        Self::WSC_LOG_INFO,
        Self::WSC_LOG_DEBUG,
        Self::WSC_LOG_TRACE,
    ];
    fn raw(self) -> u32 {
        self as u32
    }
}

impl From<wsc_log_level> for LogLevel {
    fn from(level: wsc_log_level) -> Self {
        match level {
            wsc_log_level::WSC_LOG_ERROR => LogLevel::Error,
            wsc_log_level::WSC_LOG_WARN => LogLevel::Warn,
            wsc_log_level::WSC_LOG_INFO => LogLevel::Info,
            wsc_log_level::WSC_LOG_DEBUG => LogLevel::Debug,
            wsc_log_level::WSC_LOG_TRACE => LogLevel::Trace,
        }
    }
}

impl From<LogLevel> for wsc_log_level {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => wsc_log_level::WSC_LOG_ERROR,
            LogLevel::Warn => wsc_log_level::WSC_LOG_WARN,
            LogLevel::Info => wsc_log_level::WSC_LOG_INFO,
            LogLevel::Debug => wsc_log_level::WSC_LOG_DEBUG,
            LogLevel::Trace => wsc_log_level::WSC_LOG_TRACE,
        }
    }
}

/// Receives one log record: its level, its target (the module, e.g. "wsconnector::inbound")
/// and its message, both borrowed until the callback returns. The message ends with the
/// record's fields as ` key=value`, and those of the spans it was made in: everything a
/// socket's task logs carries ` socket_id=<its ID> socket_type=... socket_path=...`. Runs on the thread that logged
/// (an I/O thread, a dispatcher thread, a caller's): it must be thread-safe, quick, and must not
/// call back into the library.
pub type wsc_log_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: wsc_log_level,
        target: wsc_str,
        message: wsc_str,
    ),
>;

/// The caller's log callback and userdata.
struct LogCallback {
    f: unsafe extern "C" fn(*mut c_void, wsc_log_level, wsc_str, wsc_str),
    userdata: *mut c_void,
}

impl LogCallback {
    fn call(&self, level: LogLevel, target: &str, message: &str) {
        // SAFETY: the caller's log function with its userdata; the views outlive the call.
        unsafe {
            (self.f)(
                self.userdata,
                level.into(),
                wsc_str::from(target),
                wsc_str::from(message),
            )
        }
    }
}

// SAFETY: the header requires the log callback and its userdata to be usable from any thread.
unsafe impl Send for LogCallback {}
// SAFETY: as above.
unsafe impl Sync for LogCallback {}

/// Sends the library's log records up to `max_level` (a wsc_log_level) to `callback`, replacing
/// any earlier callback; `callback` NULL removes it. Process-wide; may be called at any time,
/// from any thread. A record being delivered on another thread while the callback is replaced
/// may still reach the earlier one, so keep its userdata alive a little longer.
/// Errors: WSC_INVALID_ARGUMENT (not a wsc_log_level), WSC_INVALID_STATE (the process already
/// has a global Rust tracing subscriber, which then receives the records).
#[no_mangle]
pub extern "C" fn wsc_set_log_callback(
    callback: wsc_log_fn,
    userdata: *mut c_void,
    max_level: u32,
) -> wsc_result {
    ffi! {
        let level = wsc_log_level::from_raw(max_level)?;
        let sink = callback.map(|f| {
            let cb = LogCallback { f, userdata };
            let sink = move |record: &LogRecord<'_>| {
                cb.call(record.level, record.target, record.message)
            };
            Arc::new(sink) as LogSink
        });
        set_log_sink(sink, level.into())?;
        Ok(())
    }
}
