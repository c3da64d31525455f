//! Graceful drain in C: options built with `wsc_drain_options`, a `wsc_drain` handle to poll
//! or wait on, and stop after a drain.

use super::connector::wsc_connector;
use super::filter::wsc_filter;
use super::macros::{
    arg_mut, arg_opt_ref, arg_opt_str, arg_out, arg_ref, ffi, ffi_value, into_handle, take_handle,
    write_sized, Opaque, Out,
};
use super::wsc_result;
use crate::{Drain, DrainOptions, DrainProgress};
use std::ffi::c_char;
use std::time::Duration;

/// How a drain closes its sockets (see wsc_connector_drain()): a filter, batches, a close code
/// and reason, the Retry-After of refused handshakes. Owned by the caller, freed with
/// wsc_drain_options_free(); reusable; one thread at a time.
pub struct wsc_drain_options {
    _private: [u8; 0],
}

impl Opaque for wsc_drain_options {
    type Rust = DrainOptions;
}

/// A drain under way, owned by the caller and freed with wsc_drain_free() (the drain goes on).
/// Any thread.
pub struct wsc_drain {
    _private: [u8; 0],
}

impl Opaque for wsc_drain {
    type Rust = Drain;
}

/// Where a drain stands. Versioned by size like wsc_metrics: set `struct_size` to
/// `sizeof(wsc_drain_progress)` before a call that fills it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct wsc_drain_progress {
    /// In: `sizeof(wsc_drain_progress)` as the caller knows it; out: the bytes filled.
    pub struct_size: usize,
    /// Sockets that matched the filter when the drain began.
    pub matched: usize,
    /// Sockets the drain asked to close.
    pub requested: usize,
    /// Matched sockets that have closed.
    pub closed: usize,
    /// Batches of close requests sent.
    pub batches: usize,
    /// 1 once every matched socket has closed (or the connector stopped), else 0.
    pub finished: u32,
}

impl From<DrainProgress> for wsc_drain_progress {
    fn from(progress: DrainProgress) -> Self {
        wsc_drain_progress {
            struct_size: std::mem::size_of::<wsc_drain_progress>(),
            matched: progress.matched,
            requested: progress.requested,
            closed: progress.closed,
            batches: progress.batches,
            finished: u32::from(progress.finished),
        }
    }
}

/// A timeout in milliseconds as C gives it: negative waits forever.
fn timeout(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// Makes drain options: every socket, 1,000 at a time, 1 s apart, closed with 1001 "server
/// draining"; refused handshakes say Retry-After: 5. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_drain_options_new(options_out: *mut *mut wsc_drain_options) -> wsc_result {
    ffi! {
        arg_out!(options_out).set(into_handle::<wsc_drain_options>(DrainOptions::new()));
        Ok(())
    }
}

/// Closes only the sockets that `filter` matches (copied; the filter stays the caller's).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_drain_options_set_filter(
    options: *mut wsc_drain_options,
    filter: *const wsc_filter,
) -> wsc_result {
    ffi! {
        let options = arg_mut!(options);
        options.filter = arg_ref!(filter).clone();
        Ok(())
    }
}

/// Closes `batch_size` sockets at a time (at least 1), `interval_ms` apart.
/// Errors: WSC_NULL_POINTER (checked at wsc_connector_drain(): WSC_INVALID_ARGUMENT).
#[no_mangle]
pub extern "C" fn wsc_drain_options_set_batches(
    options: *mut wsc_drain_options,
    batch_size: usize,
    interval_ms: u64,
) -> wsc_result {
    ffi! {
        let options = arg_mut!(options);
        options.batch_size = batch_size;
        options.interval = Duration::from_millis(interval_ms);
        Ok(())
    }
}

/// Closes with `code` (1001 going away, 1012 service restart, or another sendable code) and
/// `reason` (NULL: none; at most 123 bytes). Checked at wsc_connector_drain().
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_drain_options_set_close(
    options: *mut wsc_drain_options,
    code: u16,
    reason: *const c_char,
) -> wsc_result {
    ffi! {
        let options = arg_mut!(options);
        options.reason = arg_opt_str!(reason).unwrap_or_default().to_owned();
        options.code = code;
        Ok(())
    }
}

