//! The authorization hook: what it sees (`AuthRequest`), what it may answer (`True`, `False`,
//! a list of groups, `Reject`), and the core `Authorizer` that calls it.

use crate::logging::log_exception;
use crate::socket::address;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyString};
use wsconnector::{AuthDecision, Authorizer};

/// An inbound upgrade request, as the authorization hook sees it before the 101.
#[pyclass(module = "wsconnector", name = "AuthRequest", frozen)]
pub(crate) struct PyAuthRequest(wsconnector::AuthRequest);

#[pymethods]
impl PyAuthRequest {
    /// The full request path (base path included), percent-decoded, without the query.
    #[getter]
    fn path(&self) -> &str {
        &self.0.path
    }

    /// The full request URI.
    #[getter]
    fn uri(&self) -> &str {
        &self.0.uri
    }

    /// The request headers as `(name, value)` pairs, in order.
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.0.headers.clone()
    }

    /// The decoded query parameters as `(name, value)` pairs, in order.
    #[getter]
    fn query(&self) -> Vec<(String, String)> {
        self.0.query.clone()
    }

    /// The client's address as `(host, port)`.
    #[getter]
    fn remote_address(&self) -> (String, u16) {
        address(self.0.remote_addr)
    }

    /// The subprotocols the client offered, in its order.
    #[getter]
    fn subprotocols(&self) -> Vec<String> {
        self.0.subprotocols.clone()
    }

    /// The certificate the client presented with mutual TLS, as DER `bytes`, or `None`: the
    /// hook can decide on it before the 101 (see `Socket.peer_certificate`).
    #[getter]
    fn peer_certificate<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.0
            .peer_certificate
            .as_ref()
            .map(|der| PyBytes::new(py, der))
    }

    /// The subject of `peer_certificate` as RFC 4514 text, or `None` (see
    /// `Socket.peer_certificate_subject`).
    #[getter]
    fn peer_certificate_subject(&self) -> Option<&str> {
        self.0.peer_certificate_subject.as_deref()
    }

    /// The first header called `name` (case-insensitive), or `None`.
    fn header(&self, name: &str) -> Option<&str> {
        self.0.header(name)
    }

    /// The first query parameter called `name` (case-sensitive), or `None`.
    fn query_param(&self, name: &str) -> Option<&str> {
        self.0.query_param(name)
    }

    fn __repr__(&self) -> String {
        format!("<AuthRequest uri={:?}>", self.0.uri)
    }
}

/// The authorization hook's refusal: the client gets this HTTP status (400-599) and reason
/// instead of the 101, and no socket is made.
#[pyclass(module = "wsconnector", name = "Reject", frozen, get_all)]
pub(crate) struct Reject {
    /// The HTTP status, e.g. 401 or 403.
    status: u16,
    /// The reason phrase, also sent as the response body.
    reason: String,
}

#[pymethods]
impl Reject {
    #[new]
    #[pyo3(signature = (status=403, reason="Forbidden"))]
    fn new(py: Python<'_>, status: u16, reason: &str) -> PyResult<Self> {
        if !(400..=599).contains(&status) {
            return Err(crate::errors::invalid(
                py,
                format!("a refusal's HTTP status must be 400-599, not {status}"),
            ));
        }
        Ok(Reject {
            status,
            reason: reason.to_owned(),
        })
    }

    fn __repr__(&self) -> String {
        format!("Reject({}, {:?})", self.status, self.reason)
    }
}

/// The core's authorizer, calling the Python hook. The core runs it on a blocking-pool
/// thread, never on an I/O thread, so holding the GIL here stalls no socket.
pub(crate) struct PyAuthorizer(pub(crate) Py<PyAny>);

impl Authorizer for PyAuthorizer {
    fn authorize(&self, request: &wsconnector::AuthRequest) -> AuthDecision {
        let decided = Python::try_attach(|py| {
            let answer = Py::new(py, PyAuthRequest(request.clone()))
                .and_then(|request| self.0.call1(py, (request,)))
                .and_then(|answer| decision(answer.bind(py)));
            answer.unwrap_or_else(|error| {
                log_exception(
                    py,
                    "the authorization hook failed; refusing with 500",
                    &error,
                );
                AuthDecision::reject(500, "authorization failed")
            })
        });
        // No interpreter to ask: it is shutting down.
        decided.unwrap_or_else(|| AuthDecision::reject(503, "server is stopping"))
    }
}

/// Reads the hook's answer: `True` accepts, `False` refuses with 403, a list (or other
/// iterable) of strings accepts into those groups, a `Reject` refuses with its status.
fn decision(answer: &Bound<'_, PyAny>) -> PyResult<AuthDecision> {
    if let Ok(flag) = answer.cast::<PyBool>() {
        return Ok(if flag.is_true() {
            AuthDecision::accept()
        } else {
            AuthDecision::reject(403, "Forbidden")
        });
    }
    if let Ok(reject) = answer.cast::<Reject>() {
        let reject = reject.get();
        return Ok(AuthDecision::reject(reject.status, reject.reason.clone()));
    }
    if !answer.is_none() && !answer.is_instance_of::<PyString>() {
        if let Ok(groups) = answer.extract::<Vec<String>>() {
            return Ok(AuthDecision::accept_with_groups(groups));
        }
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "the authorization hook must return True, False, a list of groups or wsconnector.Reject, not {}",
        answer.repr()?
    )))
}
