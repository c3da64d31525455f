//! One socket's bounded send queue: callers push from any thread, the socket's task pops.
//!
//! The queue is bounded in messages and in bytes; when it is full the slow-consumer policy
//! decides what a push does. A close request travels in the same queue so that it leaves
//! after the messages queued before it.

use crate::config::SlowConsumerPolicy;
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::Metrics;
use crate::protocol::message::{Message, MessageKind};
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
    /// with what the figures count of it (so that no socket reads the shared frame again):
    /// the message's kind and length, and whether the frame carries it compressed.
    Frame {
        frame: Bytes,
        kind: MessageKind,
        message_len: usize,
        compressed: bool,
    },
}

impl Outgoing {
    /// Bytes it holds, for the queue's byte bound.
    #[inline]
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
    /// Boxed: every socket keeps a queue, few ever hold a close request.
    close: Option<Box<CloseRequest>>,
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
    /// Set while messages are queued, so that the task looks at an empty queue without its
    /// lock (it looks several times per poll).
    queued: AtomicBool,
    /// Set when stop gives up waiting: the socket's task ends at once.
    killed: AtomicBool,
    /// Set once a close has been requested, so the task can start its close deadline before
    /// the close frame can even be written.
    closing: AtomicBool,
    /// Set when the application asked to close the socket (not the idle timeout, the
    /// slow-consumer policy or stop): what the peer still sends is not delivered. Here rather
    /// than in the socket, where it would cost every socket 8 bytes of padding.
    close_requested: AtomicBool,
    /// Set by the connector's timers when the task's deadline passed (see
    /// [`Timers`](crate::timers::Timers)): one flag to look at per poll, rather than the clock.
    deadline_passed: AtomicBool,
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
            queued: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            close_requested: AtomicBool::new(false),
            deadline_passed: AtomicBool::new(false),
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

    /// Takes `message` into the reply slot when the calling thread runs this queue's socket's
    /// own inline handler and the slot is free with nothing queued (see [`reply`]): the task
    /// takes it once the handler returns, in the same poll, with no wake-up. Gives it back
    /// otherwise (what `push` does first). The caller checked that it fits the byte bound.
    #[cfg(feature = "capi")]
    #[inline]
    pub(crate) fn offer_reply(&self, message: Outgoing) -> Option<Outgoing> {
        match reply::own_slot(self) {
            Some(slot) => slot.offer(self, message),
            None => Some(message),
        }
    }

    /// Queues a message for the socket `id`, applying the slow-consumer policy when full.
    ///
    /// A reply from the socket's own inline handler goes to its reply slot when it can (see
    /// [`reply`]); that path is inlined, the queue's is not (a call that sets up the whole
    /// queue path cost a reply about 40 instructions more).
    #[inline]
    pub(crate) fn push(&self, id: &str, message: Outgoing) -> Result<Delivery> {
        let own = reply::own_slot(self);
        let message = match own {
            Some(slot) if message.len() <= self.limits.max_bytes => {
                match slot.offer(self, message) {
                    Some(message) => message,
                    None => return Ok(Delivery::Queued),
                }
            }
            _ => message,
        };
        self.enqueue(id, message, own.is_some())
    }

    /// [`SendQueue::push`] from a thread whose reply slot the caller looked up once for many
    /// pushes ([`reply::open_now`]): a broadcast, which so saves a thread-local look-up per
    /// receiver (about 14 instructions in the shared library). `push` itself is left as it
    /// is: sharing its body through a helper cost every echo an extra copy of its message.
    #[inline]
    pub(crate) fn push_from_thread(
        &self,
        id: &str,
        message: Outgoing,
        thread: reply::OpenNow,
    ) -> Result<Delivery> {
        match thread.slot_of(self) {
            None => self.enqueue(id, message, false),
            // This thread's own socket (its inline handler broadcasts): as a plain push.
            Some(_) => self.push(id, message),
        }
    }

