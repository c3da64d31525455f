//! The four triggers and a reconnecting socket's changes of state as Python objects, and the
//! event handler that calls their callbacks on the core's dispatcher threads.
//!
//! The core's dispatcher pool waits for events without the GIL and hands each socket's events
//! to one thread at a time, in order; the handler takes the GIL only to call back, so a
//! callback that waits on I/O (releasing the GIL) lets the other threads' callbacks run.

use crate::errors;
use crate::logging::log_exception;
use crate::payload;
use crate::socket::PySocket;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::MutexExt;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use wsconnector::{ConnectorHandle, Error, Event, EventBatch, EventHandler, Routes, Trigger};

/// Most events taken from the core per batch.
pub(crate) const BATCH: usize = 256;

/// A client finished the handshake on the listener.
#[pyclass(module = "wsconnector", frozen, get_all)]
pub(crate) struct InboundConnection {
    /// The new socket.
    socket: Py<PySocket>,
}

/// An inbound socket received a message (`str` for text, `bytes` for binary).
#[pyclass(module = "wsconnector", frozen, get_all)]
pub(crate) struct InboundMessage {
    /// The socket it arrived on.
    socket: Py<PySocket>,
    /// The message: `str` for text, `bytes` for binary.
    message: Py<PyAny>,
}

/// An outbound socket received a message (`str` for text, `bytes` for binary).
#[pyclass(module = "wsconnector", frozen, get_all)]
pub(crate) struct OutboundMessage {
    /// The socket it arrived on.
    socket: Py<PySocket>,
    /// The message: `str` for text, `bytes` for binary.
    message: Py<PyAny>,
}

/// A socket closed, whoever closed it; the last event of every socket.
#[pyclass(module = "wsconnector", frozen, get_all)]
pub(crate) struct SocketClosed {
    /// The socket, no longer open.
    socket: Py<PySocket>,
    /// The close code: the peer's or ours; 1005 when none was given, 1006 when the connection
    /// ended without a close handshake.
    code: u16,
    /// The close reason.
    reason: String,
}

/// An outbound socket with a reconnect policy lost its connection (or its last attempt
/// failed), and attempt `attempt` (from 1) starts after `delay` seconds. Its `state` is
/// `"reconnecting"` meanwhile; it keeps its ID and groups.
#[pyclass(module = "wsconnector", frozen, get_all)]
pub(crate) struct OutboundReconnecting {
    /// The socket.
    socket: Py<PySocket>,
    /// The attempt about to be made, from 1.
    attempt: u32,
    /// Seconds it waits before the attempt (a random part of the policy's bound).
    delay: f64,
    /// Why the connection or the previous attempt failed: a `WebSocketError`.
    error: Py<PyAny>,
}

/// An outbound socket reconnected after `attempts` attempts; the messages of its new
/// connection come after this event.
#[pyclass(module = "wsconnector", frozen, get_all)]
pub(crate) struct OutboundReconnected {
    /// The socket.
    socket: Py<PySocket>,
    /// How many attempts it took.
    attempts: u32,
}

#[pymethods]
impl OutboundReconnecting {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str, &'static str) {
        ("socket", "attempt", "delay", "error")
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "OutboundReconnecting({}, {}, {}, {})",
            self.socket.get().__repr__(),
            self.attempt,
            self.delay,
            self.error.bind(py).repr()?
        ))
    }
}

#[pymethods]
impl OutboundReconnected {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("socket", "attempts")
    }

    fn __repr__(&self) -> String {
        format!(
            "OutboundReconnected({}, {})",
            self.socket.get().__repr__(),
            self.attempts
        )
    }
}

#[pymethods]
impl InboundConnection {
    #[classattr]
    fn __match_args__() -> (&'static str,) {
        ("socket",)
    }

    fn __repr__(&self) -> String {
        format!("InboundConnection({})", self.socket.get().__repr__())
    }
}

#[pymethods]
impl InboundMessage {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("socket", "message")
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "InboundMessage({}, {})",
            self.socket.get().__repr__(),
            self.message.bind(py).repr()?
        ))
    }
}

#[pymethods]
impl OutboundMessage {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("socket", "message")
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "OutboundMessage({}, {})",
            self.socket.get().__repr__(),
            self.message.bind(py).repr()?
        ))
    }
}

#[pymethods]
impl SocketClosed {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("socket", "code", "reason")
    }

    fn __repr__(&self) -> String {
        format!(
            "SocketClosed({}, {}, {:?})",
            self.socket.get().__repr__(),
            self.code,
            self.reason
        )
    }
}

