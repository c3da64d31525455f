//! The C API's string inputs — paths, path patterns, base paths, allowed origins, URLs, group
//! names, socket IDs, header names and values, query parameters, subprotocols, close reasons,
//! setting names and values for the generic setters — and broadcast filters, arbitrary bytes
//! each (invalid UTF-8 and all), by ID and through a socket's own handle. Every call must
//! return a result code, never WSC_PANIC; a running connector with two connected clients takes
//! the operations.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::ffi::{c_char, c_void, CString};
use std::io::Write;
use std::sync::OnceLock;
// The C functions below live in this crate: linking it is what makes them resolve.
use wsconnector as _;

type Handle = *mut c_void;

extern "C" {
    fn wsc_config_new(out: *mut Handle) -> u32;
    fn wsc_config_set_listener(config: Handle, host: *const c_char, port: u16) -> u32;
    fn wsc_config_set_base_path(config: Handle, base: *const c_char) -> u32;
    fn wsc_config_add_path(config: Handle, pattern: *const c_char, groups: *const *const c_char, count: usize) -> u32;
    fn wsc_config_add_subprotocol(config: Handle, protocol: *const c_char) -> u32;
    fn wsc_config_add_allowed_origin(config: Handle, origin: *const c_char) -> u32;
    fn wsc_config_add_path_allowed_origin(config: Handle, pattern: *const c_char, origin: *const c_char) -> u32;
    fn wsc_config_add_client_header(config: Handle, name: *const c_char, value: *const c_char) -> u32;
    fn wsc_config_add_client_query(config: Handle, name: *const c_char, value: *const c_char) -> u32;
    fn wsc_config_set_ping_interval_ms(config: Handle, ms: u64) -> u32;
    fn wsc_config_set_event_queue_capacity(config: Handle, capacity: usize) -> u32;
    fn wsc_config_set_bool(config: Handle, name: *const c_char, value: bool) -> u32;
    fn wsc_config_set_int(config: Handle, name: *const c_char, value: u64) -> u32;
    fn wsc_config_set_duration_ms(config: Handle, name: *const c_char, value_ms: u64) -> u32;
    fn wsc_config_set_string(config: Handle, name: *const c_char, value: *const c_char) -> u32;
    fn wsc_config_add_string(config: Handle, name: *const c_char, value: *const c_char) -> u32;
    fn wsc_config_add_pair(config: Handle, name: *const c_char, key: *const c_char, value: *const c_char) -> u32;
    fn wsc_config_set_pem(config: Handle, name: *const c_char, source: u32, pem: *const c_char) -> u32;
    fn wsc_config_free(config: Handle);
    fn wsc_connector_start(config: Handle, out: *mut Handle) -> u32;
    fn wsc_connector_free(conn: Handle) -> u32;
    fn wsc_connector_local_port(conn: Handle, port: *mut u16) -> u32;
    fn wsc_outbound_options_new(out: *mut Handle) -> u32;
    fn wsc_outbound_options_add_header(options: Handle, name: *const c_char, value: *const c_char) -> u32;
    fn wsc_outbound_options_add_query(options: Handle, name: *const c_char, value: *const c_char) -> u32;
    fn wsc_outbound_options_add_subprotocol(options: Handle, protocol: *const c_char) -> u32;
    fn wsc_outbound_options_add_group(options: Handle, group: *const c_char) -> u32;
    fn wsc_outbound_options_set_socket_id(options: Handle, id: *const c_char) -> u32;
    fn wsc_outbound_options_set_connect_timeout_ms(options: Handle, ms: u64) -> u32;
    fn wsc_outbound_options_free(options: Handle);
    fn wsc_connector_open_outbound(conn: Handle, url: *const c_char, options: Handle, id: *mut c_char, cap: usize) -> u32;
    fn wsc_connector_subscribe(conn: Handle, id: *const c_char, groups: *const *const c_char, count: usize) -> u32;
    fn wsc_connector_unsubscribe(conn: Handle, id: *const c_char, groups: *const *const c_char, count: usize) -> u32;
    fn wsc_connector_send(conn: Handle, id: *const c_char, kind: u32, data: *const u8, len: usize, delivery: *mut u32, dropped: *mut usize) -> u32;
    fn wsc_connector_close(conn: Handle, id: *const c_char, code: u16, reason: *const c_char) -> u32;
    fn wsc_filter_new(out: *mut Handle) -> u32;
    fn wsc_filter_set_path(filter: Handle, pattern: *const c_char) -> u32;
    fn wsc_filter_set_type(filter: Handle, socket_type: u32) -> u32;
    fn wsc_filter_add_group(filter: Handle, group: *const c_char) -> u32;
    fn wsc_filter_free(filter: Handle);
    fn wsc_connector_broadcast(conn: Handle, filter: Handle, kind: u32, data: *const u8, len: usize, out: *mut Handle) -> u32;
    fn wsc_broadcast_result_free(result: Handle);
    fn wsc_connector_sockets(conn: Handle, filter: Handle, out: *mut Handle) -> u32;
    fn wsc_socket_list_free(list: Handle);
    fn wsc_connector_socket(conn: Handle, id: *const c_char, out: *mut Handle) -> u32;
    fn wsc_socket_subscribe(socket: Handle, groups: *const *const c_char, count: usize) -> u32;
    fn wsc_socket_unsubscribe(socket: Handle, groups: *const *const c_char, count: usize) -> u32;
    fn wsc_socket_close(socket: Handle, code: u16, reason: *const c_char) -> u32;
    fn wsc_socket_free(socket: Handle);
}

