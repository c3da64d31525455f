//! `wsc_connector`: start, the operations, stop and free.

use super::broadcast::wsc_broadcast_result;
use super::callbacks::Callbacks;
use super::cluster::wsc_cluster_socket_list;
use super::config::{wsc_config, ConfigBuilder};
use super::error::{copy_to_buffer, FfiError, FfiResult};
use super::filter::wsc_filter;
use super::macros::{
    accessor, arg_opt_ref, arg_opt_str, arg_out, arg_ref, arg_str, arg_strs, ffi, into_handle,
    take_handle, Opaque, Out,
};
use super::options::wsc_outbound_options;
use super::payload;
use super::socket::{wsc_socket, wsc_socket_list, SocketView};
use super::{wsc_result, WSC_SOCKET_ID_SIZE};
use crate::{
    Connector, ConnectorHandle, Delivery, Event, EventHandler, OutboundOptions, SocketFilter,
    Trigger,
};
use std::borrow::Cow;
use std::ffi::c_char;
use std::sync::{Arc, Mutex, OnceLock};

/// A running connector: its listener, its outbound sockets, its threads. Made by
/// wsc_connector_start(), freed with wsc_connector_free(). Every operation may be called from
/// any thread, including from inside its callbacks.
pub struct wsc_connector {
    _private: [u8; 0],
}

impl Opaque for wsc_connector {
    type Rust = ConnectorState;
}

/// The core connector, set once start has returned, and the callbacks it calls.
pub(crate) struct ConnectorState {
    core: OnceLock<Connector>,
    /// Held while starting, so that an early event waits until `core` is set.
    starting: Mutex<()>,
    callbacks: Arc<Callbacks>,
}

impl ConnectorState {
    /// The running core connector.
    pub(crate) fn core(&self) -> FfiResult<&Connector> {
        self.core.get().ok_or_else(|| {
            FfiError::new(wsc_result::WSC_INVALID_STATE, "the connector did not start")
        })
    }

    /// Fails when called from one of this connector's own callbacks (it would wait for itself).
    pub(crate) fn not_from_own_callback(&self, what: &str) -> FfiResult {
        let in_inline_handler = || {
            self.core
                .get()
                .is_some_and(|c| c.shared.in_inline_handler())
        };
        if self.callbacks.is_current(in_inline_handler) {
            return Err(FfiError::new(
                wsc_result::WSC_INVALID_STATE,
                format!("a connector cannot be {what} from inside one of its own callbacks"),
            ));
        }
        Ok(())
    }
}

/// The connector's address for the threads that call back: the dispatcher threads, or the
/// I/O threads with inline dispatch.
struct ConnectorPtr(*mut wsc_connector);

// SAFETY: the connector outlives every callback (wsc_connector_free stops the core, which joins
// the dispatcher threads and waits for every socket task, before it frees the connector), and
// `ConnectorState` is `Sync`.
unsafe impl Send for ConnectorPtr {}
// SAFETY: as above.
unsafe impl Sync for ConnectorPtr {}

/// The trigger callbacks as the core's event handler.
struct CallbackHandler {
    conn: ConnectorPtr,
    callbacks: Arc<Callbacks>,
}

impl EventHandler for CallbackHandler {
    /// Hands an event to the callbacks, once the connector is fully started.
    fn on_event(&self, _: &ConnectorHandle, event: Event) {
        // SAFETY: alive for as long as the dispatcher threads run (see the `Send` impl).
        let state = unsafe { &*self.conn.0.cast::<ConnectorState>() };
        if state.core.get().is_none() {
            drop(state.starting.lock());
        }
        self.callbacks.dispatch(self.conn.0, event);
    }

    /// The triggers with a callback: the others' connection and closed events are not made.
    fn takes(&self, trigger: Trigger) -> bool {
        self.callbacks.takes(trigger)
    }
}

