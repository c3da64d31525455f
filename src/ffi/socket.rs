//! `wsc_socket`: a socket's attributes through accessor functions, and the operations on the
//! socket itself (send, close, subscribe, unsubscribe) without an ID lookup.
//! Inside a callback it is a borrowed view; from wsc_connector_socket() an owned handle; in a
//! `wsc_socket_list` a view borrowed from the list.

use super::connector::{set_delivery, wsc_delivery};
use super::error::{copy_to_buffer, FfiError};
use super::macros::{
    accessor, arg_opt_str, arg_out, arg_ref, arg_str, arg_strs, as_handle, ffi, ffi_value,
    take_handle, Opaque, Out,
};
use super::payload::{self, Handed};
use super::{pair_at, wsc_bytes, wsc_result, wsc_socket_type, wsc_str};
use crate::socket::Link;
use crate::{Error, Socket, SocketState};
use std::ffi::c_char;
use std::sync::OnceLock;

/// A socket's attributes, and the operations on it: wsc_socket_send(), wsc_socket_close(),
/// wsc_socket_subscribe(), wsc_socket_unsubscribe(). Borrowed inside callbacks and from events
/// and lists (never free those); owned when it comes from wsc_connector_socket() (free it with
/// wsc_socket_free()). Attributes stay readable after the socket closed (an operation then
/// fails with WSC_NO_SUCH_SOCKET). Use it from any thread.
pub struct wsc_socket {
    _private: [u8; 0],
}

impl Opaque for wsc_socket {
    type Rust = SocketView;
}

/// A socket and, once asked for, snapshots of what changes (so that count and index agree, and
/// what an accessor lends out lives as long as the view): its groups, its connection (of an
/// outbound socket that reconnects) and the extensions it negotiated, its last error. A view
/// lent to a message callback also knows the message the callback was handed.
pub(crate) struct SocketView {
    pub socket: Socket,
    /// Made by the first accessor that needs a snapshot: a callback's view that is only sent
    /// to (an echo) makes none, and its drop checks one cell, not one per snapshot.
    snapshots: OnceLock<Box<Snapshots>>,
    handed: HandedBy,
}

/// The snapshots of a view, each taken when first asked for.
#[derive(Default)]
struct Snapshots {
    groups: OnceLock<Vec<String>>,
    link: OnceLock<Link>,
    extensions: OnceLock<Option<String>>,
    last_error: OnceLock<Option<Error>>,
}

/// The message handed to the callback that a view is lent to (NULL for other views): a send
/// on that view finds it here instead of in the thread's callback state (a thread-local,
/// which costs a `__tls_get_addr` call in the shared library).
struct HandedBy(*const Handed);

// SAFETY: non-NULL only in a view that `Callbacks` lends to a message callback, built and
// dropped within the call on its thread, while the `Handed` it points at lives; the header
// lends that view for the call only.
unsafe impl Send for HandedBy {}
// SAFETY: as above.
unsafe impl Sync for HandedBy {}

impl SocketView {
    pub(crate) fn new(socket: Socket) -> Self {
        SocketView {
            socket,
            snapshots: OnceLock::new(),
            handed: HandedBy(std::ptr::null()),
        }
    }

    /// The view lent to a message callback that was handed `handed` (which outlives it).
    pub(crate) fn handed(socket: Socket, handed: &Handed) -> Self {
        SocketView {
            handed: HandedBy(handed),
            ..SocketView::new(socket)
        }
    }

    /// The message handed to the callback this view is lent to, if it is lent to one.
    fn handed_message(&self) -> Option<&Handed> {
        // SAFETY: see `HandedBy`: non-NULL only while the `Handed` lives.
        unsafe { self.handed.0.as_ref() }
    }

    fn snapshots(&self) -> &Snapshots {
        self.snapshots.get_or_init(Box::default)
    }

    fn groups(&self) -> &[String] {
        self.snapshots().groups.get_or_init(|| self.socket.groups())
    }

    fn link(&self) -> &Link {
        self.snapshots().link.get_or_init(|| self.socket.link())
    }

    /// The link's extensions as the 101 stated them.
    fn extensions(&self) -> Option<&str> {
        self.snapshots()
            .extensions
            .get_or_init(|| self.link().compression.map(|c| c.header_value()))
            .as_deref()
    }

    fn last_error(&self) -> Option<&Error> {
        self.snapshots()
            .last_error
            .get_or_init(|| self.socket.last_error())
            .as_ref()
    }
}

