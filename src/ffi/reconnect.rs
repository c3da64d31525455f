//! `wsc_reconnect`: an outbound socket's reconnect policy, built call by call (the client-wide
//! default with wsc_config_set_reconnect(), one socket's with
//! wsc_outbound_options_set_reconnect()); and `wsc_headers`, what the header refresher fills.

use super::macros::{arg_mut, arg_out, arg_str, ffi, ffi_value, into_handle, take_handle, Opaque};
use super::{wsc_result, FromRaw};
use crate::{Reconnect, ReconnectSendPolicy};
use std::ffi::c_char;
use std::time::Duration;

/// A reconnect policy: exponential backoff with full jitter (before attempt n a random delay
/// up to min(max_delay, initial_delay * multiplier^(n-1))), the most attempts, Mule's lazy
/// mode, what sends do meanwhile, and the server's close codes that end the socket instead.
/// Made by wsc_reconnect_new() with the defaults (500 ms doubling up to 30 s, forever, sends
/// buffered, 1000 final), owned by the caller, freed with wsc_reconnect_free(); the functions
/// that take one copy it. One thread at a time. Values are checked where it is used (at start
/// or at the open), with WSC_INVALID_ARGUMENT naming the field.
pub struct wsc_reconnect {
    _private: [u8; 0],
}

impl Opaque for wsc_reconnect {
    type Rust = Reconnect;
}

/// What a send to an outbound socket does while it reconnects.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_reconnect_send_policy {
    /// The message waits in the socket's send queue (within its bounds) and leaves, in order,
    /// once it has reconnected; the send reports WSC_DELIVERY_BUFFERED (the default).
    WSC_RECONNECT_BUFFER = 1,
    /// The send fails at once with WSC_RECONNECTING.
    WSC_RECONNECT_FAIL = 2,
}

impl FromRaw for wsc_reconnect_send_policy {
    const WHAT: &'static str = "wsc_reconnect_send_policy";
    const ALL: &'static [Self] = &[Self::WSC_RECONNECT_BUFFER, Self::WSC_RECONNECT_FAIL];
    fn raw(self) -> u32 {
        self as u32
    }
}

/// Makes a policy with the defaults. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_reconnect_new(policy_out: *mut *mut wsc_reconnect) -> wsc_result {
    ffi! {
        arg_out!(policy_out).set(into_handle::<wsc_reconnect>(Reconnect::new()));
        Ok(())
    }
}

/// Sets the first delay's bound, the largest bound (milliseconds, at least 1, at most
/// WSC_MAX_DURATION_MS) and the growth of the bound from one attempt to the next (at least 1).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_reconnect_set_delays(
    policy: *mut wsc_reconnect,
    initial_delay_ms: u64,
    max_delay_ms: u64,
    multiplier: f64,
) -> wsc_result {
    ffi! {
        let policy = arg_mut!(policy);
        policy.initial_delay = Duration::from_millis(initial_delay_ms);
        policy.max_delay = Duration::from_millis(max_delay_ms);
        policy.multiplier = multiplier;
        Ok(())
    }
}

/// Sets the most attempts before the socket closes with WSC_RETRY_EXHAUSTED; 0: forever (the
/// default). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_reconnect_set_max_attempts(
    policy: *mut wsc_reconnect,
    max_attempts: u32,
) -> wsc_result {
    ffi! {
        arg_mut!(policy).max_attempts = (max_attempts > 0).then_some(max_attempts);
        Ok(())
    }
}

/// Mule's lazy mode: the socket does not reconnect when its connection ends, but when a message
/// is next sent to it (by ID, on the socket, or by a broadcast); that message waits and leaves
/// once it has reconnected. Default false. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_reconnect_set_lazy(policy: *mut wsc_reconnect, lazy: bool) -> wsc_result {
    ffi! {
        arg_mut!(policy).lazy = lazy;
        Ok(())
    }
}

/// What sends do while the socket reconnects (a wsc_reconnect_send_policy).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn wsc_reconnect_set_send_policy(
    policy: *mut wsc_reconnect,
    send_policy: u32,
) -> wsc_result {
    ffi! {
        let policy = arg_mut!(policy);
        policy.send_policy = match wsc_reconnect_send_policy::from_raw(send_policy)? {
            wsc_reconnect_send_policy::WSC_RECONNECT_BUFFER => ReconnectSendPolicy::Buffer,
            wsc_reconnect_send_policy::WSC_RECONNECT_FAIL => ReconnectSendPolicy::Fail,
        };
        Ok(())
    }
}

/// Adds the close codes `first` to `last` (1000-4999) to those that end the socket when the
/// server closes with one, instead of reconnecting (the default: 1000 alone; clear it with
/// wsc_reconnect_clear_final_close_codes()). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_reconnect_add_final_close_codes(
    policy: *mut wsc_reconnect,
    first: u16,
    last: u16,
) -> wsc_result {
    ffi! {
        arg_mut!(policy).final_close_codes.push(first..=last);
        Ok(())
    }
}

/// Removes every final close code: every close from the server is followed by a reconnect.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_reconnect_clear_final_close_codes(policy: *mut wsc_reconnect) -> wsc_result {
    ffi! {
        arg_mut!(policy).final_close_codes.clear();
        Ok(())
    }
}

/// Frees a policy; NULL is a no-op.
#[no_mangle]
pub extern "C" fn wsc_reconnect_free(policy: *mut wsc_reconnect) {
    ffi_value!((), {
        // SAFETY: the header requires a policy from wsc_reconnect_new(), freed once.
        drop(unsafe { take_handle(policy) });
    })
}

/// What the header refresher answers (see wsc_refresh_headers_fn): headers to send, or a
/// failure. Borrowed by the refresher for the duration of its call.
pub struct wsc_headers {
    _private: [u8; 0],
}

impl Opaque for wsc_headers {
    type Rust = HeaderAnswer;
}

/// The refresher's answer as it fills it.
#[derive(Default)]
pub(crate) struct HeaderAnswer {
    pub headers: Vec<(String, String)>,
    pub failure: Option<String>,
}

/// Adds a header to send on this attempt, replacing the socket's own of that name (all of
/// them); names may repeat. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8 (a reserved or malformed
/// header fails the attempt with WSC_INVALID_ARGUMENT).
#[no_mangle]
pub extern "C" fn wsc_headers_add(
    headers: *mut wsc_headers,
    name: *const c_char,
    value: *const c_char,
) -> wsc_result {
    ffi! {
        let headers = arg_mut!(headers);
        headers.headers.push((arg_str!(name).to_owned(), arg_str!(value).to_owned()));
        Ok(())
    }
}

/// Fails this attempt with `message` (it counts as an attempt; the next one follows after its
/// delay). Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_headers_fail(
    headers: *mut wsc_headers,
    message: *const c_char,
) -> wsc_result {
    ffi! {
        let headers = arg_mut!(headers);
        headers.failure = Some(arg_str!(message).to_owned());
        Ok(())
    }
}
