//! The dispatcher pool: the threads that hand a connector's events to its handler, each
//! socket's events one at a time and in order, different sockets' side by side.
//!
//! One thread at a time takes a batch from the connector's event queue (one wake-up per
//! burst, as the single dispatcher did) and sorts it into per-socket mailboxes; any free
//! thread takes the next ready mailbox and handles its events. A thread that takes work while
//! more is ready (another mailbox, or events in the queue with nobody taking them) wakes one
//! sleeping thread, which does the same; an event that comes while the taker handles a
//! mailbox wakes one through the queue (`events::Unwatched`): wake-ups follow the parallel
//! work, not the events (a taker that handles its one event and takes again wakes nobody).
//! Events in mailboxes keep counting against the event queue's bounds until handled, so
//! backpressure bounds what waits here as it bounds the queue.

use super::mailbox::{Events, Mailboxes};
use super::{deliver, EventHandler};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Batch, Unwatched};
use crate::handle::ConnectorHandle;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;

/// Handled events whose counts a thread releases together, unless the queue is full.
const RELEASE_EVERY: usize = 256;

#[derive(Default)]
struct State {
    mailboxes: Mailboxes,
    /// A thread waits on (or takes from) the event queue.
    taking: bool,
    /// Threads asleep, waiting for work.
    asleep: usize,
    /// Wake-ups sent to sleeping threads that have not woken yet.
    signalled: usize,
    /// The event queue is closed and drained: threads end once no mailbox is ready.
    ended: bool,
}

struct Pool {
    connector: ConnectorHandle,
    handler: Arc<dyn EventHandler>,
    state: Mutex<State>,
    work: Condvar,
}

/// Starts `threads` dispatcher threads (named `wsc-dispatch`) handing the connector's events
/// to `handler`; they end once the connector has stopped and every event was handled.
pub(crate) fn start(
    connector: ConnectorHandle,
    handler: Arc<dyn EventHandler>,
    threads: usize,
) -> Result<Vec<JoinHandle<()>>> {
    let pool = Arc::new(Pool {
        connector,
        handler,
        state: Mutex::new(State::default()),
        work: Condvar::new(),
    });
    let unwatched: Weak<dyn Unwatched> = Arc::downgrade(&pool) as _;
    pool.connector.shared.events.tell_unwatched(unwatched);
    let mut started = Vec::with_capacity(threads);
    for _ in 0..threads.max(1) {
        let pool = pool.clone();
        let thread = std::thread::Builder::new()
            .name("wsc-dispatch".into())
            .spawn(move || pool.run())
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot start a dispatcher thread: {e}"),
                )
            });
        match thread {
            Ok(thread) => started.push(thread),
            // The threads already started end with the connector's stop.
            Err(e) if started.is_empty() => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, threads = started.len(), "dispatcher pool smaller than asked");
                break;
            }
        }
    }
    Ok(started)
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One thread's loop: handle a ready mailbox, else watch the event queue if no thread
    /// does, else sleep until there is work.
    fn run(&self) {
        let shared = &self.connector.shared;
        shared.enter_dispatcher();
        super::prefer_batched_wakeups();
        let queue = &shared.events;
        let mut batch = Batch::default();
        let mut events = Events::new();
        // Counts of handled events not yet released to the queue.
        let (mut handled, mut handled_bytes) = (0, 0);
        let mut state = self.lock();
        loop {
            if let Some(key) = state.mailboxes.take_ready(&mut events) {
                self.wake_one_for_more(&mut state);
                drop(state);
                for (event, bytes) in events.drain(..) {
                    handled += 1;
                    handled_bytes += bytes;
                    if !event.is_stale() {
                        deliver(&*self.handler, &self.connector, event);
                    }
                }
                if handled >= RELEASE_EVERY || queue.is_full_now() {
                    queue.release_held(
                        std::mem::take(&mut handled),
                        std::mem::take(&mut handled_bytes),
                    );
                }
                state = self.lock();
                state.mailboxes.done(key);
                continue;
            }
            if handled > 0 {
                // Before waiting: what waits on the queue's bounds may go on.
                drop(state);
                queue.release_held(
                    std::mem::take(&mut handled),
                    std::mem::take(&mut handled_bytes),
                );
                state = self.lock();
                continue;
            }
            if state.ended {
                return;
            }
            if !state.taking {
                state.taking = true;
                drop(state);
                let more = queue.take_batch(&mut batch, usize::MAX, None);
                state = self.lock();
                state.taking = false;
                if more {
                    for (event, bytes) in batch.hand_over() {
                        state.mailboxes.post(event, bytes);
                    }
                } else {
                    state.ended = true;
                    self.work.notify_all();
                }
                continue;
            }
            state.asleep += 1;
            state = self.work.wait(state).unwrap_or_else(|e| e.into_inner());
            state.asleep -= 1;
            state.signalled = state.signalled.saturating_sub(1);
        }
    }

    /// Wakes one sleeping thread when there is work besides the calling thread's: a ready
    /// mailbox, or events in the queue with no taker. Events that come later with no taker
    /// wake one through [`Unwatched`] (the queue is checked under the pool's lock, which the
    /// hook takes after the event is in).
    fn wake_one_for_more(&self, state: &mut State) {
        let queue = &self.connector.shared.events;
        if state.mailboxes.has_ready() || (!state.taking && queue.has_items()) {
            self.wake_one(state);
        }
    }

    /// Wakes one sleeping thread, unless every sleeping one was woken already and has not run.
    fn wake_one(&self, state: &mut State) {
        if state.asleep > state.signalled {
            state.signalled += 1;
            self.work.notify_one();
        }
    }
}

impl Unwatched for Pool {
    /// An event came while no thread takes from the queue: a sleeping thread takes it, so a
    /// handler that blocks holds up no other socket.
    fn events_unwatched(&self) {
        let mut state = self.lock();
        if !state.taking {
            self.wake_one(&mut state);
        }
    }
}