/// Starts a connector from `config`, which is consumed in every case (on failure its userdata
/// free functions have run). With trigger callbacks, events go to them on the connector's
/// dispatcher threads (the first may arrive before this returns); with none, take them with
/// wsc_connector_next_event(). On success `*conn_out` is the connector: stop it with
/// wsc_connector_stop() and free it with wsc_connector_free().
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (a setting; the message names it), WSC_TLS
/// (certificates), WSC_CONNECTIVITY (cannot listen), WSC_DNS. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_start(
    config: *mut wsc_config,
    conn_out: *mut *mut wsc_connector,
) -> wsc_result {
    ffi! {
        // SAFETY: the header requires a config from wsc_config_new(), not yet consumed.
        let builder = unsafe { take_handle(config) }.ok_or_else(|| FfiError::null("config"))?;
        let conn_out = arg_out!(conn_out);
        let ConfigBuilder {
            config,
            callbacks,
            inline_dispatch,
            ..
        } = *builder;
        if inline_dispatch && !callbacks.has_triggers() {
            return Err(FfiError::new(
                wsc_result::WSC_INVALID_ARGUMENT,
                "inline dispatch needs trigger callbacks (wsc_config_on_*)",
            ));
        }
        let mut callbacks = callbacks;
        callbacks.inline = inline_dispatch;
        let callbacks = Arc::new(callbacks);
        let conn = into_handle::<wsc_connector>(ConnectorState {
            core: OnceLock::new(),
            starting: Mutex::new(()),
            callbacks: callbacks.clone(),
        });
        // SAFETY: just made above; freed only below on failure or by wsc_connector_free().
        let state = unsafe { &*conn.cast::<ConnectorState>() };
        let starting = state.starting.lock().unwrap_or_else(|e| e.into_inner());
        let mut builder = Connector::builder(config);
        if callbacks.has_triggers() {
            let handler = CallbackHandler {
                conn: ConnectorPtr(conn),
                callbacks: callbacks.clone(),
            };
            builder = if inline_dispatch {
                builder.on_event_inline(handler)
            } else {
                builder.on_event(handler)
            };
        }
        if callbacks.authorizer.is_some() {
            let for_auth = callbacks.clone();
            builder = builder
                .authorizer(move |request: &crate::AuthRequest| for_auth.authorize(request));
        }
        if callbacks.header_refresher.is_some() {
            let for_refresh = callbacks.clone();
            builder = builder.header_refresher(move |socket: &crate::Socket, attempt: u32| {
                for_refresh.refresh_headers(socket, attempt)
            });
        }
        drop(callbacks);
        match builder.start() {
            Ok(connector) => {
                let _ = state.core.set(connector);
                drop(starting);
                conn_out.set(conn);
                Ok(())
            }
            Err(e) => {
                drop(starting);
                // SAFETY: made above, never handed out; no dispatcher runs (start failed).
                drop(unsafe { take_handle(conn) });
                Err(e.into())
            }
        }
    }
}

/// Stops the connector: stops accepting, closes every socket with 1001 (going away), waits up
/// to the stop timeout for queued sends and close handshakes, delivers every remaining event
/// (each socket's closed event included), and ends its threads. Blocks until done; again is a
/// no-op. Operations afterwards fail with WSC_STOPPED.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_STATE (called from one of its own callbacks).
/// Any thread but the connector's own callbacks.
#[no_mangle]
pub extern "C" fn wsc_connector_stop(conn: *const wsc_connector) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        conn.not_from_own_callback("stopped")?;
        conn.core()?.stop()?;
        Ok(())
    }
}

/// Stops the connector (see wsc_connector_stop()), waits for authorization hooks under way,
/// runs the userdata free functions of its callbacks, and frees it; NULL is a no-op. No
/// callback runs after it returns. From inside one of its own callbacks it fails with
/// WSC_INVALID_STATE and changes nothing. No other thread may use `conn` during or after.
#[no_mangle]
pub extern "C" fn wsc_connector_free(conn: *mut wsc_connector) -> wsc_result {
    ffi! {
        let Some(state) = arg_opt_ref!(conn) else {
            return Ok(());
        };
        state.not_from_own_callback("freed")?;
        state.core()?.stop()?;
        state.callbacks.close();
        // SAFETY: a connector from wsc_connector_start(); its dispatcher has ended (stopped
        // above), so nothing else refers to it.
        drop(unsafe { take_handle(conn) });
        Ok(())
    }
}

/// The port the listener is bound to (the OS's choice when 0 was configured).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_STATE (no listener). Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_local_port(
    conn: *const wsc_connector,
    port_out: *mut u16,
) -> wsc_result {
    accessor!(conn, port_out, |conn| Ok(listener_addr(conn)?.port()))
}

