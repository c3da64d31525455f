//! Broadcast: one message queued for every socket that matches a filter, encoded once for the
//! inbound ones, and what became of it for each.

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
    /// The send failed (queue full under the fail policy, or the socket closed meanwhile).
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

/// The outcome of a broadcast.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastResult {
    /// How many sockets the message was queued for.
    pub delivered: usize,
    /// How many older queued messages the drop-oldest policy discarded to make room.
    pub dropped_oldest: usize,
    /// The matching sockets that did not get it.
    pub failures: Vec<BroadcastFailure>,
}

/// Queues `message` for every socket of the connector that matches `filter`.
pub(crate) fn broadcast(
    shared: &Shared,
    message: Message,
    filter: &SocketFilter,
) -> Result<BroadcastResult> {
    validate_groups(&filter.groups)?;
    check_fits(message.len(), shared.send_queue_bytes())?;
    let started = std::time::Instant::now();
    let mut result = BroadcastResult::default();
    // Server frames are unmasked and identical: encoded once for every inbound recipient.
    let mut server_frame = None;
    shared.registry.for_each_match(filter, |socket| {
        let item = match socket.socket_type() {
            SocketType::Inbound => Outgoing::Frame(
                server_frame
                    .get_or_insert_with(|| encode_server_frame(&message))
                    .clone(),
            ),
            SocketType::Outbound => Outgoing::Message(message.clone()),
        };
        let undelivered = match socket.queue().push(socket.id().as_str(), item) {
            Ok(Delivery::Queued) => None,
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
    Ok(result)
}
