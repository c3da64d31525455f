//! Selecting sockets (path, socket type, groups) for broadcast, bulk close and `sockets()`, and
//! what a broadcast reports back.

use crate::args::opt_strings;
use crate::errors::{self, invalid, OrRaise};
use pyo3::prelude::*;
use wsconnector::{SocketFilter, SocketType, Undelivered};

/// The filter of `path=`, `socket_type=` and `groups=`; every part is optional and the parts
/// combine with AND (a socket in any one of the groups matches that part).
pub(crate) fn filter(
    py: Python<'_>,
    path: Option<&str>,
    socket_type: Option<&str>,
    groups: Option<&Bound<'_, PyAny>>,
) -> PyResult<SocketFilter> {
    let mut filter = SocketFilter::all().with_groups(opt_strings("groups", groups)?);
    if let Some(path) = path {
        filter = filter.with_path(path).or_raise(py)?;
    }
    match socket_type {
        None | Some("all") => {}
        Some("inbound") => filter = filter.with_type(SocketType::Inbound),
        Some("outbound") => filter = filter.with_type(SocketType::Outbound),
        Some(other) => {
            return Err(invalid(
                py,
                format!("socket_type must be 'inbound', 'outbound' or 'all', not {other:?}"),
            ))
        }
    }
    Ok(filter)
}

/// A socket a broadcast did not reach, and why.
#[pyclass(module = "wsconnector", frozen, get_all)]
pub(crate) struct BroadcastFailure {
    /// The socket's ID.
    socket_id: String,
    /// `"dropped"` (queue full, policy drop_newest), `"closed"` (queue full, policy close:
    /// the socket is closing with 1013) or `"failed"` (see `error`).
    reason: &'static str,
    /// For `"failed"`: the error (`QueueFullError` under the fail policy, `NoSuchSocketError` if it
    /// closed meanwhile, `ReconnectingError` while it reconnects under the fail policy); else
    /// `None`.
    error: Option<Py<PyAny>>,
}

#[pymethods]
impl BroadcastFailure {
    fn __repr__(&self) -> String {
        format!(
            "BroadcastFailure(socket_id={:?}, reason={:?})",
            self.socket_id, self.reason
        )
    }
}

/// What a broadcast did: how many sockets got the message, and which matching ones did not.
#[pyclass(module = "wsconnector", frozen, get_all)]
pub(crate) struct BroadcastResult {
    /// How many sockets the message was queued for.
    delivered: usize,
    /// How many older queued messages the drop_oldest policy discarded to make room.
    dropped_oldest: usize,
    /// How many of the `delivered` went to reconnecting outbound sockets whose policy buffers
    /// sends: they leave once each has reconnected (those whose policy fails sends are
    /// `failures` with `ReconnectingError`).
    buffered: usize,
    /// The matching sockets that did not get the message.
    failures: Vec<Py<BroadcastFailure>>,
}

#[pymethods]
impl BroadcastResult {
    fn __repr__(&self) -> String {
        format!(
            "BroadcastResult(delivered={}, failures={})",
            self.delivered,
            self.failures.len()
        )
    }
}

impl BroadcastResult {
    /// The core's result as Python objects.
    pub(crate) fn from_core(
        py: Python<'_>,
        result: wsconnector::BroadcastResult,
    ) -> PyResult<Self> {
        let failures = result
            .failures
            .into_iter()
            .map(|failure| {
                let (reason, error) = match failure.what {
                    Undelivered::Dropped => ("dropped", None),
                    Undelivered::Closed => ("closed", None),
                    Undelivered::Failed(error) => (
                        "failed",
                        Some(errors::to_py(py, &error).into_value(py).into_any()),
                    ),
                };
                Py::new(
                    py,
                    BroadcastFailure {
                        socket_id: failure.socket_id.to_string(),
                        reason,
                        error,
                    },
                )
            })
            .collect::<PyResult<_>>()?;
        Ok(BroadcastResult {
            delivered: result.delivered,
            dropped_oldest: result.dropped_oldest,
            buffered: result.buffered,
            failures,
        })
    }
}
