//! What a node does with what arrives on the backplane: requests run on its own sockets through
//! the connector's local operations and are answered on the origin's channel; replies go to the
//! request that waits for them; anything malformed or foreign is logged and ignored.

use super::wire::{Body, DirectOp, Envelope, Reply, WireFailure, WireSocket};
use super::wire::{MAX_LISTED_SOCKETS, MAX_REPORTED_FAILURES};
use super::Cluster;
use crate::broadcast::{deliver, Undelivered};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::close::validate_close;
use crate::queue::Delivery;
use crate::registry::SocketFilter;
use crate::shared::Shared;
use crate::socket::SocketType;
use bytes::Bytes;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

/// How many recent multi-group requests a node remembers, to answer each once.
const SEEN: usize = 4096;

/// Recent requests that came on several groups' channels (one receipt per channel the node
/// subscribes to): the first is served, the others are answered as duplicates, so that a
/// socket in several of the groups gets the message once.
#[derive(Default)]
pub(super) struct Seen(Mutex<SeenRequests>);

/// Requests by (origin, sequence number), and the order they came in, oldest first.
type SeenRequests = (HashSet<(String, u64)>, VecDeque<(String, u64)>);

impl Seen {
    /// True the first time a request is seen.
    fn first_time(&self, origin: &str, seq: u64) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *seen;
        let key = (origin.to_owned(), seq);
        if !set.insert(key.clone()) {
            return false;
        }
        order.push_back(key);
        if order.len() > SEEN {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }
}

/// Handles one message from the backplane.
pub(super) fn handle(shared: &Arc<Shared>, cluster: &Arc<Cluster>, payload: Bytes) {
    let envelope = match Envelope::decode(&payload, cluster.max_wire) {
        Ok(envelope) => envelope,
        Err(why) => {
            tracing::warn!(
                node = cluster.node(),
                bytes = payload.len(),
                why,
                "ignored a malformed or foreign message on the cluster's channels"
            );
            return;
        }
    };
    let Envelope {
        origin,
        seq,
        wants_reply,
        body,
    } = envelope;
    if let Body::Reply(reply) = body {
        cluster.pending.deliver(seq, origin, reply);
        return;
    }
    if origin == cluster.node() {
        // This node's own request, back from Redis: its local part is done already.
        if wants_reply {
            cluster.pending.deliver(seq, origin, Reply::Duplicate);
        }
        return;
    }
    let multi_group = match &body {
        Body::Broadcast { filter, .. }
        | Body::BulkClose { filter, .. }
        | Body::Count { filter }
        | Body::List { filter } => filter.groups.len() > 1,
        Body::Direct { .. } | Body::Reply(_) => false,
    };
    // A remote subscribe is answered once this node follows the groups' channels.
    let changes_groups = matches!(
        &body,
        Body::Direct {
            op: DirectOp::Subscribe(_) | DirectOp::Unsubscribe(_),
            ..
        }
    );
    let reply = if multi_group && !cluster.seen.first_time(&origin, seq) {
        Reply::Duplicate
    } else {
        answer(shared, body).unwrap_or_else(|e| Reply::Failed {
            kind: e.kind() as u8,
            message: e.message().to_owned(),
        })
    };
    if !wants_reply {
        return;
    }
    if changes_groups {
        let cluster = cluster.clone();
        shared.tasks.spawn_on(
            async move {
                cluster.settled().await;
                send_reply(&cluster, &origin, seq, reply);
            },
            shared.io.general(),
        );
    } else {
        send_reply(cluster, &origin, seq, reply);
    }
}

fn send_reply(cluster: &Cluster, origin: &str, seq: u64, reply: Reply) {
    let reply = Envelope {
        origin: cluster.node().to_owned(),
        seq,
        wants_reply: false,
        body: Body::Reply(reply),
    };
    let sent = reply.encode(cluster.max_wire).and_then(|bytes| {
        cluster
            .link
            .publish(vec![cluster.names.node_channel(origin)], bytes)
    });
    if let Err(e) = sent {
        tracing::warn!(node = cluster.node(), origin, error = %e, "cannot answer a node");
    }
}

