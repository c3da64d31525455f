//! Broadcast: one message queued for every socket that matches a filter, encoded once for the
//! inbound ones, and what became of it for each; with a cluster, on every node.

use crate::config::validate_groups;
use crate::error::{Error, Result};
use crate::protocol::frame::encode_server_frame;
use crate::protocol::message::Message;
use crate::queue::{check_fits, Delivery, Outgoing};
use crate::registry::SocketFilter;
use crate::shared::Shared;
use crate::socket::{SocketId, SocketType};

/// What broadcast did for one socket that did not get the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undelivered {
    /// Its queue was full and the policy dropped the message.
    Dropped,
    /// Its queue was full and the policy closed the socket (1013).
    Closed,
    /// The send failed (queue full under the fail policy, the socket closed meanwhile, or it
    /// is reconnecting and its policy fails sends).
    Failed(Error),
}

/// One socket a broadcast did not reach, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastFailure {
    /// The socket.
    pub socket_id: SocketId,
    /// What happened instead.
    pub what: Undelivered,
}

/// One broadcast failure on another node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFailure {
    /// The node that holds the socket.
    pub node: String,
    /// The socket, and what happened instead.
    pub failure: BroadcastFailure,
}

/// The outcome of a broadcast. With a cluster, the counts are every node's that answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastResult {
    /// How many sockets the message was queued for.
    pub delivered: usize,
    /// How many older queued messages the drop-oldest policy discarded to make room.
    pub dropped_oldest: usize,
    /// How many of the `delivered` went to this node's reconnecting outbound sockets, whose
    /// policy buffers sends: they leave once each has reconnected. (Reconnecting sockets whose policy fails
    /// sends are among the `failures`, with `ErrorKind::Reconnecting`.)
    pub buffered: usize,
    /// The matching sockets of this node that did not get it.
    pub failures: Vec<BroadcastFailure>,
    /// How many nodes' counts are in the result, this one included (1 without a cluster, or
    /// from [`ConnectorHandle::publish`](crate::ConnectorHandle::publish)).
    pub nodes_answered: usize,
    /// Every node that got the message answered within the cluster's timeout (always true
    /// without a cluster; false from `publish`, which waits for none).
    pub complete: bool,
    /// The matching sockets of other nodes that did not get it, at most 100 per node.
    pub remote_failures: Vec<RemoteFailure>,
    /// Failures on other nodes left out of `remote_failures`.
    pub remote_failures_omitted: usize,
}

/// Checks a broadcast's filter and message: valid groups, and a message that fits a send
/// queue (`LimitExceeded` otherwise: it would reach no socket).
pub(crate) fn check(shared: &Shared, message: &Message, filter: &SocketFilter) -> Result<()> {
    validate_groups(&filter.groups)?;
    check_fits(message.len(), shared.send_queue_bytes())
}

/// Queues `message` for this node's sockets that match `filter` (checked by the caller).
pub(crate) fn deliver(
    shared: &Shared,
    message: &Message,
    filter: &SocketFilter,
) -> BroadcastResult {
    let started = std::time::Instant::now();
    let mut result = BroadcastResult {
        nodes_answered: 1,
        complete: true,
        ..BroadcastResult::default()
    };
    // Server frames are unmasked and identical: encoded once for every inbound recipient.
    let mut server_frame = None;
    shared.registry.for_each_match(filter, |socket| {
        let item = match socket.socket_type() {
            SocketType::Inbound => Outgoing::Frame(
                server_frame
                    .get_or_insert_with(|| encode_server_frame(message))
                    .clone(),
            ),
            SocketType::Outbound => Outgoing::Message(message.clone()),
        };
        let undelivered = match socket.queue().push(socket.id().as_str(), item) {
            Ok(Delivery::Queued) => None,
            Ok(Delivery::Buffered) => {
                result.buffered += 1;
                None
            }
            Ok(Delivery::QueuedDroppingOldest(n)) => {
                result.dropped_oldest += n;
                None
            }
            Ok(Delivery::DroppedNewest) => Some(Undelivered::Dropped),
            Ok(Delivery::ClosedSlowConsumer) => Some(Undelivered::Closed),
            Err(e) => Some(Undelivered::Failed(e)),
        };
        match undelivered {
            None => result.delivered += 1,
            Some(what) => result.failures.push(BroadcastFailure {
                socket_id: socket.id().clone(),
                what,
            }),
        }
    });
    shared
        .metrics
        .broadcast(result.delivered, started.elapsed());
    result
}