/// The listener's address as text ("127.0.0.1:8080"), copied with a NUL into `buf` of
/// `capacity` bytes; its length without the NUL goes to `*len_out`.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_STATE (no listener), WSC_BUFFER_TOO_SMALL (`*len_out`
/// is then the length needed). Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_local_addr(
    conn: *const wsc_connector,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let len_out = arg_out!(len_out);
        copy_to_buffer(&listener_addr(conn)?.to_string(), buf, capacity, len_out)
    }
}

fn listener_addr(conn: &ConnectorState) -> FfiResult<std::net::SocketAddr> {
    conn.core()?.local_addr().ok_or_else(|| {
        FfiError::new(
            wsc_result::WSC_INVALID_STATE,
            "the connector has no listener",
        )
    })
}

/// Whether the connector is running (not stopping or stopped). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_connector_is_running(
    conn: *const wsc_connector,
    running_out: *mut bool,
) -> wsc_result {
    accessor!(conn, running_out, |conn| Ok(conn.core()?.is_running()))
}

/// Opens an outbound socket to a "ws://" or "wss://" `url` (or a path on the client base, the
/// "client_host" setting and its kin; `{name}` templates are filled from the options' URI
/// parameters) with `options` (NULL for none; not consumed) and blocks until the handshake is
/// done or failed (redirects followed, through the proxy if one applies). The first connection
/// is not retried: a reconnect policy applies once the socket is up. When `id_buf` is not NULL
/// it must hold `capacity` >= WSC_SOCKET_ID_SIZE bytes and receives the socket's ID with a NUL.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_BUFFER_TOO_SMALL (checked before
/// connecting), WSC_INVALID_ARGUMENT (URL, header, template, policy), WSC_INVALID_SOCKET_ID,
/// WSC_NON_UNIQUE_SOCKET_ID, WSC_DNS, WSC_CONNECTIVITY (also a proxy's refusal, with its
/// status), WSC_TLS, WSC_HANDSHAKE (the HTTP status is in wsc_last_error_http_status()),
/// WSC_BASIC_AUTHENTICATION (401 to the basic credentials of the settings), WSC_LIMIT_EXCEEDED
/// (max_outbound_connections), WSC_TIMEOUT, WSC_STOPPED, WSC_INVALID_STATE (from an inline
/// callback, see wsc_config_set_inline_dispatch()).
/// Any thread, including a callback (which then waits for the connect), but an inline one.
#[no_mangle]
pub extern "C" fn wsc_connector_open_outbound(
    conn: *const wsc_connector,
    url: *const c_char,
    options: *const wsc_outbound_options,
    id_buf: *mut c_char,
    capacity: usize,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let url = arg_str!(url);
        let options = arg_opt_ref!(options).cloned().unwrap_or_else(OutboundOptions::new);
        if !id_buf.is_null() && capacity < WSC_SOCKET_ID_SIZE {
            return Err(FfiError::new(
                wsc_result::WSC_BUFFER_TOO_SMALL,
                format!(
                    "the ID buffer holds {capacity} bytes; \
                     WSC_SOCKET_ID_SIZE ({WSC_SOCKET_ID_SIZE}) are needed"
                ),
            ));
        }
        let id = conn.core()?.open_outbound(url, options)?;
        if !id_buf.is_null() {
            let mut len = 0;
            copy_to_buffer(id.as_str(), id_buf, capacity, Out::new(&mut len, "len")?)?;
        }
        Ok(())
    }
}

/// What a send did with the message.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_delivery {
    /// Queued for the socket.
    WSC_DELIVERY_QUEUED = 1,
    /// Queued; older queued messages were dropped to make room (drop-oldest policy).
    WSC_DELIVERY_QUEUED_DROPPING_OLDEST = 2,
    /// The queue was full: the message was dropped (drop-newest policy).
    WSC_DELIVERY_DROPPED_NEWEST = 3,
    /// The queue was full: the socket is closing with 1013 (close policy).
    WSC_DELIVERY_CLOSED_SLOW_CONSUMER = 4,
    /// The socket is reconnecting (or, in lazy mode, waits for a message to reconnect): the
    /// message waits in its queue and leaves, in order, once it has reconnected.
    WSC_DELIVERY_BUFFERED = 5,
}

