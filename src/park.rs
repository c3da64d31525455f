//! Parking: an idle plain socket leaves tokio, so that it holds a few hundred bytes instead of
//! a task (its cell, 512 bytes) and a reactor registration (256).
//!
//! A socket quiet for `park_idle_after`, with nothing buffered either way and nothing owed
//! (see `Driver::may_park`), ends its task: its stream leaves the reactor and joins the
//! connector's own epoll set (one-shot, for input or hang-up), and what its task needs to go on
//! is kept in a [`Spot`]. It resumes, in a new task on the I/O thread it ran on, exactly as it
//! was, when its stream becomes readable or hangs up (the epoll set's task), or when its task is
//! woken through its send queue: a send, a broadcast, a close request, a drain, stop, or one
//! of its deadlines (the connector's timers wake sockets through their queue). Whichever comes
//! first resumes it; the others find the spot empty.
//!
//! TLS and permessage-deflate sockets do not park (their streams hold state of their own).
//!
//! What parked sockets free goes back to the system in one purge after each batch of parks
//! (see [`crate::alloc`]): once no socket has parked for [`PURGE_QUIET`], or [`PURGE_EVERY`]
//! after the first park of a batch that goes on, on every I/O thread and every worker (mimalloc
//! keeps emptied pages per thread: at 19,800 parked on two workers, purging one left 1.32 KiB
//! per connection, both 0.98; glibc's trim reaches every arena from one thread). On the
//! caller's runtime (`start_on`) the purge never holds a worker: a busy worker may miss it, and
//! its own later allocations purge its pages instead.

use crate::error::{Error, ErrorKind, Result};
use crate::io_threads::{on_every_thread, IoThreads, Reach};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Wake, Waker};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Most readiness events taken from the epoll set at once.
const EVENTS_PER_WAIT: usize = 64;

/// A batch of parks ends when no socket parked for this long; then its memory is purged.
const PURGE_QUIET: Duration = Duration::from_millis(500);

/// Parks that go on without such a pause are purged this often.
const PURGE_EVERY: Duration = Duration::from_secs(10);

/// A parked socket, able to resume.
pub(crate) trait Resume: Send + 'static {
    /// Starts the socket's task again (on the I/O thread it ran on).
    fn resume(self);
}

/// Something parked that a readiness event resumes.
trait Unpark: Send + Sync {
    fn unpark(&self);
}

/// The connector's parked sockets: their streams in one epoll set, watched by one task.
pub(crate) struct Parking {
    epoll: OwnedFd,
    /// Parked sockets by their stream's file descriptor.
    parked: Mutex<HashMap<RawFd, Arc<dyn Unpark>>>,
    /// Parks so far: the purge task waits for them to stop.
    parks: AtomicU64,
    /// Told of a park, for the purge task.
    parked_some: Notify,
    /// Purges done.
    purges: AtomicU64,
}

impl Parking {
    /// The parking of a connector, whose tasks run on the general thread of `io` until
    /// `shutdown` (stop wakes every socket through its queue, so none is left parked).
    pub(crate) fn start(io: &IoThreads, shutdown: CancellationToken) -> Result<Arc<Self>> {
        let runtime = io.general();
        let cannot = |e: std::io::Error| {
            Error::new(
                ErrorKind::Internal,
                format!("cannot set up socket parking: {e}"),
            )
        };
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new fd we own.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return Err(cannot(std::io::Error::last_os_error()));
        }
        // SAFETY: just created, owned by nothing else.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        let watched = epoll.try_clone().map_err(cannot)?;
        let watched = {
            let _runtime = runtime.enter();
            // SAFETY: an OwnedFd's descriptor is open and the same until it is dropped, with
            // the AsyncFd that owns it.
            unsafe { AsyncFd::register_with_interest(watched, tokio::io::Interest::READABLE) }
                .map_err(|e| cannot(e.into_parts().1))?
        };
        let parking = Arc::new(Parking {
            epoll,
            parked: Mutex::new(HashMap::new()),
            parks: AtomicU64::new(0),
            parked_some: Notify::new(),
            purges: AtomicU64::new(0),
        });
        runtime.spawn(watch(Arc::downgrade(&parking), watched, shutdown.clone()));
        runtime.spawn(purge_after_parks(
            parking.clone(),
            io.handles().to_vec(),
            io.reach(),
            shutdown,
        ));
        Ok(parking)
    }

    /// Sockets parked now.
    pub(crate) fn count(&self) -> usize {
        self.lock().len()
    }

    /// Times the memory parked sockets freed was given back to the system.
    pub(crate) fn purges(&self) -> u64 {
        self.purges.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RawFd, Arc<dyn Unpark>>> {
        // Each change is one step: a panic elsewhere leaves the map consistent.
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parks `parked`, whose stream is `fd`: it resumes when the stream is readable or hangs
    /// up, or when `queue`'s waker is woken. Resumes it at once when something already waits.
    pub(crate) fn park<R: Resume>(
        self: &Arc<Self>,
        fd: RawFd,
        parked: R,
        queue: &crate::queue::SendQueue,
    ) {
        let spot = Arc::new(Spot {
            fd,
            parking: Arc::downgrade(self),
            parked: Mutex::new(Some(parked)),
        });
        self.lock().insert(fd, spot.clone());
        // Registered first: a wake from now on resumes the socket, whose new task then
        // registers its own waker (never overwritten by this one).
        queue.register_waker(&Waker::from(spot.clone()));
        {
            // Held while the stream joins the set, so that whatever resumes the socket takes
            // it out of the set after it joined.
            let waiting = spot.lock();
            if waiting.is_none() {
                // Woken already (by the registration itself): resumed.
                return;
            }
            let mut event = libc::epoll_event {
                events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLONESHOT) as u32,
                u64: fd as u64,
            };
            // SAFETY: `event` is a valid epoll_event; both fds are open (the stream's is held
            // by the spot, which takes it out of the set before it resumes).
            let added = unsafe {
                libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut event)
            };
            if added != 0 {
                let error = std::io::Error::last_os_error();
                drop(waiting);
                tracing::warn!(%error, "cannot park a socket; it stays in its task");
                spot.unpark();
                return;
            }
        }
        if queue.wants_task() {
            // Pushed (or due) between the task's last look and the waker's registration.
            spot.unpark();
        }
        self.parks.fetch_add(1, Ordering::Relaxed);
        self.parked_some.notify_one();
    }

    /// The spot of `fd` leaves the set (it resumes).
    fn forget(&self, fd: RawFd) {
        self.lock().remove(&fd);
        // SAFETY: no pointer but the (ignored) event; `fd` is still open (its spot holds it).
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    /// Resumes the socket whose stream `fd` is ready. (An event for a stream that resumed
    /// meanwhile finds nothing, or, its fd reused, a socket that resumes for nothing and parks
    /// again later: harmless.)
    fn ready(&self, fd: RawFd) {
        let spot = self.lock().get(&fd).cloned();
        if let Some(spot) = spot {
            spot.unpark();
        }
    }
}

