//! The exception hierarchy: one base `WebSocketError` and one subclass per core `ErrorKind`,
//! each also deriving from the builtin exception a Python caller would expect (`ValueError`
//! for bad arguments, `ConnectionError` for failed connects, `TimeoutError` for timeouts).
//!
//! Every name ends in `Error`, as Python's own exceptions do; the earlier short names
//! (`NoSuchSocket`, `Timeout`, ...) stay as aliases of the same classes. The timeout class is
//! `wsconnector.TimeoutError`: a module attribute that `from wsconnector import *` leaves out,
//! so that it never shadows the builtin it derives from.

use pyo3::exceptions::PySystemError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyTuple, PyType};
use wsconnector::{Error, ErrorKind};

/// One exception class: its name, its earlier name kept as an alias, the core kind it stands
/// for (`None` for the base), the builtin it also derives from, and its docstring.
struct Spec {
    name: &'static str,
    alias: Option<&'static str>,
    kind: Option<ErrorKind>,
    builtin: Option<&'static str>,
    doc: &'static str,
}

const SPECS: &[Spec] = &[
    Spec {
        name: "WebSocketError",
        alias: None,
        kind: None,
        builtin: Some("Exception"),
        doc: "Base class of every error the connector raises.",
    },
    Spec {
        name: "InvalidArgumentError",
        alias: Some("InvalidArgument"),
        kind: Some(ErrorKind::InvalidArgument),
        builtin: Some("ValueError"),
        doc: "An argument or setting was malformed: a bad URL, path pattern, header, close code or setting (the message names it).",
    },
    Spec {
        name: "NoSuchSocketError",
        alias: Some("NoSuchSocket"),
        kind: Some(ErrorKind::NoSuchSocket),
        builtin: Some("LookupError"),
        doc: "No open socket has the given ID (it never existed, or it has closed).",
    },
    Spec {
        name: "InvalidSocketIdError",
        alias: Some("InvalidSocketId"),
        kind: Some(ErrorKind::InvalidSocketId),
        builtin: Some("ValueError"),
        doc: "A caller-chosen socket ID is empty, blank, too long or has control characters.",
    },
    Spec {
        name: "NonUniqueSocketIdError",
        alias: Some("NonUniqueSocketId"),
        kind: Some(ErrorKind::NonUniqueSocketId),
        builtin: Some("ValueError"),
        doc: "A caller-chosen socket ID is already used by an open socket.",
    },
    Spec {
        name: "ConnectivityError",
        alias: None,
        kind: Some(ErrorKind::Connectivity),
        builtin: Some("ConnectionError"),
        doc: "The TCP connection could not be made or broke (refused, reset, unreachable).",
    },
    Spec {
        name: "DnsError",
        alias: None,
        kind: Some(ErrorKind::Dns),
        builtin: Some("ConnectionError"),
        doc: "The host name of an outbound URL did not resolve.",
    },
    Spec {
        name: "TlsError",
        alias: None,
        kind: Some(ErrorKind::Tls),
        builtin: None,
        doc: "TLS failed: untrusted or mismatched certificate, unreadable PEM, failed TLS handshake.",
    },
    Spec {
        name: "HandshakeError",
        alias: None,
        kind: Some(ErrorKind::Handshake),
        builtin: None,
        doc: "The peer answered the WebSocket handshake with an HTTP status other than 101; `.status` holds it.",
    },
    Spec {
        name: "TimeoutError",
        alias: Some("Timeout"),
        kind: Some(ErrorKind::Timeout),
        builtin: Some("TimeoutError"),
        doc: "A connect, handshake or stop did not finish in time.",
    },
    Spec {
        name: "RemotelyClosedError",
        alias: Some("RemotelyClosed"),
        kind: Some(ErrorKind::RemotelyClosed),
        builtin: None,
        doc: "The peer closed the socket.",
    },
    Spec {
        name: "LimitExceededError",
        alias: Some("LimitExceeded"),
        kind: Some(ErrorKind::LimitExceeded),
        builtin: None,
        doc: "A configured limit was reached (connections, message size).",
    },
    Spec {
        name: "QueueFullError",
        alias: Some("QueueFull"),
        kind: Some(ErrorKind::QueueFull),
        builtin: None,
        doc: "The socket's send queue is full and the slow-consumer policy is 'fail'.",
    },
    Spec {
        name: "InvalidStateError",
        alias: Some("InvalidState"),
        kind: Some(ErrorKind::InvalidState),
        builtin: Some("RuntimeError"),
        doc: "The call is not allowed now (e.g. an operation before start, stop from a trigger).",
    },
    Spec {
        name: "StoppedError",
        alias: Some("Stopped"),
        kind: Some(ErrorKind::Stopped),
        builtin: None,
        doc: "The connector is stopped or stopping.",
    },
    Spec {
        name: "ProtocolError",
        alias: None,
        kind: Some(ErrorKind::Protocol),
        builtin: None,
        doc: "The peer broke the WebSocket protocol.",
    },
    Spec {
        name: "InternalError",
        alias: None,
        kind: Some(ErrorKind::Internal),
        builtin: None,
        doc: "A panic inside the library, caught; the connector keeps running.",
    },
    Spec {
        name: "RetryExhaustedError",
        alias: None,
        kind: Some(ErrorKind::RetryExhausted),
        builtin: Some("ConnectionError"),
        doc: "An outbound socket's reconnect attempts ran out (its policy's maximum) and it closed.",
    },
    Spec {
        name: "BasicAuthenticationError",
        alias: None,
        kind: Some(ErrorKind::BasicAuthentication),
        builtin: None,
        doc: "The server refused the handshake's basic authentication (HTTP 401); `.status` holds it.",
    },
    Spec {
        name: "ReconnectingError",
        alias: None,
        kind: Some(ErrorKind::Reconnecting),
        builtin: None,
        doc: "The outbound socket is reconnecting and its policy fails sends meanwhile.",
    },
];