/// Writes what a send did to the caller's optional out pointers.
pub(crate) fn set_delivery(
    delivery: Delivery,
    delivery_out: *mut wsc_delivery,
    dropped_oldest_out: *mut usize,
) {
    let (delivery, dropped) = match delivery {
        Delivery::Queued => (wsc_delivery::WSC_DELIVERY_QUEUED, 0),
        Delivery::QueuedDroppingOldest(n) => (wsc_delivery::WSC_DELIVERY_QUEUED_DROPPING_OLDEST, n),
        Delivery::DroppedNewest => (wsc_delivery::WSC_DELIVERY_DROPPED_NEWEST, 0),
        Delivery::ClosedSlowConsumer => (wsc_delivery::WSC_DELIVERY_CLOSED_SLOW_CONSUMER, 0),
        Delivery::Buffered => (wsc_delivery::WSC_DELIVERY_BUFFERED, 0),
    };
    if let Some(out) = Out::optional(delivery_out) {
        out.set(delivery);
    }
    if let Some(out) = Out::optional(dropped_oldest_out) {
        out.set(dropped);
    }
}

/// Queues a message of `kind` (a wsc_message_kind; text must be UTF-8) with `len` bytes at
/// `data` (NULL when `len` is 0) for the socket with this ID. The bytes are copied, except the
/// payload a message callback was handed (or part of it), which a send from that callback
/// passes on without a copy; the buffer need not outlive the call either way. Messages to one
/// socket leave in the order queued. `delivery_out` and `dropped_oldest_out` may be NULL; the
/// latter counts the older messages the drop-oldest policy discarded. To reply from a
/// callback, wsc_socket_send() on the socket it was handed saves the ID copy and lookup.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (kind), WSC_NO_SUCH_SOCKET
/// (no open socket has this ID, or it is closing), WSC_REMOTELY_CLOSED (the peer is closing
/// it), WSC_QUEUE_FULL (fail policy), WSC_LIMIT_EXCEEDED (larger than the send queue's byte
/// bound: checked before `data` is read, so a wrong huge `len` is refused, not read past),
/// WSC_RECONNECTING (an outbound socket reconnecting under the fail policy; under the buffer
/// policy the send succeeds with WSC_DELIVERY_BUFFERED), WSC_STOPPED. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_send(
    conn: *const wsc_connector,
    socket_id: *const c_char,
    kind: u32,
    data: *const u8,
    len: usize,
    delivery_out: *mut wsc_delivery,
    dropped_oldest_out: *mut usize,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let socket_id = arg_str!(socket_id);
        let core = conn.core()?;
        // SAFETY: the header requires `len` readable bytes at `data`.
        let message = unsafe { payload::from_c(kind, data, len, core.shared.send_queue_bytes(), None) }?;
        let delivery = core.send(socket_id, message)?;
        set_delivery(delivery, delivery_out, dropped_oldest_out);
        Ok(())
    }
}

/// Subscribes a socket to `groups` (`count` strings); groups it has already are ignored.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (a bad group name),
/// WSC_NO_SUCH_SOCKET, WSC_STOPPED. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_subscribe(
    conn: *const wsc_connector,
    socket_id: *const c_char,
    groups: *const *const c_char,
    count: usize,
) -> wsc_result {
    change_groups(conn, socket_id, groups, count, |c, id, g| {
        c.subscribe(id, g)
    })
}

/// Unsubscribes a socket from `groups`; groups it does not have are ignored. Errors as
/// wsc_connector_subscribe(). Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_unsubscribe(
    conn: *const wsc_connector,
    socket_id: *const c_char,
    groups: *const *const c_char,
    count: usize,
) -> wsc_result {
    change_groups(conn, socket_id, groups, count, |c, id, g| {
        c.unsubscribe(id, g)
    })
}

/// Subscribes or unsubscribes a socket.
fn change_groups(
    conn: *const wsc_connector,
    socket_id: *const c_char,
    groups: *const *const c_char,
    count: usize,
    change: impl FnOnce(&Connector, &str, &[&str]) -> crate::Result<()>,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let socket_id = arg_str!(socket_id);
        change(conn.core()?, socket_id, &arg_strs!(groups, count))?;
        Ok(())
    }
}

/// The filter argument: NULL selects every socket.
fn filter_or_all(filter: Option<&SocketFilter>) -> Cow<'_, SocketFilter> {
    filter.map_or_else(|| Cow::Owned(SocketFilter::all()), Cow::Borrowed)
}

