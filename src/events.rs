//! The triggers as one `Event` type, and the queue that carries them off the I/O threads to
//! the dispatcher pool (`dispatch`) or the application.
//!
//! Socket tasks push events; the dispatcher pool (or a caller of `next_event`) takes them in
//! batches, so a burst of messages costs one wake-up. The queue is bounded: when it is full,
//! sockets stop reading until the application catches up. Its bounds count what the events
//! really keep in memory (a payload left in its read buffer counts that buffer), and a batch
//! taken keeps counting until its taker releases it, so a slow application holds at most
//! the bounds.

use crate::error::Error;
use crate::metrics::Metrics;
use crate::protocol::message::Message;
use crate::socket::Socket;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Something that happened on a socket: one of the four triggers, or a reconnecting outbound
/// socket's change of state.
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
    /// An outbound socket with a reconnect policy lost its connection (or its last attempt
    /// failed) and attempt `attempt` (1, 2, ...) starts after `delay`. It keeps its ID, groups
    /// and attributes meanwhile; its state is
    /// [`SocketState::Reconnecting`](crate::SocketState::Reconnecting).
    OutboundReconnecting {
        /// The socket.
        socket: Socket,
        /// The attempt about to be made, from 1.
        attempt: u32,
        /// How long it waits before it (a random part of the policy's bound: full jitter).
        delay: Duration,
        /// Why the connection ended, or why the previous attempt failed.
        error: Error,
    },
    /// An outbound socket reconnected. Messages of its new connection come after this event.
    OutboundReconnected {
        /// The socket.
        socket: Socket,
        /// How many attempts it took.
        attempts: u32,
    },
    /// A socket closed, whoever closed it. Fires exactly once per socket, last.
    SocketClosed {
        /// The socket, no longer registered, with its attributes and groups as they were when
        /// it closed.
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
    /// [`Event::OutboundReconnecting`]
    OutboundReconnecting,
    /// [`Event::OutboundReconnected`]
    OutboundReconnected,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 6] = [
        Trigger::InboundConnection,
        Trigger::InboundMessage,
        Trigger::OutboundMessage,
        Trigger::SocketClosed,
        Trigger::OutboundReconnecting,
        Trigger::OutboundReconnected,
    ];
}

/// The triggers whose events the application takes (a bit each): the connector never makes
/// the others' hand-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TriggerSet(u8);

impl TriggerSet {
    /// Every trigger: an application that pulls its events takes them all.
    pub(crate) const ALL: TriggerSet = TriggerSet(u8::MAX);

    /// The triggers `takes` says yes to.
    pub(crate) fn of(takes: impl Fn(Trigger) -> bool) -> Self {
        TriggerSet(
            Trigger::ALL
                .into_iter()
                .filter(|trigger| takes(*trigger))
                .fold(0, |bits, trigger| bits | 1 << trigger as u8),
        )
    }

    pub(crate) fn contains(self, trigger: Trigger) -> bool {
        self.0 & 1 << trigger as u8 != 0
    }
}

impl Event {
    /// The socket the event is about.
    pub fn socket(&self) -> &Socket {
        match self {
            Event::InboundConnection { socket }
            | Event::InboundMessage { socket, .. }
            | Event::OutboundMessage { socket, .. }
            | Event::SocketClosed { socket, .. }
            | Event::OutboundReconnecting { socket, .. }
            | Event::OutboundReconnected { socket, .. } => socket,
        }
    }

