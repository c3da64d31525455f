//! `wsc_cluster_socket_list`: the sockets of every node of a cluster, as the cluster sees them
//! (node, ID, type, path, groups), listed by wsc_connector_cluster_sockets().

use super::error::FfiResult;
use super::macros::{accessor, arg_out, arg_ref, ffi, ffi_value, take_handle, Opaque, Out};
use super::socket::out_of_range;
use super::{wsc_result, wsc_socket_type, wsc_str};
use crate::ClusterSocket;

/// Sockets listed by wsc_connector_cluster_sockets(), from every node that answered; owned by
/// the caller, freed with wsc_cluster_socket_list_free(); read it from any thread. Unlike a
/// wsc_socket_list it holds plain attributes (a socket of another node has no handle here):
/// use the ID with the by-ID operations, which reach the node that holds it.
pub struct wsc_cluster_socket_list {
    _private: [u8; 0],
}

impl Opaque for wsc_cluster_socket_list {
    type Rust = Vec<ClusterSocket>;
}

/// How many sockets the list holds. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_cluster_socket_list_len(
    list: *const wsc_cluster_socket_list,
    len_out: *mut usize,
) -> wsc_result {
    accessor!(list, len_out, |list| Ok(list.len()))
}

/// The socket at `index` (0 to len - 1): the node that holds it (empty without a cluster), its
/// ID, its type and its full path, the strings borrowed from the list (valid until
/// wsc_cluster_socket_list_free(), not NUL-terminated). Each out pointer may be NULL when that
/// part is not wanted. Errors: WSC_NULL_POINTER (`list`), WSC_INVALID_ARGUMENT (out of range).
#[no_mangle]
pub extern "C" fn wsc_cluster_socket_list_get(
    list: *const wsc_cluster_socket_list,
    index: usize,
    node_out: *mut wsc_str,
    socket_id_out: *mut wsc_str,
    type_out: *mut wsc_socket_type,
    path_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let socket = at(arg_ref!(list), index)?;
        if let Some(out) = Out::optional(node_out) {
            out.set(wsc_str::from(socket.node.as_str()));
        }
        if let Some(out) = Out::optional(socket_id_out) {
            out.set(wsc_str::from(socket.id.as_str()));
        }
        if let Some(out) = Out::optional(type_out) {
            out.set(socket.socket_type.into());
        }
        if let Some(out) = Out::optional(path_out) {
            out.set(wsc_str::from(socket.path.as_str()));
        }
        Ok(())
    }
}

/// How many groups the socket at `index` is in. Errors: WSC_NULL_POINTER,
/// WSC_INVALID_ARGUMENT (`index` out of range).
#[no_mangle]
pub extern "C" fn wsc_cluster_socket_list_group_count(
    list: *const wsc_cluster_socket_list,
    index: usize,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(list, count_out, |list| Ok(at(list, index)?.groups.len()))
}

/// The group at `group_index` of the socket at `index`, borrowed from the list (valid until
/// wsc_cluster_socket_list_free(), not NUL-terminated). Errors: WSC_NULL_POINTER,
/// WSC_INVALID_ARGUMENT (either index out of range).
#[no_mangle]
pub extern "C" fn wsc_cluster_socket_list_group(
    list: *const wsc_cluster_socket_list,
    index: usize,
    group_index: usize,
    group_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let group_out = arg_out!(group_out);
        let groups = &at(arg_ref!(list), index)?.groups;
        let group = groups.get(group_index).ok_or_else(|| out_of_range(group_index))?;
        group_out.set(wsc_str::from(group.as_str()));
        Ok(())
    }
}

/// Frees a list from wsc_connector_cluster_sockets() and the strings borrowed from it; NULL is
/// a no-op.
#[no_mangle]
pub extern "C" fn wsc_cluster_socket_list_free(list: *mut wsc_cluster_socket_list) {
    ffi_value!((), {
        // SAFETY: the header requires a list from wsc_connector_cluster_sockets(), freed once.
        drop(unsafe { take_handle(list) });
    })
}

/// The socket at `index` of the list.
fn at(list: &[ClusterSocket], index: usize) -> FfiResult<&ClusterSocket> {
    list.get(index).ok_or_else(|| out_of_range(index))
}
