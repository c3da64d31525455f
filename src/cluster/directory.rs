//! The socket directory in Redis: which node holds which socket ID, and which nodes are alive.
//!
//! - `PREFIX:alive:NODE`: the node's liveness key, set with an expiry (`node_expiry`) and
//!   refreshed by a heartbeat every third of it; a node killed without a word stops refreshing
//!   it, and its IDs stop resolving when it expires.
//! - `PREFIX:socket:ID`: the node holding the socket. Written when a socket opens and deleted
//!   when it closes (never per message); a caller-chosen ID is claimed with it before the
//!   socket opens (taken only if absent, or held by a node that is no longer alive).
//! - `PREFIX:sockets:NODE`: the set of IDs the node wrote, so that a live node can clean up after
//!   a dead one, and a node can reconcile after a backplane outage.
//! - `PREFIX:nodes`: every node that has written there.
//!
//! Writes go through one task in order, batched into pipelines. While Redis is away they wait
//! in their queue; on every (re)connection the node first rewrites its part from its registry
//! (Redis may have lost everything), then the queued changes follow in order.

use super::{Cluster, Names};
use crate::error::{Error, ErrorKind, Result};
use crate::shared::Shared;
use crate::socket::SocketId;
use redis::aio::MultiplexedConnection;
use redis::Value;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most changes written in one pipeline.
const BATCH: usize = 512;
/// Most IDs of a dead node cleaned in one script call.
const SWEEP_BATCH: usize = 1000;

/// A change to this node's part of the directory.
pub(super) enum Change {
    /// Told once written (or failed).
    Added(SocketId, Option<oneshot::Sender<()>>),
    Removed(SocketId),
    /// Claim a caller-chosen ID; told `NonUniqueSocketId` when a live node holds it.
    Claim(SocketId, oneshot::Sender<Result<()>>),
}

/// The owner of KEYS[1] if it is alive (ARGV[1]: the liveness keys' prefix).
const OWNER: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner and redis.call('EXISTS', ARGV[1] .. owner) == 1 then return owner end
return false";

/// Sets KEYS[1] to ARGV[1] unless a live other node holds it (ARGV[2]: the liveness keys'
/// prefix); returns that node, or false when the claim is this node's.
const CLAIM: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. owner) == 1 then return owner end
redis.call('SET', KEYS[1], ARGV[1])
return false";

/// Deletes KEYS[1] if it still names ARGV[1] (a newer claim by another node stays).
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1";

/// Cleans up to ARGV[4] IDs of the node ARGV[1] if its liveness key ARGV[3] is gone: KEYS[1] its
/// ID set, KEYS[2] the set of nodes, ARGV[2] the socket keys' prefix. Returns how many it took.
const SWEEP: &str = r"
if redis.call('EXISTS', ARGV[3]) == 1 then return 0 end
local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[4]))
for _, id in ipairs(ids) do
  local key = ARGV[2] .. id
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
if #ids < tonumber(ARGV[4]) then redis.call('SREM', KEYS[2], ARGV[1]) end
return #ids";

/// The live node that holds `id`, if any.
pub(super) async fn owner(cluster: &Cluster, id: &str) -> Result<Option<String>> {
    let mut connection = cluster.link.connection()?;
    redis::cmd("EVAL")
        .arg(OWNER)
        .arg(1)
        .arg(cluster.names.socket_key(id))
        .arg(cluster.names.alive_prefix())
        .query_async(&mut connection)
        .await
        .map_err(|e| cluster.link.failed(&e))
}

