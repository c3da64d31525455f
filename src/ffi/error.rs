//! Result codes, the per-thread last error, and the copy of a string into a caller's buffer.

use super::macros::{arg_str, ffi, ffi_value, Out};
use crate::{Error, ErrorKind, HandshakeResponse, HandshakeStatus};
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

/// The outcome of a call: `WSC_OK` (0) or what went wrong. Codes 1-19 are the core's error
/// kinds one to one; 100 and up belong to the C API. Numbers are never reused.
// Written out because cbindgen cannot see a macro's output: the core's table of error kinds
// (src/error.rs) gives the numbers, names and descriptions, and the tests below hold this enum
// and the header to it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_result {
    /// Success.
    WSC_OK = 0,
    /// An argument was malformed: a bad URL, path pattern, header, close code, setting. (Also
    /// an index past the end.)
    WSC_INVALID_ARGUMENT = 1,
    /// No open socket has the given ID (never existed, or already closed).
    WSC_NO_SUCH_SOCKET = 2,
    /// A caller-chosen socket ID is empty, blank or too long.
    WSC_INVALID_SOCKET_ID = 3,
    /// A caller-chosen socket ID is already used by an open socket.
    WSC_NON_UNIQUE_SOCKET_ID = 4,
    /// The TCP connection could not be made or broke (refused, reset, unreachable).
    WSC_CONNECTIVITY = 5,
    /// The host name of an outbound URL did not resolve.
    WSC_DNS = 6,
    /// TLS failed: untrusted or mismatched certificate, bad PEM, handshake failure.
    WSC_TLS = 7,
    /// The peer answered the WebSocket handshake with an HTTP status other than 101. (See
    /// wsc_last_error_http_status(), wsc_http_status_name(), and for an outbound handshake
    /// wsc_last_error_response_body() and wsc_last_error_response_header().)
    WSC_HANDSHAKE = 8,
    /// A connect, handshake or stop did not finish in time.
    WSC_TIMEOUT = 9,
    /// The peer closed the socket.
    WSC_REMOTELY_CLOSED = 10,
    /// A configured limit was reached (connections, message size).
    WSC_LIMIT_EXCEEDED = 11,
    /// The socket's send queue is full and the slow-consumer policy is to fail the send.
    WSC_QUEUE_FULL = 12,
    /// The call is not allowed in the connector's current state (e.g. stop from a callback).
    /// (Also a configuration call out of order.)
    WSC_INVALID_STATE = 13,
    /// The connector is stopped or stopping.
    WSC_STOPPED = 14,
    /// The peer broke the WebSocket protocol.
    WSC_PROTOCOL = 15,
    /// A bug inside the library (a caught panic); the connector keeps running.
    WSC_INTERNAL = 16,
    /// An outbound socket's reconnect attempts ran out (its policy's maximum) and it closed.
    WSC_RETRY_EXHAUSTED = 17,
    /// The server refused the handshake's basic authentication (HTTP 401 to our credentials).
    WSC_BASIC_AUTHENTICATION = 18,
    /// The outbound socket is reconnecting and its policy fails sends meanwhile.
    WSC_RECONNECTING = 19,
    /// A required pointer argument was NULL.
    WSC_NULL_POINTER = 100,
    /// A string argument was not valid UTF-8.
    WSC_INVALID_UTF8 = 101,
    /// An output buffer was too small; the length needed was written to the length out pointer.
    WSC_BUFFER_TOO_SMALL = 102,
    /// A panic was caught at the C boundary (a bug in the library).
    WSC_PANIC = 103,
}

impl From<ErrorKind> for wsc_result {
    fn from(kind: ErrorKind) -> Self {
        use wsc_result::*;
        match kind {
            ErrorKind::InvalidArgument => WSC_INVALID_ARGUMENT,
            ErrorKind::NoSuchSocket => WSC_NO_SUCH_SOCKET,
            ErrorKind::InvalidSocketId => WSC_INVALID_SOCKET_ID,
            ErrorKind::NonUniqueSocketId => WSC_NON_UNIQUE_SOCKET_ID,
            ErrorKind::Connectivity => WSC_CONNECTIVITY,
            ErrorKind::Dns => WSC_DNS,
            ErrorKind::Tls => WSC_TLS,
            ErrorKind::Handshake => WSC_HANDSHAKE,
            ErrorKind::Timeout => WSC_TIMEOUT,
            ErrorKind::RemotelyClosed => WSC_REMOTELY_CLOSED,
            ErrorKind::LimitExceeded => WSC_LIMIT_EXCEEDED,
            ErrorKind::QueueFull => WSC_QUEUE_FULL,
            ErrorKind::InvalidState => WSC_INVALID_STATE,
            ErrorKind::Stopped => WSC_STOPPED,
            ErrorKind::Protocol => WSC_PROTOCOL,
            ErrorKind::Internal => WSC_INTERNAL,
            ErrorKind::RetryExhausted => WSC_RETRY_EXHAUSTED,
            ErrorKind::BasicAuthentication => WSC_BASIC_AUTHENTICATION,
            ErrorKind::Reconnecting => WSC_RECONNECTING,
        }
    }
}