    /// [`SendQueue::push`] into the queue. From the socket's own inline handler (`own`), the
    /// task takes what is pushed once the handler returns, in the same poll: it needs no
    /// wake-up.
    #[inline(never)]
    fn enqueue(&self, id: &str, message: Outgoing, own: bool) -> Result<Delivery> {
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
                    state.close = Some(Box::new(CloseRequest {
                        code: crate::protocol::close::close_code::TRY_AGAIN_LATER,
                        reason: "slow consumer: send queue full".into(),
                    }));
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
        if state.items.capacity() == 0 {
            state.items = storage::take();
        }
        state.items.push_back(message);
        self.queued.store(true, Ordering::Release);
        drop(state);
        if was_empty && !own {
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
        state.close = Some(Box::new(request));
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
        self.lock().close.as_deref().cloned()
    }

    /// Whether a take would find something: messages queued, or a close requested (cheap: no
    /// lock).
    pub(crate) fn has_work(&self) -> bool {
        self.queued.load(Ordering::Acquire) || self.closing.load(Ordering::Acquire)
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
            self.queued.store(false, Ordering::Release);
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
        self.lock().close.take().map(|close| *close)
    }

    /// Registers the task to be woken by the next push, close request or kill. A push wakes
    /// it only when the queue was empty: the task leaves messages queued only while a write
    /// of its own is pending (the stream wakes it) or once its close frame is out.
    pub(crate) fn register(&self, cx: &Context<'_>) {
        self.waker.register(cx.waker());
    }

    /// Registers `waker` as [`SendQueue::register`] does: a parked socket's, which resumes it
    /// (see [`crate::park`]).
    pub(crate) fn register_waker(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }

    /// Whether something waits for the socket's task: a message, a close request, a kill or a
    /// passed deadline (checked after registering a waker, so that none is missed).
    pub(crate) fn wants_task(&self) -> bool {
        self.has_work() || self.is_killed() || self.deadline_passed.load(Ordering::Acquire)
    }

    /// Records that the application asked to close the socket.
    pub(crate) fn mark_close_requested(&self) {
        self.close_requested.store(true, Ordering::Release);
    }

    /// Whether the application asked to close the socket.
    pub(crate) fn is_close_requested(&self) -> bool {
        self.close_requested.load(Ordering::Acquire)
    }

    /// Wakes the task: its deadline passed.
    pub(crate) fn deadline_passed(&self) {
        self.deadline_passed.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Whether the task's deadline passed since it last asked.
    pub(crate) fn take_deadline_passed(&self) -> bool {
        self.deadline_passed.load(Ordering::Relaxed)
            && self.deadline_passed.swap(false, Ordering::Acquire)
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
        if !self.has_work() {
            return (0, None);
        }
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
            // Drained: the storage goes back (to this thread's spares), so that a socket
            // between bursts, an idle one included, keeps none.
            self.queued.store(false, Ordering::Release);
            if state.items.capacity() > 0 {
                storage::give_back(std::mem::take(&mut state.items));
            }
            state.close.take().map(|close| *close)
        } else {
            None
        };
        (count, close)
    }
}

/// The one reply an inline handler may hand its own socket without the queue: the socket's
/// task, running the handler, writes it as soon as the handler returns, as a take right after
/// the push would have (no lock, no wake-up: the cheapest echo). Only while nothing is queued
/// or closing, so that every message still leaves in the order sent; one per handler call,
/// so that the queue's bounds still hold but for that one message.
pub(crate) mod reply {
    use super::{Outgoing, SendQueue};
    use std::cell::Cell;
    use std::ptr;

    /// What this thread's inline handler runs for: the connector whose handler it is (an
    /// opaque address, see [`handler_of`]; null outside any), the queue whose socket's
    /// handler it is (within [`collect`]), and the slot on `collect`'s stack that takes its
    /// reply; the last two null outside `collect`.
    #[derive(Clone, Copy)]
    struct Open {
        handler_of: *const (),
        queue: *const SendQueue,
        slot: *mut Option<Outgoing>,
    }

    thread_local! {
        /// A plain cell (no destructor, no borrow flag): one cheap look-up per send, where a
        /// `RefCell<Option<Outgoing>>` of the thread cost about 60 instructions per reply.
        /// One thread-local for the mark and the slot: each is a `__tls_get_addr` call in the
        /// C library.
        static OPEN: Cell<Open> = const {
            Cell::new(Open {
                handler_of: ptr::null(),
                queue: ptr::null(),
                slot: ptr::null_mut(),
            })
        };
    }

