//! The cluster-wide operations on [`ConnectorHandle`]: which node this is, a socket or the
//! sockets on any node, and waiting for the backplane. Without a cluster they answer for this
//! node alone, so that an application can call them either way.

use super::ClusterSocket;
use crate::config::MAX_DURATION;
use crate::error::Result;
use crate::handle::ConnectorHandle;
use crate::registry::SocketFilter;
use std::time::Duration;

impl ConnectorHandle {
    /// This node's name in its cluster; `None` without a cluster.
    pub fn node_name(&self) -> Option<&str> {
        self.cluster.as_deref().map(super::Cluster::node)
    }

    /// Waits up to `timeout` for the cluster's backplane to be reachable: `Ok` at once while it
    /// is (and without a cluster), `Timeout` if it does not come back in time. A starting node
    /// waits for it up to the cluster's timeout; a node that lost it reconnects by itself.
    pub fn wait_for_cluster(&self, timeout: Duration) -> Result<()> {
        self.shared.check_running()?;
        match &self.cluster {
            None => Ok(()),
            Some(cluster) => cluster.wait_up(&self.shared, timeout.min(MAX_DURATION)),
        }
    }

    /// The open socket with this ID on whichever node of the cluster holds it (this node alone
    /// without a cluster).
    pub fn cluster_socket(&self, socket_id: &str) -> Result<ClusterSocket> {
        self.shared.check_running()?;
        let node = self.node_name().unwrap_or_default();
        match (self.shared.registry.get(socket_id), &self.cluster) {
            (Ok(socket), _) => Ok(ClusterSocket::local(node, &socket)),
            (Err(missing), None) => Err(missing),
            (Err(_), Some(cluster)) => cluster.lookup(&self.shared, socket_id),
        }
    }

    /// The open sockets that match `filter` on every node that answers within the cluster's
    /// timeout (this node alone without a cluster); each node lists at most 10,000.
    pub fn cluster_sockets(&self, filter: &SocketFilter) -> Result<Vec<ClusterSocket>> {
        self.shared.check_running()?;
        let node = self.node_name().unwrap_or_default();
        let mut sockets: Vec<_> = self
            .sockets(filter)?
            .iter()
            .map(|s| ClusterSocket::local(node, s))
            .collect();
        if let Some(cluster) = &self.cluster {
            cluster.check_up()?;
            sockets.extend(cluster.list(&self.shared, filter)?);
        }
        Ok(sockets)
    }

    /// How many open sockets match `filter` on every node that answers within the cluster's
    /// timeout (this node alone without a cluster).
    pub fn cluster_socket_count(&self, filter: &SocketFilter) -> Result<usize> {
        self.shared.check_running()?;
        filter.validate()?;
        let here = self.shared.registry.select(filter).len();
        match &self.cluster {
            None => Ok(here),
            Some(cluster) => {
                cluster.check_up()?;
                Ok(here + cluster.count(&self.shared, filter)?)
            }
        }
    }
}