/// Refused handshakes tell clients to retry after `retry_after_ms` (sent in whole seconds,
/// rounded up). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_drain_options_set_retry_after_ms(
    options: *mut wsc_drain_options,
    retry_after_ms: u64,
) -> wsc_result {
    ffi! {
        arg_mut!(options).retry_after = Duration::from_millis(retry_after_ms);
        Ok(())
    }
}

/// Frees drain options; NULL is a no-op.
#[no_mangle]
pub extern "C" fn wsc_drain_options_free(options: *mut wsc_drain_options) {
    ffi_value!((), {
        // SAFETY: the header requires options from wsc_drain_options_new(), freed once.
        drop(unsafe { take_handle(options) });
    })
}

/// Drains the connector: from now on new handshakes get 503 with Retry-After (and the health
/// path 503); then the sockets that `options` (NULL: the defaults) match are closed in batches.
/// Returns at once with `*drain_out`, to poll with wsc_drain_progress() or wait on with
/// wsc_drain_wait(); free it with wsc_drain_free(). The connector drains until it stops.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (an option), WSC_STOPPED. Any thread,
/// callbacks included.
#[no_mangle]
pub extern "C" fn wsc_connector_drain(
    conn: *const wsc_connector,
    options: *const wsc_drain_options,
    drain_out: *mut *mut wsc_drain,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let drain_out = arg_out!(drain_out);
        let options = arg_opt_ref!(options).cloned().unwrap_or_default();
        let drain = conn.core()?.drain(options)?;
        drain_out.set(into_handle::<wsc_drain>(drain));
        Ok(())
    }
}

/// The drain's progress now, into `*progress_out` (its `struct_size` set by the caller).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (`struct_size`).
#[no_mangle]
pub extern "C" fn wsc_drain_progress_get(
    drain: *const wsc_drain,
    progress_out: *mut wsc_drain_progress,
) -> wsc_result {
    ffi! {
        let drain = arg_ref!(drain);
        write_sized(&drain.progress().into(), progress_out, "progress_out")
    }
}

/// Waits up to `timeout_ms` (negative: as long as it takes) for the drain to finish, then
/// writes its progress (check `finished`). Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn wsc_drain_wait(
    drain: *const wsc_drain,
    timeout_ms: i64,
    progress_out: *mut wsc_drain_progress,
) -> wsc_result {
    ffi! {
        let drain = arg_ref!(drain);
        Out::new(progress_out, "progress_out")?;
        let progress = drain.wait(timeout(timeout_ms));
        write_sized(&progress.into(), progress_out, "progress_out")
    }
}

/// Frees a drain handle; the drain goes on. NULL is a no-op.
#[no_mangle]
pub extern "C" fn wsc_drain_free(drain: *mut wsc_drain) {
    ffi_value!((), {
        // SAFETY: the header requires a drain from wsc_connector_drain(), freed once.
        drop(unsafe { take_handle(drain) });
    })
}

/// Drains the connector with `options` (NULL: the defaults), waits up to `deadline_ms` for the
/// drain to finish, then stops it as wsc_connector_stop() does (sockets still open then close
/// with 1001). `progress_out` (may be NULL; else its `struct_size` set) gets the drain's
/// progress at the end. Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT, WSC_INVALID_STATE
/// (from one of the connector's own callbacks).
#[no_mangle]
pub extern "C" fn wsc_connector_drain_and_stop(
    conn: *const wsc_connector,
    options: *const wsc_drain_options,
    deadline_ms: u64,
    progress_out: *mut wsc_drain_progress,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        conn.not_from_own_callback("stopped")?;
        let options = arg_opt_ref!(options).cloned().unwrap_or_default();
        let progress = conn
            .core()?
            .drain_and_stop(options, Duration::from_millis(deadline_ms))?;
        if !progress_out.is_null() {
            write_sized(&progress.into(), progress_out, "progress_out")?;
        }
        Ok(())
    }
}
