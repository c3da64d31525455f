//! `wsc_broadcast_result`: how many sockets a broadcast reached, and which it did not.

use super::error::FfiResult;
use super::macros::{accessor, arg_out, arg_ref, ffi, ffi_value, take_handle, Opaque, Out};
use super::socket::out_of_range;
use super::{wsc_result, wsc_str};
use crate::{BroadcastFailure, BroadcastResult, Undelivered};

/// The outcome of wsc_connector_broadcast(). Owned by the caller, freed with
/// wsc_broadcast_result_free(); read it from any thread.
pub struct wsc_broadcast_result {
    _private: [u8; 0],
}

impl Opaque for wsc_broadcast_result {
    type Rust = BroadcastResult;
}

/// Why a matching socket did not get a broadcast.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_undelivered {
    /// Its queue was full and the drop-newest policy dropped the message.
    WSC_UNDELIVERED_DROPPED = 1,
    /// Its queue was full and the close policy closed the socket (1013).
    WSC_UNDELIVERED_CLOSED = 2,
    /// The send failed (queue full under the fail policy, the socket closed meanwhile, or it
    /// is reconnecting and its policy fails sends).
    WSC_UNDELIVERED_FAILED = 3,
}

/// How many sockets the message was queued for. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_broadcast_result_delivered(
    result: *const wsc_broadcast_result,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(result, count_out, |result| Ok(result.delivered))
}

/// How many older queued messages the drop-oldest policy discarded to make room.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_broadcast_result_dropped_oldest(
    result: *const wsc_broadcast_result,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(result, count_out, |result| Ok(result.dropped_oldest))
}

/// How many of the delivered went to reconnecting outbound sockets whose policy buffers sends:
/// they leave once each has reconnected. (Those whose policy fails sends are failures with
/// WSC_RECONNECTING.) Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_broadcast_result_buffered(
    result: *const wsc_broadcast_result,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(result, count_out, |result| Ok(result.buffered))
}

/// How many matching sockets did not get the message. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_broadcast_result_failure_count(
    result: *const wsc_broadcast_result,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(result, count_out, |result| Ok(result.failures.len()))
}

/// The failure at `index`: the socket's ID (borrowed from the result), what happened, and for
/// WSC_UNDELIVERED_FAILED the error code (else WSC_OK). `error_out` may be NULL.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub extern "C" fn wsc_broadcast_result_failure_at(
    result: *const wsc_broadcast_result,
    index: usize,
    socket_id_out: *mut wsc_str,
    what_out: *mut wsc_undelivered,
    error_out: *mut wsc_result,
) -> wsc_result {
    ffi! {
        let result = arg_ref!(result);
        let failure = result.failures.get(index).ok_or_else(|| out_of_range(index))?;
        write_failure(failure, socket_id_out, what_out, error_out)
    }
}

/// How many nodes' counts the result adds up, this one included (1 without a cluster, and from
/// wsc_connector_publish()). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_broadcast_result_nodes_answered(
    result: *const wsc_broadcast_result,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(result, count_out, |result| Ok(result.nodes_answered))
}

/// Whether every node that got the message answered within the cluster's timeout (true
/// without a cluster; false from wsc_connector_publish(), which waits for none).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_broadcast_result_complete(
    result: *const wsc_broadcast_result,
    complete_out: *mut bool,
) -> wsc_result {
    accessor!(result, complete_out, |result| Ok(result.complete))
}

/// How many matching sockets of other nodes did not get the message (at most 100 reported per
/// node). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_broadcast_result_remote_failure_count(
    result: *const wsc_broadcast_result,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(result, count_out, |result| Ok(result.remote_failures.len()))
}

/// The failure at `index` on another node: as wsc_broadcast_result_failure_at(), plus the node
/// that holds the socket (borrowed from the result).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub extern "C" fn wsc_broadcast_result_remote_failure_at(
    result: *const wsc_broadcast_result,
    index: usize,
    node_out: *mut wsc_str,
    socket_id_out: *mut wsc_str,
    what_out: *mut wsc_undelivered,
    error_out: *mut wsc_result,
) -> wsc_result {
    ffi! {
        let result = arg_ref!(result);
        let node_out = arg_out!(node_out);
        let remote = result.remote_failures.get(index).ok_or_else(|| out_of_range(index))?;
        write_failure(&remote.failure, socket_id_out, what_out, error_out)?;
        node_out.set(wsc_str::from(remote.node.as_str()));
        Ok(())
    }
}

/// Writes a failure's socket ID (borrowed from the result), its kind and, for
/// WSC_UNDELIVERED_FAILED, its error code (`error_out` may be NULL).
fn write_failure(
    failure: &BroadcastFailure,
    socket_id_out: *mut wsc_str,
    what_out: *mut wsc_undelivered,
    error_out: *mut wsc_result,
) -> FfiResult {
    let socket_id_out = arg_out!(socket_id_out);
    let what_out = arg_out!(what_out);
    let (what, error) = match &failure.what {
        Undelivered::Dropped => (wsc_undelivered::WSC_UNDELIVERED_DROPPED, wsc_result::WSC_OK),
        Undelivered::Closed => (wsc_undelivered::WSC_UNDELIVERED_CLOSED, wsc_result::WSC_OK),
        Undelivered::Failed(e) => (wsc_undelivered::WSC_UNDELIVERED_FAILED, e.kind().into()),
    };
    socket_id_out.set(wsc_str::from(failure.socket_id.as_str()));
    what_out.set(what);
    if let Some(error_out) = Out::optional(error_out) {
        error_out.set(error);
    }
    Ok(())
}

/// Frees a broadcast result; NULL is a no-op.
#[no_mangle]
pub extern "C" fn wsc_broadcast_result_free(result: *mut wsc_broadcast_result) {
    ffi_value!((), {
        // SAFETY: the header requires a result from wsc_connector_broadcast(), freed once.
        drop(unsafe { take_handle(result) });
    })
}