    /// Which trigger this is.
    pub fn trigger(&self) -> Trigger {
        match self {
            Event::InboundConnection { .. } => Trigger::InboundConnection,
            Event::InboundMessage { .. } => Trigger::InboundMessage,
            Event::OutboundMessage { .. } => Trigger::OutboundMessage,
            Event::SocketClosed { .. } => Trigger::SocketClosed,
            Event::OutboundReconnecting { .. } => Trigger::OutboundReconnecting,
            Event::OutboundReconnected { .. } => Trigger::OutboundReconnected,
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
    /// before the message was handed over. The connector's dispatcher,
    /// [`ConnectorHandle::next_event`] and [`EventBatch::pop`] leave such messages out; a
    /// consumer that keeps events of its own to hand on later checks it as it hands each on.
    ///
    /// [`ConnectorHandle::next_event`]: crate::ConnectorHandle::next_event
    pub fn is_stale(&self) -> bool {
        self.message().is_some() && self.socket().is_close_requested()
    }
}

/// Events taken together with [`ConnectorHandle::next_events`] (pull mode), in order. Until
/// the batch is released (dropped, passed to `next_events` again, or [`EventBatch::release`]),
/// its events, popped or not, count against the connector's event queue bounds
/// (`event_queue_capacity`, `event_queue_bytes`): an application working through a batch
/// holds no more than those bounds, and sockets stop reading while it is behind.
///
/// [`ConnectorHandle::next_events`]: crate::ConnectorHandle::next_events
#[derive(Default)]
pub struct EventBatch {
    batch: Batch,
    /// The queue the events were taken from, once they have been.
    from: Option<Arc<EventQueue>>,
}

impl EventBatch {
    /// An empty batch, to fill with [`ConnectorHandle::next_events`].
    ///
    /// [`ConnectorHandle::next_events`]: crate::ConnectorHandle::next_events
    pub fn new() -> Self {
        EventBatch::default()
    }

    /// The next event, in order; `None` once every one was popped. Messages of a socket the
    /// application has closed since they were taken are skipped.
    pub fn pop(&mut self) -> Option<Event> {
        self.batch.pop()
    }

    /// Events not popped yet.
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// Whether every event was popped (or none was taken).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the events not popped and stops counting all of the batch's events.
    pub fn release(&mut self) {
        if let Some(from) = self.from.take() {
            from.release(&mut self.batch);
        }
    }

    /// Releases the batch and refills it from `queue` (see [`EventQueue::take_batch`]).
    pub(crate) fn take(
        &mut self,
        queue: &Arc<EventQueue>,
        max: usize,
        timeout: Option<Duration>,
    ) -> bool {
        if self
            .from
            .as_ref()
            .is_some_and(|from| !Arc::ptr_eq(from, queue))
        {
            self.release();
        }
        self.from = Some(queue.clone());
        queue.take_batch(&mut self.batch, max, timeout)
    }
}

impl Iterator for EventBatch {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.pop()
    }
}

impl Drop for EventBatch {
    fn drop(&mut self) {
        self.release();
    }
}

impl std::fmt::Debug for EventBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBatch")
            .field("len", &self.len())
            .finish()
    }
}

/// An event in the queue: the memory it keeps, and when its socket read it (a timestamp of
/// the connector's figures), for the time it waits.
pub(crate) struct Queued {
    event: Event,
    bytes: usize,
    stamp: u64,
}

#[derive(Default)]
struct State {
    /// Queued events.
    items: VecDeque<Queued>,
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
    /// Memory kept by the queued events.
    bytes: usize,
    /// Events taken in batches and not yet released, and the memory they keep.
    held: usize,
    held_bytes: usize,
}

impl State {
    /// Whether the queue is at either bound.
    fn is_full(&self, capacity: usize, max_bytes: usize) -> bool {
        self.items.len() + self.held >= capacity || self.bytes + self.held_bytes >= max_bytes
    }
}

/// Events taken together from the queue, in order. They count against the queue's bounds
/// until the batch is released (by the next take into it, or [`EventQueue::release`]).
#[derive(Default)]
pub(crate) struct Batch {
    events: VecDeque<Queued>,
    /// Events and bytes this batch counts in the queue.
    held: usize,
    bytes: usize,
}

impl Batch {
    /// The next event, skipping those the application no longer wants (their socket was
    /// closed by the application meanwhile).
    pub(crate) fn pop(&mut self) -> Option<Event> {
        while let Some(Queued { event, .. }) = self.events.pop_front() {
            if !event.is_stale() {
                return Some(event);
            }
        }
        None
    }

    /// Events not popped yet.
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }

    /// Takes every event out, each with the memory it keeps, and the duty to release their
    /// counts with [`EventQueue::release_held`] once done with them: the dispatcher pool sorts
    /// them into per-socket mailboxes, where they keep counting against the queue's bounds.
    pub(crate) fn hand_over(&mut self) -> impl Iterator<Item = (Event, usize)> + '_ {
        self.held = 0;
        self.bytes = 0;
        self.events
            .drain(..)
            .map(|Queued { event, bytes, .. }| (event, bytes))
    }

    /// The events not popped, to drop after the queue's lock; the batch keeps its (empty)
    /// allocation for the next take when there are none.
    fn take_left_over(&mut self) -> VecDeque<Queued> {
        if self.events.is_empty() {
            VecDeque::new()
        } else {
            std::mem::take(&mut self.events)
        }
    }
}