/// The C API's own codes, with their names; every other code is a core kind, with the kind's
/// number and name.
const OWN_CODES: [(wsc_result, &CStr); 5] = [
    (wsc_result::WSC_OK, c"ok"),
    (wsc_result::WSC_NULL_POINTER, c"null_pointer"),
    (wsc_result::WSC_INVALID_UTF8, c"invalid_utf8"),
    (wsc_result::WSC_BUFFER_TOO_SMALL, c"buffer_too_small"),
    (wsc_result::WSC_PANIC, c"panic"),
];

/// The static name of a code (the core kind's name, or the C API's own), if it is one.
fn code_name(result: u32) -> Option<&'static CStr> {
    /// The kinds' names as C strings, in the order of `ErrorKind::ALL`, made once.
    static KIND_NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    if let Some((_, name)) = OWN_CODES.iter().find(|(code, _)| *code as u32 == result) {
        return Some(name);
    }
    let index = ErrorKind::ALL
        .iter()
        .position(|kind| *kind as u32 == result)?;
    let names = KIND_NAMES.get_or_init(|| {
        ErrorKind::ALL
            .iter()
            .map(|kind| CString::new(kind.name()).unwrap_or_default())
            .collect()
    });
    names.get(index).map(CString::as_c_str)
}

/// A failure on its way to the caller: a code, a message, and a handshake's HTTP status and
/// what the server answered.
#[derive(Debug)]
pub(crate) struct FfiError {
    code: wsc_result,
    message: String,
    http_status: Option<u16>,
    response: Option<HandshakeResponse>,
}

/// What the body of every export returns.
pub(crate) type FfiResult<T = ()> = Result<T, FfiError>;

impl FfiError {
    /// An error of the C API's own (or a core kind raised by the C layer).
    pub(crate) fn new(code: wsc_result, message: impl Into<String>) -> Self {
        FfiError {
            code,
            message: message.into(),
            http_status: None,
            response: None,
        }
    }

    /// A NULL where the argument `name` is required.
    pub(crate) fn null(name: &str) -> Self {
        FfiError::new(wsc_result::WSC_NULL_POINTER, format!("{name} is NULL"))
    }

    /// The string argument `name` is not UTF-8.
    pub(crate) fn utf8(name: &str) -> Self {
        FfiError::new(
            wsc_result::WSC_INVALID_UTF8,
            format!("{name} is not valid UTF-8"),
        )
    }

    /// An argument outside its range (an unknown enum value, an index past the end).
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        FfiError::new(wsc_result::WSC_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError {
            code: e.kind().into(),
            message: e.message().to_owned(),
            http_status: e.http_status(),
            response: e.handshake_response().cloned(),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<FfiError>> = const { RefCell::new(None) };
}

/// Runs an export's body under the panic boundary; a failure (when `record`) becomes the
/// thread's last error. Used through the `ffi!` macro. Inlined into each export, so that
/// success costs a compare; a failure's bookkeeping is out of line.
#[inline]
pub(crate) fn boundary(record: bool, body: impl FnOnce() -> FfiResult) -> wsc_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => wsc_result::WSC_OK,
        outcome => failed(record, outcome),
    }
}

/// The code of a body that failed or panicked, recorded as the last error when `record`.
#[cold]
#[inline(never)]
fn failed(record: bool, outcome: std::thread::Result<FfiResult>) -> wsc_result {
    let error = match outcome {
        Ok(Ok(())) => return wsc_result::WSC_OK,
        Ok(Err(error)) => error,
        Err(panic) => FfiError::new(
            wsc_result::WSC_PANIC,
            format!("panic in wsconnector: {}", crate::panic_message(&*panic)),
        ),
    };
    let code = error.code;
    if record {
        LAST_ERROR.with(|last| *last.borrow_mut() = Some(error));
    }
    code
}

