//! `wsc_filter`: which sockets a broadcast, a bulk close or a listing selects.

use super::macros::{arg_mut, arg_out, arg_str, ffi, ffi_value, into_handle, take_handle, Opaque};
use super::{wsc_result, wsc_socket_type, FromRaw};
use crate::{PathPattern, SocketFilter, SocketId};
use std::ffi::c_char;

/// A socket filter: full path (exact or `*` pattern), socket type, groups (member of any, and
/// member of all), and the sockets left out (by ID, by group), combined with AND; a new filter
/// matches every socket. Owned by the caller, freed with wsc_filter_free(); reusable; one
/// thread at a time.
pub struct wsc_filter {
    _private: [u8; 0],
}

impl Opaque for wsc_filter {
    type Rust = SocketFilter;
}

/// Makes a filter that matches every socket. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_filter_new(filter_out: *mut *mut wsc_filter) -> wsc_result {
    ffi! {
        arg_out!(filter_out).set(into_handle::<wsc_filter>(SocketFilter::all()));
        Ok(())
    }
}

/// Keeps sockets whose full path matches `pattern` (exact, or with `*`, e.g. "/chat/room*", each
/// `*` matching any run of characters).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (a bad pattern).
#[no_mangle]
pub extern "C" fn wsc_filter_set_path(
    filter: *mut wsc_filter,
    pattern: *const c_char,
) -> wsc_result {
    ffi! {
        let filter = arg_mut!(filter);
        let pattern = arg_str!(pattern);
        filter.path = Some(PathPattern::new(pattern)?);
        Ok(())
    }
}

/// Keeps sockets of one type (a wsc_socket_type). Errors: WSC_NULL_POINTER,
/// WSC_INVALID_ARGUMENT (not a wsc_socket_type).
#[no_mangle]
pub extern "C" fn wsc_filter_set_type(filter: *mut wsc_filter, socket_type: u32) -> wsc_result {
    ffi! {
        let filter = arg_mut!(filter);
        filter.socket_type = Some(wsc_socket_type::from_raw(socket_type)?.into());
        Ok(())
    }
}

/// Adds a group: the filter then keeps sockets in at least one of its groups.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8. (Group names are checked where the filter is used.)
#[no_mangle]
pub extern "C" fn wsc_filter_add_group(
    filter: *mut wsc_filter,
    group: *const c_char,
) -> wsc_result {
    ffi! {
        let filter = arg_mut!(filter);
        filter.groups.push(arg_str!(group).to_owned());
        Ok(())
    }
}

/// Adds a required group: the filter then keeps only sockets in every one of its required
/// groups (all-of, beside wsc_filter_add_group()'s any-of).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8. (Group names are checked where the filter is used.)
#[no_mangle]
pub extern "C" fn wsc_filter_require_group(
    filter: *mut wsc_filter,
    group: *const c_char,
) -> wsc_result {
    ffi! {
        let filter = arg_mut!(filter);
        filter.all_groups.push(arg_str!(group).to_owned());
        Ok(())
    }
}

/// Leaves out the socket with this ID whatever else it matches ("the room but not the
/// sender"); may be called again for more. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8,
/// WSC_INVALID_SOCKET_ID.
#[no_mangle]
pub extern "C" fn wsc_filter_except_socket_id(
    filter: *mut wsc_filter,
    socket_id: *const c_char,
) -> wsc_result {
    ffi! {
        let filter = arg_mut!(filter);
        filter.except_socket_ids.push(SocketId::new(arg_str!(socket_id))?);
        Ok(())
    }
}

/// The former name of wsc_filter_except_socket_id(), kept for the ABI; same behaviour.
#[no_mangle]
pub extern "C" fn wsc_filter_exclude(
    filter: *mut wsc_filter,
    socket_id: *const c_char,
) -> wsc_result {
    wsc_filter_except_socket_id(filter, socket_id)
}

/// Leaves out the sockets in this group whatever else they match; may be called again for
/// more (a socket in any of them is left out).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8. (Group names are checked where the filter is used.)
#[no_mangle]
pub extern "C" fn wsc_filter_except_group(
    filter: *mut wsc_filter,
    group: *const c_char,
) -> wsc_result {
    ffi! {
        let filter = arg_mut!(filter);
        filter.except_groups.push(arg_str!(group).to_owned());
        Ok(())
    }
}

/// Frees a filter; NULL is a no-op.
#[no_mangle]
pub extern "C" fn wsc_filter_free(filter: *mut wsc_filter) {
    ffi_value!((), {
        // SAFETY: the header requires a filter from wsc_filter_new(), freed once.
        drop(unsafe { take_handle(filter) });
    })
}