/// Where a parked socket waits: taken out (once) by whatever resumes it.
struct Spot<R> {
    fd: RawFd,
    parking: Weak<Parking>,
    parked: Mutex<Option<R>>,
}

impl<R> Spot<R> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<R>> {
        // Taking the record is one step: a panic elsewhere leaves it consistent.
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<R: Resume> Unpark for Spot<R> {
    fn unpark(&self) {
        let parked = self.lock().take();
        if let Some(parked) = parked {
            if let Some(parking) = self.parking.upgrade() {
                parking.forget(self.fd);
            }
            parked.resume();
        }
    }
}

impl<R: Resume> Wake for Spot<R> {
    fn wake(self: Arc<Self>) {
        self.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.unpark();
    }
}

/// The task watching the epoll set: resumes each socket whose stream is ready, until the
/// connector stops or its parking is gone.
async fn watch(parking: Weak<Parking>, watched: AsyncFd<OwnedFd>, shutdown: CancellationToken) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAIT];
    loop {
        let mut ready = tokio::select! {
            _ = shutdown.cancelled() => return,
            ready = watched.readable() => match ready {
                Ok(ready) => ready,
                Err(e) => {
                    tracing::error!(error = %e, "socket parking failed: parked sockets wake only on sends and deadlines");
                    return;
                }
            },
        };
        let Some(parking) = parking.upgrade() else {
            return;
        };
        loop {
            // SAFETY: `events` has room for EVENTS_PER_WAIT entries; timeout 0: no wait.
            let n = unsafe {
                libc::epoll_wait(
                    watched.as_raw_fd(),
                    events.as_mut_ptr(),
                    EVENTS_PER_WAIT as i32,
                    0,
                )
            };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if n <= 0 {
                // Readiness that came after the guard was taken is kept (tokio's tick).
                ready.clear_ready();
                break;
            }
            for event in &events[..n as usize] {
                parking.ready(event.u64 as RawFd);
            }
        }
    }
}

/// The task that purges the memory of each batch of parks (see the module's doc) on every
/// I/O thread in `threads` (as `reach` says), until the connector stops.
async fn purge_after_parks(
    parking: Arc<Parking>,
    threads: Vec<Handle>,
    reach: Reach,
    shutdown: CancellationToken,
) {
    let mut purged = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = parking.parked_some.notified() => {}
        }
        if parking.parks.load(Ordering::Relaxed) == purged {
            // Told of parks that the last purge covered.
            continue;
        }
        // The batch goes on while sockets park, until a quiet spell or PURGE_EVERY.
        let batch_end = tokio::time::Instant::now() + PURGE_EVERY;
        loop {
            let seen = parking.parks.load(Ordering::Relaxed);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(PURGE_QUIET) => {}
            }
            if parking.parks.load(Ordering::Relaxed) == seen
                || tokio::time::Instant::now() >= batch_end
            {
                break;
            }
        }
        purged = parking.parks.load(Ordering::Relaxed);
        if !crate::alloc::PURGE_IS_PER_THREAD {
            crate::alloc::purge();
        } else if !on_every_thread(&threads, reach, crate::alloc::purge).await {
            // The threads end with their connector.
            return;
        }
        parking.purges.fetch_add(1, Ordering::Relaxed);
    }
}
