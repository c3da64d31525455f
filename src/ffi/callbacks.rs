//! The C callbacks of a connector: registration as (fn, userdata, userdata_free), calls into
//! C, the marker that tells "this thread is inside a callback of that connector" (and which
//! message it was handed), and the fence that lets free wait for authorization hooks still
//! running on pool threads.

use super::auth::{wsc_auth_decision, wsc_auth_request};
use super::connector::wsc_connector;
use super::macros::as_handle;
use super::payload::{self, Handed};
use super::reconnect::{wsc_headers, HeaderAnswer};
use super::socket::{wsc_socket, wsc_socket_state, SocketView};
use super::{wsc_bytes, wsc_message_kind, wsc_result, wsc_str};
use crate::{AuthDecision, AuthRequest, Event, Message, Routes, Socket, Trigger};
use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::sync::{Condvar, Mutex};

/// Frees a callback's userdata; runs exactly once, after the callback's last call.
pub type wsc_userdata_free_fn = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// The inbound-connection trigger: a client finished the handshake on the listener.
/// `socket` is borrowed until the callback returns. Trigger callbacks run on the connector's
/// dispatcher threads (see "Threading" at the top): for one socket one at a time, in order
/// (connection, messages, closed); for different sockets possibly at the same time. They may
/// call every operation on `conn`, but wsc_connector_stop() and wsc_connector_free() on their
/// own connector fail with WSC_INVALID_STATE. A slow callback delays its socket's later events,
/// and others' only when every dispatcher thread is busy. To refuse the socket when the
/// connection's handling fails, register a wsc_refusable_connection_fn instead. On Linux the
/// dispatcher threads run with the SCHED_BATCH policy: the I/O thread that queues an event is
/// not preempted by them, so events arrive in batches (a callback that needs the default
/// policy may set it back with sched_setscheduler()). With wsc_config_set_inline_dispatch()
/// they run on the I/O threads instead, in the same order for each socket, those of different
/// I/O threads at the same time: see there. The connection, closed and reconnect events of a
/// trigger with no callback are not made at all (no hand-off to a dispatcher thread).
pub type wsc_connection_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        conn: *mut wsc_connector,
        socket: *const wsc_socket,
    ),
>;

/// The inbound-connection trigger, able to refuse the socket: returns 0 to keep it, or a close
/// code to refuse it (its handling failed, as a Mule connection flow that fails): the socket is
/// closed with that code (1011, internal error, when it is not one that may be sent, such as
/// 1 or 1005), the messages that arrived meanwhile are dropped without reaching a callback, and
/// the socket-closed callback runs once as for any close. A socket the callback closed itself
/// keeps that close's code. Otherwise as wsc_connection_fn (threading included).
pub type wsc_refusable_connection_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        conn: *mut wsc_connector,
        socket: *const wsc_socket,
    ) -> u16,
>;

/// The inbound-message and outbound-message triggers: `socket` received a message of `kind`
/// (text payloads are UTF-8). `socket` and `payload` are borrowed until the callback returns.
/// Reply with wsc_socket_send(socket, ...): no ID to copy or look up, and a reply of `payload`
/// (or part of it) passes the message on instead of copying it. Threading as for
/// wsc_connection_fn.
pub type wsc_message_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        conn: *mut wsc_connector,
        socket: *const wsc_socket,
        kind: wsc_message_kind,
        payload: wsc_bytes,
    ),
>;

/// The socket-closed trigger: `socket` closed, whoever closed it; exactly once per socket,
/// last. `code` is the close code (1005: none given, 1006: no close handshake). `socket` and
/// `reason` are borrowed until the callback returns. Threading as for wsc_connection_fn.
pub type wsc_closed_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        conn: *mut wsc_connector,
        socket: *const wsc_socket,
        code: u16,
        reason: wsc_str,
    ),
>;

/// A reconnecting outbound socket changed state. WSC_SOCKET_RECONNECTING: its connection (or
/// its last attempt) failed, with `error` and `message` saying why, and attempt number
/// `attempt` (the first is 1) starts after `delay_ms`; one such call before each attempt.
/// WSC_SOCKET_CONNECTED: it
/// reconnected after `attempt` attempts (`delay_ms` 0, `error` WSC_OK, `message` empty); the new
/// connection's messages come after this call. `socket` and `message` are borrowed until the
/// callback returns. Comes in order with the socket's triggers (its closed trigger, once, after
/// any of these). Threading as for wsc_connection_fn.
pub type wsc_outbound_state_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        conn: *mut wsc_connector,
        socket: *const wsc_socket,
        state: wsc_socket_state,
        attempt: u32,
        delay_ms: u64,
        error: wsc_result,
        message: wsc_str,
    ),