/// The subclasses of `HandshakeError` for the statuses Mule names (`WEBSOCKETS:UNAUTHORIZED`
/// ...): name, Mule's name as an alias where it differs, status, docstring. A refusal with
/// another status is a plain `HandshakeError`.
const HANDSHAKE_STATUSES: &[(&str, Option<&str>, u16, &str)] = &[
    (
        "UnauthorizedError",
        Some("Unauthorized"),
        401,
        "The peer refused the handshake with HTTP 401.",
    ),
    (
        "ForbiddenError",
        Some("Forbidden"),
        403,
        "The peer refused the handshake with HTTP 403.",
    ),
    (
        "NotFoundError",
        Some("NotFound"),
        404,
        "The peer refused the handshake with HTTP 404.",
    ),
    (
        "InternalServerError",
        None,
        500,
        "The peer refused the handshake with HTTP 500.",
    ),
    (
        "ServiceUnavailableError",
        Some("ServiceUnavailable"),
        503,
        "The peer refused the handshake with HTTP 503.",
    ),
];

/// The classes made from `SPECS`, in the same order, then those of `HANDSHAKE_STATUSES`, once
/// per process.
static CLASSES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Vec<Py<PyType>>> {
    CLASSES.get_or_try_init(py, || {
        let builtins = py.import("builtins")?;
        let type_ = py.get_type::<PyType>();
        let mut made: Vec<Py<PyType>> = Vec::with_capacity(SPECS.len());
        for spec in SPECS {
            let mut bases = Vec::new();
            if spec.kind.is_some() {
                bases.push(made[0].bind(py).clone().into_any());
            }
            if let Some(builtin) = spec.builtin {
                bases.push(builtins.getattr(builtin)?);
            }
            let namespace = PyDict::new(py);
            namespace.set_item("__doc__", spec.doc)?;
            namespace.set_item("__module__", "wsconnector")?;
            if matches!(
                spec.kind,
                Some(ErrorKind::Handshake | ErrorKind::BasicAuthentication)
            ) {
                namespace.set_item("status", py.None())?;
            }
            if spec.kind == Some(ErrorKind::Handshake) {
                namespace.set_item("body", py.None())?;
                namespace.set_item("headers", py.None())?;
            }
            let class = type_.call1((spec.name, PyTuple::new(py, bases)?, namespace))?;
            made.push(class.cast_into::<PyType>()?.unbind());
        }
        let handshake = SPECS
            .iter()
            .position(|spec| spec.kind == Some(ErrorKind::Handshake))
            .map(|at| made[at].clone_ref(py))
            .ok_or_else(|| PySystemError::new_err("no HandshakeError class"))?;
        for (name, _, _, doc) in HANDSHAKE_STATUSES {
            let namespace = PyDict::new(py);
            namespace.set_item("__doc__", doc)?;
            namespace.set_item("__module__", "wsconnector")?;
            let bases = PyTuple::new(py, [handshake.bind(py)])?;
            let class = type_.call1((name, bases, namespace))?;
            made.push(class.cast_into::<PyType>()?.unbind());
        }
        Ok(made)
    })
}

