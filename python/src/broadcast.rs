//! Selecting sockets (path, socket type, groups, exclusions) for broadcast, bulk close and
//! `sockets()`, and what a broadcast reports back; a socket as the cluster describes it.

use crate::args::opt_strings;
use crate::errors::{self, invalid, OrRaise};
use pyo3::prelude::*;
use wsconnector::{SocketFilter, SocketId, SocketType, Undelivered};

/// The group and exclusion keywords of a filter, as the caller gave them.
pub(crate) struct Selection<'a, 'py> {
    /// `groups=`: member of any.
    pub groups: Option<&'a Bound<'py, PyAny>>,
    /// `all_groups=`: member of every one.
    pub all_groups: Option<&'a Bound<'py, PyAny>>,
    /// `except_socket_ids=`: left out by ID.
    pub except_socket_ids: Option<&'a Bound<'py, PyAny>>,
    /// `except_groups=`: left out when in any.
    pub except_groups: Option<&'a Bound<'py, PyAny>>,
}

/// The filter of `path=`, `socket_type=`, `groups=` (member of any), `all_groups=` (member of
/// every one), `except_socket_ids=` and `except_groups=` (sockets left out); every part is
/// optional and the parts combine with AND.
pub(crate) fn filter(
    py: Python<'_>,
    path: Option<&str>,
    socket_type: Option<&str>,
    selection: Selection<'_, '_>,
) -> PyResult<SocketFilter> {
    let excepted = opt_strings("except_socket_ids", selection.except_socket_ids)?
        .iter()
        .map(|id| SocketId::new(id))
        .collect::<wsconnector::Result<Vec<_>>>()
        .or_raise(py)?;
    let mut filter = SocketFilter::all()
        .with_groups(opt_strings("groups", selection.groups)?)
        .with_all_groups(opt_strings("all_groups", selection.all_groups)?)
        .except_socket_ids(excepted)
        .except_groups(opt_strings("except_groups", selection.except_groups)?);
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
    /// The cluster node that holds the socket, for a failure on another node; else `None`.
    node: Option<String>,
}

#[pymethods]
impl BroadcastFailure {
    fn __repr__(&self) -> String {
        format!(
            "BroadcastFailure(socket_id={:?}, reason={:?}, node={:?})",
            self.socket_id, self.reason, self.node
        )
    }
}

impl BroadcastFailure {
    fn from_core(
        py: Python<'_>,
        failure: wsconnector::BroadcastFailure,
        node: Option<String>,
    ) -> PyResult<Py<Self>> {
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
                node,
            },
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
    /// How many of the `delivered` went to this node's reconnecting outbound sockets whose
    /// policy buffers sends: they leave once each has reconnected (those whose policy fails
    /// sends are `failures` with `ReconnectingError`).
    buffered: usize,
    /// The matching sockets of this node that did not get the message.
    failures: Vec<Py<BroadcastFailure>>,
    /// How many nodes' counts are in `delivered`, this one included (1 without a cluster, or
    /// with `wait=False`).
    nodes_answered: usize,
    /// Every node that got the message answered within `cluster_timeout` (always True without
    /// a cluster; False with `wait=False`, which waits for none).
    complete: bool,
    /// The matching sockets of other nodes that did not get it (at most 100 per node), each
    /// with its `node`.
    remote_failures: Vec<Py<BroadcastFailure>>,
    /// Failures on other nodes left out of `remote_failures`.
    remote_failures_omitted: usize,
}

#[pymethods]
impl BroadcastResult {
    fn __repr__(&self) -> String {
        format!(
            "BroadcastResult(delivered={}, failures={}, nodes_answered={})",
            self.delivered,
            self.failures.len(),
            self.nodes_answered
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
            .map(|failure| BroadcastFailure::from_core(py, failure, None))
            .collect::<PyResult<_>>()?;
        let remote_failures = result
            .remote_failures
            .into_iter()
            .map(|remote| BroadcastFailure::from_core(py, remote.failure, Some(remote.node)))
            .collect::<PyResult<_>>()?;
        Ok(BroadcastResult {
            delivered: result.delivered,
            dropped_oldest: result.dropped_oldest,
            buffered: result.buffered,
            failures,
            nodes_answered: result.nodes_answered,
            complete: result.complete,
            remote_failures,
            remote_failures_omitted: result.remote_failures_omitted,
        })
    }
}

/// An open socket on some node of the cluster, as that node describes it.
#[pyclass(module = "wsconnector", frozen, get_all)]
pub(crate) struct ClusterSocket {
    /// The node that holds it (empty without a cluster).
    node: String,
    /// Its ID.
    socket_id: String,
    /// `"inbound"` or `"outbound"`.
    socket_type: &'static str,
    /// Its full path.
    path: String,
    /// Its groups.
    groups: Vec<String>,
}

#[pymethods]
impl ClusterSocket {
    fn __repr__(&self) -> String {
        format!(
            "ClusterSocket(node={:?}, socket_id={:?}, path={:?})",
            self.node, self.socket_id, self.path
        )
    }
}

impl From<wsconnector::ClusterSocket> for ClusterSocket {
    fn from(socket: wsconnector::ClusterSocket) -> Self {
        ClusterSocket {
            node: socket.node,
            socket_id: socket.id.to_string(),
            socket_type: socket.socket_type.as_str(),
            path: socket.path,
            groups: socket.groups,
        }
    }
}