>;

/// The header refresher: before reconnect attempt `attempt` (from 1) of the outbound `socket`,
/// gives the headers to send in place of the socket's own of the same names (a fresh bearer
/// token) with wsc_headers_add(), or fails the attempt with wsc_headers_fail(). Both are
/// borrowed until the callback returns. It runs on a pool thread, never on a dispatcher
/// thread; it may block briefly (not past the connect timeout); wsc_connector_free() waits for
/// calls under way.
pub type wsc_refresh_headers_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        socket: *const wsc_socket,
        attempt: u32,
        headers: *mut wsc_headers,
    ),
>;

/// The authorization hook: decides on an upgrade request before the 101 by filling `decision`
/// (wsc_auth_decision_accept() or wsc_auth_decision_reject(); left alone it rejects with 403).
/// Both are borrowed until the callback returns. It runs on a pool thread, possibly several at
/// once, never on a dispatcher thread; wsc_connector_free() waits for calls under way.
pub type wsc_auth_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        request: *const wsc_auth_request,
        decision: *mut wsc_auth_decision,
    ),
>;

/// The caller's userdata pointer.
struct UserData(*mut c_void);

// SAFETY: the header requires userdata to be usable from the threads the callbacks run on; the
// library only hands the pointer back to the caller's own functions.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// One registered callback with its userdata; the userdata's free runs once, on release or drop.
pub(crate) struct Callback<F> {
    f: F,
    userdata: UserData,
    free: Mutex<wsc_userdata_free_fn>,
}

impl<F: Copy> Callback<F> {
    /// A registration; `None` when `f` is NULL (nothing to call, nothing kept).
    pub(crate) fn new(
        f: Option<F>,
        userdata: *mut c_void,
        free: wsc_userdata_free_fn,
    ) -> Option<Self> {
        f.map(|f| Callback {
            f,
            userdata: UserData(userdata),
            free: Mutex::new(free),
        })
    }

    /// Runs the userdata's free unless it already ran.
    fn release(&self) {
        let free = self.free.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(free) = free {
            // SAFETY: the caller registered `free` for this userdata; it runs once (taken above).
            unsafe { free(self.userdata.0) }
        }
    }
}

impl<F> Drop for Callback<F> {
    fn drop(&mut self) {
        if let Some(free) = self
            .free
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            // SAFETY: as in `release`; nothing can call the callback any more.
            unsafe { free(self.userdata.0) }
        }
    }
}

/// Every callback a connector was configured with; the four triggers' per path pattern and
/// catch-all (see `crate::Routes` for which one an event goes to).
#[derive(Default)]
pub(crate) struct Callbacks {
    pub inbound_connection: Routes<Callback<ConnectionFn>>,
    pub inbound_message: Routes<Callback<MessageFn>>,
    pub outbound_message: Routes<Callback<MessageFn>>,
    pub socket_closed: Routes<Callback<ClosedFn>>,
    pub outbound_state: Option<Callback<OutboundStateFn>>,
    pub authorizer: Option<Callback<AuthFn>>,
    pub header_refresher: Option<Callback<RefreshHeadersFn>>,
    /// The hooks (authorizer, header refresher) run on pool threads: free waits for them.
    hook_fence: Fence,
    /// Events come inline, on the I/O threads (wsc_config_set_inline_dispatch()): a message
    /// callback runs in its socket's own handler, with the reply slot open.
    pub inline: bool,
}

/// The inbound-connection callback, of either kind.
#[derive(Clone, Copy)]
pub(crate) enum ConnectionFn {
    Plain(unsafe extern "C" fn(*mut c_void, *mut wsc_connector, *const wsc_socket)),
    Refusable(unsafe extern "C" fn(*mut c_void, *mut wsc_connector, *const wsc_socket) -> u16),
}
pub(crate) type MessageFn = unsafe extern "C" fn(
    *mut c_void,
    *mut wsc_connector,
    *const wsc_socket,
    wsc_message_kind,
    wsc_bytes,
);
pub(crate) type ClosedFn =
    unsafe extern "C" fn(*mut c_void, *mut wsc_connector, *const wsc_socket, u16, wsc_str);