/// Runs a body that cannot fail under the panic boundary. Used through `ffi_value!`.
pub(crate) fn boundary_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Copies `text` and a terminating NUL into the caller's buffer of `capacity` bytes. The
/// text's length (without the NUL) goes to `len_out` on success and when the buffer is too
/// small (then nothing is copied). `buf` may be NULL when `capacity` is 0, to ask the length.
pub(crate) fn copy_to_buffer(
    text: &str,
    buf: *mut c_char,
    capacity: usize,
    len_out: Out<usize>,
) -> FfiResult {
    len_out.set(text.len());
    if capacity <= text.len() {
        return Err(FfiError::new(
            wsc_result::WSC_BUFFER_TOO_SMALL,
            format!(
                "the buffer holds {capacity} bytes; {} are needed (with the NUL)",
                text.len() + 1
            ),
        ));
    }
    if buf.is_null() {
        return Err(FfiError::null("buf"));
    }
    // SAFETY: `buf` is non-NULL with `capacity` > text.len() writable bytes (the caller's
    // contract), and cannot overlap `text`, which the library owns.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
    }
    Ok(())
}

/// The static, NUL-terminated name of a result code (e.g. "no_such_socket"), or "unknown" for
/// a number that is not a code. Never NULL; never freed. Any thread.
#[no_mangle]
pub extern "C" fn wsc_result_name(result: u32) -> *const c_char {
    ffi_value!(
        c"panic".as_ptr(),
        code_name(result).unwrap_or(c"unknown").as_ptr()
    )
}

/// Copies the calling thread's last error message (NUL-terminated) into `buf` of `capacity`
/// bytes and its length without the NUL into `*len_out`; "" when no call on this thread has
/// failed yet. Each failing call replaces the message; successful calls leave it; this function
/// never changes it.
/// Errors: WSC_NULL_POINTER (`len_out`, or `buf` with a nonzero capacity), WSC_BUFFER_TOO_SMALL
/// (then `*len_out` holds the length needed, without the NUL). Any thread.
#[no_mangle]
pub extern "C" fn wsc_last_error(
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> wsc_result {
    ffi! {
        keep_last_error;
        let len_out = Out::new(len_out, "len_out")?;
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            let message = last.as_ref().map_or("", |e| e.message.as_str());
            copy_to_buffer(message, buf, capacity, len_out)
        })
    }
}

/// The HTTP status of the calling thread's last error when it was a refused handshake
/// (WSC_HANDSHAKE: 401, 403, 404, ...), else 0. Any thread.
#[no_mangle]
pub extern "C" fn wsc_last_error_http_status() -> u16 {
    ffi_value!(0, {
        LAST_ERROR.with(|last| {
            last.borrow()
                .as_ref()
                .and_then(|e| e.http_status)
                .unwrap_or(0)
        })
    })
}

/// The static, NUL-terminated name of an HTTP status as Mule names a refused handshake:
/// "unauthorized" (401), "forbidden" (403), "not_found" (404), "internal_server_error" (500),
/// "service_unavailable" (503), else its class: "client_error" (4xx), "server_error" (5xx) or
/// "other". For WSC_HANDSHAKE errors: wsc_http_status_name(wsc_last_error_http_status()).
/// Never NULL; never freed. Any thread.
#[no_mangle]
pub extern "C" fn wsc_http_status_name(status: u16) -> *const c_char {
    /// The names as C strings, by `HandshakeStatus::name`.
    fn c_name(status: HandshakeStatus) -> &'static CStr {
        match status {
            HandshakeStatus::Unauthorized => c"unauthorized",
            HandshakeStatus::Forbidden => c"forbidden",
            HandshakeStatus::NotFound => c"not_found",
            HandshakeStatus::InternalServerError => c"internal_server_error",
            HandshakeStatus::ServiceUnavailable => c"service_unavailable",
            HandshakeStatus::ClientError => c"client_error",
            HandshakeStatus::ServerError => c"server_error",
            _ => c"other",
        }
    }
    ffi_value!(
        c"other".as_ptr(),
        c_name(HandshakeStatus::of(status)).as_ptr()
    )
}

