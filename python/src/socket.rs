//! `Socket`: the attributes of one socket, read-only, as triggers and lookups hand them out.

use pyo3::prelude::*;
use std::net::SocketAddr;
use wsconnector::Socket;

/// An address as Python's socket module writes it: `(host, port)`.
pub(crate) fn address(addr: SocketAddr) -> (String, u16) {
    (addr.ip().to_string(), addr.port())
}

/// A socket's attributes: fixed at the handshake, except `groups`, which is read when asked.
/// Stays readable after the socket has closed.
#[pyclass(module = "wsconnector", name = "Socket", frozen)]
pub(crate) struct PySocket(pub(crate) Socket);

#[pymethods]
impl PySocket {
    /// The socket's unique ID.
    #[getter]
    fn id(&self) -> &str {
        self.0.id().as_str()
    }

    /// `"inbound"` (accepted by the listener) or `"outbound"` (opened by this connector).
    #[getter(r#type)]
    fn socket_type(&self) -> &'static str {
        self.0.socket_type().as_str()
    }

    /// The full path of the handshake request (base path included), without the query.
    #[getter]
    fn path(&self) -> &str {
        self.0.path()
    }

    /// The full request URI, e.g. `wss://example.com:8443/chat/room1?user=ann`.
    #[getter]
    fn uri(&self) -> &str {
        self.0.uri()
    }

    /// `"ws"` or `"wss"`.
    #[getter]
    fn scheme(&self) -> &'static str {
        self.0.scheme()
    }

    /// The handshake request's headers as `(name, value)` pairs, in order (for outbound
    /// sockets: the ones this connector sent).
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.0.headers().to_vec()
    }

    /// The handshake's query parameters as decoded `(name, value)` pairs, in order.
    #[getter]
    fn query(&self) -> Vec<(String, String)> {
        self.0.query().to_vec()
    }

    /// The negotiated subprotocol, or `None`.
    #[getter]
    fn subprotocol(&self) -> Option<&str> {
        self.0.subprotocol()
    }

    /// The groups the socket is subscribed to now, sorted (empty once it has closed).
    #[getter]
    fn groups(&self) -> Vec<String> {
        self.0.groups()
    }

    /// This end of the connection as `(host, port)`.
    #[getter]
    fn local_address(&self) -> (String, u16) {
        address(self.0.local_addr())
    }

    /// The peer's end of the connection as `(host, port)`.
    #[getter]
    fn remote_address(&self) -> (String, u16) {
        address(self.0.remote_addr())
    }

    /// The subject of the certificate the client presented (mutual TLS), or `None`.
    #[getter]
    fn peer_certificate_subject(&self) -> Option<&str> {
        self.0.peer_certificate_subject()
    }

    /// Whether the socket is still open (registered with its connector).
    #[getter]
    fn is_open(&self) -> bool {
        self.0.is_open()
    }

    /// The first handshake header called `name` (case-insensitive), or `None`.
    fn header(&self, name: &str) -> Option<&str> {
        self.0.header(name)
    }

    /// The first query parameter called `name` (case-sensitive), or `None`.
    fn query_param(&self, name: &str) -> Option<&str> {
        self.0.query_param(name)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PySocket>()
            .is_ok_and(|other| other.get().0 == self.0)
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.0.id().hash(&mut hasher);
        hasher.finish()
    }

    pub(crate) fn __repr__(&self) -> String {
        format!(
            "<Socket id={:?} type={} path={:?}>",
            self.0.id().as_str(),
            self.0.socket_type().as_str(),
            self.0.path()
        )
    }
}
