//! `wsc_outbound_options`: the options of one outbound socket, built call by call so that new
//! options never change a struct the caller allocates.

use super::macros::{
    arg_mut, arg_opt_ref, arg_out, arg_str, ffi, ffi_value, into_handle, take_handle, Opaque,
};
use super::reconnect::wsc_reconnect;
use super::wsc_result;
use crate::{OutboundOptions, ReconnectOption};
use std::ffi::c_char;
use std::time::Duration;

/// Options for wsc_connector_open_outbound(). Owned by the caller, freed with
/// wsc_outbound_options_free(); reusable; one thread at a time.
pub struct wsc_outbound_options {
    _private: [u8; 0],
}

impl Opaque for wsc_outbound_options {
    type Rust = OutboundOptions;
}

/// Makes empty options: a generated socket ID, no extra headers, no groups.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_outbound_options_new(
    options_out: *mut *mut wsc_outbound_options,
) -> wsc_result {
    ffi! {
        arg_out!(options_out).set(into_handle::<wsc_outbound_options>(OutboundOptions::new()));
        Ok(())
    }
}

/// Adds a (name, value) pair to a list of the options.
fn push_pair(
    options: *mut wsc_outbound_options,
    name: *const c_char,
    value: *const c_char,
    list: impl FnOnce(&mut OutboundOptions) -> &mut Vec<(String, String)>,
) -> wsc_result {
    ffi! {
        let options = arg_mut!(options);
        list(options).push((arg_str!(name).to_owned(), arg_str!(value).to_owned()));
        Ok(())
    }
}

/// Adds a handshake header (after the connector's default headers). "Host" replaces the URL's
/// host and port (and a default Host); the handshake's own headers (Upgrade, Connection,
/// Sec-WebSocket-*) cannot be set. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8 (a bad or
/// reserved header, or two Hosts, fail the open with WSC_INVALID_ARGUMENT).
#[no_mangle]
pub extern "C" fn wsc_outbound_options_add_header(
    options: *mut wsc_outbound_options,
    name: *const c_char,
    value: *const c_char,
) -> wsc_result {
    push_pair(options, name, value, |o| &mut o.headers)
}

/// Adds a query parameter to the URL (after the connector's default ones).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_outbound_options_add_query(
    options: *mut wsc_outbound_options,
    name: *const c_char,
    value: *const c_char,
) -> wsc_result {
    push_pair(options, name, value, |o| &mut o.query)
}

/// Offers a subprotocol (in order of preference). Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_outbound_options_add_subprotocol(
    options: *mut wsc_outbound_options,
    protocol: *const c_char,
) -> wsc_result {
    ffi! {
        let options = arg_mut!(options);
        options.subprotocols.push(arg_str!(protocol).to_owned());
        Ok(())
    }
}

/// Starts the socket in a group. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_outbound_options_add_group(
    options: *mut wsc_outbound_options,
    group: *const c_char,
) -> wsc_result {
    ffi! {
        let options = arg_mut!(options);
        options.groups.push(arg_str!(group).to_owned());
        Ok(())
    }
}

/// Chooses the socket's ID (else a random UUID); NULL goes back to a generated one.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8 (a bad or taken ID fails the open).
#[no_mangle]
pub extern "C" fn wsc_outbound_options_set_socket_id(
    options: *mut wsc_outbound_options,
    socket_id: *const c_char,
) -> wsc_result {
    ffi! {
        let options = arg_mut!(options);
        options.socket_id = super::macros::arg_opt_str!(socket_id).map(str::to_owned);
        Ok(())
    }
}

/// Overrides the connector's connect timeout for this socket; 0 goes back to the connector's.
/// More than WSC_MAX_DURATION_MS fails the open with WSC_INVALID_ARGUMENT.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_outbound_options_set_connect_timeout_ms(
    options: *mut wsc_outbound_options,
    timeout_ms: u64,
) -> wsc_result {
    ffi! {
        let options = arg_mut!(options);
        options.connect_timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms));
        Ok(())
    }
}

/// Offers permessage-deflate (RFC 7692) on this socket, or not, whatever the connector's
/// "compression" and "outbound_compression" settings say. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_outbound_options_set_compression(
    options: *mut wsc_outbound_options,
    on: bool,
) -> wsc_result {
    ffi! {
        arg_mut!(options).compression = Some(on);
        Ok(())
    }
}

/// Gives the URI parameter `name`: the URL or path of the open may hold `{name}`, replaced by
/// `value` percent-encoded (one path segment). A template without its parameter fails the open
/// with WSC_INVALID_ARGUMENT. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_outbound_options_add_uri_param(
    options: *mut wsc_outbound_options,
    name: *const c_char,
    value: *const c_char,
) -> wsc_result {
    push_pair(options, name, value, |o| &mut o.uri_params)
}

/// The socket reconnects with `policy` (copied) when its connection ends; NULL: it does not,
/// whatever the client-wide default (wsc_config_set_reconnect()). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_outbound_options_set_reconnect(
    options: *mut wsc_outbound_options,
    policy: *const wsc_reconnect,
) -> wsc_result {
    ffi! {
        let options = arg_mut!(options);
        options.reconnect = match arg_opt_ref!(policy) {
            Some(policy) => ReconnectOption::With(policy.clone()),
            None => ReconnectOption::Off,
        };
        Ok(())
    }
}

/// The socket reconnects (`enabled` true) with the client-wide policy, or the default policy
/// when there is none; or does not (false). Without this call or
/// wsc_outbound_options_set_reconnect(), the client-wide policy decides.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_outbound_options_set_reconnect_enabled(
    options: *mut wsc_outbound_options,
    enabled: bool,
) -> wsc_result {
    ffi! {
        arg_mut!(options).reconnect = ReconnectOption::from(enabled);
        Ok(())
    }
}

/// Frees options; NULL is a no-op.
#[no_mangle]
pub extern "C" fn wsc_outbound_options_free(options: *mut wsc_outbound_options) {
    ffi_value!((), {
        // SAFETY: the header requires options from wsc_outbound_options_new(), freed once.
        drop(unsafe { take_handle(options) });
    })
}
