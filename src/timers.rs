//! One timer for all the sockets of a connector. Each socket task keeps its next deadline (a
//! ping to send, a pong, idle or close timeout) here, as an entry of about 40 bytes in one
//! shared map, instead of a tokio timer of its own (112 bytes, boxed, held by every idle
//! connection). A task of the connector sleeps until the earliest deadline and wakes the
//! sockets whose deadline passed, through their send queue (a flag, and the waker their task
//! keeps registered there); each socket's task then sees for itself what is due.
//!
//! Deadlines are kept in whole milliseconds since the connector started, rounded up: a
//! deadline never fires early.
//!
//! The task sleeps on a timerfd of its own, watched by the reactor, rather than on a tokio
//! timer: a runtime whose timer wheel holds an entry looks it up and reads the clock on every
//! park (each turn of a busy I/O thread), which cost about 170 instructions per echoed message
//! (measured: one sleeping task added to the fastwebsockets bench server, 3,215 -> 3,382). The
//! wheel then stays empty unless the application's own tasks use it. Should no timerfd be had
//! (out of descriptors), the task sleeps on a tokio timer.

use crate::socket::{Socket, SocketInner};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

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
    let mut alarm = Alarm::new();
    loop {
        let next = match timers.upgrade() {
            Some(timers) => timers.fire(),
            None => return,
        };
        match next {
            Some(at) => {
                alarm.set(at);
                tokio::select! {
                    _ = changed.notified() => {}
                    _ = alarm.rings() => {}
                }
            }
            None => changed.notified().await,
        }
    }
}

/// What the timer task sleeps on: a timerfd in the reactor (see the module's note), with the
/// time it is set for, or a tokio timer when there is no timerfd to be had.
enum Alarm {
    Fd(AsyncFd<File>, Instant),
    Sleep(Pin<Box<Sleep>>),
}

impl Alarm {
    /// A timerfd, unarmed (within the runtime, whose reactor watches it).
    fn new() -> Self {
        match Alarm::timerfd() {
            Ok(fd) => Alarm::Fd(fd, Instant::now()),
            Err(e) => {
                tracing::warn!("no timerfd for the connector's timers ({e}); using a tokio timer");
                Alarm::Sleep(Box::pin(tokio::time::sleep(Duration::ZERO)))
            }
        }
    }

    fn timerfd() -> io::Result<AsyncFd<File>> {
        // SAFETY: no pointers; the result is checked.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just opened, owned by nothing else.
        let fd = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        // SAFETY: a File's descriptor is open and the same until it is dropped, with the
        // AsyncFd that owns it.
        unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
            .map_err(|e| e.into_parts().1)
    }

    /// Rings at `at` (`Instant` is the monotonic clock that the timerfd counts).
    fn set(&mut self, at: Instant) {
        match self {
            Alarm::Fd(fd, set_for) => {
                *set_for = at;
                // Never zero, which would disarm it: a deadline already passed rings at once.
                let after = at
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_nanos(1));
                let spec = libc::itimerspec {
                    it_interval: libc::timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    },
                    it_value: libc::timespec {
                        tv_sec: after.as_secs().try_into().unwrap_or(libc::time_t::MAX),
                        tv_nsec: after.subsec_nanos().into(),
                    },
                };
                // SAFETY: the descriptor is open (owned by `fd`); `spec` is a valid itimerspec;
                // the old value is not asked for (NULL).
                let set = unsafe {
                    libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut())
                };
                if set != 0 {
                    // Cannot happen with a valid descriptor and value; sleep on tokio instead.
                    tracing::warn!(
                        "timerfd_settime failed ({}); using a tokio timer",
                        io::Error::last_os_error()
                    );
                    *self = Alarm::Sleep(Box::pin(tokio::time::sleep_until(at)));
                }
            }
            Alarm::Sleep(sleep) => sleep.as_mut().reset(at),
        }
    }

    /// Waits until the alarm rings (a read error ends the wait too: the timers then look
    /// again, and the next `set` arms it anew). Should the reactor fail it (shutting down),
    /// it waits on a tokio timer from then on.
    async fn rings(&mut self) {
        match self {
            Alarm::Fd(fd, at) => loop {
                let Ok(mut ready) = fd.readable().await else {
                    let mut sleep = Box::pin(tokio::time::sleep_until(*at));
                    sleep.as_mut().await;
                    *self = Alarm::Sleep(sleep);
                    return;
                };
                let mut expirations = [0u8; 8];
                let read = ready.try_io(|file| file.get_ref().read(&mut expirations));
                match read {
                    Ok(_) => return,
                    // Not ready after all (readiness was stale): wait again.
                    Err(_would_block) => continue,
                }
            },
            Alarm::Sleep(sleep) => sleep.as_mut().await,
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