/// Where a socket stands (see wsc_socket_get_state()).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_socket_state {
    /// Its connection is up.
    WSC_SOCKET_CONNECTED = 1,
    /// Its connection ended; it is waiting for, or making, an attempt to reconnect (an outbound
    /// socket with a reconnect policy).
    WSC_SOCKET_RECONNECTING = 2,
    /// Its connection ended and, in lazy mode, it reconnects when a message is next sent to it.
    WSC_SOCKET_DISCONNECTED = 3,
    /// It has closed and left the connector.
    WSC_SOCKET_CLOSED = 4,
}

impl From<SocketState> for wsc_socket_state {
    fn from(state: SocketState) -> Self {
        match state {
            SocketState::Connected => wsc_socket_state::WSC_SOCKET_CONNECTED,
            SocketState::Reconnecting => wsc_socket_state::WSC_SOCKET_RECONNECTING,
            SocketState::Disconnected => wsc_socket_state::WSC_SOCKET_DISCONNECTED,
            SocketState::Closed => wsc_socket_state::WSC_SOCKET_CLOSED,
        }
    }
}

/// Sockets listed by wsc_connector_sockets(); owned by the caller, freed with
/// wsc_socket_list_free().
pub struct wsc_socket_list {
    _private: [u8; 0],
}

impl Opaque for wsc_socket_list {
    type Rust = Vec<SocketView>;
}

/// Writes one string attribute of a socket to `out`.
fn string_attr(
    socket: *const wsc_socket,
    out: *mut wsc_str,
    attr: impl FnOnce(&Socket) -> Option<&str>,
) -> wsc_result {
    accessor!(socket, out, |socket| Ok(wsc_str::from_opt(attr(
        &socket.socket
    ))))
}

/// The socket's unique ID. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_id(socket: *const wsc_socket, id_out: *mut wsc_str) -> wsc_result {
    string_attr(socket, id_out, |s| Some(s.id().as_str()))
}

/// Inbound or outbound. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_get_type(
    socket: *const wsc_socket,
    type_out: *mut wsc_socket_type,
) -> wsc_result {
    accessor!(socket, type_out, |socket| Ok(socket
        .socket
        .socket_type()
        .into()))
}

/// The full path of the handshake request (base path included), without the query.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_path(socket: *const wsc_socket, path_out: *mut wsc_str) -> wsc_result {
    string_attr(socket, path_out, |s| Some(s.path()))
}

/// The full request URI, e.g. "ws://127.0.0.1:8080/chat?user=ann". Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_uri(socket: *const wsc_socket, uri_out: *mut wsc_str) -> wsc_result {
    string_attr(socket, uri_out, |s| Some(s.uri()))
}

/// "ws" or "wss". Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_scheme(
    socket: *const wsc_socket,
    scheme_out: *mut wsc_str,
) -> wsc_result {
    string_attr(socket, scheme_out, |s| Some(s.scheme()))
}

/// The negotiated subprotocol; absent (data NULL) when none. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_subprotocol(
    socket: *const wsc_socket,
    subprotocol_out: *mut wsc_str,
) -> wsc_result {
    string_attr(socket, subprotocol_out, Socket::subprotocol)
}

/// The extensions the handshake negotiated, as its Sec-WebSocket-Extensions response states
/// them: permessage-deflate and its parameters, e.g. "permessage-deflate;
/// server_no_context_takeover; client_max_window_bits=12"; absent (data NULL) when none was.
/// Borrowed from the socket handle, like wsc_socket_peer_certificate(). Errors:
/// WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_extensions(
    socket: *const wsc_socket,
    extensions_out: *mut wsc_str,
) -> wsc_result {
    accessor!(socket, extensions_out, |socket| Ok(wsc_str::from_opt(
        socket.extensions()
    )))
}

/// Where the socket stands now: connected, reconnecting, disconnected (lazy mode) or closed.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_get_state(
    socket: *const wsc_socket,
    state_out: *mut wsc_socket_state,
) -> wsc_result {
    accessor!(socket, state_out, |socket| Ok(socket.socket.state().into()))
}

