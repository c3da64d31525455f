//! `Connector`: settings and callbacks before start, then the running core connector (whose
//! dispatcher threads call the triggers) and the operations.
//!
//! GIL rules: a call that may wait (connect, stop, waiting for events) or whose work grows
//! with the number of sockets (broadcast, bulk close, `sockets`) runs inside `py.detach` with
//! owned Rust data only; no lock of ours is held across a detach (a thread holding the GIL
//! could wait for it while we wait for the GIL). A call that only queues or updates one socket
//! (send, subscribe, unsubscribe, close, `socket`) keeps the GIL: it never waits (the core's
//! threads never take the GIL, so no lock it takes is held by a thread waiting for the GIL),
//! and releasing and retaking the GIL would cost more than the call; with a cluster, it may
//! wait for another node, and releases the GIL (`by_id`).

use crate::args::{opt_seconds, opt_strings, pairs, strings};
use crate::auth::PyAuthorizer;
use crate::broadcast::{filter, BroadcastResult, ClusterSocket, Selection};
use crate::errors::{invalid_state, OrRaise};
use crate::events::{PyTriggers, SocketObjects, Triggers};
use crate::metrics::{drain_options, seconds, DrainProgress, Metrics};
use crate::reconnect::{self, PyHeaderRefresher};
use crate::socket::{address, PySocket};
use crate::{asyncio, config, events, logging, payload};
use pyo3::exceptions::PyTypeError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyList, PyTuple};
use pyo3::PyTraverseError;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use wsconnector::{Config, ConnectorHandle, EventBatch, OutboundOptions, PathPattern, Trigger};

/// Dispatcher threads unless `dispatcher_threads` says otherwise: callbacks hold the GIL, so
/// more threads add no CPU parallelism; four let three callbacks wait on I/O (the GIL
/// released) while a fourth runs, without the GIL hand-offs of a larger pool.
const DISPATCHER_THREADS: usize = 4;

/// The callbacks, registered before start.
#[derive(Default)]
struct Hooks {
    triggers: Triggers,
    authorize: Option<Py<PyAny>>,
    refresh_headers: Option<Py<PyAny>>,
}

/// A started core connector; its dispatcher threads call the triggers.
struct Running {
    connector: wsconnector::Connector,
    /// Events go to the trigger callbacks (else the application takes them with `next_events`).
    has_triggers: bool,
    /// The sockets' Python objects, for `next_events` (the trigger callbacks have their own).
    sockets: Mutex<SocketObjects>,
}

impl Running {
    fn on_dispatcher_thread(&self) -> bool {
        self.connector.on_dispatcher_thread()
    }

    /// Stops the core connector, which delivers every remaining event to the triggers on its
    /// dispatcher threads and waits for them. `InvalidState` from one of those threads. Call
    /// without the GIL.
    fn stop(&self) -> wsconnector::Result<()> {
        self.connector.stop()
    }
}

/// Running connectors, for `_stop_all` at interpreter exit.
static STARTED: Mutex<Vec<Weak<Running>>> = Mutex::new(Vec::new());

