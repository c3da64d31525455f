//! Result codes, the per-thread last error, and the copy of a string into a caller's buffer.

use super::macros::{ffi, ffi_value, Out};
use crate::{Error, ErrorKind};
use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The outcome of a call: `WSC_OK` (0) or what went wrong. Codes 1-16 are the core's error
/// kinds one to one; 100 and up belong to the C API. Numbers are never reused.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_result {
    /// Success.
    WSC_OK = 0,
    /// An argument was malformed: a bad URL, path pattern, header, close code, setting, index.
    WSC_INVALID_ARGUMENT = 1,
    /// No open socket has the given ID (never existed, or already closed).
    WSC_NO_SUCH_SOCKET = 2,
    /// A caller-chosen socket ID is empty, blank or too long.
    WSC_INVALID_SOCKET_ID = 3,
    /// A caller-chosen socket ID is already used by an open socket.
    WSC_NON_UNIQUE_SOCKET_ID = 4,
    /// The TCP connection could not be made or broke.
    WSC_CONNECTIVITY = 5,
    /// A host name did not resolve.
    WSC_DNS = 6,
    /// TLS failed: untrusted or mismatched certificate, bad PEM, handshake failure.
    WSC_TLS = 7,
    /// The peer answered the handshake with an HTTP status other than 101
    /// (see wsc_last_error_http_status()).
    WSC_HANDSHAKE = 8,
    /// A connect, handshake or stop did not finish in time.
    WSC_TIMEOUT = 9,
    /// The peer closed the socket.
    WSC_REMOTELY_CLOSED = 10,
    /// A configured limit was reached.
    WSC_LIMIT_EXCEEDED = 11,
    /// The socket's send queue is full and the slow-consumer policy is to fail the send.
    WSC_QUEUE_FULL = 12,
    /// Not allowed in the current state (e.g. stopping a connector from its own callback).
    WSC_INVALID_STATE = 13,
    /// The connector is stopped or stopping.
    WSC_STOPPED = 14,
    /// The peer broke the WebSocket protocol.
    WSC_PROTOCOL = 15,
    /// A bug inside the library's core (a caught panic there).
    WSC_INTERNAL = 16,
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
        }
    }
}

impl wsc_result {
    /// The static name of the code: the core kind's name, or the C API's own.
    fn name(self) -> &'static CStr {
        use wsc_result::*;
        match self {
            WSC_OK => c"ok",
            WSC_INVALID_ARGUMENT => c"invalid_argument",
            WSC_NO_SUCH_SOCKET => c"no_such_socket",
            WSC_INVALID_SOCKET_ID => c"invalid_socket_id",
            WSC_NON_UNIQUE_SOCKET_ID => c"non_unique_socket_id",
            WSC_CONNECTIVITY => c"connectivity",
            WSC_DNS => c"dns",
            WSC_TLS => c"tls",
            WSC_HANDSHAKE => c"handshake",
            WSC_TIMEOUT => c"timeout",
            WSC_REMOTELY_CLOSED => c"remotely_closed",
            WSC_LIMIT_EXCEEDED => c"limit_exceeded",
            WSC_QUEUE_FULL => c"queue_full",
            WSC_INVALID_STATE => c"invalid_state",
            WSC_STOPPED => c"stopped",
            WSC_PROTOCOL => c"protocol",
            WSC_INTERNAL => c"internal",
            WSC_NULL_POINTER => c"null_pointer",
            WSC_INVALID_UTF8 => c"invalid_utf8",
            WSC_BUFFER_TOO_SMALL => c"buffer_too_small",
            WSC_PANIC => c"panic",
        }
    }
}

/// A failure on its way to the caller: a code, a message, and a handshake's HTTP status.
#[derive(Debug)]
pub(crate) struct FfiError {
    code: wsc_result,
    message: String,
    http_status: Option<u16>,
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
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<FfiError>> = const { RefCell::new(None) };
}

/// Runs an export's body under the panic boundary; a failure (when `record`) becomes the
/// thread's last error. Used through the `ffi!` macro.
pub(crate) fn boundary(record: bool, body: impl FnOnce() -> FfiResult) -> wsc_result {
    let error = match catch_unwind(AssertUnwindSafe(body)) {
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
    ffi_value!(c"panic".as_ptr(), {
        let name = all_codes()
            .iter()
            .find(|code| **code as u32 == result)
            .map_or(c"unknown", |code| code.name());
        name.as_ptr()
    })
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

/// Every code, for lookups by number.
fn all_codes() -> &'static [wsc_result] {
    use wsc_result::*;
    &[
        WSC_OK,
        WSC_INVALID_ARGUMENT,
        WSC_NO_SUCH_SOCKET,
        WSC_INVALID_SOCKET_ID,
        WSC_NON_UNIQUE_SOCKET_ID,
        WSC_CONNECTIVITY,
        WSC_DNS,
        WSC_TLS,
        WSC_HANDSHAKE,
        WSC_TIMEOUT,
        WSC_REMOTELY_CLOSED,
        WSC_LIMIT_EXCEEDED,
        WSC_QUEUE_FULL,
        WSC_INVALID_STATE,
        WSC_STOPPED,
        WSC_PROTOCOL,
        WSC_INTERNAL,
        WSC_NULL_POINTER,
        WSC_INVALID_UTF8,
        WSC_BUFFER_TOO_SMALL,
        WSC_PANIC,
    ]
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

    #[test]
    fn core_kinds_keep_their_numbers_and_names() {
        let kinds = [
            ErrorKind::InvalidArgument,
            ErrorKind::NoSuchSocket,
            ErrorKind::InvalidSocketId,
            ErrorKind::NonUniqueSocketId,
            ErrorKind::Connectivity,
            ErrorKind::Dns,
            ErrorKind::Tls,
            ErrorKind::Handshake,
            ErrorKind::Timeout,
            ErrorKind::RemotelyClosed,
            ErrorKind::LimitExceeded,
            ErrorKind::QueueFull,
            ErrorKind::InvalidState,
            ErrorKind::Stopped,
            ErrorKind::Protocol,
            ErrorKind::Internal,
        ];
        for kind in kinds {
            let code = wsc_result::from(kind);
            assert_eq!(code as u32, kind as u32, "{kind:?}");
            assert_eq!(code.name().to_str().unwrap(), kind.name());
        }
        assert_eq!(all_codes().len(), kinds.len() + 5);
    }
}
