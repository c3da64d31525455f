//! The four triggers as one `Event` type, the queue that carries them off the I/O threads, and
//! the dispatcher thread that hands them to the application.
//!
//! Socket tasks push events; the dispatcher (or a caller of `next_event`) takes them in
//! batches, so a burst of messages costs one wake-up. The queue is bounded: when it is full,
//! sockets stop reading until the application catches up.

use crate::message::Message;
use crate::socket::Socket;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Something that happened on a socket: one of the four triggers.
#[derive(Debug, Clone)]
pub enum Event {
    /// A client finished the handshake on the listener.
    InboundConnection {
        /// The new socket.
        socket: Socket,
    },
    /// An inbound socket received a message.
    InboundMessage {
        /// The socket it arrived on.
        socket: Socket,
        /// The message.
        message: Message,
    },
    /// An outbound socket received a message.
    OutboundMessage {
        /// The socket it arrived on.
        socket: Socket,
        /// The message.
        message: Message,
    },
    /// A socket closed, whoever closed it. Fires exactly once per socket, last.
    SocketClosed {
        /// The socket, no longer registered.
        socket: Socket,
        /// The close code: the peer's or ours; 1005 when the peer gave none, 1006 when the
        /// connection ended without a close handshake.
        code: u16,
        /// The close reason.
        reason: String,
    },
}

/// Which trigger an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// [`Event::InboundConnection`]
    InboundConnection,
    /// [`Event::InboundMessage`]
    InboundMessage,
    /// [`Event::OutboundMessage`]
    OutboundMessage,
    /// [`Event::SocketClosed`]
    SocketClosed,
}

impl Event {
    /// The socket the event is about.
    pub fn socket(&self) -> &Socket {
        match self {
            Event::InboundConnection { socket }
            | Event::InboundMessage { socket, .. }
            | Event::OutboundMessage { socket, .. }
            | Event::SocketClosed { socket, .. } => socket,
        }
    }

    /// Which trigger this is.
    pub fn trigger(&self) -> Trigger {
        match self {
            Event::InboundConnection { .. } => Trigger::InboundConnection,
            Event::InboundMessage { .. } => Trigger::InboundMessage,
            Event::OutboundMessage { .. } => Trigger::OutboundMessage,
            Event::SocketClosed { .. } => Trigger::SocketClosed,
        }
    }

    /// The message of a message event.
    pub fn message(&self) -> Option<&Message> {
        match self {
            Event::InboundMessage { message, .. } | Event::OutboundMessage { message, .. } => {
                Some(message)
            }
            _ => None,
        }
    }

    /// A message the application no longer wants: its socket was closed by the application
    /// before the message was handed over. The connector's dispatcher and
    /// [`ConnectorHandle::next_event`] leave such messages out; a consumer of
    /// [`ConnectorHandle::next_events`] checks it as it hands each event on.
    ///
    /// [`ConnectorHandle::next_event`]: crate::ConnectorHandle::next_event
    /// [`ConnectorHandle::next_events`]: crate::ConnectorHandle::next_events
    pub fn is_stale(&self) -> bool {
        self.message().is_some() && self.socket().is_close_requested()
    }
}

/// Receives the events of a connector on its dispatcher thread, one at a time, in order for
/// each socket. It may call any operation through `connector`.
pub trait EventHandler: Send + Sync + 'static {
    /// Called once per event.
    fn on_event(&self, connector: &crate::ConnectorHandle, event: Event);
}

impl<F> EventHandler for F
where
    F: Fn(&crate::ConnectorHandle, Event) + Send + Sync + 'static,
{
    fn on_event(&self, connector: &crate::ConnectorHandle, event: Event) {
        self(connector, event)
    }
}