/// Queues one message (made as by wsc_connector_send()) for every socket that matches `filter`
/// (NULL: every socket). When `result_out` is not NULL it receives the outcome (delivered count
/// and failures); free it with wsc_broadcast_result_free(). With a cluster, every node's
/// matching sockets get it, and the result adds up the nodes that answered within the
/// cluster's timeout (wsc_broadcast_result_nodes_answered()).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (kind, a group name),
/// WSC_LIMIT_EXCEEDED (larger than the send queue's byte bound, so it fits no socket: sent to
/// none; checked before `data` is read), WSC_CONNECTIVITY (the cluster's backplane is
/// unreachable: sent to none), WSC_STOPPED. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_broadcast(
    conn: *const wsc_connector,
    filter: *const wsc_filter,
    kind: u32,
    data: *const u8,
    len: usize,
    result_out: *mut *mut wsc_broadcast_result,
) -> wsc_result {
    // SAFETY: the header requires `len` readable bytes at `data`.
    unsafe { broadcast_from_c(conn, filter, kind, data, len, result_out, true) }
}

/// wsc_connector_broadcast() (`wait`) and wsc_connector_publish().
///
/// # Safety
/// `len` readable bytes at `data`, as the header requires of both.
unsafe fn broadcast_from_c(
    conn: *const wsc_connector,
    filter: *const wsc_filter,
    kind: u32,
    data: *const u8,
    len: usize,
    result_out: *mut *mut wsc_broadcast_result,
    wait: bool,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let filter = filter_or_all(arg_opt_ref!(filter));
        let core = conn.core()?;
        // SAFETY: the caller passes `len` readable bytes at `data`.
        let message = unsafe { payload::from_c(kind, data, len, core.shared.send_queue_bytes(), None) }?;
        let result = if wait {
            core.broadcast(message, &filter)
        } else {
            core.publish(message, &filter)
        }?;
        if let Some(out) = Out::optional(result_out) {
            out.set(into_handle::<wsc_broadcast_result>(result));
        }
        Ok(())
    }
}

/// Like wsc_connector_broadcast(), without waiting for the cluster's other nodes: delivered here
/// and queued for the backplane; the result counts this node's sockets. Without a cluster, the
/// same as wsc_connector_broadcast(). Errors: as wsc_connector_broadcast(). Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_publish(
    conn: *const wsc_connector,
    filter: *const wsc_filter,
    kind: u32,
    data: *const u8,
    len: usize,
    result_out: *mut *mut wsc_broadcast_result,
) -> wsc_result {
    // SAFETY: the header requires `len` readable bytes at `data`.
    unsafe { broadcast_from_c(conn, filter, kind, data, len, result_out, false) }
}

/// How many open sockets match `filter` (NULL: every socket) on every node of the cluster that
/// answers within its timeout (this node alone without a cluster).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (a group name), WSC_CONNECTIVITY (the
/// backplane is unreachable), WSC_STOPPED. Any thread; may wait up to the cluster's timeout.
#[no_mangle]
pub extern "C" fn wsc_connector_cluster_socket_count(
    conn: *const wsc_connector,
    filter: *const wsc_filter,
    count_out: *mut usize,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let filter = filter_or_all(arg_opt_ref!(filter));
        let count_out = arg_out!(count_out);
        count_out.set(conn.core()?.cluster_socket_count(&filter)?);
        Ok(())
    }
}

/// Lists the open sockets that match `filter` (NULL: every socket) on every node of the
/// cluster that answers within its timeout (this node alone without a cluster; each node lists
/// at most 10,000); free the list with wsc_cluster_socket_list_free().
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (a group name), WSC_CONNECTIVITY (the
/// backplane is unreachable), WSC_STOPPED. Any thread; may wait up to the cluster's timeout.
#[no_mangle]
pub extern "C" fn wsc_connector_cluster_sockets(
    conn: *const wsc_connector,
    filter: *const wsc_filter,
    list_out: *mut *mut wsc_cluster_socket_list,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let filter = filter_or_all(arg_opt_ref!(filter));
        let list_out = arg_out!(list_out);
        let sockets = conn.core()?.cluster_sockets(&filter)?;
        list_out.set(into_handle::<wsc_cluster_socket_list>(sockets));
        Ok(())
    }
}