const WSC_OK: u32 = 0;
const WSC_PANIC: u32 = 103;
/// The fixed IDs the shared connector's two clients get (outbound sockets to itself).
const IDS: [&str; 2] = ["fuzz-a", "fuzz-b"];

#[derive(Arbitrary, Debug)]
struct Input {
    base_path: Vec<u8>,
    path_pattern: Vec<u8>,
    path_groups: Vec<Vec<u8>>,
    origins: (Vec<u8>, Vec<u8>),
    subprotocol: Vec<u8>,
    header: (Vec<u8>, Vec<u8>),
    query: (Vec<u8>, Vec<u8>),
    setting: (Vec<u8>, Vec<u8>, Vec<u8>, u64),
    url_tail: Vec<u8>,
    socket_id: Vec<u8>,
    groups: Vec<Vec<u8>>,
    filter_path: Option<Vec<u8>>,
    filter_type: Option<u32>,
    filter_groups: Vec<Vec<u8>>,
    send_to: Vec<u8>,
    close_reason: Vec<u8>,
    close_code: u16,
    payload: Vec<u8>,
}

/// A C string of `bytes` up to their first NUL, as a C caller would pass it.
fn c(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).expect("no NUL before end")
}

fn check(code: u32) -> u32 {
    assert_ne!(code, WSC_PANIC, "a panic reached the C boundary");
    code
}

struct Shared(Handle);
// SAFETY: the C API's connector is usable from any thread.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

/// A listener with two sockets of its own connected to it, started once for the whole run.
fn shared() -> Handle {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED
        .get_or_init(|| unsafe {
            let mut config = std::ptr::null_mut();
            check(wsc_config_new(&mut config));
            let host = c(b"127.0.0.1");
            check(wsc_config_set_listener(config, host.as_ptr(), 0));
            check(wsc_config_set_ping_interval_ms(config, 0));
            // Nobody takes the events: keep what the inbound twins receive bounded.
            check(wsc_config_set_event_queue_capacity(config, 64));
            let mut conn = std::ptr::null_mut();
            assert_eq!(check(wsc_connector_start(config, &mut conn)), WSC_OK);
            let mut port = 0u16;
            check(wsc_connector_local_port(conn, &mut port));
            for id in IDS {
                let mut options = std::ptr::null_mut();
                check(wsc_outbound_options_new(&mut options));
                let id = c(id.as_bytes());
                check(wsc_outbound_options_set_socket_id(options, id.as_ptr()));
                let url = c(format!("ws://127.0.0.1:{port}/fuzz").as_bytes());
                let opened = wsc_connector_open_outbound(conn, url.as_ptr(), options, std::ptr::null_mut(), 0);
                assert_eq!(check(opened), WSC_OK);
                wsc_outbound_options_free(options);
            }
            Shared(conn)
        })
        .0
}