type OutboundStateFn = unsafe extern "C" fn(
    *mut c_void,
    *mut wsc_connector,
    *const wsc_socket,
    wsc_socket_state,
    u32,
    u64,
    wsc_result,
    wsc_str,
);
type AuthFn = unsafe extern "C" fn(*mut c_void, *const wsc_auth_request, *mut wsc_auth_decision);
type RefreshHeadersFn = unsafe extern "C" fn(*mut c_void, *const wsc_socket, u32, *mut wsc_headers);

/// What this thread is running: a callback of which set, and the message it was handed.
#[derive(Clone, Copy)]
struct Running {
    callbacks: *const Callbacks,
    /// The message of the message event being handled; NULL in other callbacks.
    handed: *const Handed,
}

/// A thread's part in calling back: what it runs, and the buffer in which it shows small
/// payloads to message callbacks (see `payload`). One thread-local, looked up once per event.
struct ThreadState {
    running: Cell<Running>,
    scratch: RefCell<Vec<u8>>,
}

thread_local! {
    static THREAD: ThreadState = const {
        ThreadState {
            running: Cell::new(Running {
                callbacks: std::ptr::null(),
                handed: std::ptr::null(),
            }),
            scratch: RefCell::new(Vec::new()),
        }
    };
}

/// Marks the thread as inside a callback of a set, for the duration of the guard; no mark
/// without the thread's state (inline dispatch, see `Callbacks::dispatch`).
struct Current<'a> {
    thread: Option<&'a ThreadState>,
    before: Running,
}

impl<'a> Current<'a> {
    /// `handed` (of a message event) must outlive the guard.
    fn enter(
        thread: Option<&'a ThreadState>,
        callbacks: &Callbacks,
        handed: Option<&Handed>,
    ) -> Self {
        let running = Running {
            callbacks,
            handed: handed.map_or(std::ptr::null(), |h| h as *const Handed),
        };
        Current {
            thread,
            before: thread.map_or(running, |thread| thread.running.replace(running)),
        }
    }
}

impl Drop for Current<'_> {
    fn drop(&mut self) {
        if let Some(thread) = self.thread {
            thread.running.set(self.before);
        }
    }
}

/// Calls `f` with the message whose message callback this thread is running, if any, so that
/// a send from that callback can pass the message on instead of copying its payload.
pub(crate) fn with_handed<R>(f: impl FnOnce(Option<&Handed>) -> R) -> R {
    let handed = THREAD.with(|t| t.running.get().handed);
    // SAFETY: non-NULL only while a `Current` guard made from a live `Handed` is in place on
    // this thread; the guard outlives the callback, and this call runs inside that callback.
    f(unsafe { handed.as_ref() })
}

impl Callbacks {
    /// Whether any trigger has a callback (else the connector runs in pull mode).
    pub(crate) fn has_triggers(&self) -> bool {
        !self.inbound_connection.is_empty()
            || !self.inbound_message.is_empty()
            || !self.outbound_message.is_empty()
            || !self.socket_closed.is_empty()
            || self.outbound_state.is_some()
    }

    /// Whether a callback is registered for `trigger` (the core hands over no connection,
    /// closed or reconnect event of the others).
    pub(crate) fn takes(&self, trigger: Trigger) -> bool {
        match trigger {
            Trigger::InboundConnection => !self.inbound_connection.is_empty(),
            Trigger::InboundMessage => !self.inbound_message.is_empty(),
            Trigger::OutboundMessage => !self.outbound_message.is_empty(),
            Trigger::SocketClosed => !self.socket_closed.is_empty(),
            Trigger::OutboundReconnecting | Trigger::OutboundReconnected => {
                self.outbound_state.is_some()
            }
        }
    }

    /// Whether the calling thread is inside one of these callbacks; `in_inline_handler`
    /// tells whether it runs the connector's inline handler (inline dispatch marks no thread
    /// state, see `dispatch`).
    pub(crate) fn is_current(&self, in_inline_handler: impl FnOnce() -> bool) -> bool {
        (self.inline && in_inline_handler())
            || THREAD.with(|t| std::ptr::eq(t.running.get().callbacks, self))
    }