/// The directory task: writes this node's changes, beats its heart, cleans up after dead
/// nodes, reconciles after each reconnection, and leaves the directory when the connector stops.
pub(super) async fn run(
    shared: Arc<Shared>,
    cluster: Arc<Cluster>,
    mut changes: mpsc::UnboundedReceiver<Change>,
) {
    // Wakes the loop when the backplane comes back, for the changes that waited.
    let mut epoch = cluster.link.epoch.subscribe();
    let mut heartbeat = tokio::time::interval(cluster.config.node_expiry / 3);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            Ok(()) = epoch.changed() => {}
            _ = heartbeat.tick() => {
                if let Ok(mut connection) = cluster.link.connection() {
                    if let Err(e) = beat(&cluster, &mut connection).await {
                        tracing::debug!(error = %e, "cluster heartbeat failed");
                    }
                }
            }
            taken = changes.recv_many(&mut batch, BATCH), if cluster.link.is_up() => {
                if taken == 0 { break }
                write(&cluster, &mut batch).await;
            }
        }
    }
    if let Err(e) = tokio::time::timeout(cluster.config.timeout, leave(&cluster)).await {
        tracing::debug!(error = %e, "leaving the cluster's directory took too long");
    }
}

/// Writes a batch of changes in one pipeline; claims learn their outcome.
async fn write(cluster: &Cluster, batch: &mut Vec<Change>) {
    let names = &cluster.names;
    let mut connection = match cluster.link.connection() {
        Ok(connection) => connection,
        Err(e) => {
            // Dropped: the reconciliation at the reconnection writes the truth.
            for change in batch.drain(..) {
                if let Change::Claim(_, done) = change {
                    let _ = done.send(Err(e.clone()));
                }
            }
            return;
        }
    };
    let node_set = names.node_sockets_key(&names.node);
    let mut pipe = redis::pipe();
    for change in batch.iter() {
        match change {
            Change::Added(id, _) => {
                pipe.cmd("SET")
                    .arg(names.socket_key(id.as_str()))
                    .arg(&names.node)
                    .ignore();
                pipe.cmd("SADD").arg(&node_set).arg(id.as_str()).ignore();
            }
            Change::Removed(id) => release(&mut pipe, names, id.as_str()),
            Change::Claim(id, _) => claim(&mut pipe, names, id),
        }
    }
    let outcome: Result<Vec<Option<String>>> = pipe
        .query_async(&mut connection)
        .await
        .map_err(|e| cluster.link.failed(&e));
    let mut claims = match outcome {
        Ok(owners) => Ok(owners.into_iter()),
        Err(e) => Err(e),
    };
    for change in batch.drain(..) {
        let (id, done) = match change {
            Change::Claim(id, done) => (id, done),
            Change::Added(_, Some(written)) => {
                let _ = written.send(());
                continue;
            }
            _ => continue,
        };
        let answer = match &mut claims {
            Ok(owners) => match owners.next().flatten() {
                None => Ok(()),
                Some(owner) => Err(Error::new(
                    ErrorKind::NonUniqueSocketId,
                    format!(
                        "socket ID {:?} is in use on node {owner:?} of the cluster",
                        id.as_str()
                    ),
                )),
            },
            Err(e) => Err(e.clone()),
        };
        let _ = done.send(answer);
    }
}

/// Adds to `pipe` the claim of `id` for this node (its answer: the live node that holds it
/// instead, or nil) and its entry in the node's set.
fn claim(pipe: &mut redis::Pipeline, names: &Names, id: &SocketId) {
    pipe.cmd("EVAL")
        .arg(CLAIM)
        .arg(1)
        .arg(names.socket_key(id.as_str()))
        .arg(&names.node)
        .arg(names.alive_prefix());
    pipe.cmd("SADD")
        .arg(names.node_sockets_key(&names.node))
        .arg(id.as_str())
        .ignore();
}

/// Adds to `pipe` the release of `id` (if this node still holds it) and its removal from the
/// node's set; no answer.
fn release(pipe: &mut redis::Pipeline, names: &Names, id: &str) {
    pipe.cmd("EVAL")
        .arg(RELEASE)
        .arg(1)
        .arg(names.socket_key(id))
        .arg(&names.node)
        .ignore();
    pipe.cmd("SREM")
        .arg(names.node_sockets_key(&names.node))
        .arg(id)
        .ignore();
}