fn group_ptrs(groups: &[CString]) -> Vec<*const c_char> {
    groups.iter().map(|g| g.as_ptr()).collect()
}

fuzz_target!(|input: Input| unsafe {
    let _ = std::io::stderr().flush();

    // Configuration strings: validated at start (the connector is started only when every
    // setter accepted its input, and then freed at once).
    let mut config = std::ptr::null_mut();
    check(wsc_config_new(&mut config));
    let host = c(b"127.0.0.1");
    let mut ok = check(wsc_config_set_listener(config, host.as_ptr(), 0)) == WSC_OK;
    let base = c(&input.base_path);
    ok &= check(wsc_config_set_base_path(config, base.as_ptr())) == WSC_OK;
    let pattern = c(&input.path_pattern);
    let path_groups: Vec<CString> = input.path_groups.iter().map(|g| c(g)).collect();
    let ptrs = group_ptrs(&path_groups);
    ok &= check(wsc_config_add_path(config, pattern.as_ptr(), ptrs.as_ptr(), ptrs.len())) == WSC_OK;
    let (origin, path_origin) = (c(&input.origins.0), c(&input.origins.1));
    ok &= check(wsc_config_add_allowed_origin(config, origin.as_ptr())) == WSC_OK;
    ok &= check(wsc_config_add_path_allowed_origin(config, pattern.as_ptr(), path_origin.as_ptr())) == WSC_OK;
    let protocol = c(&input.subprotocol);
    ok &= check(wsc_config_add_subprotocol(config, protocol.as_ptr())) == WSC_OK;
    let (name, value) = (c(&input.header.0), c(&input.header.1));
    ok &= check(wsc_config_add_client_header(config, name.as_ptr(), value.as_ptr())) == WSC_OK;
    let (qname, qvalue) = (c(&input.query.0), c(&input.query.1));
    ok &= check(wsc_config_add_client_query(config, qname.as_ptr(), qvalue.as_ptr())) == WSC_OK;
    let mut conn = std::ptr::null_mut();
    if ok && check(wsc_connector_start(config, &mut conn)) == WSC_OK {
        check(wsc_connector_free(conn));
    } else if !ok {
        // Not started: start consumes it anyway, and must refuse or accept cleanly.
        if check(wsc_connector_start(config, &mut conn)) == WSC_OK {
            check(wsc_connector_free(conn));
        }
    }

    // A setting by name through each generic setter, on a config that is never started (a
    // fuzzed count of threads or events would be a real one).
    let mut scratch = std::ptr::null_mut();
    check(wsc_config_new(&mut scratch));
    check(wsc_config_set_listener(scratch, host.as_ptr(), 0));
    let (sname, svalue, skey) = (c(&input.setting.0), c(&input.setting.1), c(&input.setting.2));
    let number = input.setting.3;
    check(wsc_config_set_bool(scratch, sname.as_ptr(), number % 2 == 1));
    check(wsc_config_set_int(scratch, sname.as_ptr(), number));
    check(wsc_config_set_duration_ms(scratch, sname.as_ptr(), number));
    check(wsc_config_set_string(scratch, sname.as_ptr(), svalue.as_ptr()));
    check(wsc_config_add_string(scratch, sname.as_ptr(), svalue.as_ptr()));
    check(wsc_config_add_pair(scratch, sname.as_ptr(), skey.as_ptr(), svalue.as_ptr()));
    check(wsc_config_set_pem(scratch, sname.as_ptr(), (number % 4) as u32, svalue.as_ptr()));
    wsc_config_free(scratch);

    let conn = shared();

    // Outbound options and URLs: to a closed port, so nothing connects.
    let mut options = std::ptr::null_mut();
    check(wsc_outbound_options_new(&mut options));
    check(wsc_outbound_options_add_header(options, name.as_ptr(), value.as_ptr()));
    check(wsc_outbound_options_add_query(options, qname.as_ptr(), qvalue.as_ptr()));
    check(wsc_outbound_options_add_subprotocol(options, protocol.as_ptr()));
    let id = c(&input.socket_id);
    check(wsc_outbound_options_set_socket_id(options, id.as_ptr()));
    for group in &input.groups {
        let group = c(group);
        check(wsc_outbound_options_add_group(options, group.as_ptr()));
    }
    check(wsc_outbound_options_set_connect_timeout_ms(options, 50));
    let mut url = b"ws://127.0.0.1:9".to_vec();
    url.extend_from_slice(&input.url_tail);
    let url = c(&url);
    let mut id_buf = [0 as c_char; 257];
    check(wsc_connector_open_outbound(conn, url.as_ptr(), options, id_buf.as_mut_ptr(), id_buf.len()));
    wsc_outbound_options_free(options);

    // Groups on a real socket, joined and left again.
    let groups: Vec<CString> = input.groups.iter().map(|g| c(g)).collect();
    let ptrs = group_ptrs(&groups);
    let target = c(IDS[input.payload.len() % 2].as_bytes());
    check(wsc_connector_subscribe(conn, target.as_ptr(), ptrs.as_ptr(), ptrs.len()));

    // A broadcast and a listing with an arbitrary filter.
    let mut filter = std::ptr::null_mut();
    check(wsc_filter_new(&mut filter));
    if let Some(path) = &input.filter_path {
        let path = c(path);
        check(wsc_filter_set_path(filter, path.as_ptr()));
    }
    if let Some(socket_type) = input.filter_type {
        check(wsc_filter_set_type(filter, socket_type));
    }
    for group in &input.filter_groups {
        let group = c(group);
        check(wsc_filter_add_group(filter, group.as_ptr()));
    }
    let kind = u32::from(std::str::from_utf8(&input.payload).is_err());
    let mut result = std::ptr::null_mut();
    if check(wsc_connector_broadcast(conn, filter, kind, input.payload.as_ptr(), input.payload.len(), &mut result)) == WSC_OK {
        wsc_broadcast_result_free(result);
    }
    let mut list = std::ptr::null_mut();
    if check(wsc_connector_sockets(conn, filter, &mut list)) == WSC_OK {
        wsc_socket_list_free(list);
    }
    wsc_filter_free(filter);
    check(wsc_connector_unsubscribe(conn, target.as_ptr(), ptrs.as_ptr(), ptrs.len()));

    // The same groups through the socket's own handle, and its close with the arbitrary reason
    // but only with codes that cannot be sent, so that the shared socket stays open.
    let reason = c(&input.close_reason);
    let mut socket = std::ptr::null_mut();
    if check(wsc_connector_socket(conn, target.as_ptr(), &mut socket)) == WSC_OK {
        check(wsc_socket_subscribe(socket, ptrs.as_ptr(), ptrs.len()));
        check(wsc_socket_unsubscribe(socket, ptrs.as_ptr(), ptrs.len()));
        if !matches!(input.close_code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
            check(wsc_socket_close(socket, input.close_code, reason.as_ptr()));
        }
        wsc_socket_free(socket);
    }

    // Sends and closes by arbitrary ID (never one of the shared sockets).
    let send_to = c(&input.send_to);
    if !IDS.iter().any(|id| id.as_bytes() == send_to.as_bytes()) {
        let (mut delivery, mut dropped) = (0u32, 0usize);
        check(wsc_connector_send(conn, send_to.as_ptr(), kind, input.payload.as_ptr(), input.payload.len(), &mut delivery, &mut dropped));
        check(wsc_connector_close(conn, send_to.as_ptr(), input.close_code, reason.as_ptr()));
    }
});