/// This node's name in its cluster, copied with a NUL into `buf` of `capacity` bytes; its length
/// without the NUL goes to `*len_out`. Errors: WSC_NULL_POINTER, WSC_INVALID_STATE (no
/// cluster), WSC_BUFFER_TOO_SMALL (`*len_out` is then the length needed). Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_node_name(
    conn: *const wsc_connector,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let len_out = arg_out!(len_out);
        let core = conn.core()?;
        let node = core.node_name().ok_or_else(|| {
            FfiError::new(wsc_result::WSC_INVALID_STATE, "the connector has no cluster")
        })?;
        copy_to_buffer(node, buf, capacity, len_out)
    }
}

/// Waits up to `timeout_ms` for the cluster's backplane to be reachable (at once while it is,
/// and without a cluster). Errors: WSC_NULL_POINTER, WSC_TIMEOUT, WSC_STOPPED. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_wait_for_cluster(
    conn: *const wsc_connector,
    timeout_ms: u64,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        conn.core()?.wait_for_cluster(std::time::Duration::from_millis(timeout_ms))?;
        Ok(())
    }
}

/// Closes one socket with `code` (1000-1003, 1007-1014, 3000-4999) and `reason` (at most 123
/// bytes; NULL for none). Messages queued before leave first; messages arriving afterwards are
/// not delivered; its socket-closed event follows. Closing a closing socket is a no-op.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (code, reason),
/// WSC_NO_SUCH_SOCKET, WSC_STOPPED. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_close(
    conn: *const wsc_connector,
    socket_id: *const c_char,
    code: u16,
    reason: *const c_char,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let socket_id = arg_str!(socket_id);
        let reason = arg_opt_str!(reason).unwrap_or_default();
        conn.core()?.close(socket_id, code, reason)?;
        Ok(())
    }
}

/// Closes every socket that matches `filter` (NULL: every socket) like wsc_connector_close();
/// `count_out` (may be NULL) receives how many began to close, outbound sockets that are
/// reconnecting (or waiting to, in lazy mode) among them: they close at once and count like the
/// others. With a cluster, on every node that answers within its timeout.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT, WSC_STOPPED. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_bulk_close(
    conn: *const wsc_connector,
    filter: *const wsc_filter,
    code: u16,
    reason: *const c_char,
    count_out: *mut usize,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let filter = filter_or_all(arg_opt_ref!(filter));
        let reason = arg_opt_str!(reason).unwrap_or_default();
        let count = conn.core()?.bulk_close(&filter, code, reason)?;
        if let Some(out) = Out::optional(count_out) {
            out.set(count);
        }
        Ok(())
    }
}

/// Looks up the open socket with this ID; `*socket_out` is a handle the caller owns (free it
/// with wsc_socket_free()) whose attributes stay readable after the socket closes.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_NO_SUCH_SOCKET. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_socket(
    conn: *const wsc_connector,
    socket_id: *const c_char,
    socket_out: *mut *mut wsc_socket,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let socket_id = arg_str!(socket_id);
        let socket_out = arg_out!(socket_out);
        let socket = conn.core()?.socket(socket_id)?;
        socket_out.set(into_handle::<wsc_socket>(SocketView::new(socket)));
        Ok(())
    }
}

/// Lists the open sockets that match `filter` (NULL: every socket); free the list with
/// wsc_socket_list_free(). Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (a group name).
/// Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_sockets(
    conn: *const wsc_connector,
    filter: *const wsc_filter,
    list_out: *mut *mut wsc_socket_list,
) -> wsc_result {
    ffi! {
        let conn = arg_ref!(conn);
        let filter = filter_or_all(arg_opt_ref!(filter));
        let list_out = arg_out!(list_out);
        let sockets = conn.core()?.sockets(&filter)?;
        let views = sockets.into_iter().map(SocketView::new).collect();
        list_out.set(into_handle::<wsc_socket_list>(views));
        Ok(())
    }
}

/// How many sockets are open. Errors: WSC_NULL_POINTER. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_socket_count(
    conn: *const wsc_connector,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(conn, count_out, |conn| Ok(conn.core()?.socket_count()))
}

/// How many groups have at least one member. Errors: WSC_NULL_POINTER. Any thread.
#[no_mangle]
pub extern "C" fn wsc_connector_group_count(
    conn: *const wsc_connector,
    count_out: *mut usize,
) -> wsc_result {
    accessor!(conn, count_out, |conn| Ok(conn.core()?.group_count()))
}