/// Why the socket's last connection or reconnect attempt failed: while it reconnects (or waits
/// to, in lazy mode) the failure's code and message; once it closed because its attempts ran
/// out, WSC_RETRY_EXHAUSTED with a message naming the last failure; WSC_OK and an empty
/// message otherwise. Read once per handle (a snapshot); the message is borrowed like
/// wsc_socket_peer_certificate(). `message_out` may be NULL. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_last_error(
    socket: *const wsc_socket,
    code_out: *mut wsc_result,
    message_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        let code_out = arg_out!(code_out);
        let error = socket.last_error();
        code_out.set(error.map_or(wsc_result::WSC_OK, |e| e.kind().into()));
        if let Some(out) = Out::optional(message_out) {
            out.set(wsc_str::from(error.map_or("", Error::message)));
        }
        Ok(())
    }
}

/// The certificate the peer presented, as DER (the leaf of its chain), for an X.509 library to
/// read: a client's with mutual TLS (inbound sockets), the server's (outbound wss sockets; of
/// the connection the handle first read it from, for one that reconnects).
/// Absent (data NULL, len 0) without TLS or when the client presented none. The bytes are
/// borrowed from the socket handle: valid as long as it is (a callback's view: until the
/// callback returns; an event's: until wsc_event_free(); a list's: until wsc_socket_list_free();
/// an owned handle's: until wsc_socket_free()). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_peer_certificate(
    socket: *const wsc_socket,
    certificate_out: *mut wsc_bytes,
) -> wsc_result {
    accessor!(socket, certificate_out, |socket| Ok(wsc_bytes::from_opt(
        socket.link().peer_certificate.as_ref().map(|c| &c.der[..])
    )))
}

/// The subject of wsc_socket_peer_certificate() as RFC 4514 text: the last RDN first, special
/// characters escaped (`CN=alice\,O=Admins` is one CN; `O=Admins,CN=alice` a CN and an O);
/// absent when there is no certificate. Borrowed like the certificate. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_peer_certificate_subject(
    socket: *const wsc_socket,
    subject_out: *mut wsc_str,
) -> wsc_result {
    accessor!(socket, subject_out, |socket| Ok(wsc_str::from_opt(
        socket
            .link()
            .peer_certificate
            .as_ref()
            .and_then(|c| c.subject.as_deref())
    )))
}

/// The first handshake header named `name` (case-insensitive); absent when there is none.
/// For outbound sockets: the headers we sent. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_socket_header(
    socket: *const wsc_socket,
    name: *const c_char,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        let name = arg_str!(name);
        arg_out!(value_out).set(wsc_str::from_opt(socket.socket.header(name)));
        Ok(())
    }
}

/// How many handshake headers there are. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_header_count(
    socket: *const wsc_socket,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(socket, count_out, |socket| Ok(socket
        .socket
        .headers()
        .len()))
}

/// The handshake header at `index` (0 to count - 1), in request order.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub extern "C" fn wsc_socket_header_at(
    socket: *const wsc_socket,
    index: usize,
    name_out: *mut wsc_str,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        pair_at(socket.socket.headers(), index, arg_out!(name_out), arg_out!(value_out))
    }
}

/// The first query parameter named `name` (case-sensitive, decoded); absent when none.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_socket_query(
    socket: *const wsc_socket,
    name: *const c_char,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        let name = arg_str!(name);
        arg_out!(value_out).set(wsc_str::from_opt(socket.socket.query_param(name)));
        Ok(())
    }
}

/// How many query parameters there are. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_query_count(
    socket: *const wsc_socket,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(socket, count_out, |socket| Ok(socket.socket.query().len()))
}

/// The query parameter at `index` (0 to count - 1), decoded, in order.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub extern "C" fn wsc_socket_query_at(
    socket: *const wsc_socket,
    index: usize,
    name_out: *mut wsc_str,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        pair_at(socket.socket.query(), index, arg_out!(name_out), arg_out!(value_out))
    }
}

/// The query string of the handshake request as sent (still percent-encoded, without the
/// `?`; empty when none): Mule's `queryString`. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_query_string(
    socket: *const wsc_socket,
    query_out: *mut wsc_str,
) -> wsc_result {
    string_attr(socket, query_out, |s| Some(s.query_string()))
}

/// The handshake request's method, "GET": Mule's `method`. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_method(
    socket: *const wsc_socket,
    method_out: *mut wsc_str,
) -> wsc_result {
    string_attr(socket, method_out, |s| Some(s.method()))
}