    /// Hands an event to its trigger's callback for the socket's path (on a dispatcher
    /// thread, or inline on an I/O thread). A message event's message goes along (see
    /// `payload`), for sends from the callback to pass on. Inline, the thread's state is not
    /// looked up (a thread-local costs a `__tls_get_addr` call in the shared library): the
    /// core marks the thread as in its inline handler already, and a small payload is lent,
    /// not copied to the thread's buffer.
    pub(crate) fn dispatch(&self, conn: *mut wsc_connector, event: Event) {
        if self.inline {
            self.dispatch_on(None, conn, event)
        } else {
            THREAD.with(|thread| self.dispatch_on(Some(thread), conn, event))
        }
    }

    /// `dispatch` with the thread's state, if looked up. Inlined into both: one call less
    /// per event.
    #[inline(always)]
    fn dispatch_on(&self, thread: Option<&ThreadState>, conn: *mut wsc_connector, event: Event) {
        match event {
            Event::InboundConnection { socket } => {
                if let Some(cb) = self.inbound_connection.handler_for_socket(&socket) {
                    let view = SocketView::new(socket.clone());
                    let _current = Current::enter(thread, self, None);
                    let handle = as_handle::<wsc_socket>(&view);
                    // SAFETY: a C function registered for this trigger; the views outlive the
                    // call.
                    let refused = unsafe {
                        match cb.f {
                            ConnectionFn::Plain(f) => {
                                f(cb.userdata.0, conn, handle);
                                0
                            }
                            ConnectionFn::Refusable(f) => f(cb.userdata.0, conn, handle),
                        }
                    };
                    if refused != 0 {
                        socket.refuse(Some(refused));
                    }
                }
            }
            Event::InboundMessage { socket, message } => {
                let cb = self.inbound_message.handler_for_socket(&socket);
                self.message(thread, cb, conn, socket, message)
            }
            Event::OutboundMessage { socket, message } => {
                let cb = self.outbound_message.handler_for_socket(&socket);
                self.message(thread, cb, conn, socket, message)
            }
            Event::SocketClosed {
                socket,
                code,
                reason,
            } => {
                if let Some(cb) = self.socket_closed.handler_for_socket(&socket) {
                    let view = SocketView::new(socket);
                    let _current = Current::enter(thread, self, None);
                    let socket = as_handle::<wsc_socket>(&view);
                    // SAFETY: as above.
                    unsafe { (cb.f)(cb.userdata.0, conn, socket, code, wsc_str::from(&reason)) }
                }
            }
            Event::OutboundReconnecting {
                socket,
                attempt,
                delay,
                error,
            } => {
                let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                let state = wsc_socket_state::WSC_SOCKET_RECONNECTING;
                let why = (error.kind().into(), error.message());
                self.outbound_state(thread, conn, socket, state, attempt, delay_ms, why)
            }
            Event::OutboundReconnected { socket, attempts } => {
                let state = wsc_socket_state::WSC_SOCKET_CONNECTED;
                let why = (wsc_result::WSC_OK, "");
                self.outbound_state(thread, conn, socket, state, attempts, 0, why)
            }
        }
    }

    /// Hands a reconnecting socket's change of state to its callback.
    #[allow(clippy::too_many_arguments)] // the C callback's own arguments, passed through
    fn outbound_state(
        &self,
        thread: Option<&ThreadState>,
        conn: *mut wsc_connector,
        socket: Socket,
        state: wsc_socket_state,
        attempt: u32,
        delay_ms: u64,
        (error, message): (wsc_result, &str),
    ) {
        let Some(cb) = &self.outbound_state else {
            return;
        };
        let view = SocketView::new(socket);
        let _current = Current::enter(thread, self, None);
        let socket = as_handle::<wsc_socket>(&view);
        let message = wsc_str::from(message);
        // SAFETY: a C function registered for this event; the views outlive the call.
        unsafe {
            (cb.f)(
                cb.userdata.0,
                conn,
                socket,
                state,
                attempt,
                delay_ms,
                error,
                message,
            )
        }
    }

    /// Hands a message event to `cb`, with its message for the sends the callback makes.
    #[inline(always)]
    fn message(
        &self,
        thread: Option<&ThreadState>,
        cb: Option<&Callback<MessageFn>>,
        conn: *mut wsc_connector,
        socket: Socket,
        message: Message,
    ) {
        let Some(cb) = cb else {
            return;
        };
        let kind = message.kind().into();
        let scratch = thread.map(|thread| &thread.scratch);
        payload::hand(message, scratch, |handed, payload| {
            let view = SocketView::handed(socket, handed);
            let socket = as_handle::<wsc_socket>(&view);
            let _current = Current::enter(thread, self, Some(handed));
            // SAFETY: a C function registered for this trigger; the views outlive the call.
            unsafe { (cb.f)(cb.userdata.0, conn, socket, kind, wsc_bytes::from(payload)) }
        })
    }