/// The Python object of each socket that has had an event and not yet its closed event, so
/// that every event of a socket hands out the same `Socket` (and its strings, made once).
#[derive(Default)]
pub(crate) struct SocketObjects {
    /// Keyed by the address of the socket's ID, which the `Socket` held in the value keeps
    /// alive: two sockets in the map never share it.
    objects: HashMap<usize, Py<PySocket>>,
}

impl SocketObjects {
    /// The object of the socket of `event`; for its closed event (the last), the object is
    /// forgotten.
    fn of(&mut self, py: Python<'_>, event: &Event) -> PyResult<Py<PySocket>> {
        let socket = event.socket();
        if matches!(event, Event::SocketClosed { .. }) {
            return self
                .forget(socket)
                .map_or_else(|| Py::new(py, PySocket::new(socket.clone())), Ok);
        }
        if let Some(object) = self.objects.get(&Self::key(socket)) {
            return Ok(object.clone_ref(py));
        }
        let object = Py::new(py, PySocket::new(socket.clone()))?;
        self.objects.insert(Self::key(socket), object.clone_ref(py));
        Ok(object)
    }

    /// Removes the socket's object, if it has one (its closed event has come).
    fn forget(&mut self, socket: &wsconnector::Socket) -> Option<Py<PySocket>> {
        self.objects.remove(&Self::key(socket))
    }

    fn key(socket: &wsconnector::Socket) -> usize {
        socket.id().as_str().as_ptr() as usize
    }
}

/// An event as its Python object.
pub(crate) fn to_py(
    py: Python<'_>,
    sockets: &mut SocketObjects,
    event: Event,
) -> PyResult<Py<PyAny>> {
    let socket = sockets.of(py, &event)?;
    Ok(match event {
        Event::InboundConnection { .. } => Py::new(py, InboundConnection { socket })?.into_any(),
        Event::InboundMessage { message, .. } => Py::new(
            py,
            InboundMessage {
                socket,
                message: payload::to_py(py, &message).unbind(),
            },
        )?
        .into_any(),
        Event::OutboundMessage { message, .. } => Py::new(
            py,
            OutboundMessage {
                socket,
                message: payload::to_py(py, &message).unbind(),
            },
        )?
        .into_any(),
        Event::SocketClosed { code, reason, .. } => Py::new(
            py,
            SocketClosed {
                socket,
                code,
                reason,
            },
        )?
        .into_any(),
        Event::OutboundReconnecting {
            attempt,
            delay,
            error,
            ..
        } => Py::new(
            py,
            OutboundReconnecting {
                socket,
                attempt,
                delay: delay.as_secs_f64(),
                error: errors::to_py(py, &error).into_value(py).into_any(),
            },
        )?
        .into_any(),
        Event::OutboundReconnected { attempts, .. } => {
            Py::new(py, OutboundReconnected { socket, attempts })?.into_any()
        }
    })
}

/// Takes the events that are ready, up to `BATCH`, into `batch` (releasing what it held),
/// waiting up to `timeout` (forever with `None`) for the first. Runs without the GIL. The
/// events count against the core's event queue bounds until `batch` is released or refilled,
/// so a slow callback holds no more than those bounds. `Err(Stopped)` once the connector has
/// stopped and every event has been taken.
pub(crate) fn take_batch(
    handle: &ConnectorHandle,
    batch: &mut EventBatch,
    timeout: Option<Duration>,
) -> Result<(), Error> {
    handle.next_events(batch, BATCH, timeout)
}

/// The callbacks of the four triggers (each per path pattern and catch-all, see
/// `wsconnector::Routes`) and of a reconnecting socket's changes of state, fixed when the
/// connector starts.
#[derive(Default)]
pub(crate) struct Triggers {
    pub inbound_connection: Routes<Py<PyAny>>,
    pub inbound_message: Routes<Py<PyAny>>,
    pub outbound_message: Routes<Py<PyAny>>,
    pub socket_closed: Routes<Py<PyAny>>,
    pub outbound_reconnecting: Option<Py<PyAny>>,
    pub outbound_reconnected: Option<Py<PyAny>>,
}

impl Triggers {
    /// Whether any trigger has a callback (else events wait for `next_events`).
    pub(crate) fn any(&self) -> bool {
        self.all().next().is_some()
    }

