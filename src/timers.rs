//! One timer for all the sockets of a connector. Each socket task keeps its next deadline (a
//! ping to send, a pong, idle or close timeout) here, as an entry of about 40 bytes in one
//! shared map, instead of a tokio timer of its own (112 bytes, boxed, held by every idle
//! connection). A task of the connector sleeps until the earliest deadline and wakes the
//! sockets whose deadline passed, through their send queue (a flag, and the waker their task
//! keeps registered there); each socket's task then sees for itself what is due.
//!
//! Deadlines are kept in whole milliseconds since the connector started, rounded up: a
//! deadline never fires early.

use crate::socket::{Socket, SocketInner};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A point in time, in milliseconds since the connector's timers started.
pub(crate) type Tick = u64;

/// The tick of a socket that waits for no deadline.
pub(crate) const NEVER: Tick = Tick::MAX;

/// The deadlines of a connector's sockets.
pub(crate) struct Timers {
    epoch: Instant,
    /// Sockets by deadline (the socket's address makes each key unique). Weak: a socket's
    /// entry keeps nothing of it alive but its allocation, and a socket task removes its own
    /// entry when it ends.
    due: Mutex<BTreeMap<(Tick, usize), Weak<SocketInner>>>,
    /// Wakes the timer task when the earliest deadline moves earlier, or the timers go.
    changed: Arc<Notify>,
}

impl Timers {
    /// Timers whose task runs on `runtime` for as long as they exist.
    pub(crate) fn start(runtime: &Handle) -> Arc<Self> {
        let timers = Arc::new(Timers {
            epoch: Instant::now(),
            due: Mutex::new(BTreeMap::new()),
            changed: Arc::new(Notify::new()),
        });
        runtime.spawn(run(Arc::downgrade(&timers), timers.changed.clone()));
        timers
    }

    /// The first tick at or after `at`: a deadline at `at` is due from then on.
    pub(crate) fn deadline(&self, at: Instant) -> Tick {
        let since = at.saturating_duration_since(self.epoch);
        since.as_millis() as Tick + Tick::from(since.subsec_nanos() % 1_000_000 != 0)
    }

    /// The tick `now` falls in: the deadlines up to it are due.
    pub(crate) fn tick(&self, now: Instant) -> Tick {
        now.saturating_duration_since(self.epoch).as_millis() as Tick
    }

    /// Moves `socket`'s deadline from `from` to `to` (either may be [`NEVER`]).
    pub(crate) fn set(&self, socket: &Socket, from: Tick, to: Tick) {
        if from == to {
            return;
        }
        let key = socket.address();
        let mut due = self.lock();
        if from != NEVER {
            due.remove(&(from, key));
        }
        if to != NEVER {
            let earliest = due
                .first_key_value()
                .is_none_or(|((first, _), _)| to < *first);
            due.insert((to, key), Arc::downgrade(&socket.0));
            drop(due);
            if earliest {
                self.changed.notify_one();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(Tick, usize), Weak<SocketInner>>> {
        // Each change is one step: a panic elsewhere leaves the map consistent.
        self.due.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the sockets whose deadline passed; returns when the next one is due.
    fn fire(&self) -> Option<Instant> {
        let now = self.tick(Instant::now());
        let (passed, next) = {
            let mut due = self.lock();
            let later = due.split_off(&(now.saturating_add(1), 0));
            let passed = std::mem::replace(&mut *due, later);
            (passed, due.first_key_value().map(|((tick, _), _)| *tick))
        };
        for socket in passed.into_values().filter_map(|socket| socket.upgrade()) {
            socket.queue.deadline_passed();
        }
        next.map(|tick| self.epoch + Duration::from_millis(tick))
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        // The task ends once it finds the timers gone.
        self.changed.notify_one();
    }
}

/// The timer task: wakes each socket whose deadline passed, then sleeps until the next
/// deadline or a change; ends with its timers.
async fn run(timers: Weak<Timers>, changed: Arc<Notify>) {
    let sleep = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(sleep);
    loop {
        let next = match timers.upgrade() {
            Some(timers) => timers.fire(),
            None => return,
        };
        match next {
            Some(at) => {
                sleep.as_mut().reset(at);
                tokio::select! {
                    _ = changed.notified() => {}
                    _ = &mut sleep => {}
                }
            }
            None => changed.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_ticks_round_down() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let timers = Timers::start(rt.handle());
        let at = timers.epoch + Duration::from_micros(2_500);
        assert_eq!(timers.deadline(at), 3);
        assert_eq!(timers.tick(at), 2);
        let exact = timers.epoch + Duration::from_millis(7);
        assert_eq!((timers.deadline(exact), timers.tick(exact)), (7, 7));
    }
}