    /// Asks the authorization hook (on a pool thread); refuses with 503 once the connector
    /// is being freed, and with 403 when the hook decides nothing.
    pub(crate) fn authorize(&self, request: &AuthRequest) -> AuthDecision {
        let Some(cb) = &self.authorizer else {
            return AuthDecision::accept();
        };
        let Some(_running) = self.hook_fence.enter() else {
            return AuthDecision::reject(503, "the connector is shutting down");
        };
        let mut decision = AuthDecision::reject(403, "the authorization hook made no decision");
        THREAD.with(|thread| {
            let _current = Current::enter(Some(thread), self, None);
            // SAFETY: a C function registered as the hook; the views outlive the call.
            unsafe {
                (cb.f)(
                    cb.userdata.0,
                    as_handle::<wsc_auth_request>(request),
                    (&mut decision as *mut AuthDecision).cast(),
                )
            }
        });
        decision
    }

    /// Asks the header refresher (on a pool thread) for the headers of reconnect attempt
    /// `attempt`; none when there is no refresher, an error when it failed the attempt or the
    /// connector is being freed.
    pub(crate) fn refresh_headers(
        &self,
        socket: &Socket,
        attempt: u32,
    ) -> crate::Result<Vec<(String, String)>> {
        let Some(cb) = &self.header_refresher else {
            return Ok(Vec::new());
        };
        let Some(_running) = self.hook_fence.enter() else {
            return Err(crate::Error::stopped());
        };
        let view = SocketView::new(socket.clone());
        let mut answer = HeaderAnswer::default();
        THREAD.with(|thread| {
            let _current = Current::enter(Some(thread), self, None);
            // SAFETY: a C function registered as the refresher; the views outlive the call.
            unsafe {
                (cb.f)(
                    cb.userdata.0,
                    as_handle::<wsc_socket>(&view),
                    attempt,
                    (&mut answer as *mut HeaderAnswer).cast(),
                )
            }
        });
        match answer.failure {
            Some(why) => Err(crate::Error::new(
                crate::ErrorKind::InvalidArgument,
                format!("the header refresher failed the attempt: {why}"),
            )),
            None => Ok(answer.headers),
        }
    }

    /// After the connector stopped: waits for hooks still running, then frees every userdata.
    /// No callback runs afterwards.
    pub(crate) fn close(&self) {
        self.hook_fence.close();
        self.inbound_connection
            .handlers()
            .for_each(Callback::release);
        self.inbound_message.handlers().for_each(Callback::release);
        self.outbound_message.handlers().for_each(Callback::release);
        self.socket_closed.handlers().for_each(Callback::release);
        if let Some(cb) = &self.outbound_state {
            cb.release();
        }
        if let Some(cb) = &self.authorizer {
            cb.release();
        }
        if let Some(cb) = &self.header_refresher {
            cb.release();
        }
    }
}

/// Counts the hook calls under way; once closed, lets none in and waits for those inside.
#[derive(Default)]
struct Fence {
    state: Mutex<(bool, usize)>,
    left: Condvar,
}

struct Inside<'a>(&'a Fence);