/// Refreshes this node's liveness key and cleans up after nodes whose key expired.
async fn beat(cluster: &Cluster, connection: &mut MultiplexedConnection) -> Result<()> {
    let names = &cluster.names;
    let expiry = cluster.config.node_expiry.as_millis() as u64;
    let nodes: HashSet<String> = redis::pipe()
        .cmd("SET")
        .arg(names.alive_key(&names.node))
        .arg(1)
        .arg("PX")
        .arg(expiry)
        .ignore()
        .cmd("SADD")
        .arg(names.nodes_key())
        .arg(&names.node)
        .ignore()
        .cmd("SMEMBERS")
        .arg(names.nodes_key())
        .query_async::<(HashSet<String>,)>(connection)
        .await
        .map_err(|e| cluster.link.failed(&e))?
        .0;
    for node in nodes.iter().filter(|n| **n != names.node) {
        sweep(cluster, connection, node).await?;
    }
    Ok(())
}

/// Cleans one batch of IDs of `node` if it is dead; returns how many it took.
async fn sweep(
    cluster: &Cluster,
    connection: &mut MultiplexedConnection,
    node: &str,
) -> Result<usize> {
    let names = &cluster.names;
    let taken: usize = redis::cmd("EVAL")
        .arg(SWEEP)
        .arg(2)
        .arg(names.node_sockets_key(node))
        .arg(names.nodes_key())
        .arg(node)
        .arg(names.socket_prefix())
        .arg(names.alive_key(node))
        .arg(SWEEP_BATCH)
        .query_async(connection)
        .await
        .map_err(|e| cluster.link.failed(&e))?;
    if taken > 0 {
        tracing::info!(
            node,
            sockets = taken,
            "removed a dead node's sockets from the cluster's directory"
        );
    }
    Ok(taken)
}

/// At a (re)connection, before the node counts as up: it is alive again, and the directory
/// holds its open sockets (Redis may have restarted empty, or a node may have swept this one's
/// IDs while it was away).
pub(super) async fn reconcile(
    shared: &Shared,
    cluster: &Cluster,
    connection: &mut MultiplexedConnection,
) -> Result<()> {
    beat(cluster, connection).await?;
    let names = &cluster.names;
    let node_set = names.node_sockets_key(&names.node);
    let open: HashSet<SocketId> = shared
        .registry
        .all()
        .iter()
        .map(|s| s.id().clone())
        .collect();
    let written: HashSet<String> = redis::cmd("SMEMBERS")
        .arg(&node_set)
        .query_async(connection)
        .await
        .map_err(|e| cluster.link.failed(&e))?;
    let ids: Vec<&SocketId> = open.iter().collect();
    for chunk in ids.chunks(BATCH) {
        let mut pipe = redis::pipe();
        for id in chunk {
            claim(&mut pipe, names, id);
        }
        let owners: Vec<Option<String>> = pipe
            .query_async(connection)
            .await
            .map_err(|e| cluster.link.failed(&e))?;
        for (id, owner) in chunk.iter().zip(owners) {
            if let Some(owner) = owner {
                tracing::warn!(
                    socket_id = id.as_str(),
                    owner,
                    "another node took this socket's ID while the backplane was away"
                );
            }
        }
    }
    let gone: Vec<&String> = written
        .iter()
        .filter(|id| !open.contains(id.as_str()))
        .collect();
    for chunk in gone.chunks(BATCH) {
        let mut pipe = redis::pipe();
        for id in chunk {
            release(&mut pipe, names, id);
        }
        pipe.query_async::<Value>(connection)
            .await
            .map_err(|e| cluster.link.failed(&e))?;
    }
    Ok(())
}

/// The node stops: its liveness key goes at once (its IDs stop resolving), then its IDs.
async fn leave(cluster: &Cluster) -> Result<()> {
    let names = &cluster.names;
    let mut connection = cluster.link.take_for_leaving()?;
    redis::cmd("DEL")
        .arg(names.alive_key(&names.node))
        .query_async::<Value>(&mut connection)
        .await
        .map_err(|e| cluster.link.failed(&e))?;
    while sweep(cluster, &mut connection, &names.node).await? == SWEEP_BATCH {}
    Ok(())
}
