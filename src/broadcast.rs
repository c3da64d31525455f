//! Broadcast: one message queued for every socket that matches a filter, encoded once for the
//! inbound ones (compressed once per window size for those whose permessage-deflate keeps no
//! server context), and what became of it for each; with a cluster, on every node.

use crate::config::Compression;
use crate::error::{Error, Result};
use crate::protocol::deflate::compress_once;
use crate::protocol::extensions::{PerMessageDeflate, WINDOW_BITS};
use crate::protocol::frame::encode_server_frame;
use crate::protocol::message::{Message, MessageKind};
use crate::queue::{check_fits, reply, Delivery, Outgoing};
use crate::registry::SocketFilter;
use crate::shared::Shared;
use crate::socket::{Socket, SocketId, SocketType};
use bytes::Bytes;

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
    filter.validate()?;
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
    let mut frames = SharedFrames::new(message, &shared.config.compression);
    let thread = reply::open_now();
    shared.registry.for_each_match(filter, |socket| {
        let item = frames.for_socket(socket);
        let undelivered = match socket
            .queue()
            .push_from_thread(socket.id().as_str(), item, thread)
        {
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

/// The frames a broadcast shares among its inbound recipients (server frames are unmasked, so
/// identical), each encoded once, when first needed: the plain frame, and a compressed one per
/// window size for the sockets whose permessage-deflate keeps no server context (their frames
/// depend on the message alone).
struct SharedFrames<'a> {
    message: &'a Message,
    /// The message's kind and length, read once (each is a match on its representation).
    kind: MessageKind,
    len: usize,
    /// Shorter messages go uncompressed to every socket.
    threshold: usize,
    /// zlib's compression level.
    level: u8,
    plain: Option<Bytes>,
    /// By window size, 8-15 bits (and whether it is compressed: not at 8 bits).
    compressed: [Option<(Bytes, bool)>; 8],
}

impl<'a> SharedFrames<'a> {
    fn new(message: &'a Message, settings: &Compression) -> Self {
        SharedFrames {
            message,
            kind: message.kind(),
            len: message.len(),
            threshold: settings.threshold,
            level: settings.level,
            plain: None,
            compressed: Default::default(),
        }
    }

    /// What `socket` is queued: a shared frame, or the message itself when the socket frames
    /// it (outbound sockets mask it, and compressors with context takeover are per socket).
    fn for_socket(&mut self, socket: &Socket) -> Outgoing {
        let compression = match socket.socket_type() {
            SocketType::Outbound => return Outgoing::Message(self.message.clone()),
            SocketType::Inbound => socket.compression(),
        };
        let (frame, compressed) = match compression {
            Some(params) if self.len >= self.threshold => {
                if !params.server_no_context_takeover {
                    return Outgoing::Message(self.message.clone());
                }
                self.compressed(&params)
            }
            _ => (self.plain(), false),
        };
        Outgoing::Frame {
            frame,
            kind: self.kind,
            message_len: self.len,
            compressed,
        }
    }

    fn plain(&mut self) -> Bytes {
        self.plain
            .get_or_insert_with(|| encode_server_frame(self.message, None))
            .clone()
    }

    /// The message compressed with the server's window of `params`, and true; the plain frame
    /// and false where the window cannot be kept to (8 bits).
    fn compressed(&mut self, params: &PerMessageDeflate) -> (Bytes, bool) {
        let bits = params.server_window_bits();
        let slot = usize::from(bits.saturating_sub(*WINDOW_BITS.start()));
        if let Some(Some(frame)) = self.compressed.get(slot) {
            return frame.clone();
        }
        let frame = match compress_once(bits, self.message.as_bytes(), self.level) {
            Some(payload) => (encode_server_frame(self.message, Some(&payload)), true),
            None => (self.plain(), false),
        };
        if let Some(cached) = self.compressed.get_mut(slot) {
            *cached = Some(frame.clone());
        }
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::SendQueue;
    use crate::SlowConsumerPolicy;

    fn socket(socket_type: SocketType, compression: Option<PerMessageDeflate>) -> Socket {
        let queue = SendQueue::standalone(1, 1, SlowConsumerPolicy::Fail);
        Socket::for_tests_of(socket_type, compression, queue)
    }

    fn no_server_context(bits: Option<u8>) -> Option<PerMessageDeflate> {
        Some(PerMessageDeflate {
            server_no_context_takeover: true,
            server_max_window_bits: bits,
            ..PerMessageDeflate::default()
        })
    }

    /// The frame's allocation, to tell one shared frame from two equal ones.
    fn frame(outgoing: Outgoing) -> (*const u8, Bytes) {
        match outgoing {
            Outgoing::Frame { frame, .. } => (frame.as_ptr(), frame),
            Outgoing::Message(_) => panic!("a message, not a shared frame"),
        }
    }

    #[test]
    fn sockets_without_server_context_share_one_compressed_frame_per_window_size() {
        let text: String = (0..200)
            .map(|i| format!("{{\"seq\":{i},\"p\":1.5}},"))
            .collect();
        let message = Message::text(text);
        let mut frames = SharedFrames::new(&message, &Compression::on());
        let mut next = |compression| frames.for_socket(&socket(SocketType::Inbound, compression));
        let (a, a_bytes) = frame(next(no_server_context(None)));
        let (b, _) = frame(next(no_server_context(Some(15))));
        let (c, c_bytes) = frame(next(no_server_context(Some(10))));
        let (d, _) = frame(next(no_server_context(Some(10))));
        assert_eq!(a, b, "one compression for the default window");
        assert_eq!(c, d, "one for 10 bits");
        assert_ne!(a, c);
        assert_eq!(a_bytes[0], 0xc1, "RSV1 on a final text frame");
        assert!(a_bytes.len() * 3 < message.len() && c_bytes.len() * 3 < message.len());
        let (plain, plain_bytes) = frame(next(None));
        assert_eq!(plain_bytes[0], 0x81);
        assert_eq!(
            frame(next(no_server_context(Some(8)))).0,
            plain,
            "8 bits: sent plain"
        );
        let takeover = Some(PerMessageDeflate::default());
        assert!(
            matches!(next(takeover), Outgoing::Message(_)),
            "its own compressor"
        );
        let outbound = frames.for_socket(&socket(SocketType::Outbound, None));
        assert!(
            matches!(outbound, Outgoing::Message(_)),
            "masked by its task"
        );
    }

    #[test]
    fn a_message_below_the_threshold_is_one_plain_frame_for_all() {
        let message = Message::text("short");
        let mut frames = SharedFrames::new(&message, &Compression::on());
        let plain = frame(frames.for_socket(&socket(SocketType::Inbound, None))).0;
        for compression in [no_server_context(None), Some(PerMessageDeflate::default())] {
            let outgoing = frames.for_socket(&socket(SocketType::Inbound, compression));
            assert_eq!(frame(outgoing).0, plain);
        }
    }
}