/// The handshake's HTTP version, "HTTP/1.1". Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_http_version(
    socket: *const wsc_socket,
    version_out: *mut wsc_str,
) -> wsc_result {
    string_attr(socket, version_out, |s| Some(s.http_version()))
}

/// The URI parameter named `name` (case-sensitive): for an inbound socket, the value a
/// `{name}` segment of the served path pattern matched ("/chat/{room}" serving "/chat/lobby":
/// "room" is "lobby"), decoded; for an outbound socket, one that filled its URL's template
/// (wsc_outbound_options_add_uri_param()). Mule's `uriParams`. Absent (data NULL) when none.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_socket_uri_param(
    socket: *const wsc_socket,
    name: *const c_char,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        let name = arg_str!(name);
        arg_out!(value_out).set(wsc_str::from_opt(socket.socket.uri_param(name)));
        Ok(())
    }
}

/// How many URI parameters there are. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_uri_param_count(
    socket: *const wsc_socket,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(socket, count_out, |socket| Ok(socket
        .socket
        .uri_params()
        .len()))
}

/// The URI parameter at `index` (0 to count - 1), in the pattern's order.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub extern "C" fn wsc_socket_uri_param_at(
    socket: *const wsc_socket,
    index: usize,
    name_out: *mut wsc_str,
    value_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        pair_at(socket.socket.uri_params(), index, arg_out!(name_out), arg_out!(value_out))
    }
}

/// Our end of the connection as text ("127.0.0.1:8080", "[::1]:8080"), copied with a NUL into
/// `buf` of `capacity` bytes; its length without the NUL goes to `*len_out`.
/// Errors: WSC_NULL_POINTER, WSC_BUFFER_TOO_SMALL (`*len_out` is then the length needed).
#[no_mangle]
pub extern "C" fn wsc_socket_local_addr(
    socket: *const wsc_socket,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        let len_out = arg_out!(len_out);
        copy_to_buffer(&socket.link().local_addr.to_string(), buf, capacity, len_out)
    }
}

/// The peer's end of the connection, like wsc_socket_local_addr().
#[no_mangle]
pub extern "C" fn wsc_socket_remote_addr(
    socket: *const wsc_socket,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        let len_out = arg_out!(len_out);
        copy_to_buffer(&socket.link().remote_addr.to_string(), buf, capacity, len_out)
    }
}

/// How many groups the socket is in. The first group call on a `wsc_socket` takes a snapshot
/// of its groups (sorted) that later group calls on the same `wsc_socket` read, so count and
/// index agree while other threads subscribe and unsubscribe. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_group_count(
    socket: *const wsc_socket,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(socket, count_out, |socket| Ok(socket.groups().len()))
}

/// The group at `index` (0 to count - 1) of the snapshot (see wsc_socket_group_count()).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (index out of range).
#[no_mangle]
pub extern "C" fn wsc_socket_group_at(
    socket: *const wsc_socket,
    index: usize,
    group_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        let group_out = arg_out!(group_out);
        let group = socket.groups().get(index).ok_or_else(|| out_of_range(index))?;
        group_out.set(wsc_str::from(group));
        Ok(())
    }
}

/// Whether the socket is still open (registered with its connector) at the time of the call.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_is_open(socket: *const wsc_socket, open_out: *mut bool) -> wsc_result {
    accessor!(socket, open_out, |socket| Ok(socket.socket.is_open()))
}

/// Queues a message on this socket: wsc_connector_send() without the ID, its copy and its
/// lookup, and the way to reply from a callback (pass the `socket` the callback was handed;
/// a reply of the payload it was handed, or of part of it, passes the message on instead of
/// copying it). Works as well on a socket from an event of wsc_connector_next_event(), from
/// wsc_connector_socket() or from a list. `kind`, `data`, `len`, `delivery_out` and
/// `dropped_oldest_out` as for wsc_connector_send(), with the same results, except that a
/// socket of a stopped connector is closed: WSC_NO_SUCH_SOCKET rather than WSC_STOPPED.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (kind), WSC_NO_SUCH_SOCKET
/// (the socket is closed or closing), WSC_REMOTELY_CLOSED (the peer is closing it),
/// WSC_QUEUE_FULL (fail policy), WSC_LIMIT_EXCEEDED (larger than the send queue's byte bound;
/// checked before `data` is read).
/// Any thread, while the handle is valid (a callback's view: until the callback returns).
#[no_mangle]
pub extern "C" fn wsc_socket_send(
    socket: *const wsc_socket,
    kind: u32,
    data: *const u8,
    len: usize,
    delivery_out: *mut wsc_delivery,
    dropped_oldest_out: *mut usize,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        let handed = socket.handed_message();
        // SAFETY: the header requires `len` readable bytes at `data`.
        let delivery = unsafe { payload::send(&socket.socket, kind, data, len, handed) }?;
        set_delivery(delivery, delivery_out, dropped_oldest_out);
        Ok(())
    }
}