/// An operation by socket ID: with the GIL held (it never waits), except with a cluster, where
/// it may wait for the node that holds the socket.
fn by_id<T: Send>(
    py: Python<'_>,
    handle: ConnectorHandle,
    operation: impl FnOnce(&ConnectorHandle) -> wsconnector::Result<T> + Send,
) -> wsconnector::Result<T> {
    if handle.node_name().is_some() {
        py.detach(|| operation(&handle))
    } else {
        operation(&handle)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Stops every running connector; registered with `atexit`, so that no thread of ours calls
/// into an interpreter that is shutting down.
#[pyfunction]
pub(crate) fn _stop_all(py: Python<'_>) {
    let started: Vec<Arc<Running>> = lock(&STARTED)
        .drain(..)
        .filter_map(|w| w.upgrade())
        .collect();
    py.detach(move || {
        for running in started {
            let _ = running.stop();
        }
    });
}

/// A WebSocket connector: an optional listener (inbound sockets) and outbound sockets, with
/// socket IDs, groups, broadcast, and four triggers.
///
/// Configure it with keyword settings (see the stubs for the full list; a listener when
/// `host` or `port` is given, else client-only), register the triggers as decorators or
/// keyword callbacks, then `start()` (or use it as a context manager). Trigger callbacks run
/// on the connector's dispatcher threads (`dispatcher_threads`, default 4): one at a time and
/// in order for each socket, different sockets' side by side (a callback waiting on I/O
/// releases the GIL), and may call any operation; an exception in one is logged (logger
/// `wsconnector`), never raised, and one in `on_inbound_connection` refuses the socket
/// (closed with 1011, or the code the callback closed it with; its waiting messages dropped).
#[pyclass(module = "wsconnector", name = "Connector", frozen, weakref)]
pub(crate) struct PyConnector {
    config: Config,
    hooks: Mutex<Hooks>,
    running: Mutex<Option<Arc<Running>>>,
    /// A `threading.Event` per `serve_forever` under way, set when `stop()` has finished.
    serving: Mutex<Vec<Py<PyAny>>>,
}

impl PyConnector {
    fn current(&self) -> Option<Arc<Running>> {
        lock(&self.running).clone()
    }

    /// The handle for the operations; `InvalidStateError` before the first start.
    fn handle(&self, py: Python<'_>) -> PyResult<ConnectorHandle> {
        self.current()
            .map(|running| running.connector.handle())
            .ok_or_else(|| invalid_state(py, "the connector is not started: call start() first"))
    }

    fn is_started(&self) -> bool {
        self.current()
            .is_some_and(|running| running.connector.is_running())
    }

    /// Stores a callback; callbacks are fixed at start.
    fn register(
        &self,
        py: Python<'_>,
        name: &str,
        callback: Py<PyAny>,
        store: impl FnOnce(&mut Hooks, Py<PyAny>),
    ) -> PyResult<Py<PyAny>> {
        if !callback.bind(py).is_callable() {
            return Err(PyTypeError::new_err(format!("{name} needs a callable")));
        }
        if self.is_started() {
            return Err(invalid_state(
                py,
                format!("register {name} before start(): callbacks are fixed while running"),
            ));
        }
        store(&mut lock(&self.hooks), callback.clone_ref(py));
        Ok(callback)
    }

    /// Stores a trigger's callback: its catch-all without a pattern, else the one for paths that
    /// match `pattern` (a trigger that takes paths).
    fn route(
        &self,
        py: Python<'_>,
        trigger: Trigger,
        pattern: Option<PathPattern>,
        callback: Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.register(py, trigger_name(trigger), callback, |hooks, callback| {
            if let Some(routes) = hooks.triggers.routes(trigger) {
                match pattern {
                    Some(pattern) => routes.set_at(pattern, Some(callback)),
                    None => routes.set_catch_all(Some(callback)),
                };
            }
        })
    }

    /// Starts the core connector with the authorizer, and the triggers as its event handler if
    /// any has a callback (else events wait for `next_events`).
    fn launch(&self, py: Python<'_>) -> PyResult<Running> {
        let (triggers, authorize, refresh_headers) = {
            let hooks = lock(&self.hooks);
            (
                hooks.triggers.clone_ref(py),
                hooks.authorize.as_ref().map(|a| a.clone_ref(py)),
                hooks.refresh_headers.as_ref().map(|r| r.clone_ref(py)),
            )
        };
        let mut config = self.config.clone();
        config.dispatcher_threads = config.dispatcher_threads.or(Some(DISPATCHER_THREADS));
        let mut builder = wsconnector::Connector::builder(config);
        if let Some(hook) = authorize {
            builder = builder.authorizer(PyAuthorizer(hook));
        }
        if let Some(hook) = refresh_headers {
            builder = builder.header_refresher(PyHeaderRefresher(hook));
        }
        let has_triggers = triggers.any();
        if has_triggers {
            builder = builder.on_event(PyTriggers::new(triggers));
        }
        let connector = py.detach(move || builder.start()).or_raise(py)?;
        Ok(Running {
            connector,
            has_triggers,
            sockets: Mutex::default(),
        })
    }
}

/// The keyword arguments of `open_outbound` (and its asyncio twin), as given.
struct OpenArgs<'a, 'py> {
    headers: Option<&'a Bound<'py, PyAny>>,
    query: Option<&'a Bound<'py, PyAny>>,
    subprotocols: Option<&'a Bound<'py, PyAny>>,
    groups: Option<&'a Bound<'py, PyAny>>,
    socket_id: Option<String>,
    timeout: Option<&'a Bound<'py, PyAny>>,
    reconnect: Option<&'a Bound<'py, PyAny>>,
    uri_params: Option<&'a Bound<'py, PyAny>>,
    compression: Option<bool>,
}

/// The options of one outbound socket, from the keyword arguments of `open_outbound`.
fn outbound_options(args: OpenArgs<'_, '_>) -> PyResult<OutboundOptions> {
    let mut options = OutboundOptions::new();
    options.headers = pairs("headers", args.headers)?;
    options.query = pairs("query", args.query)?;
    options.subprotocols = opt_strings("subprotocols", args.subprotocols)?;
    options.groups = opt_strings("groups", args.groups)?;
    options.socket_id = args.socket_id;
    options.connect_timeout = opt_seconds("timeout", args.timeout)?;
    options.uri_params = pairs("uri_params", args.uri_params)?;
    if let Some(reconnect) = args.reconnect {
        options.reconnect = reconnect::option(reconnect)?;
    }
    options.compression = args.compression;
    Ok(options)
}

/// SIGINT and SIGTERM handlers that set a `threading.Event`, installed by `serve_forever` on
/// the main thread, with the handlers they replaced.
struct StopOnSignals(Vec<(Py<PyAny>, Py<PyAny>)>);

impl StopOnSignals {
    /// Installs them when called from the main thread; elsewhere Python cannot, and nothing
    /// is installed.
    fn install(stopped: &Bound<'_, PyAny>) -> PyResult<Self> {
        let py = stopped.py();
        let threading = py.import("threading")?;
        let on_main_thread = threading
            .call_method0("current_thread")?
            .is(&threading.call_method0("main_thread")?);
        let mut replaced = Vec::new();
        if !on_main_thread {
            return Ok(StopOnSignals(replaced));
        }
        let signal = py.import("signal")?;
        let event = stopped.clone().unbind();
        let handler = PyCFunction::new_closure(
            py,
            Some(c"stop_serving"),
            Some(c"Ends Connector.serve_forever."),
            move |args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>| {
                event.call_method0(args.py(), "set").map(drop)
            },
        )?;
        for name in ["SIGINT", "SIGTERM"] {
            let number = signal.getattr(name)?;
            let previous = signal.call_method1("signal", (&number, &handler))?;
            replaced.push((number.unbind(), previous.unbind()));
        }
        Ok(StopOnSignals(replaced))
    }

    /// Puts back the handlers they replaced (the default action where Python had none).
    fn restore(self, py: Python<'_>) -> PyResult<()> {
        let signal = py.import("signal")?;
        for (number, previous) in self.0 {
            let previous = if previous.is_none(py) {
                signal.getattr("SIG_DFL")?.unbind()
            } else {
                previous
            };
            signal.call_method1("signal", (number, previous))?;
        }
        Ok(())
    }
}

#[pymethods]
impl PyConnector {
    #[new]
    #[pyo3(signature = (
        *,
        on_inbound_connection=None,
        on_inbound_message=None,
        on_outbound_message=None,
        on_socket_closed=None,
        on_outbound_reconnecting=None,
        on_outbound_reconnected=None,
        authorize=None,
        refresh_headers=None,
        **settings
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        on_inbound_connection: Option<Py<PyAny>>,
        on_inbound_message: Option<Py<PyAny>>,
        on_outbound_message: Option<Py<PyAny>>,
        on_socket_closed: Option<Py<PyAny>>,
        on_outbound_reconnecting: Option<Py<PyAny>>,
        on_outbound_reconnected: Option<Py<PyAny>>,
        authorize: Option<Py<PyAny>>,
        refresh_headers: Option<Py<PyAny>>,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let connector = PyConnector {
            config: config::from_kwargs(py, settings)?,
            hooks: Mutex::default(),
            running: Mutex::new(None),
            serving: Mutex::default(),
        };
        if let Some(f) = on_inbound_connection {
            connector.route(py, Trigger::InboundConnection, None, f)?;
        }
        if let Some(f) = on_inbound_message {
            connector.route(py, Trigger::InboundMessage, None, f)?;
        }
        if let Some(f) = on_outbound_message {
            connector.route(py, Trigger::OutboundMessage, None, f)?;
        }
        if let Some(f) = on_socket_closed {
            connector.route(py, Trigger::SocketClosed, None, f)?;
        }
        if let Some(f) = on_outbound_reconnecting {
            connector.on_outbound_reconnecting(py, f)?;
        }
        if let Some(f) = on_outbound_reconnected {
            connector.on_outbound_reconnected(py, f)?;
        }
        if let Some(f) = authorize {
            connector.authorize(py, f)?;
        }
        if let Some(f) = refresh_headers {
            connector.refresh_headers(py, f)?;
        }
        Ok(connector)
    }

    /// Registers the callback of the inbound-connection trigger: `callback(socket)`, when a
    /// client finished the handshake on the listener. Usable as a decorator, bare or with a
    /// path pattern (see `on_inbound_message`).
    fn on_inbound_connection(
        slf: &Bound<'_, Self>,
        callback: Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        decorate(slf, Trigger::InboundConnection, callback)
    }

    /// Registers the callback of the inbound-message trigger: `callback(socket, message)`
    /// with `str` for text and `bytes` for binary. Usable as a decorator: bare
    /// (`@conn.on_inbound_message`, every path) or with a full path pattern, as a Mule flow
    /// declares its path (`@conn.on_inbound_message("/chat/*")`, exact paths, `*` wildcards,
    /// `{name}` segments). An event goes to the most specific matching pattern of its trigger
    /// (an exact path first, then more literal characters, then fewer `*`, then the first
    /// registered), else to the bare registration. A bad pattern raises
    /// `InvalidArgumentError`.
    fn on_inbound_message(
        slf: &Bound<'_, Self>,
        callback: Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        decorate(slf, Trigger::InboundMessage, callback)
    }

    /// Registers the callback of the outbound-message trigger: `callback(socket, message)`
    /// with `str` for text and `bytes` for binary. Usable as a decorator, bare or with a path
    /// pattern (see `on_inbound_message`).
    fn on_outbound_message(
        slf: &Bound<'_, Self>,
        callback: Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        decorate(slf, Trigger::OutboundMessage, callback)
    }

    /// Registers the callback of the socket-closed trigger: `callback(socket, code, reason)`,
    /// once per socket, last, whoever closed it. Usable as a decorator, bare or with a path
    /// pattern (see `on_inbound_message`).
    fn on_socket_closed(slf: &Bound<'_, Self>, callback: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        decorate(slf, Trigger::SocketClosed, callback)
    }

    /// Registers the callback of a reconnecting outbound socket's attempts:
    /// `callback(socket, attempt, delay, error)` before each attempt (from 1), made after
    /// `delay` seconds; `error` (a `WebSocketError`) says why the connection or the previous
    /// attempt failed. In order with the socket's other triggers. Usable as a decorator.
    fn on_outbound_reconnecting(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<Py<PyAny>> {
        self.register(py, "on_outbound_reconnecting", callback, |h, c| {
            h.triggers.outbound_reconnecting = Some(c)
        })
    }

    /// Registers the callback of a reconnected outbound socket: `callback(socket, attempts)`,
    /// before the messages of its new connection. Usable as a decorator.
    fn on_outbound_reconnected(&self, py: Python<'_>, callback: Py<PyAny>) -> PyResult<Py<PyAny>> {
        self.register(py, "on_outbound_reconnected", callback, |h, c| {
            h.triggers.outbound_reconnected = Some(c)
        })
    }

    /// Registers the header refresher: `hook(socket, attempt)` runs before each reconnect
    /// attempt of an outbound socket and returns headers (a mapping or `(name, value)` pairs)
    /// that replace the socket's own of those names, e.g. a fresh
    /// `{"Authorization": "Bearer ..."}`. It runs on a worker thread of the connector, not the
    /// dispatcher; if it raises, the attempt fails (and counts). Usable as a decorator.
    fn refresh_headers(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<Py<PyAny>> {
        self.register(py, "refresh_headers", hook, |h, c| {
            h.refresh_headers = Some(c)
        })
    }

    /// Registers the authorization hook: `hook(request: AuthRequest)` decides on each inbound
    /// upgrade before the 101 and returns `True` (accept), `False` (refuse with 403), a list
    /// of groups (accept into them) or `Reject(status, reason)`. It runs on a worker thread of
    /// the connector, not the dispatcher; if it raises or returns anything else, the client
    /// gets 500. Usable as a decorator.
    fn authorize(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<Py<PyAny>> {
        self.register(py, "authorize", hook, |h, c| h.authorize = Some(c))
    }

    /// Starts the listener (if any), the I/O threads and the dispatcher. A stopped connector
    /// may be started again. Raises `InvalidStateError` if it is running.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        if self.is_started() {
            return Err(invalid_state(py, "the connector is already running"));
        }
        logging::install(py)?;
        let running = Arc::new(self.launch(py)?);
        let mut slot = lock(&self.running);
        if slot.as_ref().is_some_and(|r| r.connector.is_running()) {
            drop(slot);
            py.detach(|| running.stop()).or_raise(py)?;
            return Err(invalid_state(py, "the connector is already running"));
        }
        *slot = Some(running.clone());
        drop(slot);
        let mut started = lock(&STARTED);
        started.retain(|w| w.strong_count() > 0);
        started.push(Arc::downgrade(&running));
        Ok(())
    }

    /// Stops: no new sockets, every socket closed with 1001 (going away), queued sends and
    /// close handshakes given up to `stop_timeout`, every remaining event delivered (each
    /// socket's closed event included). With `drain` (`True`, or a dict of `drain()`'s
    /// options), drains first, for up to `deadline` seconds (default 30), then stops. Blocks
    /// until done, without the GIL; calling it again, or before start, does nothing. From a
    /// trigger callback it raises `InvalidStateError` (it would wait for itself).
    #[pyo3(signature = (*, drain=None, deadline=None))]
    fn stop(
        &self,
        py: Python<'_>,
        drain: Option<&Bound<'_, PyAny>>,
        deadline: Option<f64>,
    ) -> PyResult<()> {
        let Some(running) = self.current() else {
            return Ok(());
        };
        if running.on_dispatcher_thread() {
            return Err(invalid_state(
                py,
                "a connector cannot be stopped from its own trigger callback",
            ));
        }
        let options = match drain {
            Some(d) if d.is_truthy()? => match d.cast::<PyDict>() {
                Ok(options) => Some(drain_options(py, Some(options))?),
                Err(_) => Some(drain_options(py, None)?),
            },
            _ => None,
        };
        if let Some(options) = options {
            let deadline = seconds(py, "deadline", deadline.unwrap_or(30.0))?;
            match running.connector.drain(options) {
                Ok(drain) => {
                    py.detach(|| drain.wait(Some(deadline)));
                }
                Err(e) if e.kind() == wsconnector::ErrorKind::Stopped => {}
                Err(e) => return Err(crate::errors::to_py(py, &e)),
            }
        }
        py.detach(move || running.stop()).or_raise(py)?;
        let serving = std::mem::take(&mut *lock(&self.serving));
        for stopped in serving {
            stopped.call_method0(py, "set")?;
        }
        Ok(())
    }

    /// Starts the connector unless it is running, then serves until `stop()` is called (from
    /// another thread) or the process gets SIGINT (Ctrl-C) or SIGTERM, and stops it: every
    /// socket closed with 1001 and every remaining event delivered, as `stop()` does. Waits
    /// without the GIL. The signal handlers are installed only when it is called from the
    /// main thread (where Python runs them), and the earlier ones are put back when it
    /// returns; elsewhere only `stop()` ends it. A signal ends it normally, without
    /// `KeyboardInterrupt`. Raises `InvalidStateError` from a trigger callback (it would wait
    /// for itself).
    fn serve_forever(&self, py: Python<'_>) -> PyResult<()> {
        if self.current().is_some_and(|r| r.on_dispatcher_thread()) {
            return Err(invalid_state(
                py,
                "serve_forever cannot be called from the connector's own trigger callback",
            ));
        }
        if !self.is_started() {
            self.start(py)?;
        }
        let stopped = py.import("threading")?.getattr("Event")?.call0()?;
        lock(&self.serving).push(stopped.clone().unbind());
        let handlers = StopOnSignals::install(&stopped)?;
        // A stop() that finished before the event was listed has not set it.
        let waited = if self.is_started() {
            stopped.call_method0("wait").map(drop)
        } else {
            Ok(())
        };
        lock(&self.serving).retain(|listed| !listed.is(&stopped));
        let restored = handlers.restore(py);
        self.stop(py, None, None)?;
        waited.and(restored)
    }

    /// Whether the connector is running (started, not stopping or stopped).
    #[getter]
    fn is_running(&self) -> bool {
        self.is_started()
    }

    /// The listener's port (the one the OS chose when `port=0`); `None` when client-only or
    /// not started.
    #[getter]
    fn port(&self) -> Option<u16> {
        self.current()?.connector.local_addr().map(|a| a.port())
    }

    /// The listener's address as `(host, port)`; `None` when client-only or not started.
    #[getter]
    fn local_address(&self) -> Option<(String, u16)> {
        self.current()?.connector.local_addr().map(address)
    }

    /// Opens an outbound socket to a `ws://` or `wss://` URL, or to a path on the client base
    /// (`client_host`...), and returns its ID once the handshake is done; blocks meanwhile
    /// (without the GIL). `headers`, `query` and `uri_params` (values of the URL's `{name}`
    /// templates) are a mapping or `(name, value)` pairs; `groups` the groups it starts in;
    /// `socket_id` your own ID (else a UUID); `timeout` in seconds overrides `connect_timeout`;
    /// `reconnect` is `True` (the connector's `reconnect=` policy, or the default one), `False`,
    /// a `Reconnect`, or `None` (the connector's setting decides); `compression` offers
    /// permessage-deflate, or not, whatever the connector's `compression` says. A `Host` header
    /// replaces the URL's; the handshake's own headers (`Upgrade`, `Connection`,
    /// `Sec-WebSocket-*`) raise `InvalidArgument` (offer subprotocols with `subprotocols`).
    #[pyo3(signature = (url, *, headers=None, query=None, subprotocols=None, groups=None, socket_id=None, timeout=None, reconnect=None, uri_params=None, compression=None))]
    #[allow(clippy::too_many_arguments)]
    fn open_outbound(
        &self,
        py: Python<'_>,
        url: String,
        headers: Option<&Bound<'_, PyAny>>,
        query: Option<&Bound<'_, PyAny>>,
        subprotocols: Option<&Bound<'_, PyAny>>,
        groups: Option<&Bound<'_, PyAny>>,
        socket_id: Option<String>,
        timeout: Option<&Bound<'_, PyAny>>,
        reconnect: Option<&Bound<'_, PyAny>>,
        uri_params: Option<&Bound<'_, PyAny>>,
        compression: Option<bool>,
    ) -> PyResult<String> {
        let options = outbound_options(OpenArgs {
            headers,
            query,
            subprotocols,
            groups,
            socket_id,
            timeout,
            reconnect,
            uri_params,
            compression,
        })?;
        let handle = self.handle(py)?;
        py.detach(move || handle.open_outbound(&url, options))
            .map(|id| id.to_string())
            .or_raise(py)
    }

    /// `open_outbound` for asyncio: returns at once, and calls `on_done(socket_id, None)` or
    /// `on_done(None, exception)` from another thread when the connect ends. The returned
    /// `Pending` abandons the connect when cancelled. Used by `AsyncConnector`.
    #[pyo3(signature = (url, on_done, *, headers=None, query=None, subprotocols=None, groups=None, socket_id=None, timeout=None, reconnect=None, uri_params=None, compression=None))]
    #[allow(clippy::too_many_arguments)]
    fn _open_outbound_async(
        &self,
        py: Python<'_>,
        url: String,
        on_done: Py<PyAny>,
        headers: Option<&Bound<'_, PyAny>>,
        query: Option<&Bound<'_, PyAny>>,
        subprotocols: Option<&Bound<'_, PyAny>>,
        groups: Option<&Bound<'_, PyAny>>,
        socket_id: Option<String>,
        timeout: Option<&Bound<'_, PyAny>>,
        reconnect: Option<&Bound<'_, PyAny>>,
        uri_params: Option<&Bound<'_, PyAny>>,
        compression: Option<bool>,
    ) -> PyResult<asyncio::Pending> {
        let options = outbound_options(OpenArgs {
            headers,
            query,
            subprotocols,
            groups,
            socket_id,
            timeout,
            reconnect,
            uri_params,
            compression,
        })?;
        let handle = self.handle(py)?;
        let connect = async move {
            handle
                .open_outbound_async(&url, options)
                .await
                .map(|id| id.to_string())
        };
        Ok(asyncio::spawn(connect, on_done))
    }

    /// Queues a message for one socket: `str` is sent as text, `bytes`, `bytearray` or
    /// `memoryview` as binary. Messages to one socket leave in the order sent. Returns True
    /// when the message is queued, False when the slow-consumer policy dropped it
    /// (`drop_newest`) or closed the socket (`close`); raises `QueueFullError` under `fail`. From a
    /// trigger callback, `socket.send(data)` does the same without looking the ID up.
    fn send(&self, py: Python<'_>, socket_id: &str, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let message = payload::from_py(data)?;
        by_id(py, self.handle(py)?, move |handle| {
            handle.send(socket_id, message)
        })
        .map(|delivery| delivery.is_queued())
        .or_raise(py)
    }

    /// Adds groups (one name or a list) to a socket; groups it has already are ignored.
    fn subscribe(
        &self,
        py: Python<'_>,
        socket_id: &str,
        groups: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let groups = strings("groups", groups)?;
        by_id(py, self.handle(py)?, |handle| {
            handle.subscribe(socket_id, &groups)
        })
        .or_raise(py)
    }

    /// Removes groups (one name or a list) from a socket; groups it does not have are ignored.
    fn unsubscribe(
        &self,
        py: Python<'_>,
        socket_id: &str,
        groups: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let groups = strings("groups", groups)?;
        by_id(py, self.handle(py)?, |handle| {
            handle.unsubscribe(socket_id, &groups)
        })
        .or_raise(py)
    }

    /// Sends one message to every socket that matches the filter: `path` (full path, exact or
    /// with `*`), `socket_type` (`"inbound"`, `"outbound"` or `"all"`), `groups` (member of
    /// any), `all_groups` (member of every one), `except_socket_ids` and `except_groups` (sockets
    /// left out by ID, or for being in any of these groups). Returns how many got it and which matching
    /// sockets did not. Raises `LimitExceededError`, sending to none, when the message is
    /// larger than `send_queue_bytes`. With a cluster, every node's matching sockets get it and
    /// the result adds up the nodes that answered within `cluster_timeout`; `wait=False`
    /// returns once it is published, with this node's counts only. Raises `ConnectivityError`,
    /// sending to none, while the backplane is unreachable.
    #[pyo3(signature = (data, *, path=None, socket_type=None, groups=None, all_groups=None, except_socket_ids=None, except_groups=None, wait=true))]
    #[allow(clippy::too_many_arguments)]
    fn broadcast(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        path: Option<&str>,
        socket_type: Option<&str>,
        groups: Option<&Bound<'_, PyAny>>,
        all_groups: Option<&Bound<'_, PyAny>>,
        except_socket_ids: Option<&Bound<'_, PyAny>>,
        except_groups: Option<&Bound<'_, PyAny>>,
        wait: bool,
    ) -> PyResult<BroadcastResult> {
        let message = payload::from_py(data)?;
        let filter = filter(
            py,
            path,
            socket_type,
            Selection {
                groups,
                all_groups,
                except_socket_ids,
                except_groups,
            },
        )?;
        let handle = self.handle(py)?;
        let result = py
            .detach(move || {
                if wait {
                    handle.broadcast(message, &filter)
                } else {
                    handle.publish(message, &filter)
                }
            })
            .or_raise(py)?;
        BroadcastResult::from_core(py, result)
    }

    /// Closes one socket with a close code (1000-1003, 1007-1014, 3000-4999) and a reason of
    /// at most 123 bytes. Messages queued before leave first. Closing a socket that is
    /// already closing does nothing.
    #[pyo3(signature = (socket_id, code=1000, reason=""))]
    fn close(&self, py: Python<'_>, socket_id: &str, code: u16, reason: &str) -> PyResult<()> {
        by_id(py, self.handle(py)?, |handle| {
            handle.close(socket_id, code, reason)
        })
        .or_raise(py)
    }

    /// Closes every socket that matches the filter (as for `broadcast`); returns how many it
    /// began to close: outbound sockets that are reconnecting (or waiting to, in lazy mode)
    /// close at once and count like the others. With a cluster, on every node that answers in
    /// time.
    #[pyo3(signature = (*, path=None, socket_type=None, groups=None, all_groups=None, except_socket_ids=None, except_groups=None, code=1000, reason=""))]
    #[allow(clippy::too_many_arguments)]
    fn bulk_close(
        &self,
        py: Python<'_>,
        path: Option<&str>,
        socket_type: Option<&str>,
        groups: Option<&Bound<'_, PyAny>>,
        all_groups: Option<&Bound<'_, PyAny>>,
        except_socket_ids: Option<&Bound<'_, PyAny>>,
        except_groups: Option<&Bound<'_, PyAny>>,
        code: u16,
        reason: &str,
    ) -> PyResult<usize> {
        let reason = reason.to_owned();
        let filter = filter(
            py,
            path,
            socket_type,
            Selection {
                groups,
                all_groups,
                except_socket_ids,
                except_groups,
            },
        )?;
        let handle = self.handle(py)?;
        py.detach(move || handle.bulk_close(&filter, code, &reason))
            .or_raise(py)
    }

    /// The open socket with this ID; raises `NoSuchSocketError` if there is none.
    fn socket(&self, py: Python<'_>, socket_id: &str) -> PyResult<PySocket> {
        self.handle(py)?
            .socket(socket_id)
            .map(PySocket::new)
            .or_raise(py)
    }

    /// The open sockets of this node that match the filter (as for `broadcast`).
    #[pyo3(signature = (*, path=None, socket_type=None, groups=None, all_groups=None, except_socket_ids=None, except_groups=None))]
    #[allow(clippy::too_many_arguments)]
    fn sockets(
        &self,
        py: Python<'_>,
        path: Option<&str>,
        socket_type: Option<&str>,
        groups: Option<&Bound<'_, PyAny>>,
        all_groups: Option<&Bound<'_, PyAny>>,
        except_socket_ids: Option<&Bound<'_, PyAny>>,
        except_groups: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<PySocket>> {
        let filter = filter(
            py,
            path,
            socket_type,
            Selection {
                groups,
                all_groups,
                except_socket_ids,
                except_groups,
            },
        )?;
        let handle = self.handle(py)?;
        let sockets = py.detach(move || handle.sockets(&filter)).or_raise(py)?;
        Ok(sockets.into_iter().map(PySocket::new).collect())
    }

    /// This node's name in its cluster, or `None` without a cluster.
    #[getter]
    fn node_name(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self.handle(py)?.node_name().map(str::to_owned))
    }

    /// The open socket with this ID on whichever node holds it (this node alone without a
    /// cluster); raises `NoSuchSocketError` when no live node does.
    fn cluster_socket(&self, py: Python<'_>, socket_id: &str) -> PyResult<ClusterSocket> {
        let handle = self.handle(py)?;
        let socket_id = socket_id.to_owned();
        py.detach(move || handle.cluster_socket(&socket_id))
            .map(ClusterSocket::from)
            .or_raise(py)
    }

    /// The open sockets that match the filter (as for `broadcast`) on every node that answers
    /// within `cluster_timeout` (this node alone without a cluster).
    #[pyo3(signature = (*, path=None, socket_type=None, groups=None, all_groups=None, except_socket_ids=None, except_groups=None))]
    #[allow(clippy::too_many_arguments)]
    fn cluster_sockets(
        &self,
        py: Python<'_>,
        path: Option<&str>,
        socket_type: Option<&str>,
        groups: Option<&Bound<'_, PyAny>>,
        all_groups: Option<&Bound<'_, PyAny>>,
        except_socket_ids: Option<&Bound<'_, PyAny>>,
        except_groups: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<ClusterSocket>> {
        let filter = filter(
            py,
            path,
            socket_type,
            Selection {
                groups,
                all_groups,
                except_socket_ids,
                except_groups,
            },
        )?;
        let handle = self.handle(py)?;
        let sockets = py
            .detach(move || handle.cluster_sockets(&filter))
            .or_raise(py)?;
        Ok(sockets.into_iter().map(ClusterSocket::from).collect())
    }

    /// How many open sockets match the filter (as for `broadcast`) on every node that answers
    /// within `cluster_timeout` (this node alone without a cluster).
    #[pyo3(signature = (*, path=None, socket_type=None, groups=None, all_groups=None, except_socket_ids=None, except_groups=None))]
    #[allow(clippy::too_many_arguments)]
    fn cluster_socket_count(
        &self,
        py: Python<'_>,
        path: Option<&str>,
        socket_type: Option<&str>,
        groups: Option<&Bound<'_, PyAny>>,
        all_groups: Option<&Bound<'_, PyAny>>,
        except_socket_ids: Option<&Bound<'_, PyAny>>,
        except_groups: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<usize> {
        let filter = filter(
            py,
            path,
            socket_type,
            Selection {
                groups,
                all_groups,
                except_socket_ids,
                except_groups,
            },
        )?;
        let handle = self.handle(py)?;
        py.detach(move || handle.cluster_socket_count(&filter))
            .or_raise(py)
    }

    /// Waits up to `timeout` seconds for the cluster's backplane to be reachable (at once
    /// while it is, and without a cluster); raises `TimeoutError` if it does not come back.
    fn wait_for_cluster(&self, py: Python<'_>, timeout: &Bound<'_, PyAny>) -> PyResult<()> {
        let timeout = crate::args::seconds("timeout", timeout)?;
        let handle = self.handle(py)?;
        py.detach(move || handle.wait_for_cluster(timeout))
            .or_raise(py)
    }

    /// Takes every event that is ready, waiting up to `timeout` seconds (forever with `None`)
    /// for the first; an empty list on timeout. For connectors without trigger callbacks
    /// (`AsyncConnector` is built on it). Messages of sockets the application has closed are
    /// left out. Raises `StoppedError` once the connector has stopped and every event has been
    /// taken.
    #[pyo3(signature = (timeout=None))]
    fn next_events<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let timeout = opt_seconds("timeout", timeout)?;
        let running = self
            .current()
            .ok_or_else(|| invalid_state(py, "the connector is not started: call start() first"))?;
        if running.has_triggers {
            return Err(invalid_state(
                py,
                "this connector delivers events to its trigger callbacks; next_events is for connectors without them",
            ));
        }
        let handle = running.connector.handle();
        let batch = py
            .detach(move || {
                let mut batch = EventBatch::new();
                events::take_batch(&handle, &mut batch, timeout).map(|()| batch)
            })
            .or_raise(py)?;
        let mut sockets = lock(&running.sockets);
        let events = batch
            .map(|event| events::to_py(py, &mut sockets, event))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, events)
    }

    /// The connector's figures now (see `Metrics`): cheap enough to read every second; works
    /// after stop too. Raises `InvalidStateError` before the first start.
    fn metrics(&self, py: Python<'_>) -> PyResult<Metrics> {
        let handle = self.handle(py)?;
        Ok(Metrics(py.detach(move || handle.metrics())))
    }

    /// Drains the connector: from now on new handshakes get 503 with `Retry-After` (and the
    /// health path 503), then the sockets that match `path`, `socket_type` and `groups` (as
    /// for `broadcast`; default every socket) are closed `batch_size` at a time (1000),
    /// `interval` seconds apart (1.0), with `code` (1001; 1012 says "service restart") and
    /// `reason`; refused handshakes say `Retry-After: retry_after` (5 s, in whole seconds).
    /// Blocks without the GIL until every matched socket has closed or `timeout` seconds have
    /// passed, calling `on_progress(progress)` whenever the progress changes; returns the last
    /// `DrainProgress`. The connector drains until it stops. Raises `InvalidStateError` from a
    /// trigger callback (the drain waits for events that callback holds up).
    #[pyo3(signature = (*, timeout=None, on_progress=None, **options))]
    fn drain(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        on_progress: Option<Py<PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<DrainProgress> {
        if self.current().is_some_and(|r| r.on_dispatcher_thread()) {
            return Err(invalid_state(
                py,
                "drain cannot wait from the connector's own trigger callback",
            ));
        }
        let options = drain_options(py, options)?;
        let deadline = match timeout {
            Some(secs) => Some(std::time::Instant::now() + seconds(py, "timeout", secs)?),
            None => None,
        };
        let drain = self.handle(py)?.drain(options).or_raise(py)?;
        let mut seen = wsconnector::DrainProgress::default();
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
            let progress = py.detach(|| drain.wait_for_change(&seen, left));
            if progress != seen {
                seen = progress;
                if let Some(callback) = &on_progress {
                    callback.call1(py, (DrainProgress::from(progress),))?;
                }
            }
            if progress.finished || left.is_some_and(|l| l.is_zero()) {
                return Ok(progress.into());
            }
        }
    }

    /// Whether a drain has begun (it lasts until the connector stops).
    #[getter]
    fn is_draining(&self) -> bool {
        self.current().is_some_and(|r| r.connector.is_draining())
    }

    /// The bounds of the core's event queue, `(event_queue_capacity, event_queue_bytes)`: the
    /// asyncio front holds no more events than these in its own handlers' queues.
    #[getter]
    fn _event_queue_bounds(&self) -> (usize, usize) {
        (
            self.config.event_queue_capacity,
            self.config.event_queue_bytes,
        )
    }

    /// Starts the connector (unless it is running) and returns it.
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        if !slf.get().is_started() {
            slf.get().start(slf.py())?;
        }
        Ok(slf)
    }

    /// Stops the connector.
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.stop(py, None, None)
    }

    fn __repr__(&self) -> String {
        match self.current().and_then(|r| r.connector.local_addr()) {
            Some(addr) if self.is_started() => format!("<Connector listening on {addr}>"),
            _ if self.is_started() => "<Connector client-only>".to_owned(),
            _ => "<Connector stopped>".to_owned(),
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Ok(hooks) = self.hooks.try_lock() {
            let hooks_of_their_own = [&hooks.authorize, &hooks.refresh_headers];
            let others = hooks_of_their_own.into_iter().flatten();
            for callback in hooks.triggers.all().chain(others) {
                visit.call(callback)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        if let Ok(mut hooks) = self.hooks.try_lock() {
            *hooks = Hooks::default();
        }
    }
}

impl Drop for PyConnector {
    fn drop(&mut self) {
        let Some(running) = lock(&self.running).take() else {
            return;
        };
        // Stopping waits for socket tasks and the dispatcher threads, which may need the GIL.
        let stopped = Python::try_attach(|py| py.detach(|| running.stop()));
        if stopped.is_none() {
            let _ = running.stop();
        }
    }
}

/// The name of a trigger's registration method, for messages.
fn trigger_name(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::InboundConnection => "on_inbound_connection",
        Trigger::InboundMessage => "on_inbound_message",
        Trigger::OutboundMessage => "on_outbound_message",
        Trigger::SocketClosed => "on_socket_closed",
        Trigger::OutboundReconnecting => "on_outbound_reconnecting",
        _ => "on_outbound_reconnected",
    }
}

/// A trigger's registration as a decorator: given a callable, registers it for every path;
/// given a path pattern, returns the decorator that registers its callable for that pattern.
fn decorate(
    slf: &Bound<'_, PyConnector>,
    trigger: Trigger,
    callback_or_path: Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    let Ok(pattern) = callback_or_path.extract::<String>() else {
        return slf
            .get()
            .route(py, trigger, None, callback_or_path.unbind());
    };
    let pattern = PathPattern::new(&pattern).or_raise(py)?;
    let connector = slf.clone().unbind();
    let decorator = PyCFunction::new_closure(
        py,
        Some(c"register_at"),
        Some(c"Registers the decorated callable for the path pattern."),
        move |args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>| {
            let callback = args.get_item(0)?.unbind();
            connector
                .get()
                .route(args.py(), trigger, Some(pattern.clone()), callback)
        },
    )?;
    Ok(decorator.into_any().unbind())
}