#[derive(Default)]
struct State {
    items: VecDeque<Event>,
    /// No more events will come: the connector has stopped.
    closed: bool,
    /// Socket tasks waiting for room in the queue.
    waiting_for_room: Vec<Waker>,
    /// Counts how often `waiting_for_room` was emptied and woken.
    room_round: u64,
    /// Takers blocked waiting for an event.
    takers_asleep: usize,
    /// A sleeping taker has been signalled and has not woken yet: events added meanwhile need
    /// no signal of their own (the woken taker sees them). Cleared by every taker that wakes.
    signalled: bool,
    /// Payload bytes of the queued message events.
    bytes: usize,
}

impl State {
    /// Whether the queue is at either bound.
    fn is_full(&self, capacity: usize, max_bytes: usize) -> bool {
        self.items.len() >= capacity || self.bytes >= max_bytes
    }
}

/// Payload bytes an event holds.
fn payload_len(event: &Event) -> usize {
    event.message().map_or(0, crate::Message::len)
}

/// A bounded multi-producer queue of events, taken in batches.
pub(crate) struct EventQueue {
    state: Mutex<State>,
    available: Condvar,
    /// Mirrors `State::is_full`, read without the lock on every socket read.
    full: AtomicBool,
    capacity: usize,
    max_bytes: usize,
}

impl EventQueue {
    /// A queue bounded at `capacity` events and `max_bytes` payload bytes.
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        EventQueue {
            state: Mutex::new(State::default()),
            available: Condvar::new(),
            full: AtomicBool::new(false),
            capacity,
            max_bytes,
        }
    }

    /// Records the bounds' state after a change made under the lock.
    fn update_full(&self, state: &State) {
        self.full.store(
            state.is_full(self.capacity, self.max_bytes),
            Ordering::Relaxed,
        );
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an event. Never blocks on the consumer: producers that must respect the bound
    /// call [`EventQueue::poll_room`] first.
    pub(crate) fn push(&self, event: Event) {
        self.append(payload_len(&event), |items| items.push_back(event));
    }

    /// Adds the events of one socket's poll together (one lock, at most one wake-up), leaving
    /// `events` empty.
    pub(crate) fn push_all(&self, events: &mut Vec<Event>) {
        let bytes = events.iter().map(payload_len).sum();
        self.append(bytes, |items| items.extend(events.drain(..)));
    }

    /// Adds under the lock, and wakes a taker only if one is asleep and none has been
    /// signalled yet: a busy consumer is never signalled, and a burst that arrives before the
    /// signalled one runs (it does not preempt the producer: `prefer_batched_wakeups`) costs
    /// one wake-up in all.
    fn append(&self, bytes: usize, add: impl FnOnce(&mut VecDeque<Event>)) {
        let mut state = self.lock();
        add(&mut state.items);
        state.bytes += bytes;
        self.update_full(&state);
        let wake = state.takers_asleep > 0 && !state.signalled;
        state.signalled |= wake;
        drop(state);
        if wake {
            self.available.notify_one();
        }
    }

    /// Ready when the queue has room; otherwise the task is woken once the consumer drains it.
    /// `registered` remembers the round of the waiting list this task's waker is on, so a task
    /// polled often while the queue is full is listed once per round.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>, registered: &mut Option<u64>) -> Poll<()> {
        if !self.full.load(Ordering::Relaxed) {
            return Poll::Ready(());
        }
        let mut state = self.lock();
        if !state.is_full(self.capacity, self.max_bytes) || state.closed {
            return Poll::Ready(());
        }
        if *registered != Some(state.room_round) {
            state.waiting_for_room.push(cx.waker().clone());
            *registered = Some(state.room_round);
        }
        Poll::Pending
    }

    /// Takes every queued event into `batch` (which must be empty), waiting up to `timeout`
    /// (forever if `None`). Returns false once the queue is closed and drained.
    pub(crate) fn take_batch(
        &self,
        batch: &mut VecDeque<Event>,
        timeout: Option<Duration>,
    ) -> bool {
        let mut state = self.wait_for_items(timeout);
        if state.items.is_empty() {
            return !state.closed;
        }
        std::mem::swap(&mut state.items, batch);
        state.bytes = 0;
        self.after_take(state);
        true
    }

    /// Takes one event, waiting up to `timeout` (forever if `None`). `Err(())` once the queue
    /// is closed and drained; `Ok(None)` on timeout.
    pub(crate) fn take_one(&self, timeout: Option<Duration>) -> Result<Option<Event>, ()> {
        let mut state = self.wait_for_items(timeout);
        match state.items.pop_front() {
            Some(event) => {
                state.bytes -= payload_len(&event);
                let more = !state.items.is_empty();
                self.after_take(state);
                if more {
                    self.available.notify_one();
                }
                Ok(Some(event))
            }
            None if state.closed => Err(()),
            None => Ok(None),
        }
    }

    fn wait_for_items(&self, timeout: Option<Duration>) -> MutexGuard<'_, State> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut state = self.lock();
        while state.items.is_empty() && !state.closed {
            state.takers_asleep += 1;
            state = match deadline {
                None => self
                    .available
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        state.takers_asleep -= 1;
                        break;
                    }
                    self.available
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            state.takers_asleep -= 1;
            // Whether this taker was the one signalled or not (a timeout, a spurious wake-up),
            // it checks the queue now; a later event signals again if others still sleep.
            state.signalled = false;
        }
        state
    }

    fn after_take(&self, state: MutexGuard<'_, State>) {
        self.update_full(&state);
        if !state.is_full(self.capacity, self.max_bytes) && !state.waiting_for_room.is_empty() {
            Self::wake_waiting(state);
        }
    }

    fn wake_waiting(mut state: MutexGuard<'_, State>) {
        let wakers = std::mem::take(&mut state.waiting_for_room);
        state.room_round += 1;
        drop(state);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Marks the end of the stream: takers drain what is left, then see the end.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        self.available.notify_all();
        Self::wake_waiting(state);
    }
}

