//! Broadcast: one message queued for every socket that matches a filter, encoded once for the
//! inbound ones (compressed once per window size for those whose permessage-deflate keeps no
//! server context), and what became of it for each.

use crate::config::{validate_groups, Compression};
use crate::error::{Error, Result};
use crate::protocol::deflate::compress_once;
use crate::protocol::extensions::{PerMessageDeflate, WINDOW_BITS};
use crate::protocol::frame::encode_server_frame;
use crate::protocol::message::Message;
use crate::queue::{check_fits, Delivery, Outgoing};
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
    let mut result = BroadcastResult::default();
    let mut frames = SharedFrames::new(&message, &shared.config.compression);
    shared.registry.for_each_match(filter, |socket| {
        let item = frames.for_socket(socket);
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
    Ok(result)
}

/// The frames a broadcast shares among its inbound recipients (server frames are unmasked, so
/// identical), each encoded once, when first needed: the plain frame, and a compressed one per
/// window size for the sockets whose permessage-deflate keeps no server context (their frames
/// depend on the message alone).
struct SharedFrames<'a> {
    message: &'a Message,
    /// Shorter messages go uncompressed to every socket.
    threshold: usize,
    /// zlib's compression level.
    level: u8,
    plain: Option<Bytes>,
    /// By window size, 8-15 bits.
    compressed: [Option<Bytes>; 8],
}

impl<'a> SharedFrames<'a> {
    fn new(message: &'a Message, settings: &Compression) -> Self {
        SharedFrames {
            message,
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
        match compression {
            Some(params) if self.message.len() >= self.threshold => {
                if !params.server_no_context_takeover {
                    return Outgoing::Message(self.message.clone());
                }
                Outgoing::Frame(self.compressed(&params))
            }
            _ => Outgoing::Frame(self.plain()),
        }
    }

    fn plain(&mut self) -> Bytes {
        self.plain
            .get_or_insert_with(|| encode_server_frame(self.message, None))
            .clone()
    }

    /// The message compressed with the server's window of `params`; the plain frame where the
    /// window cannot be kept to (8 bits).
    fn compressed(&mut self, params: &PerMessageDeflate) -> Bytes {
        let bits = params.server_window_bits();
        let slot = usize::from(bits.saturating_sub(*WINDOW_BITS.start()));
        if let Some(Some(frame)) = self.compressed.get(slot) {
            return frame.clone();
        }
        let frame = match compress_once(bits, self.message.as_bytes(), self.level) {
            Some(payload) => encode_server_frame(self.message, Some(&payload)),
            None => self.plain(),
        };
        if let Some(cached) = self.compressed.get_mut(slot) {
            *cached = Some(frame.clone());
        }
        frame
    }
}