/// Adds every exception class to the module; a core error kind without its class (one added
/// to the core's table and not to `SPECS`) fails the import.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    if let Some(kind) = ErrorKind::ALL
        .iter()
        .find(|kind| !SPECS.iter().any(|spec| spec.kind == Some(**kind)))
    {
        return Err(PySystemError::new_err(format!(
            "wsconnector has no exception class for the error kind {kind}"
        )));
    }
    let classes = classes(py)?;
    for (spec, class) in SPECS.iter().zip(classes) {
        module.add(spec.name, class.bind(py))?;
        if let Some(alias) = spec.alias {
            module.add(alias, class.bind(py))?;
        }
    }
    let statuses = HANDSHAKE_STATUSES.iter().zip(&classes[SPECS.len()..]);
    for ((name, alias, _, _), class) in statuses {
        module.add(*name, class.bind(py))?;
        if let Some(alias) = alias {
            module.add(*alias, class.bind(py))?;
        }
    }
    module.add(
        "PanicException",
        py.get_type::<pyo3::panic::PanicException>(),
    )?;
    Ok(())
}

/// The Python exception for a core error: the class of its kind (for a refused handshake,
/// the subclass of its status if it has one), the core's message, and for a refused handshake
/// the HTTP status as `.status`, and what the server answered as `.body` and `.headers`.
pub(crate) fn to_py(py: Python<'_>, error: &Error) -> PyErr {
    match exception(py, error) {
        Ok(exception) => exception,
        Err(failed) => failed,
    }
}

fn exception(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let classes = classes(py)?;
    let by_status = match (error.kind(), error.http_status()) {
        (ErrorKind::Handshake, Some(status)) => HANDSHAKE_STATUSES
            .iter()
            .position(|(_, _, s, _)| *s == status)
            .map(|at| SPECS.len() + at),
        _ => None,
    };
    let index = by_status.unwrap_or_else(|| {
        SPECS
            .iter()
            .position(|spec| spec.kind == Some(error.kind()))
            .unwrap_or(0)
    });
    let value = classes[index].bind(py).call1((error.message(),))?;
    if let Some(status) = error.http_status() {
        value.setattr("status", status)?;
    }
    if let Some(response) = error.handshake_response() {
        value.setattr("body", PyBytes::new(py, &response.body))?;
        value.setattr("headers", response.headers.clone())?;
    }
    Ok(PyErr::from_value(value))
}

/// `InvalidArgumentError` with a message; for settings and arguments the binding checks itself.
pub(crate) fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py(py, &Error::new(ErrorKind::InvalidArgument, message))
}

/// `InvalidStateError` with a message.
pub(crate) fn invalid_state(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py(py, &Error::new(ErrorKind::InvalidState, message))
}

/// Turns core results into Python results.
pub(crate) trait OrRaise<T> {
    /// The value, or the core error as its Python exception.
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for wsconnector::Result<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, &e))
    }
}