/// Lets the calling thread, a consumer of a connector's events, be woken without preempting
/// the thread that woke it (Linux: the `SCHED_BATCH` policy; elsewhere nothing). An I/O
/// thread that queues an event then goes on reading the other ready sockets instead of
/// switching to the consumer for each event, so the consumer takes them in batches: on a busy
/// core, one switch per batch instead of two per event (measured: server CPU per echoed 32 B
/// message down by about a quarter, to the raw tokio-tungstenite server's). On an idle core the
/// consumer runs at once as before; on a core busy with other work it may wait for the end of
/// that work's time slice. The connector's own dispatcher thread calls it; a binding's or an
/// application's thread that takes events from [`ConnectorHandle::next_event`] may too. A
/// callback that needs the default policy back can reset it with `sched_setscheduler`.
///
/// [`ConnectorHandle::next_event`]: crate::ConnectorHandle::next_event
pub fn prefer_batched_wakeups() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: plain system call on the calling thread (pid 0) with a valid parameter.
        // Moving between SCHED_OTHER and SCHED_BATCH needs no privilege; a refusal (a sandbox
        // that forbids it) leaves the thread as it was, which is correct, only slower.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}

/// The dispatcher thread's loop: takes events in batches and hands each to the handler, until
/// the connector has stopped and the queue is drained. A panicking handler is logged and the
/// next event is delivered.
pub(crate) fn run_dispatcher(
    connector: crate::ConnectorHandle,
    handler: std::sync::Arc<dyn EventHandler>,
) {
    prefer_batched_wakeups();
    let mut batch = VecDeque::new();
    while connector.shared.events.take_batch(&mut batch, None) {
        for event in batch.drain(..) {
            if event.is_stale() {
                continue;
            }
            let trigger = event.trigger();
            let call = std::panic::AssertUnwindSafe(|| handler.on_event(&connector, event));
            if let Err(panic) = std::panic::catch_unwind(call) {
                tracing::error!(
                    ?trigger,
                    panic = crate::panic_message(&*panic),
                    "an event handler panicked; the connector carries on"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_one_times_out_then_sees_the_end() {
        let q = EventQueue::new(4, 1024);
        assert_eq!(
            q.take_one(Some(Duration::from_millis(10)))
                .map(|e| e.is_none()),
            Ok(true)
        );
        q.close();
        assert!(q.take_one(None).is_err());
        let mut batch = VecDeque::new();
        assert!(!q.take_batch(&mut batch, None));
    }

    /// Takers asleep with these timeouts (`None`: none), events pushed in bursts: one
    /// signal per burst must still get every event taken, and no taker may sleep past one.
    fn bursts_reach_sleeping_takers(timeouts: &[Option<Duration>]) {
        let q = std::sync::Arc::new(EventQueue::new(1024, 1 << 20));
        let (tx, rx) = std::sync::mpsc::channel();
        let takers: Vec<_> = timeouts
            .iter()
            .map(|&timeout| {
                let (q, tx) = (q.clone(), tx.clone());
                std::thread::spawn(move || loop {
                    match q.take_one(timeout) {
                        Ok(Some(_)) => tx.send(()).unwrap(),
                        Ok(None) => continue,
                        Err(()) => return,
                    }
                })
            })
            .collect();
        for burst in 0..200 {
            for _ in 0..(burst % 5 + 1) {
                q.push(message_event(1));
            }
            for _ in 0..(burst % 5 + 1) {
                rx.recv_timeout(Duration::from_secs(10))
                    .expect("an event stayed in the queue");
            }
        }
        q.close();
        takers.into_iter().for_each(|t| t.join().unwrap());
    }

    #[test]
    fn bursts_reach_takers_that_wait_without_deadline() {
        bursts_reach_sleeping_takers(&[None, None, None]);
    }

    #[test]
    fn bursts_reach_takers_while_others_time_out() {
        let soon = Some(Duration::from_micros(50));
        bursts_reach_sleeping_takers(&[soon, None, soon, None]);
    }

    fn message_event(len: usize) -> Event {
        let attrs = crate::socket::Attributes {
            id: crate::SocketId::new("s").unwrap(),
            socket_type: crate::SocketType::Inbound,
            path: "/".into(),
            uri: "ws://x/".into(),
            secure: false,
            headers: Vec::new(),
            query: Vec::new(),
            subprotocol: None,
            local_addr: "127.0.0.1:1".parse().unwrap(),
            remote_addr: "127.0.0.1:2".parse().unwrap(),
            peer_certificate: None,
        };
        let queue = crate::queue::SendQueue::new(1, 1, crate::SlowConsumerPolicy::Fail);
        Event::InboundMessage {
            socket: Socket::new(attrs, queue),
            message: Message::binary(vec![0u8; len]),
        }
    }

    #[test]
    fn readers_stop_at_either_bound_and_resume_once_taken() {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut round = None;
        // Bounded in bytes: 1,000 bytes of payload fill it.
        let q = EventQueue::new(100, 1000);
        q.push(message_event(600));
        assert!(q.poll_room(&mut cx, &mut round).is_ready());
        q.push_all(&mut vec![message_event(400)]);
        assert!(q.poll_room(&mut cx, &mut round).is_pending());
        assert!(q.take_one(None).unwrap().is_some());
        assert!(
            q.poll_room(&mut cx, &mut round).is_ready(),
            "600 bytes were taken"
        );
        // Bounded in events.
        let q = EventQueue::new(2, 1 << 20);
        q.push(message_event(1));
        q.push(message_event(1));
        assert!(q.poll_room(&mut cx, &mut round).is_pending());
        let mut batch = VecDeque::new();
        assert!(q.take_batch(&mut batch, None));
        assert!(q.poll_room(&mut cx, &mut round).is_ready());
    }
}
