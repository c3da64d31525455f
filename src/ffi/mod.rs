//! The C API: opaque handles, result codes, callbacks, and nothing else. It wraps the Rust API
//! of this crate and adds no behaviour; cbindgen turns this module into include/wsconnector.h.
//!
//! Names follow C (`wsc_<object>_<verb>`), hence the lint exception below. Exported functions
//! are not `unsafe fn`: every raw pointer goes through the checked helpers of `macros.rs`.

#![allow(non_camel_case_types)]

mod abi;
mod auth;
mod broadcast;
mod callbacks;
mod cluster;
mod config;
mod connector;
mod drain;
mod error;
mod event;
mod filter;
mod log;
mod macros;
mod metrics;
mod options;
mod payload;
mod reconnect;
mod socket;

pub use abi::WSC_ABI_VERSION;
pub use error::wsc_result;

use error::{FfiError, FfiResult};
use macros::ffi_value;
use std::ffi::c_char;

/// A borrowed UTF-8 string: `len` bytes at `data`, not NUL-terminated (print with "%.*s").
/// `data` is NULL when the value is absent (no subprotocol, no such header). Valid only as long
/// as the object it came from (for callback arguments: until the callback returns).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct wsc_str {
    /// The first byte, or NULL when absent.
    pub data: *const c_char,
    /// The length in bytes.
    pub len: usize,
}

impl wsc_str {
    /// A view of `text`.
    pub(crate) fn from(text: &str) -> Self {
        wsc_str {
            data: text.as_ptr().cast(),
            len: text.len(),
        }
    }

    /// A view of `text`, or the absent value.
    pub(crate) fn from_opt(text: Option<&str>) -> Self {
        text.map_or(
            wsc_str {
                data: std::ptr::null(),
                len: 0,
            },
            wsc_str::from,
        )
    }
}

/// A borrowed byte buffer: `len` bytes at `data` (never NULL, even when empty, except from an
/// accessor whose value may be absent, such as wsc_socket_peer_certificate(): NULL then means
/// "absent"). Valid only as long as the object it came from (for callback arguments: until the
/// callback returns).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct wsc_bytes {
    /// The first byte.
    pub data: *const u8,
    /// The length in bytes.
    pub len: usize,
}

impl wsc_bytes {
    /// A view of `bytes`.
    pub(crate) fn from(bytes: &[u8]) -> Self {
        wsc_bytes {
            data: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    /// A view of `bytes`, or the absent value (data NULL, len 0).
    pub(crate) fn from_opt(bytes: Option<&[u8]>) -> Self {
        bytes.map_or(
            wsc_bytes {
                data: std::ptr::null(),
                len: 0,
            },
            wsc_bytes::from,
        )
    }
}

/// Whether a message is text (UTF-8) or binary.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_message_kind {
    /// A text message: its payload is valid UTF-8.
    WSC_TEXT = 1,
    /// A binary message.
    WSC_BINARY = 2,
}

/// Which side opened a socket.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_socket_type {
    /// Accepted by the listener.
    WSC_INBOUND = 1,
    /// Opened with wsc_connector_open_outbound().
    WSC_OUTBOUND = 2,
}

/// Where PEM text comes from.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_pem_source {
    /// The string is a path to a PEM file, read at start.
    WSC_PEM_FILE = 1,
    /// The string is the PEM text itself.
    WSC_PEM_INLINE = 2,
}

/// A buffer size that holds any socket ID with its NUL (the longest ID is 256 bytes).
pub const WSC_SOCKET_ID_SIZE: usize = 257;
const _: () = assert!(WSC_SOCKET_ID_SIZE == crate::MAX_SOCKET_ID_LEN + 1);

/// Reads a C enum argument: a `u32` that must be one of the variants.
trait FromRaw: Sized + Copy + 'static {
    /// What the argument is, for the error message.
    const WHAT: &'static str;
    /// Every variant.
    const ALL: &'static [Self];
    /// The variant's number.
    fn raw(self) -> u32;

    fn from_raw(raw: u32) -> FfiResult<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.raw() == raw)
            .ok_or_else(|| FfiError::invalid(format!("{raw} is not a {}", Self::WHAT)))
    }
}

impl FromRaw for wsc_message_kind {
    const WHAT: &'static str = "wsc_message_kind";
    const ALL: &'static [Self] = &[Self::WSC_TEXT, Self::WSC_BINARY];
    fn raw(self) -> u32 {
        self as u32
    }
}

impl FromRaw for wsc_socket_type {
    const WHAT: &'static str = "wsc_socket_type";
    const ALL: &'static [Self] = &[Self::WSC_INBOUND, Self::WSC_OUTBOUND];
    fn raw(self) -> u32 {
        self as u32
    }
}

impl FromRaw for wsc_pem_source {
    const WHAT: &'static str = "wsc_pem_source";
    const ALL: &'static [Self] = &[Self::WSC_PEM_FILE, Self::WSC_PEM_INLINE];
    fn raw(self) -> u32 {
        self as u32
    }
}

impl From<crate::SocketType> for wsc_socket_type {
    fn from(t: crate::SocketType) -> Self {
        match t {
            crate::SocketType::Inbound => wsc_socket_type::WSC_INBOUND,
            crate::SocketType::Outbound => wsc_socket_type::WSC_OUTBOUND,
        }
    }
}

impl From<wsc_socket_type> for crate::SocketType {
    fn from(t: wsc_socket_type) -> Self {
        match t {
            wsc_socket_type::WSC_INBOUND => crate::SocketType::Inbound,
            wsc_socket_type::WSC_OUTBOUND => crate::SocketType::Outbound,
        }
    }
}

impl From<crate::MessageKind> for wsc_message_kind {
    fn from(kind: crate::MessageKind) -> Self {
        match kind {
            crate::MessageKind::Text => wsc_message_kind::WSC_TEXT,
            crate::MessageKind::Binary => wsc_message_kind::WSC_BINARY,
        }
    }
}

/// The library version, e.g. "0.1.0" (the same as WSC_VERSION in the header the program was
/// compiled with, unless it loaded another build). Static; never freed. Any thread.
#[no_mangle]
pub extern "C" fn wsc_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    ffi_value!(VERSION.as_ptr().cast(), VERSION.as_ptr().cast())
}

/// The ABI major version of the loaded library (WSC_ABI_VERSION of its header; the soname is
/// libwsconnector.so.<this>). Any thread.
#[no_mangle]
pub extern "C" fn wsc_abi_version() -> u32 {
    ffi_value!(WSC_ABI_VERSION, WSC_ABI_VERSION)
}

/// Writes the name and value of the pair at `index` (headers, query parameters).
fn pair_at(
    pairs: &[(String, String)],
    index: usize,
    name_out: macros::Out<wsc_str>,
    value_out: macros::Out<wsc_str>,
) -> FfiResult {
    let (name, value) = pairs
        .get(index)
        .ok_or_else(|| socket::out_of_range(index))?;
    name_out.set(wsc_str::from(name));
    value_out.set(wsc_str::from(value));
    Ok(())
}