/// Runs a request on this node's sockets.
fn answer(shared: &Shared, body: Body) -> Result<Reply> {
    let registry = &shared.registry;
    Ok(match body {
        Body::Broadcast { filter, message } => {
            check_filter(&filter)?;
            let result = deliver(shared, &message, &filter);
            let mut failures = Vec::new();
            let mut omitted = 0;
            for failure in result.failures {
                if failures.len() == MAX_REPORTED_FAILURES {
                    omitted += 1;
                    continue;
                }
                let (what, kind, message) = match failure.what {
                    Undelivered::Dropped => (1, 0, String::new()),
                    Undelivered::Closed => (2, 0, String::new()),
                    Undelivered::Failed(e) => (3, e.kind() as u8, e.message().to_owned()),
                };
                failures.push(WireFailure {
                    socket_id: failure.socket_id.to_string(),
                    what,
                    kind,
                    message,
                });
            }
            Reply::Counts {
                count: result.delivered as u64,
                dropped_oldest: result.dropped_oldest as u64,
                failures,
                failures_omitted: omitted,
            }
        }
        Body::BulkClose {
            filter,
            code,
            reason,
        } => {
            check_filter(&filter)?;
            validate_close(code, &reason)?;
            counts(registry.close_matching(&filter, code, &reason))
        }
        Body::Count { filter } => {
            check_filter(&filter)?;
            counts(registry.select(&filter).len())
        }
        Body::List { filter } => {
            check_filter(&filter)?;
            let matching = registry.select(&filter);
            let truncated = matching.len() > MAX_LISTED_SOCKETS;
            let sockets = matching
                .iter()
                .take(MAX_LISTED_SOCKETS)
                .map(|s| WireSocket {
                    id: s.id().to_string(),
                    inbound: s.socket_type() == SocketType::Inbound,
                    path: s.path().to_owned(),
                    groups: s.groups(),
                })
                .collect();
            Reply::Sockets { sockets, truncated }
        }
        Body::Direct { socket_id, op } => {
            let socket = registry.get(&socket_id)?;
            match op {
                DirectOp::Send(message) => match socket.send(message)? {
                    Delivery::Queued => Reply::Delivered {
                        code: 0,
                        dropped: 0,
                    },
                    Delivery::QueuedDroppingOldest(n) => Reply::Delivered {
                        code: 1,
                        dropped: n as u64,
                    },
                    Delivery::DroppedNewest => Reply::Delivered {
                        code: 2,
                        dropped: 0,
                    },
                    Delivery::ClosedSlowConsumer => Reply::Delivered {
                        code: 3,
                        dropped: 0,
                    },
                    Delivery::Buffered => Reply::Delivered {
                        code: 4,
                        dropped: 0,
                    },
                },
                DirectOp::Close { code, reason } => {
                    socket.close(code, &reason)?;
                    Reply::Done
                }
                DirectOp::Subscribe(groups) => {
                    socket.subscribe(&groups)?;
                    Reply::Done
                }
                DirectOp::Unsubscribe(groups) => {
                    socket.unsubscribe(&groups)?;
                    Reply::Done
                }
                DirectOp::Lookup => Reply::Sockets {
                    sockets: vec![WireSocket {
                        id: socket.id().to_string(),
                        inbound: socket.socket_type() == SocketType::Inbound,
                        path: socket.path().to_owned(),
                        groups: socket.groups(),
                    }],
                    truncated: false,
                },
            }
        }
        Body::Reply(_) => return Err(Error::new(ErrorKind::Internal, "a reply is not a request")),
    })
}

fn counts(count: usize) -> Reply {
    Reply::Counts {
        count: count as u64,
        dropped_oldest: 0,
        failures: Vec::new(),
        failures_omitted: 0,
    }
}

/// A filter from another node passes the same checks as a local one.
fn check_filter(filter: &SocketFilter) -> Result<()> {
    filter.validate()
}

/// The error kind with this number (an unknown one, from a newer node, is `Internal`).
pub(super) fn kind_from_code(code: u8) -> ErrorKind {
    use ErrorKind::*;
    [
        InvalidArgument,
        NoSuchSocket,
        InvalidSocketId,
        NonUniqueSocketId,
        Connectivity,
        Dns,
        Tls,
        Handshake,
        Timeout,
        RemotelyClosed,
        LimitExceeded,
        QueueFull,
        InvalidState,
        Stopped,
        Protocol,
        Internal,
    ]
    .into_iter()
    .find(|kind| *kind as u8 == code)
    .unwrap_or(Internal)
}
