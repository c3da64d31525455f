//! One socket's bounded send queue: callers push from any thread, the socket's task pops.
//!
//! The queue is bounded in messages and in bytes; when it is full the slow-consumer policy
//! decides what a push does. A close request travels in the same queue so that it leaves
//! after the messages queued before it.

use crate::config::SlowConsumerPolicy;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::Metrics;
use crate::protocol::message::Message;
use bytes::Bytes;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Context;

/// What a send did with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The message is queued for the socket.
    Queued,
    /// The message is queued; this many older queued messages were dropped to make room.
    QueuedDroppingOldest(usize),
    /// The queue was full: the message was dropped.
    DroppedNewest,
    /// The queue was full: the socket is being closed with 1013 and the message was dropped.
    ClosedSlowConsumer,
    /// The socket is reconnecting (or, in lazy mode, waits for a message to reconnect): the
    /// message waits in its queue and leaves, in order, once it has reconnected.
    Buffered,
}

impl Delivery {
    /// Whether the message will be sent.
    pub fn is_queued(self) -> bool {
        matches!(
            self,
            Delivery::Queued | Delivery::QueuedDroppingOldest(_) | Delivery::Buffered
        )
    }
}

/// A request to close the socket with a code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloseRequest {
    pub code: u16,
    pub reason: String,
}

/// A message waiting in a queue.
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    /// Framed by the socket's task (outbound sockets mask each frame differently).
    Message(Message),
    /// A server frame encoded once by a broadcast and shared by all its inbound recipients,
    /// and the length of the message it carries (compressed or not, for the figures).
    Frame { frame: Bytes, message_len: usize },
}

impl Outgoing {
    /// Bytes it holds, for the queue's byte bound.
    fn len(&self) -> usize {
        match self {
            Outgoing::Message(message) => message.len(),
            Outgoing::Frame { frame, .. } => frame.len(),
        }
    }
}

/// Why a queue takes no more messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sealed {
    /// The application, stop, or the slow-consumer policy is closing the socket.
    Closing,
    /// The peer sent a close frame.
    ClosedByPeer,
    /// The socket's task has ended.
    Ended,
}

/// What a push does while the socket has no connection (an outbound socket reconnecting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offline {
    /// The message waits in the queue for the next connection.
    Buffer,
    /// The push fails with `Reconnecting`.
    Fail,
}

#[derive(Default)]
struct State {
    items: VecDeque<Outgoing>,
    bytes: usize,
    close: Option<CloseRequest>,
    /// Set once no more pushes are taken, with the reason.
    sealed: Option<Sealed>,
    /// Set while the socket has no connection.
    offline: Option<Offline>,
}

/// The bounds and policy every send queue of a connector follows, and the figures where the
/// policy's drops are counted: one copy shared by all its sockets.
pub(crate) struct QueueLimits {
    max_messages: usize,
    max_bytes: usize,
    policy: SlowConsumerPolicy,
    metrics: Arc<Metrics>,
}

impl QueueLimits {
    pub(crate) fn new(
        max_messages: usize,
        max_bytes: usize,
        policy: SlowConsumerPolicy,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(QueueLimits {
            max_messages,
            max_bytes,
            policy,
            metrics,
        })
    }
}

pub(crate) struct SendQueue {
    state: Mutex<State>,
    waker: AtomicWaker,
    /// Set when stop gives up waiting: the socket's task ends at once.
    killed: AtomicBool,
    /// Set once a close has been requested, so the task can start its close deadline before
    /// the close frame can even be written.
    closing: AtomicBool,
    limits: Arc<QueueLimits>,
}

/// Fails with `LimitExceeded` when a message of `len` bytes is larger than a send queue of
/// `max_bytes` bytes, which could never take it.
pub(crate) fn check_fits(len: usize, max_bytes: usize) -> Result<()> {
    if len > max_bytes {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!("a message of {len} bytes is larger than the send queue ({max_bytes} bytes)"),
        ));
    }
    Ok(())
}