    /// Whether `trigger` has a callback.
    pub(crate) fn has(&self, trigger: Trigger) -> bool {
        match trigger {
            Trigger::InboundConnection => !self.inbound_connection.is_empty(),
            Trigger::InboundMessage => !self.inbound_message.is_empty(),
            Trigger::OutboundMessage => !self.outbound_message.is_empty(),
            Trigger::SocketClosed => !self.socket_closed.is_empty(),
            Trigger::OutboundReconnecting => self.outbound_reconnecting.is_some(),
            Trigger::OutboundReconnected => self.outbound_reconnected.is_some(),
        }
    }

    /// The routes of a trigger that takes paths (`None` for the others).
    pub(crate) fn routes(&mut self, trigger: Trigger) -> Option<&mut Routes<Py<PyAny>>> {
        match trigger {
            Trigger::InboundConnection => Some(&mut self.inbound_connection),
            Trigger::InboundMessage => Some(&mut self.inbound_message),
            Trigger::OutboundMessage => Some(&mut self.outbound_message),
            Trigger::SocketClosed => Some(&mut self.socket_closed),
            _ => None,
        }
    }

    /// A copy sharing the callbacks, for the dispatcher threads.
    pub(crate) fn clone_ref(&self, py: Python<'_>) -> Triggers {
        let copy = |c: &Option<Py<PyAny>>| c.as_ref().map(|c| c.clone_ref(py));
        let routes = |r: &Routes<Py<PyAny>>| r.map(|c| c.clone_ref(py));
        Triggers {
            inbound_connection: routes(&self.inbound_connection),
            inbound_message: routes(&self.inbound_message),
            outbound_message: routes(&self.outbound_message),
            socket_closed: routes(&self.socket_closed),
            outbound_reconnecting: copy(&self.outbound_reconnecting),
            outbound_reconnected: copy(&self.outbound_reconnected),
        }
    }

    /// The callbacks, for the garbage collector.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Py<PyAny>> {
        let routed = [
            &self.inbound_connection,
            &self.inbound_message,
            &self.outbound_message,
            &self.socket_closed,
        ]
        .into_iter()
        .flat_map(Routes::handlers);
        let others = [&self.outbound_reconnecting, &self.outbound_reconnected]
            .into_iter()
            .flatten();
        routed.chain(others)
    }

    /// Calls the callback of one event's trigger, if it has one: the socket first, then the
    /// message, or the close code and reason. (A message whose socket the application closed
    /// before it was handed over never gets here: the core leaves it out.) An exception is
    /// logged, never raised; one raised by on_inbound_connection refuses the socket (closed
    /// with 1011, or the code the callback closed it with; the messages that waited for it are
    /// dropped). `sockets` is locked only to look the socket's object up, never across a call.
    fn deliver(&self, py: Python<'_>, sockets: &Mutex<SocketObjects>, event: Event) {
        let path = event.socket().path();
        let (callback, name) = match &event {
            Event::InboundConnection { .. } => (
                self.inbound_connection.handler_for(path),
                "on_inbound_connection",
            ),
            Event::InboundMessage { .. } => {
                (self.inbound_message.handler_for(path), "on_inbound_message")
            }
            Event::OutboundMessage { .. } => (
                self.outbound_message.handler_for(path),
                "on_outbound_message",
            ),
            Event::SocketClosed { .. } => {
                (self.socket_closed.handler_for(path), "on_socket_closed")
            }
            Event::OutboundReconnecting { .. } => (
                self.outbound_reconnecting.as_ref(),
                "on_outbound_reconnecting",
            ),
            Event::OutboundReconnected { .. } => (
                self.outbound_reconnected.as_ref(),
                "on_outbound_reconnected",
            ),
        };
        let lock = || {
            sockets
                .lock_py_attached(py)
                .unwrap_or_else(|e| e.into_inner())
        };
        let Some(callback) = callback else {
            // No callback: only the closed event matters, to forget the socket's object.
            if matches!(event, Event::SocketClosed { .. }) {
                lock().forget(event.socket());
            }
            return;
        };
        let connecting =
            matches!(event, Event::InboundConnection { .. }).then(|| event.socket().clone());
        let socket = lock().of(py, &event);
        let called = socket.and_then(|socket| match event {
            Event::InboundConnection { .. } => callback.call1(py, (socket,)),
            Event::InboundMessage { message, .. } | Event::OutboundMessage { message, .. } => {
                callback.call1(py, (socket, payload::to_py(py, &message)))
            }
            Event::SocketClosed { code, reason, .. } => callback.call1(py, (socket, code, reason)),
            Event::OutboundReconnecting {
                attempt,
                delay,
                error,
                ..
            } => {
                let error = errors::to_py(py, &error).into_value(py);
                callback.call1(py, (socket, attempt, delay.as_secs_f64(), error))
            }
            Event::OutboundReconnected { attempts, .. } => callback.call1(py, (socket, attempts)),
        });
        if let Err(error) = called {
            log_exception(py, &format!("the {name} callback raised"), &error);
            if let Some(socket) = connecting {
                socket.refuse(None);
            }
        }
    }
}

