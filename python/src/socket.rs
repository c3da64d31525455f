//! `Socket`: one socket as triggers and lookups hand it out: its attributes, read-only, and
//! the operations on the socket itself (`send`, `close`, `subscribe`, `unsubscribe`).

use crate::args::strings;
use crate::errors::OrRaise;
use crate::payload;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyString};
use std::net::SocketAddr;
use wsconnector::Socket;

/// An address as Python's socket module writes it: `(host, port)`.
pub(crate) fn address(addr: SocketAddr) -> (String, u16) {
    (addr.ip().to_string(), addr.port())
}

/// A socket: its attributes, fixed at the handshake except `groups`, `state`, `last_error`
/// and (for an outbound socket that reconnects) its connection's addresses and certificate,
/// read when asked; and the operations on it. Stays readable after the socket has closed. The triggers hand out one
/// object per socket, the same for each of its events.
#[pyclass(module = "wsconnector", name = "Socket", frozen)]
pub(crate) struct PySocket {
    pub(crate) socket: Socket,
    /// `id` and `path` as Python strings, made at their first read: a callback that reads them
    /// for every message gets the same object each time.
    id: PyOnceLock<Py<PyString>>,
    path: PyOnceLock<Py<PyString>>,
}

impl PySocket {
    pub(crate) fn new(socket: Socket) -> Self {
        PySocket {
            socket,
            id: PyOnceLock::new(),
            path: PyOnceLock::new(),
        }
    }
}

#[pymethods]
impl PySocket {
    /// The socket's unique ID.
    #[getter]
    fn id(&self, py: Python<'_>) -> Py<PyString> {
        let id = self.socket.id().as_str();
        self.id
            .get_or_init(py, || PyString::new(py, id).unbind())
            .clone_ref(py)
    }