    /// Restores the thread's previous `Open` when dropped (the handler may panic).
    struct Restore(Open);

    impl Drop for Restore {
        fn drop(&mut self) {
            OPEN.with(|open| open.set(self.0));
        }
    }

    /// Runs `f` with the thread marked as running the inline handler of the connector at
    /// `handler_of` (an opaque address: the connector's state), the reply slot, if open,
    /// left as it is.
    pub(crate) fn as_handler_of<R>(handler_of: *const (), f: impl FnOnce() -> R) -> R {
        let restore = Restore(OPEN.with(|open| {
            let previous = open.get();
            open.set(Open {
                handler_of,
                ..previous
            });
            previous
        }));
        let result = f();
        drop(restore);
        result
    }

    /// The connector whose inline handler this thread runs (see [`as_handler_of`]); null
    /// outside any.
    pub(crate) fn handler_of() -> *const () {
        OPEN.with(|open| open.get().handler_of)
    }

    /// The reply slot of `queue`'s socket, when this thread runs that socket's own inline
    /// handler (within [`collect`]).
    #[derive(Clone, Copy)]
    pub(super) struct Slot(*mut Option<Outgoing>);

    /// `queue`'s reply slot, when this thread runs its socket's inline handler.
    #[inline]
    pub(super) fn own_slot(queue: &SendQueue) -> Option<Slot> {
        open_now().slot_of(queue)
    }

    /// The reply slot this thread has open now, if any, read once for the many pushes of one
    /// call that runs no handler meanwhile (a broadcast): valid only during that call, so it
    /// is neither `Send` nor kept.
    #[derive(Clone, Copy)]
    pub(crate) struct OpenNow(Open);

    /// See [`OpenNow`].
    #[inline]
    pub(crate) fn open_now() -> OpenNow {
        OpenNow(OPEN.with(Cell::get))
    }

    impl OpenNow {
        /// `queue`'s reply slot, if it is the one open.
        #[inline]
        pub(super) fn slot_of(self, queue: &SendQueue) -> Option<Slot> {
            ptr::eq(self.0.queue, queue).then_some(Slot(self.0.slot))
        }
    }

    impl Slot {
        /// Takes `message` into the slot, skipping the queue, when nothing is queued or
        /// closing and the slot is free; gives it back otherwise.
        #[inline]
        pub(super) fn offer(self, queue: &SendQueue, message: Outgoing) -> Option<Outgoing> {
            if queue.has_work() {
                return Some(message);
            }
            // SAFETY: the slot is a local of the `collect` call that runs on this thread now
            // (`own_slot`, or an `OpenNow` read during the same call, found its queue
            // published, and `collect` unpublishes it before it returns, panic or not);
            // `collect` does not touch it until its handler returns, so this is the only
            // access meanwhile.
            let slot = unsafe { &mut *self.0 };
            if slot.is_some() {
                return Some(message);
            }
            *slot = Some(message);
            None
        }
    }

    /// Runs `handle` (an inline handler, on `queue`'s socket's task) with the thread marked
    /// as running the inline handler of the connector at `handler_of` (as
    /// [`as_handler_of`]) and the slot open for that socket; returns the reply it left there.
    pub(crate) fn collect(
        handler_of: *const (),
        queue: &SendQueue,
        handle: impl FnOnce(),
    ) -> Option<Outgoing> {
        let mut reply = None;
        let open = Open {
            handler_of,
            queue,
            slot: ptr::addr_of_mut!(reply),
        };
        let restore = Restore(OPEN.with(|current| current.replace(open)));
        handle();
        drop(restore);
        reply
    }
}

/// Queue storage that drained queues gave back, kept per thread for the next burst's first
/// push: a socket between bursts holds none, and a burst costs no allocation when the thread
/// that queues is the one that drains (inline dispatch) or has drained others before.
mod storage {
    use super::Outgoing;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// Most kept per thread, and the largest kept (in messages).
    const KEPT: usize = 64;
    const LARGEST_KEPT: usize = 64;