/// Told when an event comes to an empty queue that no taker waits on: the dispatcher pool,
/// whose one taker may be busy handling events, then wakes a free thread to take it (so the
/// pool needs no thread woken in advance for each event it takes).
pub(crate) trait Unwatched: Send + Sync {
    fn events_unwatched(&self);
}

/// A bounded multi-producer queue of events, taken in batches.
pub(crate) struct EventQueue {
    state: Mutex<State>,
    available: Condvar,
    /// Who is told of events that no taker waits on (see [`Unwatched`]); set once.
    unwatched: OnceLock<Weak<dyn Unwatched>>,
    /// Mirrors `State::is_full`, read without the lock on every socket read.
    full: AtomicBool,
    capacity: usize,
    max_bytes: usize,
    /// Where the time events wait and the backpressure episodes are counted.
    metrics: Arc<Metrics>,
}

impl EventQueue {
    /// A queue bounded at `capacity` events and `max_bytes` bytes of memory kept by them.
    pub(crate) fn new(capacity: usize, max_bytes: usize, metrics: Arc<Metrics>) -> Self {
        EventQueue {
            state: Mutex::new(State::default()),
            available: Condvar::new(),
            unwatched: OnceLock::new(),
            full: AtomicBool::new(false),
            capacity,
            max_bytes,
            metrics,
        }
    }

    /// Records the bounds' state after a change made under the lock; a queue that becomes
    /// full begins a backpressure episode.
    fn update_full(&self, state: &State) {
        let full = state.is_full(self.capacity, self.max_bytes);
        if full && !self.full.load(Ordering::Relaxed) {
            self.metrics.backpressure_episode();
        }
        self.full.store(full, Ordering::Relaxed);
    }