/// Copies the first bytes of the body of the response that refused the calling thread's last
/// failed outbound handshake (WSC_HANDSHAKE; at most 1024 bytes, not NUL-terminated) into `buf`
/// of `capacity` bytes, and their number into `*len_out`; 0 bytes when the last error carries
/// no response. Never changes the last error.
/// Errors: WSC_NULL_POINTER (`len_out`, or `buf` with a nonzero capacity), WSC_BUFFER_TOO_SMALL
/// (then `*len_out` holds the length needed). Any thread.
#[no_mangle]
pub extern "C" fn wsc_last_error_response_body(
    buf: *mut u8,
    capacity: usize,
    len_out: *mut usize,
) -> wsc_result {
    ffi! {
        keep_last_error;
        let len_out = Out::new(len_out, "len_out")?;
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            let body = last
                .as_ref()
                .and_then(|e| e.response.as_ref())
                .map_or(&[][..], |r| r.body.as_slice());
            len_out.set(body.len());
            if capacity < body.len() {
                return Err(FfiError::new(
                    wsc_result::WSC_BUFFER_TOO_SMALL,
                    format!("the buffer holds {capacity} bytes; {} are needed", body.len()),
                ));
            }
            if body.is_empty() {
                return Ok(());
            }
            if buf.is_null() {
                return Err(FfiError::null("buf"));
            }
            // SAFETY: `buf` is non-NULL with `capacity` >= body.len() writable bytes (the
            // caller's contract), and cannot overlap the body, which the library owns.
            unsafe { std::ptr::copy_nonoverlapping(body.as_ptr(), buf, body.len()) };
            Ok(())
        })
    }
}

/// Copies the first header named `name` (case-insensitive) of the response that refused the
/// calling thread's last failed outbound handshake (WSC_HANDSHAKE), NUL-terminated, into `buf`
/// of `capacity` bytes and its length into `*len_out`. Never changes the last error.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (no such header, or no
/// response), WSC_BUFFER_TOO_SMALL (then `*len_out` holds the length needed, without the
/// NUL). Any thread.
#[no_mangle]
pub extern "C" fn wsc_last_error_response_header(
    name: *const c_char,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> wsc_result {
    ffi! {
        keep_last_error;
        let name = arg_str!(name);
        let len_out = Out::new(len_out, "len_out")?;
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            let value = last
                .as_ref()
                .and_then(|e| e.response.as_ref())
                .and_then(|r| r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
                .map(|(_, value)| value.as_str())
                .ok_or_else(|| {
                    FfiError::invalid(format!("the last error carries no header {name:?}"))
                })?;
            copy_to_buffer(value, buf, capacity, len_out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_message() -> String {
        let mut buf = [0 as c_char; 128];
        let mut len = 0;
        assert_eq!(
            wsc_last_error(buf.as_mut_ptr(), buf.len(), &mut len),
            wsc_result::WSC_OK
        );
        // SAFETY: wsc_last_error wrote a NUL-terminated string into `buf`.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_panic_becomes_a_code_and_the_last_error() {
        let code = boundary(true, || panic!("boom"));
        assert_eq!(code, wsc_result::WSC_PANIC);
        assert_eq!(last_message(), "panic in wsconnector: boom");
        assert_eq!(boundary_value(7, || panic!("again")), 7);
    }

    fn name_of(code: u32) -> String {
        // SAFETY: wsc_result_name returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(wsc_result_name(code)) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// The `wsc_result` enum of the committed header: each code's name, number and doc.
    fn header_codes() -> Vec<(String, u32, String)> {
        let header = include_str!("../../include/wsconnector.h");
        let start = header.find("\nenum wsc_result\n").unwrap();
        let end = start + header[start..].find("\n};").unwrap();
        let mut codes = Vec::new();
        let mut doc = String::new();
        for line in header[start..end].lines().skip(1).map(str::trim) {
            if let Some((name, number)) = line.trim_end_matches(',').split_once(" = ") {
                codes.push((
                    name.to_owned(),
                    number.parse().unwrap(),
                    doc.trim().to_owned(),
                ));
                doc.clear();
            } else if let Some(text) = line.strip_prefix("* ") {
                doc.push_str(text);
                doc.push(' ');
            }
        }
        codes
    }

    /// The core's table of kinds gives each kind's code: its number, its name (upper case in
    /// the header, as `wsc_result_name` gives it), the first line of its doc. Every other code
    /// is the C API's own.
    #[test]
    fn codes_are_the_core_kinds_and_the_c_apis_own() {
        for kind in ErrorKind::ALL {
            let code = wsc_result::from(*kind);
            assert_eq!(code as u32, *kind as u32, "{kind:?}");
            assert_eq!(name_of(code as u32), kind.name());
        }
        let codes = header_codes();
        assert_eq!(codes.len(), ErrorKind::ALL.len() + OWN_CODES.len());
        for (name, number, doc) in &codes {
            assert_eq!(format!("WSC_{}", name_of(*number).to_uppercase()), *name);
            if let Some(kind) = ErrorKind::ALL.iter().find(|k| **k as u32 == *number) {
                assert!(doc.starts_with(kind.description()), "{name}: {doc}");
            }
        }
        assert_eq!(name_of(99), "unknown");
    }
}