    thread_local! {
        static SPARE: RefCell<Vec<VecDeque<Outgoing>>> = const { RefCell::new(Vec::new()) };
    }

    /// Empty storage: a spare one, or a new one.
    pub(super) fn take() -> VecDeque<Outgoing> {
        SPARE
            .try_with(|spare| spare.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Keeps emptied storage for a later burst, unless the thread keeps enough already.
    pub(super) fn give_back(storage: VecDeque<Outgoing>) {
        debug_assert!(storage.is_empty());
        if storage.capacity() > LARGEST_KEPT {
            return;
        }
        let _ = SPARE.try_with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < KEPT {
                spare.push(storage);
            }
        });
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

    /// An inline handler's first reply to its own socket skips the queue; the others, those
    /// to other sockets, and any while something is queued or the socket closing, do not.
    #[test]
    fn only_the_first_reply_from_its_own_inline_handler_skips_the_queue() {
        let own = SendQueue::standalone(10, 1000, SlowConsumerPolicy::Fail);
        let other = SendQueue::standalone(10, 1000, SlowConsumerPolicy::Fail);
        let reply = reply::collect(std::ptr::null(), &own, || {
            own.push("s", text("first")).unwrap();
            own.push("s", text("second")).unwrap();
            other.push("o", text("elsewhere")).unwrap();
        });
        assert!(matches!(reply, Some(Outgoing::Message(m)) if m.as_text() == Some("first")));
        assert_eq!(drain(&own), ["second"]);
        assert_eq!(drain(&other), ["elsewhere"]);
        own.push("s", text("queued before")).unwrap();
        let reply = reply::collect(std::ptr::null(), &own, || {
            own.push("s", text("after")).map(|_| ()).unwrap()
        });
        assert!(reply.is_none(), "behind a queued message");
        assert_eq!(drain(&own), ["queued before", "after"]);
        own.request_close(CloseRequest {
            code: 1000,
            reason: String::new(),
        });
        let reply = reply::collect(std::ptr::null(), &own, || {
            assert_eq!(
                own.push("s", text("late")).unwrap_err().kind(),
                ErrorKind::NoSuchSocket
            );
        });
        assert!(reply.is_none(), "closing");
        assert!(own.push("s", text("outside")).is_err());
    }

    /// Pushes with the thread's reply slot read once (a broadcast's) go where plain pushes
    /// go: the own socket's first into its slot, the rest and other sockets' into the queue;
    /// outside a handler, every one into the queue.
    #[test]
    fn pushes_with_the_slot_read_once_go_where_plain_pushes_go() {
        let own = SendQueue::standalone(10, 1000, SlowConsumerPolicy::Fail);
        let other = SendQueue::standalone(10, 1000, SlowConsumerPolicy::Fail);
        let reply = reply::collect(std::ptr::null(), &own, || {
            let thread = reply::open_now();
            for (queue, id) in [(&other, "o"), (&own, "s"), (&own, "s")] {
                queue.push_from_thread(id, text("all"), thread).unwrap();
            }
        });
        assert!(matches!(reply, Some(Outgoing::Message(m)) if m.as_text() == Some("all")));
        assert_eq!(drain(&own), ["all"]);
        assert_eq!(drain(&other), ["all"]);
        let outside = reply::open_now();
        own.push_from_thread("s", text("outside"), outside).unwrap();
        assert_eq!(drain(&own), ["outside"]);
    }

    /// A push from the socket's own inline handler wakes nothing (its task takes it in the
    /// same poll, after the handler); a push from anywhere else wakes the registered task.
    #[test]
    fn own_inline_pushes_do_not_wake_the_task_others_do() {
        use std::sync::atomic::AtomicUsize;
        use std::task::{Wake, Waker};
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let q = SendQueue::standalone(10, 1000, SlowConsumerPolicy::Fail);
        q.register(&Context::from_waker(&waker));
        let reply = reply::collect(std::ptr::null(), &q, || {
            q.push("s", text("slot")).unwrap();
            q.push("s", text("queued")).unwrap();
        });
        assert!(reply.is_some());
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "own pushes");
        assert_eq!(drain(&q), ["queued"]);
        q.push("s", text("elsewhere")).unwrap();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "another thread's push");
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