    /// `"inbound"` (accepted by the listener) or `"outbound"` (opened by this connector).
    #[getter(r#type)]
    fn socket_type(&self) -> &'static str {
        self.socket.socket_type().as_str()
    }

    /// The full path of the handshake request (base path included), without the query; for an
    /// inbound socket, percent-decoded: the path the served patterns matched.
    #[getter]
    fn path(&self, py: Python<'_>) -> Py<PyString> {
        let path = self.socket.path();
        self.path
            .get_or_init(py, || PyString::new(py, path).unbind())
            .clone_ref(py)
    }

    /// The full request URI, e.g. `wss://example.com:8443/chat/room1?user=ann`.
    #[getter]
    fn uri(&self) -> &str {
        self.socket.uri()
    }

    /// `"ws"` or `"wss"`.
    #[getter]
    fn scheme(&self) -> &'static str {
        self.socket.scheme()
    }

    /// The handshake request's headers as `(name, value)` pairs, in order (for outbound
    /// sockets: the ones this connector sent).
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.socket.headers().to_vec()
    }

    /// The handshake's query parameters as decoded `(name, value)` pairs, in order.
    #[getter]
    fn query(&self) -> Vec<(String, String)> {
        self.socket.query().to_vec()
    }

    /// The query string of the handshake request as sent (still percent-encoded, without the
    /// `?`; `""` when none): Mule's `queryString`.
    #[getter]
    fn query_string(&self) -> &str {
        self.socket.query_string()
    }

    /// The URI parameters as `(name, value)` pairs: for an inbound socket, what the `{name}`
    /// segments of the served path pattern matched (`/chat/{room}` serving `/chat/lobby`:
    /// `[("room", "lobby")]`), decoded; for an outbound socket, those that filled its URL's
    /// template. Mule's `uriParams`.
    #[getter]
    fn uri_params(&self) -> Vec<(String, String)> {
        self.socket.uri_params().to_vec()
    }

    /// The handshake request's method, `"GET"`: Mule's `method`.
    #[getter]
    fn method(&self) -> &'static str {
        self.socket.method()
    }

    /// The handshake's HTTP version, `"HTTP/1.1"`.
    #[getter]
    fn http_version(&self) -> &'static str {
        self.socket.http_version()
    }

    /// The negotiated subprotocol, or `None`.
    #[getter]
    fn subprotocol(&self) -> Option<&str> {
        self.socket.subprotocol()
    }

    /// The negotiated extensions as the handshake's `Sec-WebSocket-Extensions` response states
    /// them (e.g. `"permessage-deflate; client_max_window_bits=12"`), or `None`.
    #[getter]
    fn extensions(&self) -> Option<String> {
        self.socket.extensions()
    }

    /// permessage-deflate's negotiated parameters as a dict (`server_no_context_takeover`,
    /// `client_no_context_takeover`: bool; `server_max_window_bits`,
    /// `client_max_window_bits`: int, or `None` when not stated, which means 15), or `None`
    /// when the socket is not compressed.
    #[getter]
    fn compression<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(params) = self.socket.compression() else {
            return Ok(None);
        };
        let dict = PyDict::new(py);
        dict.set_item(
            "server_no_context_takeover",
            params.server_no_context_takeover,
        )?;
        dict.set_item(
            "client_no_context_takeover",
            params.client_no_context_takeover,
        )?;
        dict.set_item("server_max_window_bits", params.server_max_window_bits)?;
        dict.set_item("client_max_window_bits", params.client_max_window_bits)?;
        Ok(Some(dict))
    }

    /// The groups the socket is subscribed to now, sorted; once it has closed, those it had
    /// when it closed (the socket-closed callback shows them).
    #[getter]
    fn groups(&self) -> Vec<String> {
        self.socket.groups()
    }

    /// This end of the connection as `(host, port)`.
    #[getter]
    fn local_address(&self) -> (String, u16) {
        address(self.socket.local_addr())
    }

    /// The peer's end of the connection as `(host, port)`.
    #[getter]
    fn remote_address(&self) -> (String, u16) {
        address(self.socket.remote_addr())
    }

    /// The certificate the peer presented, as DER `bytes` (the leaf of its chain), or `None`:
    /// the client's with mutual TLS (inbound sockets), the server's (outbound `wss` sockets).
    /// Read it with an X.509 library, e.g. `cryptography.x509.load_der_x509_certificate`.
    #[getter]
    fn peer_certificate<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.socket
            .peer_certificate()
            .map(|der| PyBytes::new(py, &der))
    }

    /// The subject of `peer_certificate` as RFC 4514 text, or `None`: the last RDN first,
    /// special characters escaped (`CN=alice\,O=Admins` is one CN, `O=Admins,CN=alice` a CN
    /// and an O), as `cryptography`'s `Name.rfc4514_string()` writes it.
    #[getter]
    fn peer_certificate_subject(&self) -> Option<String> {
        self.socket.peer_certificate_subject()
    }

    /// Where the socket stands now: `"connected"`, `"reconnecting"` (an outbound socket with a
    /// reconnect policy whose connection ended), `"disconnected"` (one in lazy mode, waiting for
    /// a message to send) or `"closed"`.
    #[getter]
    fn state(&self) -> &'static str {
        self.socket.state().as_str()
    }

    /// Why its last connection or reconnect attempt failed, as a `WebSocketError`, while it
    /// reconnects; once it closed because its attempts ran out, a `RetryExhaustedError`
    /// naming the last failure; `None` while connected.
    #[getter]
    fn last_error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let error = self.socket.last_error()?;
        Some(crate::errors::to_py(py, &error).into_value(py).into_any())
    }

    /// Whether the socket is still open (registered with its connector).
    #[getter]
    fn is_open(&self) -> bool {
        self.socket.is_open()
    }

    /// Whether the application has asked the socket to close (`close`, `bulk_close`): its
    /// messages not yet handed over are dropped.
    #[getter]
    fn is_close_requested(&self) -> bool {
        self.socket.is_close_requested()
    }

    /// Queues a message for this socket, like `Connector.send` with its ID but without looking
    /// the ID up: the way to reply from a trigger callback. `str` is sent as text, `bytes`,
    /// `bytearray` or `memoryview` as binary; messages to one socket leave in the order sent.
    /// Returns True when the message is queued, False when the slow-consumer policy dropped it
    /// (`drop_newest`) or closed the socket (`close`); raises `QueueFullError` under `fail`,
    /// `RemotelyClosedError` while the peer is closing it, `NoSuchSocketError` once it is closing
    /// otherwise or closed. Keeps the GIL: queueing never waits.
    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let message = payload::from_py(data)?;
        self.socket
            .send(message)
            .map(|delivery| delivery.is_queued())
            .or_raise(py)
    }

    /// Closes this socket with a close code (1000-1003, 1007-1014, 3000-4999) and a reason of
    /// at most 123 bytes, like `Connector.close` with its ID but without looking the ID up.
    /// Messages queued before leave first; closing a socket that is already closing does
    /// nothing. Raises `InvalidArgumentError` for a bad code or reason, `NoSuchSocketError` once
    /// the socket has closed.
    #[pyo3(signature = (code=1000, reason=""))]
    fn close(&self, py: Python<'_>, code: u16, reason: &str) -> PyResult<()> {
        self.socket.close(code, reason).or_raise(py)
    }

    /// Adds groups (one name or a list) to this socket, like `Connector.subscribe` with its ID;
    /// groups it has already are ignored. Raises `InvalidArgumentError` for a bad group name,
    /// `NoSuchSocketError` once the socket has closed.
    fn subscribe(&self, py: Python<'_>, groups: &Bound<'_, PyAny>) -> PyResult<()> {
        let groups = strings("groups", groups)?;
        self.socket.subscribe(&groups).or_raise(py)
    }

    /// Removes groups (one name or a list) from this socket, like `Connector.unsubscribe` with
    /// its ID; groups it does not have are ignored. Raises as `subscribe`.
    fn unsubscribe(&self, py: Python<'_>, groups: &Bound<'_, PyAny>) -> PyResult<()> {
        let groups = strings("groups", groups)?;
        self.socket.unsubscribe(&groups).or_raise(py)
    }

    /// The first handshake header called `name` (case-insensitive), or `None`.
    fn header(&self, name: &str) -> Option<&str> {
        self.socket.header(name)
    }

    /// The first query parameter called `name` (case-sensitive), or `None`.
    fn query_param(&self, name: &str) -> Option<&str> {
        self.socket.query_param(name)
    }

    /// The URI parameter called `name` (case-sensitive), or `None`.
    fn uri_param(&self, name: &str) -> Option<&str> {
        self.socket.uri_param(name)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PySocket>()
            .is_ok_and(|other| other.get().socket == self.socket)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.socket.id().hash(&mut hasher);
        hasher.finish()
    }

    pub(crate) fn __repr__(&self) -> String {
        format!(
            "<Socket id={:?} type={} path={:?}>",
            self.socket.id().as_str(),
            self.socket.socket_type().as_str(),
            self.socket.path()
        )
    }
}