impl SendQueue {
    pub(crate) fn new(limits: Arc<QueueLimits>) -> Self {
        SendQueue {
            state: Mutex::new(State::default()),
            waker: AtomicWaker::new(),
            killed: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            limits,
        }
    }

    /// A queue with bounds of its own and figures nobody reads (for tests).
    #[cfg(test)]
    pub(crate) fn standalone(
        max_messages: usize,
        max_bytes: usize,
        policy: SlowConsumerPolicy,
    ) -> Self {
        let metrics = Arc::new(Metrics::new(Vec::new()));
        SendQueue::new(QueueLimits::new(max_messages, max_bytes, policy, metrics))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-push; the state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Most bytes the queue holds: no larger message can be queued. (The C API checks a send's
    /// length against it before reading the bytes.)
    #[cfg(feature = "capi")]
    pub(crate) fn max_bytes(&self) -> usize {
        self.limits.max_bytes
    }

    /// Queues a message for the socket `id`, applying the slow-consumer policy when full.
    pub(crate) fn push(&self, id: &str, message: Outgoing) -> Result<Delivery> {
        let limits = &*self.limits;
        let len = message.len();
        check_fits(len, limits.max_bytes)?;
        let mut state = self.lock();
        match state.sealed {
            None => {}
            Some(Sealed::Closing) => {
                return Err(Error::new(
                    ErrorKind::NoSuchSocket,
                    format!("socket {id:?} is closing"),
                ))
            }
            Some(Sealed::ClosedByPeer) => {
                return Err(Error::new(
                    ErrorKind::RemotelyClosed,
                    format!("socket {id:?} was closed by the peer"),
                ))
            }
            Some(Sealed::Ended) => return Err(Error::no_such_socket(id)),
        }
        if state.offline == Some(Offline::Fail) {
            return Err(Error::new(
                ErrorKind::Reconnecting,
                format!("socket {id:?} is reconnecting, and its policy fails sends meanwhile"),
            ));
        }
        let full =
            |s: &State| s.items.len() >= limits.max_messages || s.bytes + len > limits.max_bytes;
        let mut delivery = Delivery::Queued;
        if full(&state) {
            match limits.policy {
                SlowConsumerPolicy::Fail => {
                    return Err(Error::new(
                        ErrorKind::QueueFull,
                        format!(
                            "the send queue of socket {id:?} is full ({} messages, {} bytes)",
                            state.items.len(),
                            state.bytes
                        ),
                    ))
                }
                SlowConsumerPolicy::DropNewest => {
                    drop(state);
                    limits.metrics.dropped(1);
                    return Ok(Delivery::DroppedNewest);
                }
                SlowConsumerPolicy::DropOldest => {
                    let mut dropped = 0;
                    while full(&state) {
                        let Some(old) = state.items.pop_front() else {
                            break;
                        };
                        state.bytes -= old.len();
                        dropped += 1;
                    }
                    limits.metrics.dropped(dropped);
                    delivery = Delivery::QueuedDroppingOldest(dropped);
                }
                SlowConsumerPolicy::Close => {
                    state.items.clear();
                    state.bytes = 0;
                    state.sealed = Some(Sealed::Closing);
                    state.close = Some(CloseRequest {
                        code: crate::protocol::close::close_code::TRY_AGAIN_LATER,
                        reason: "slow consumer: send queue full".into(),
                    });
                    self.closing.store(true, Ordering::Release);
                    drop(state);
                    limits.metrics.closed_slow_consumer();
                    self.waker.wake();
                    return Ok(Delivery::ClosedSlowConsumer);
                }
            }
        }
        if delivery == Delivery::Queued && state.offline == Some(Offline::Buffer) {
            delivery = Delivery::Buffered;
        }
        let was_empty = state.items.is_empty();
        state.bytes += len;
        state.items.push_back(message);
        drop(state);
        if was_empty {
            self.waker.wake();
        }
        Ok(delivery)
    }

    /// Messages and payload bytes waiting now.
    pub(crate) fn depth(&self) -> (usize, usize) {
        let state = self.lock();
        (state.items.len(), state.bytes)
    }

    /// Asks the socket to close after what is already queued; later pushes fail.
    /// Returns false when a close was already requested.
    pub(crate) fn request_close(&self, request: CloseRequest) -> bool {
        let mut state = self.lock();
        if state.close.is_some() || state.sealed.is_some() {
            return false;
        }
        state.sealed = Some(Sealed::Closing);
        state.close = Some(request);
        self.closing.store(true, Ordering::Release);
        drop(state);
        self.waker.wake();
        true
    }

    /// The close request not yet taken by the task, if any (cheap when there is none).
    pub(crate) fn pending_close(&self) -> Option<CloseRequest> {
        if !self.closing.load(Ordering::Acquire) {
            return None;
        }
        self.lock().close.clone()
    }

    /// Tells the socket's task to end now, without waiting for the peer.
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Whether [`SendQueue::kill`] was called.
    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Refuses every later push, for `why`; messages still queued are discarded once the
    /// socket's task has ended, and kept (to no avail, the peer is closing) otherwise.
    pub(crate) fn seal(&self, why: Sealed) {
        let mut state = self.lock();
        if why == Sealed::Ended || state.sealed.is_none() {
            state.sealed = Some(why);
        }
        if why == Sealed::Ended {
            state.items.clear();
            state.bytes = 0;
        }
    }

    /// The socket lost its connection and will get another: a push does what `offline` says,
    /// and a close frame from the old connection no longer refuses pushes. Messages still
    /// queued stay, for the next connection.
    pub(crate) fn go_offline(&self, offline: Offline) {
        let mut state = self.lock();
        if state.sealed == Some(Sealed::ClosedByPeer) {
            state.sealed = None;
        }
        state.offline = Some(offline);
    }

    /// The socket has a connection again: pushes are queued for it.
    pub(crate) fn go_online(&self) {
        self.lock().offline = None;
    }

    /// Why the queue takes no more messages, if it does not.
    pub(crate) fn sealed(&self) -> Option<Sealed> {
        self.lock().sealed
    }

    /// Whether no message is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// Takes the close request, whatever is still queued (a socket with no connection closes
    /// at once: there is nothing to send its messages on).
    pub(crate) fn take_close(&self) -> Option<CloseRequest> {
        self.lock().close.take()
    }

    /// Registers the task to be woken by the next push, close request or kill. A push wakes
    /// it only when the queue was empty: the task leaves messages queued only while a write
    /// of its own is pending (the stream wakes it) or once its close frame is out.
    pub(crate) fn register(&self, cx: &Context<'_>) {
        self.waker.register(cx.waker());
    }

    /// Hands queued messages to `each`, oldest first, until about `max_bytes` were taken
    /// (at least one when there is one), under one lock; then, once no message is left, the
    /// close request, if any. Returns how many messages were taken, and the close request.
    /// The task registers its waker (see [`SendQueue::register`]) before calling this.
    pub(crate) fn take(
        &self,
        max_bytes: usize,
        mut each: impl FnMut(Outgoing),
    ) -> (usize, Option<CloseRequest>) {
        let mut state = self.lock();
        let (mut count, mut taken) = (0, 0);
        while taken < max_bytes {
            let Some(outgoing) = state.items.pop_front() else {
                break;
            };
            state.bytes -= outgoing.len();
            taken += outgoing.len().max(1);
            count += 1;
            each(outgoing);
        }
        let close = if state.items.is_empty() {
            state.close.take()
        } else {
            None
        };
        (count, close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Outgoing {
        Outgoing::Message(Message::text(s))
    }

    fn drain(q: &SendQueue) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let (count, close) = q.take(1, |outgoing| match outgoing {
                Outgoing::Message(m) => out.push(m.as_text().unwrap().to_owned()),
                Outgoing::Frame { frame, .. } => out.push(format!("frame {}", frame.len())),
            });
            if let Some(c) = close {
                out.push(format!("close {}", c.code));
            }
            if count == 0 {
                return out;
            }
        }
    }

    #[test]
    fn fail_policy_refuses_when_full_and_keeps_what_was_queued() {
        let q = SendQueue::standalone(2, 1000, SlowConsumerPolicy::Fail);
        assert_eq!(q.push("s", text("a")).unwrap(), Delivery::Queued);
        assert_eq!(q.push("s", text("b")).unwrap(), Delivery::Queued);
        assert_eq!(
            q.push("s", text("c")).unwrap_err().kind(),
            ErrorKind::QueueFull
        );
        assert_eq!(drain(&q), ["a", "b"]);
    }

    #[test]
    fn byte_bound_counts_payloads() {
        let q = SendQueue::standalone(100, 5, SlowConsumerPolicy::Fail);
        q.push("s", text("abc")).unwrap();
        assert_eq!(
            q.push("s", text("def")).unwrap_err().kind(),
            ErrorKind::QueueFull
        );
        assert_eq!(
            q.push("s", text("123456")).unwrap_err().kind(),
            ErrorKind::LimitExceeded
        );
        assert_eq!(drain(&q), ["abc"]);
        q.push("s", text("def")).unwrap();
    }

    #[test]
    fn drop_policies() {
        let q = SendQueue::standalone(2, 1000, SlowConsumerPolicy::DropNewest);
        q.push("s", text("a")).unwrap();
        q.push("s", text("b")).unwrap();
        assert_eq!(q.push("s", text("c")).unwrap(), Delivery::DroppedNewest);
        assert_eq!(drain(&q), ["a", "b"]);

        let q = SendQueue::standalone(2, 1000, SlowConsumerPolicy::DropOldest);
        q.push("s", text("a")).unwrap();
        q.push("s", text("b")).unwrap();
        assert_eq!(
            q.push("s", text("c")).unwrap(),
            Delivery::QueuedDroppingOldest(1)
        );
        assert_eq!(drain(&q), ["b", "c"]);
    }

    #[test]
    fn close_policy_discards_and_closes_with_1013() {
        let q = SendQueue::standalone(1, 1000, SlowConsumerPolicy::Close);
        q.push("s", text("a")).unwrap();
        assert_eq!(
            q.push("s", text("b")).unwrap(),
            Delivery::ClosedSlowConsumer
        );
        assert_eq!(
            q.push("s", text("c")).unwrap_err().kind(),
            ErrorKind::NoSuchSocket
        );
        assert_eq!(drain(&q), ["close 1013"]);
    }

    #[test]
    fn offline_pushes_wait_or_fail_and_a_peer_close_no_longer_refuses_them() {
        let q = SendQueue::standalone(10, 1000, SlowConsumerPolicy::Fail);
        q.push("s", text("before")).unwrap();
        q.seal(Sealed::ClosedByPeer);
        q.go_offline(Offline::Fail);
        assert_eq!(
            q.push("s", text("x")).unwrap_err().kind(),
            ErrorKind::Reconnecting
        );
        q.go_offline(Offline::Buffer);
        assert_eq!(q.push("s", text("during")).unwrap(), Delivery::Buffered);
        q.go_online();
        q.push("s", text("after")).unwrap();
        assert_eq!(drain(&q), ["before", "during", "after"]);
        q.request_close(CloseRequest {
            code: 1000,
            reason: String::new(),
        });
        q.go_offline(Offline::Buffer);
        assert_eq!(q.sealed(), Some(Sealed::Closing), "a close asked for stays");
        assert_eq!(q.take_close().map(|c| c.code), Some(1000));
    }

    #[test]
    fn close_request_leaves_after_queued_messages() {
        let q = SendQueue::standalone(10, 1000, SlowConsumerPolicy::Fail);
        q.push("s", text("a")).unwrap();
        assert!(q.request_close(CloseRequest {
            code: 1000,
            reason: String::new()
        }));
        assert!(!q.request_close(CloseRequest {
            code: 1001,
            reason: String::new()
        }));
        assert!(q.push("s", text("b")).is_err());
        assert_eq!(drain(&q), ["a", "close 1000"]);
    }
}
