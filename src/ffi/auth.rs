//! The authorization hook's two views: the upgrade request it reads and the decision it fills.

use super::error::copy_to_buffer;
use super::macros::{accessor, arg_mut, arg_out, arg_ref, arg_str, arg_strs, ffi, Opaque};
use super::socket::out_of_range;
use super::{pair_at, wsc_bytes, wsc_result, wsc_str};
use crate::{AuthDecision, AuthRequest};
use std::ffi::c_char;

/// An upgrade request, borrowed by the authorization hook for the duration of its call.
pub struct wsc_auth_request {
    _private: [u8; 0],
}

impl Opaque for wsc_auth_request {
    type Rust = AuthRequest;
}

/// The hook's answer, filled during its call: it starts as "reject with 403".
pub struct wsc_auth_decision {
    _private: [u8; 0],
}

impl Opaque for wsc_auth_decision {
    type Rust = AuthDecision;
}

/// The request's full path (base path included), without the query. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_auth_request_path(
    request: *const wsc_auth_request,
    path_out: *mut wsc_str,
) -> wsc_result {
    accessor!(request, path_out, |request| Ok(wsc_str::from(
        &request.path
    )))
}

/// The request's full URI. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_auth_request_uri(
    request: *const wsc_auth_request,
    uri_out: *mut wsc_str,
) -> wsc_result {
    accessor!(request, uri_out, |request| Ok(wsc_str::from(&request.uri)))
}

/// The first header named `name` (case-insensitive); absent (data NULL) when none.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_auth_request_header(
    request: *const wsc_auth_request,
    name: *const c_char,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let request = arg_ref!(request);
        let name = arg_str!(name);
        arg_out!(value_out).set(wsc_str::from_opt(request.header(name)));
        Ok(())
    }
}

/// How many headers the request has. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_auth_request_header_count(
    request: *const wsc_auth_request,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(request, count_out, |request| Ok(request.headers.len()))
}

/// The header at `index`, in request order.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub extern "C" fn wsc_auth_request_header_at(
    request: *const wsc_auth_request,
    index: usize,
    name_out: *mut wsc_str,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let request = arg_ref!(request);
        pair_at(&request.headers, index, arg_out!(name_out), arg_out!(value_out))
    }
}

/// The first query parameter named `name` (decoded); absent when none.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_auth_request_query(
    request: *const wsc_auth_request,
    name: *const c_char,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let request = arg_ref!(request);
        let name = arg_str!(name);
        arg_out!(value_out).set(wsc_str::from_opt(request.query_param(name)));
        Ok(())
    }
}

/// How many query parameters the request has. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_auth_request_query_count(
    request: *const wsc_auth_request,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(request, count_out, |request| Ok(request.query.len()))
}

/// The query parameter at `index`, decoded, in order.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub extern "C" fn wsc_auth_request_query_at(
    request: *const wsc_auth_request,
    index: usize,
    name_out: *mut wsc_str,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let request = arg_ref!(request);
        pair_at(&request.query, index, arg_out!(name_out), arg_out!(value_out))
    }
}

/// How many subprotocols the client offered. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_auth_request_subprotocol_count(
    request: *const wsc_auth_request,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(request, count_out, |request| Ok(request.subprotocols.len()))
}

/// The offered subprotocol at `index`, in the client's order.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub extern "C" fn wsc_auth_request_subprotocol_at(
    request: *const wsc_auth_request,
    index: usize,
    subprotocol_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let request = arg_ref!(request);
        let subprotocol_out = arg_out!(subprotocol_out);
        let protocol = request.subprotocols.get(index).ok_or_else(|| out_of_range(index))?;
        subprotocol_out.set(wsc_str::from(protocol));
        Ok(())
    }
}

/// The client's address as text ("127.0.0.1:54321"), copied with a NUL into `buf` of
/// `capacity` bytes; its length without the NUL goes to `*len_out`.
/// Errors: WSC_NULL_POINTER, WSC_BUFFER_TOO_SMALL (`*len_out` is then the length needed).
#[no_mangle]
pub extern "C" fn wsc_auth_request_remote_addr(
    request: *const wsc_auth_request,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> wsc_result {
    ffi! {
        let request = arg_ref!(request);
        let len_out = arg_out!(len_out);
        copy_to_buffer(&request.remote_addr.to_string(), buf, capacity, len_out)
    }
}

/// The certificate the client presented with mutual TLS, as DER (the leaf of its chain), so that
/// the hook can decide on it before the 101; absent (data NULL, len 0) when none. Borrowed for
/// the hook's call. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_auth_request_peer_certificate(
    request: *const wsc_auth_request,
    certificate_out: *mut wsc_bytes,
) -> wsc_result {
    accessor!(request, certificate_out, |request| Ok(wsc_bytes::from_opt(
        request.peer_certificate.as_deref()
    )))
}

/// The subject of wsc_auth_request_peer_certificate() as RFC 4514 text, as
/// wsc_socket_peer_certificate_subject() gives it; absent when there is no certificate.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_auth_request_peer_certificate_subject(
    request: *const wsc_auth_request,
    subject_out: *mut wsc_str,
) -> wsc_result {
    accessor!(request, subject_out, |request| Ok(wsc_str::from_opt(
        request.peer_certificate_subject.as_deref()
    )))
}

/// Accepts the upgrade and subscribes the new socket to `groups` (`count` strings; NULL when
/// `count` is 0) besides its path's default groups. Replaces an earlier decision.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8. (A bad group name refuses the upgrade with 500.)
#[no_mangle]
pub extern "C" fn wsc_auth_decision_accept(
    decision: *mut wsc_auth_decision,
    groups: *const *const c_char,
    count: usize,
) -> wsc_result {
    ffi! {
        let decision = arg_mut!(decision);
        let groups = arg_strs!(groups, count);
        *decision = AuthDecision::accept_with_groups(groups);
        Ok(())
    }
}

/// Refuses the upgrade with an HTTP `status` (400-599; others become 403) and a `reason`
/// (NULL for none) sent as the reason phrase and body. Replaces an earlier decision.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_auth_decision_reject(
    decision: *mut wsc_auth_decision,
    status: u16,
    reason: *const c_char,
) -> wsc_result {
    ffi! {
        let decision = arg_mut!(decision);
        let reason = super::macros::arg_opt_str!(reason);
        *decision = AuthDecision::reject(status, reason.unwrap_or_default());
        Ok(())
    }
}