    /// Events waiting or held by takers, and the memory they keep.
    pub(crate) fn waiting(&self) -> (usize, usize) {
        let state = self.lock();
        (
            state.items.len() + state.held,
            state.bytes + state.held_bytes,
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an event that keeps no payload. Never blocks on the consumer: producers that must
    /// respect the bound call [`EventQueue::poll_room`] first.
    pub(crate) fn push(&self, event: Event) {
        let stamp = self.metrics.now();
        self.append(0, |items| {
            items.push_back(Queued {
                event,
                bytes: 0,
                stamp,
            })
        });
    }

    /// Adds the events of one socket's poll, each with the memory it keeps, together (one
    /// lock, at most one wake-up, one clock read for their timestamp), leaving `events` empty.
    pub(crate) fn push_all(&self, events: &mut Vec<(Event, usize)>) {
        let stamp = self.metrics.now();
        let bytes = events.iter().map(|(_, bytes)| bytes).sum();
        self.append(bytes, |items| {
            items.extend(events.drain(..).map(|(event, bytes)| Queued {
                event,
                bytes,
                stamp,
            }))
        });
    }

    /// Adds under the lock, and wakes a taker only if one is asleep and none has been
    /// signalled yet: a busy consumer is never signalled, and a burst that arrives before the
    /// signalled one runs (it does not preempt the producer: `prefer_batched_wakeups`) costs
    /// one wake-up in all. Events that come to an empty queue with no taker asleep are told
    /// to the [`Unwatched`] hook, after the lock.
    fn append(&self, bytes: usize, add: impl FnOnce(&mut VecDeque<Queued>)) {
        let mut state = self.lock();
        let was_empty = state.items.is_empty();
        add(&mut state.items);
        state.bytes += bytes;
        self.update_full(&state);
        let wake = state.takers_asleep > 0 && !state.signalled;
        state.signalled |= wake;
        let unwatched = was_empty && state.takers_asleep == 0;
        drop(state);
        if wake {
            self.available.notify_one();
        } else if unwatched {
            if let Some(hook) = self.unwatched.get().and_then(Weak::upgrade) {
                hook.events_unwatched();
            }
        }
    }

    /// Sets who is told of events that no taker waits on (once: later calls change nothing).
    pub(crate) fn tell_unwatched(&self, hook: Weak<dyn Unwatched>) {
        let _ = self.unwatched.set(hook);
    }

    /// Whether events wait to be taken.
    pub(crate) fn has_items(&self) -> bool {
        !self.lock().items.is_empty()
    }

    /// Ready when the queue has room; otherwise the task is woken once the consumer drains it.
    /// `registered` (0 at first) remembers the round of the waiting list this task's waker is
    /// on, plus one, so a task polled often while the queue is full is listed once per round.
    /// (A plain number, not an `Option`: every socket task keeps one.)
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>, registered: &mut u64) -> Poll<()> {
        if !self.full.load(Ordering::Relaxed) {
            return Poll::Ready(());
        }
        let mut state = self.lock();
        if !state.is_full(self.capacity, self.max_bytes) || state.closed {
            return Poll::Ready(());
        }
        let round = state.room_round + 1;
        if *registered != round {
            state.waiting_for_room.push(cx.waker().clone());
            *registered = round;
        }
        Poll::Pending
    }

    /// Releases what `batch` held, then takes up to `max` queued events into it, waiting up
    /// to `timeout` (forever if `None`) for the first. They count against the bounds until
    /// released. Returns false once the queue is closed and drained.
    pub(crate) fn take_batch(
        &self,
        batch: &mut Batch,
        max: usize,
        timeout: Option<Duration>,
    ) -> bool {
        let left_over = batch.take_left_over();
        let mut state = self.lock();
        Self::unhold(&mut state, batch);
        self.update_full(&state);
        if state.items.is_empty() && !state.waiting_for_room.is_empty() && !self.is_full(&state) {
            // The release made room: readers go on while this taker waits.
            Self::wake_waiting(state);
            state = self.lock();
        }
        drop(left_over); // events the taker did not pop, dropped without the lock held
        let mut state = self.wait_for_items(state, timeout);
        if state.items.is_empty() {
            return !state.closed;
        }
        if state.items.len() <= max {
            std::mem::swap(&mut state.items, &mut batch.events);
            batch.bytes = std::mem::take(&mut state.bytes);
        } else {
            batch.events.extend(state.items.drain(..max));
            batch.bytes = batch.events.iter().map(|queued| queued.bytes).sum();
            state.bytes -= batch.bytes;
        }
        batch.held = batch.events.len();
        state.held += batch.held;
        state.held_bytes += batch.bytes;
        self.after_take(state);
        self.record_waits(&batch.events);
        true
    }

    /// Records how long each event just taken waited in the queue, since its socket read it:
    /// one clock read for the batch, after the lock.
    fn record_waits(&self, taken: &VecDeque<Queued>) {
        let now = self.metrics.now();
        self.metrics
            .events_waited(taken.iter().map(|queued| now.saturating_sub(queued.stamp)));
    }

    /// Stops counting the events of `batch`, dropping any it still holds.
    pub(crate) fn release(&self, batch: &mut Batch) {
        let left_over = batch.take_left_over();
        let mut state = self.lock();
        Self::unhold(&mut state, batch);
        self.after_take(state);
        drop(left_over);
    }

    /// Stops counting `count` events keeping `bytes` of memory, handed over by
    /// [`Batch::hand_over`] and now done with.
    pub(crate) fn release_held(&self, count: usize, bytes: usize) {
        let mut state = self.lock();
        state.held -= count;
        state.held_bytes -= bytes;
        self.after_take(state);
    }

    /// Whether the queue is at either bound (read without the lock).
    pub(crate) fn is_full_now(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// Takes the counts of `batch` off the queue's.
    fn unhold(state: &mut State, batch: &mut Batch) {
        state.held -= std::mem::take(&mut batch.held);
        state.held_bytes -= std::mem::take(&mut batch.bytes);
    }

    fn is_full(&self, state: &State) -> bool {
        state.is_full(self.capacity, self.max_bytes)
    }

    /// Takes one event, waiting up to `timeout` (forever if `None`); it no longer counts once
    /// taken. `Err(())` once the queue is closed and drained; `Ok(None)` on timeout.
    pub(crate) fn take_one(&self, timeout: Option<Duration>) -> Result<Option<Event>, ()> {
        let mut state = self.wait_for_items(self.lock(), timeout);
        match state.items.pop_front() {
            Some(Queued {
                event,
                bytes,
                stamp,
            }) => {
                state.bytes -= bytes;
                let more = !state.items.is_empty();
                self.after_take(state);
                if more {
                    self.available.notify_one();
                }
                let waited = self.metrics.now().saturating_sub(stamp);
                self.metrics.events_waited([waited]);
                Ok(Some(event))
            }
            None if state.closed => Err(()),
            None => Ok(None),
        }
    }

    fn wait_for_items<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, State> {
        let deadline = timeout.map(|t| Instant::now() + t);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Arc<Metrics> {
        Arc::new(Metrics::new(Vec::new()))
    }

    #[test]
    fn take_one_times_out_then_sees_the_end() {
        let q = EventQueue::new(4, 1024, metrics());
        assert_eq!(
            q.take_one(Some(Duration::from_millis(10)))
                .map(|e| e.is_none()),
            Ok(true)
        );
        q.close();
        assert!(q.take_one(None).is_err());
        let mut batch = Batch::default();
        assert!(!q.take_batch(&mut batch, usize::MAX, None));
    }

    /// Takers asleep with these timeouts (`None`: none), events pushed in bursts: one
    /// signal per burst must still get every event taken, and no taker may sleep past one.
    fn bursts_reach_sleeping_takers(timeouts: &[Option<Duration>]) {
        let q = std::sync::Arc::new(EventQueue::new(1024, 1 << 20, metrics()));
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
        let queue = crate::queue::SendQueue::standalone(1, 1, crate::SlowConsumerPolicy::Fail);
        Event::InboundMessage {
            socket: Socket::for_tests(queue),
            message: Message::binary(vec![0u8; len]),
        }
    }

    #[test]
    fn readers_stop_at_either_bound_and_resume_once_taken() {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut round = 0;
        // Bounded in bytes: events keeping 1,000 bytes fill it.
        let q = EventQueue::new(100, 1000, metrics());
        q.push_all(&mut vec![(message_event(1), 600)]);
        assert!(q.poll_room(&mut cx, &mut round).is_ready());
        q.push_all(&mut vec![(message_event(1), 400)]);
        assert!(q.poll_room(&mut cx, &mut round).is_pending());
        assert!(q.take_one(None).unwrap().is_some());
        assert!(
            q.poll_room(&mut cx, &mut round).is_ready(),
            "600 bytes were taken"
        );
        // Bounded in events.
        let q = EventQueue::new(2, 1 << 20, metrics());
        q.push(message_event(1));
        q.push(message_event(1));
        assert!(q.poll_room(&mut cx, &mut round).is_pending());
        assert!(q.take_one(None).unwrap().is_some());
        assert!(q.poll_room(&mut cx, &mut round).is_ready());
    }

    #[test]
    fn a_batch_counts_until_released() {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut round = 0;
        let q = EventQueue::new(100, 1000, metrics());
        q.push_all(&mut vec![(message_event(1), 600), (message_event(1), 400)]);
        let mut batch = Batch::default();
        assert!(q.take_batch(&mut batch, 1, None));
        assert_eq!(batch.len(), 1, "at most the number asked for");
        assert!(batch.pop().is_some() && batch.pop().is_none());
        assert!(
            q.poll_room(&mut cx, &mut round).is_pending(),
            "the popped event still counts"
        );
        // Taking again releases the first batch: the second one alone now counts.
        assert!(q.take_batch(&mut batch, 1, None));
        assert!(q.poll_room(&mut cx, &mut round).is_ready());
        q.push_all(&mut vec![(message_event(1), 600)]);
        assert!(q.poll_room(&mut cx, &mut round).is_pending());
        q.release(&mut batch);
        assert!(q.poll_room(&mut cx, &mut round).is_ready());
        // Bounded in events, taken and held ones included.
        let q = EventQueue::new(2, 1 << 20, metrics());
        q.push(message_event(1));
        q.push(message_event(1));
        assert!(q.take_batch(&mut batch, usize::MAX, None));
        assert!(q.poll_room(&mut cx, &mut round).is_pending());
        q.release(&mut batch);
        assert!(q.poll_room(&mut cx, &mut round).is_ready());
    }
}