/// Closes this socket with a close `code` (1000-1003, 1007-1014, 3000-4999) and `reason` (NULL
/// for none; at most 123 bytes): wsc_connector_close() without the ID, its copy and its lookup.
/// Messages queued before leave first; messages that arrive from the peer afterwards are not
/// delivered. Closing a socket that is already closing is a no-op.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (code or reason),
/// WSC_NO_SUCH_SOCKET (the socket has closed, or its connector has stopped).
/// Any thread, while the handle is valid (a callback's view: until the callback returns).
#[no_mangle]
pub extern "C" fn wsc_socket_close(
    socket: *const wsc_socket,
    code: u16,
    reason: *const c_char,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        let reason = arg_opt_str!(reason).unwrap_or_default();
        socket.socket.close(code, reason)?;
        Ok(())
    }
}

/// Subscribes this socket to `groups` (`count` strings; groups it has already are ignored):
/// wsc_connector_subscribe() without the ID lookup. A group snapshot this handle has already
/// taken (see wsc_socket_group_count()) keeps the groups it saw.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (a bad group name),
/// WSC_NO_SUCH_SOCKET (the socket has closed, or its connector has stopped).
/// Any thread, while the handle is valid (a callback's view: until the callback returns).
#[no_mangle]
pub extern "C" fn wsc_socket_subscribe(
    socket: *const wsc_socket,
    groups: *const *const c_char,
    count: usize,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        socket.socket.subscribe(&arg_strs!(groups, count))?;
        Ok(())
    }
}

/// Unsubscribes this socket from `groups` (groups it does not have are ignored):
/// wsc_connector_unsubscribe() without the ID lookup. Errors as wsc_socket_subscribe().
/// Any thread, while the handle is valid (a callback's view: until the callback returns).
#[no_mangle]
pub extern "C" fn wsc_socket_unsubscribe(
    socket: *const wsc_socket,
    groups: *const *const c_char,
    count: usize,
) -> wsc_result {
    ffi! {
        let socket = arg_ref!(socket);
        socket.socket.unsubscribe(&arg_strs!(groups, count))?;
        Ok(())
    }
}

/// Frees a socket handle from wsc_connector_socket(); NULL is a no-op. Never pass a borrowed
/// view (from a callback, an event or a list). Any thread.
#[no_mangle]
pub extern "C" fn wsc_socket_free(socket: *mut wsc_socket) {
    ffi_value!((), {
        // SAFETY: the header requires an owned handle from wsc_connector_socket(), freed once.
        drop(unsafe { take_handle(socket) });
    })
}

/// How many sockets the list holds. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_socket_list_len(
    list: *const wsc_socket_list,
    len_out: *mut usize,
) -> wsc_result {
    accessor!(list, len_out, |list| Ok(list.len()))
}

/// The socket at `index` (0 to len - 1), borrowed from the list (valid until
/// wsc_socket_list_free()). Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (out of range).
#[no_mangle]
pub extern "C" fn wsc_socket_list_get(
    list: *const wsc_socket_list,
    index: usize,
    socket_out: *mut *const wsc_socket,
) -> wsc_result {
    ffi! {
        let list = arg_ref!(list);
        let socket_out = arg_out!(socket_out);
        let socket = list.get(index).ok_or_else(|| out_of_range(index))?;
        socket_out.set(as_handle::<wsc_socket>(socket));
        Ok(())
    }
}

/// Frees a list from wsc_connector_sockets() and the views borrowed from it; NULL is a no-op.
#[no_mangle]
pub extern "C" fn wsc_socket_list_free(list: *mut wsc_socket_list) {
    ffi_value!((), {
        // SAFETY: the header requires a list from wsc_connector_sockets(), freed once.
        drop(unsafe { take_handle(list) });
    })
}

/// The error for an index past the end.
pub(crate) fn out_of_range(index: usize) -> FfiError {
    FfiError::invalid(format!("index {index} is out of range"))
}