/// Keeps the Python thread state of a thread Python did not start, from its first batch to
/// its last. Without it, each `Python::try_attach` on such a thread creates a thread state
/// and destroys it at the end (allocations, an mmap/munmap pair and a gettid per batch).
struct KeptThreadState(ffi::PyGILState_STATE);

impl KeptThreadState {
    /// `None` if the interpreter cannot be attached to (it is shutting down).
    fn new() -> Option<Self> {
        // SAFETY: the thread is attached; the matching release is in `drop`.
        Python::try_attach(|_| KeptThreadState(unsafe { ffi::PyGILState_Ensure() }))
    }
}

impl Drop for KeptThreadState {
    fn drop(&mut self) {
        let state = self.0;
        // SAFETY: attached, on the thread that made `state`; the thread state goes when the
        // attach ends. If the interpreter is shutting down, the thread state is left alone.
        Python::try_attach(|_| unsafe { ffi::PyGILState_Release(state) });
    }
}

thread_local! {
    /// The Python thread state of a dispatcher thread, kept from its first event to its end.
    static KEPT: RefCell<Option<KeptThreadState>> = const { RefCell::new(None) };
}

/// The trigger callbacks as the core's event handler, called on its dispatcher threads.
pub(crate) struct PyTriggers {
    triggers: Triggers,
    /// The Python object of each socket, shared by the dispatcher threads.
    sockets: Mutex<SocketObjects>,
}

impl PyTriggers {
    pub(crate) fn new(triggers: Triggers) -> Self {
        PyTriggers {
            triggers,
            sockets: Mutex::default(),
        }
    }
}

impl EventHandler for PyTriggers {
    /// Takes the GIL (keeping the thread's Python state for the next time) and calls back;
    /// nothing once the interpreter is shutting down.
    fn on_event(&self, _connector: &ConnectorHandle, event: Event) {
        KEPT.with(|kept| {
            let mut kept = kept.borrow_mut();
            if kept.is_none() {
                *kept = KeptThreadState::new();
            }
        });
        Python::try_attach(|py| self.triggers.deliver(py, &self.sockets, event));
    }

    /// The triggers with a callback, and the closed events, which also forget the socket's
    /// Python object: a connection event with no callback then costs no hand-off and no GIL.
    fn takes(&self, trigger: Trigger) -> bool {
        trigger == Trigger::SocketClosed || self.triggers.has(trigger)
    }
}

/// One trigger's handlers for `AsyncConnector`: per path pattern and a catch-all, selected as
/// the connector selects its own callbacks (`wsconnector::Routes`).
#[pyclass(module = "wsconnector._native", name = "_Routes")]
#[derive(Default)]
pub(crate) struct PyRoutes(Routes<Py<PyAny>>);

#[pymethods]
impl PyRoutes {
    #[new]
    fn new() -> Self {
        PyRoutes::default()
    }

    /// Registers `handler` for paths that match `path` (a pattern), or for every path.
    #[pyo3(signature = (handler, path=None))]
    fn set(&mut self, py: Python<'_>, handler: Py<PyAny>, path: Option<&str>) -> PyResult<()> {
        match path {
            Some(path) => {
                let pattern =
                    wsconnector::PathPattern::new(path).map_err(|e| errors::to_py(py, &e))?;
                self.0.set_at(pattern, Some(handler));
            }
            None => {
                self.0.set_catch_all(Some(handler));
            }
        }
        Ok(())
    }

    /// The handler for an event on a socket whose full path is `path`, or `None`.
    fn handler_for(&self, py: Python<'_>, path: &str) -> Option<Py<PyAny>> {
        self.0.handler_for(path).map(|h| h.clone_ref(py))
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        for handler in self.0.handlers() {
            visit.call(handler)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.0 = Routes::default();
    }
}