impl Fence {
    fn enter(&self) -> Option<Inside<'_>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 {
            return None;
        }
        state.1 += 1;
        Some(Inside(self))
    }

    fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = true;
        while state.1 > 0 {
            state = self.left.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 -= 1;
        if state.1 == 0 {
            self.0.left.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::socket::wsc_socket_send;
    use crate::ffi::wsc_result;
    use crate::queue::{reply, Outgoing, SendQueue};
    use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

    static RESULT: AtomicU32 = AtomicU32::new(u32::MAX);

    /// Echoes the handed payload with wsc_socket_send() and records the result.
    unsafe extern "C" fn echo(
        _: *mut c_void,
        _: *mut wsc_connector,
        socket: *const wsc_socket,
        kind: wsc_message_kind,
        payload: wsc_bytes,
    ) {
        let result = wsc_socket_send(
            socket,
            kind as u32,
            payload.data,
            payload.len,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        RESULT.store(result as u32, Ordering::SeqCst);
    }

    fn socket() -> Socket {
        Socket::for_tests(SendQueue::standalone(16, 1 << 20, Default::default()))
    }

    /// The message a callback's send queued: passed on, not copied, whatever its size.
    #[test]
    fn an_echo_from_a_callback_passes_the_message_on() {
        let mut callbacks = Callbacks::default();
        callbacks.inbound_message.set_catch_all(Callback::new(
            Some(echo as MessageFn),
            std::ptr::null_mut(),
            None,
        ));
        for len in [5, 5000] {
            let socket = socket();
            let message = Message::binary(vec![7u8; len]);
            let at = message.as_bytes().as_ptr();
            let event = Event::InboundMessage {
                socket: socket.clone(),
                message,
            };
            callbacks.dispatch(std::ptr::null_mut(), event);
            assert_eq!(RESULT.load(Ordering::SeqCst), wsc_result::WSC_OK as u32);
            let mut queued = Vec::new();
            socket
                .queue()
                .take(usize::MAX, |outgoing| queued.push(outgoing));
            let [Outgoing::Message(echoed)] = &queued[..] else {
                panic!("{queued:?}");
            };
            assert_eq!(echoed.as_bytes(), &vec![7u8; len][..]);
            assert_eq!(echoed.as_bytes().as_ptr(), at, "{len}");
        }
        // Outside a callback, nothing is handed.
        assert!(with_handed(|handed| handed.is_none()));
    }

    static SHOWN: AtomicUsize = AtomicUsize::new(0);

    /// Records where the payload was shown, and echoes it twice.
    unsafe extern "C" fn echo_twice(
        userdata: *mut c_void,
        conn: *mut wsc_connector,
        socket: *const wsc_socket,
        kind: wsc_message_kind,
        payload: wsc_bytes,
    ) {
        SHOWN.store(payload.data as usize, Ordering::SeqCst);
        echo(userdata, conn, socket, kind, payload);
        echo(userdata, conn, socket, kind, payload);
    }

    /// Inline, a small payload is shown where it is, and an echo on the socket's view goes
    /// into the reply slot as the received message itself; a second echo is a copy, queued.
    /// Without the slot open (another socket's handler), the echo is a copy.
    #[test]
    fn inline_a_small_echo_is_the_message_itself_in_the_reply_slot() {
        let mut callbacks = Callbacks {
            inline: true,
            ..Callbacks::default()
        };
        callbacks.inbound_message.set_catch_all(Callback::new(
            Some(echo_twice as MessageFn),
            std::ptr::null_mut(),
            None,
        ));
        let dispatch = |socket: &Socket| {
            let message = Message::text("ping");
            let at = message.as_bytes().as_ptr() as usize;
            let event = Event::InboundMessage {
                socket: socket.clone(),
                message,
            };
            callbacks.dispatch(std::ptr::null_mut(), event);
            assert_eq!(SHOWN.load(Ordering::SeqCst), at);
            assert_eq!(RESULT.load(Ordering::SeqCst), wsc_result::WSC_OK as u32);
            at
        };
        let queued = |socket: &Socket| {
            let mut queued = Vec::new();
            socket.queue().take(usize::MAX, |outgoing| match outgoing {
                Outgoing::Message(m) => queued.push(m),
                other => panic!("{other:?}"),
            });
            queued
        };
        let socket = socket();
        let mut at = 0;
        let reply = reply::collect(std::ptr::null(), socket.queue(), || at = dispatch(&socket));
        let Some(Outgoing::Message(echoed)) = reply else {
            panic!("{reply:?}");
        };
        assert_eq!(
            (echoed.as_bytes(), echoed.as_bytes().as_ptr() as usize),
            (&b"ping"[..], at)
        );
        assert!(echoed.is_text());
        let [copy] = &queued(&socket)[..] else {
            panic!("one copy queued");
        };
        assert_eq!(copy.as_bytes(), b"ping");
        assert_ne!(copy.as_bytes().as_ptr() as usize, at);

        let other = self::socket();
        let reply = reply::collect(std::ptr::null(), other.queue(), || at = dispatch(&socket));
        assert!(reply.is_none());
        let copies = queued(&socket);
        assert_eq!(copies.len(), 2);
        assert!(copies.iter().all(|m| m.as_bytes() == b"ping"));
        assert!(copies.iter().all(|m| m.as_bytes().as_ptr() as usize != at));
    }
}
