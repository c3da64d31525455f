//! The connector's I/O threads: `worker_threads` threads named `wsc-io`, each running a tokio
//! current-thread runtime. A socket's task lives on one of them all its life, and its stream
//! is registered with that thread's reactor, so a read wakes nothing on another thread, and no
//! work-stealing scheduler keeps books per poll. New sockets go to the threads in turn; the
//! connector-wide tasks (the accept loop, the timers, drains, the cluster link, stop) run on
//! the first, the general one. A connector started on the caller's runtime
//! (`ConnectorBuilder::start_on`) has that runtime as its only "thread".
//!
//! That is for inline dispatch, where the handlers run on the I/O threads and wake their own
//! thread's tasks. With dispatcher threads, every send from a handler wakes a socket's task
//! from another thread, and a current-thread runtime writes to its eventfd on every such wake
//! (the work-stealing one only when its worker sleeps): one `write` per echoed message, which
//! cost the dispatched echo and fan-out 4 to 15 % more CPU. A connector with dispatcher
//! threads therefore runs on one multi-thread runtime of `worker_threads` workers, as one
//! "thread".

use crate::error::{Error, ErrorKind, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio_util::sync::CancellationToken;

/// Longest a worker of a multi-thread runtime waits for the others in [`on_every_thread`].
const MEET_WAIT: Duration = Duration::from_millis(10);

/// Where the connector's tasks run: one runtime handle per I/O thread.
pub(crate) struct IoThreads {
    /// The general thread's handle first.
    handles: Box<[Handle]>,
    /// The owned threads' IDs (none on a runtime, the connector's or the caller's).
    ids: Box<[ThreadId]>,
    /// The threads are the connector's own, not the caller's (`start_on`).
    own: bool,
    /// Counts the sockets placed, for the turn of the next one.
    placed: AtomicUsize,
}

/// The I/O thread a new socket goes to.
pub(crate) struct Placement<'a> {
    pub handle: &'a Handle,
    /// It is the general thread, where the accept loop runs.
    pub general: bool,
}

/// The I/O threads themselves, owned by the connector: [`OwnedIoThreads::stop`] ends and
/// joins them (dropping does too).
pub(crate) enum OwnedIoThreads {
    /// Current-thread runtimes, one a thread, which end when `stop` is cancelled.
    Threads {
        stop: CancellationToken,
        threads: Vec<JoinHandle<()>>,
    },
    /// One multi-thread runtime (dispatched events), and how long its blocking pool may take
    /// to end.
    Runtime(Option<Runtime>, Duration),
}

impl IoThreads {
    /// One multi-thread runtime of `workers` threads, for a connector with dispatcher threads.
    pub(crate) fn start_shared(
        workers: usize,
        stop_timeout: Duration,
    ) -> Result<(Self, OwnedIoThreads)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("wsc-io")
            .enable_all()
            .build()
            .map_err(|e| cannot_start("runtime", &e))?;
        let threads = IoThreads {
            own: true,
            ..IoThreads::on(runtime.handle().clone())
        };
        Ok((
            threads,
            OwnedIoThreads::Runtime(Some(runtime), stop_timeout),
        ))
    }

    /// `count` I/O threads, each a current-thread runtime, for inline dispatch.
    pub(crate) fn start(count: usize, stop_timeout: Duration) -> Result<(Self, OwnedIoThreads)> {
        let stop = CancellationToken::new();
        let mut threads = Vec::with_capacity(count);
        let mut handles = Vec::with_capacity(count);
        for _ in 0..count.max(1) {
            match io_thread(&stop, stop_timeout) {
                Ok((handle, thread)) => {
                    handles.push(handle);
                    threads.push(thread);
                }
                Err(e) => {
                    // Ends the threads started so far.
                    drop(OwnedIoThreads::Threads { stop, threads });
                    return Err(e);
                }
            }
        }
        let io = IoThreads {
            handles: handles.into(),
            ids: threads.iter().map(|t| t.thread().id()).collect(),
            own: true,
            placed: AtomicUsize::new(0),
        };
        Ok((io, OwnedIoThreads::Threads { stop, threads }))
    }

    /// The caller's runtime as the only I/O "thread".
    pub(crate) fn on(runtime: Handle) -> Self {
        IoThreads {
            handles: Box::new([runtime]),
            ids: Box::new([]),
            own: false,
            placed: AtomicUsize::new(0),
        }
    }

    /// The runtime of the connector-wide tasks.
    pub(crate) fn general(&self) -> &Handle {
        &self.handles[0]
    }

    /// Every I/O thread's runtime, the general one first.
    pub(crate) fn handles(&self) -> &[Handle] {
        &self.handles
    }

    /// How [`on_every_thread`] may reach these threads: the connector's own workers may wait
    /// for each other, the caller's must not be held.
    pub(crate) fn reach(&self) -> Reach {
        if self.own {
            Reach::Every
        } else {
            Reach::WithoutWaiting
        }
    }

    /// The I/O thread of a new socket: each in turn.
    pub(crate) fn next(&self) -> Placement<'_> {
        let turn = match self.handles.len() {
            1 => 0,
            n => self.placed.fetch_add(1, Ordering::Relaxed) % n,
        };
        Placement {
            handle: &self.handles[turn],
            general: turn == 0,
        }
    }

    /// Whether the calling thread is one of these I/O threads (which a stop must not wait on).
    pub(crate) fn on_own_thread(&self) -> bool {
        !self.ids.is_empty() && self.ids.contains(&std::thread::current().id())
    }
}

impl OwnedIoThreads {
    /// Ends every thread (their remaining tasks are dropped) and waits for them.
    pub(crate) fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        match self {
            OwnedIoThreads::Threads { stop, threads } => {
                stop.cancel();
                let me = std::thread::current().id();
                for thread in threads.drain(..) {
                    // A thread cannot join itself: it ends once the caller returns to its
                    // runtime.
                    if thread.thread().id() != me {
                        let _ = thread.join();
                    }
                }
            }
            OwnedIoThreads::Runtime(runtime, stop_timeout) => {
                if let Some(runtime) = runtime.take() {
                    // Inside async code a runtime may not wait for its blocking pool.
                    if Handle::try_current().is_ok() {
                        runtime.shutdown_background();
                    } else {
                        runtime.shutdown_timeout(*stop_timeout);
                    }
                }
            }
        }
    }
}

impl Drop for OwnedIoThreads {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// An I/O thread running a current-thread runtime until `stop` is cancelled.
fn io_thread(stop: &CancellationToken, stop_timeout: Duration) -> Result<(Handle, JoinHandle<()>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .thread_name("wsc-io")
        .enable_all()
        .build()
        .map_err(|e| cannot_start("runtime", &e))?;
    let handle = runtime.handle().clone();
    let stop = stop.clone();
    let thread = std::thread::Builder::new()
        .name("wsc-io".into())
        .spawn(move || {
            runtime.block_on(stop.cancelled());
            // The tasks still there are dropped here, on their own thread; the blocking pool
            // (authorizer, header refresher) gets the stop timeout.
            runtime.shutdown_timeout(stop_timeout);
        })
        .map_err(|e| cannot_start("thread", &e))?;
    Ok((handle, thread))
}

fn cannot_start(what: &str, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("cannot start an I/O {what}: {e}"),
    )
}

/// How [`on_every_thread`] reaches the workers of a multi-thread runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Each worker exactly once: the tasks wait for each other (up to [`MEET_WAIT`]) so that
    /// no worker takes two while another sleeps. For the connector's own threads.
    Every,
    /// One task per worker, which never waits: an idle worker steals one, a busy one may not
    /// get one. For the caller's runtime (`start_on`), whose workers serve the application.
    WithoutWaiting,
}

/// Runs `work` on every thread of `runtimes` (I/O threads' handles): a task on each
/// current-thread runtime, and on a multi-thread runtime one task per worker, as `reach`
/// says. False when a runtime is ending.
pub(crate) async fn on_every_thread(runtimes: &[Handle], reach: Reach, work: fn()) -> bool {
    for runtime in runtimes {
        let workers = match runtime.runtime_flavor() {
            RuntimeFlavor::MultiThread => runtime.metrics().num_workers(),
            _ => 1,
        };
        let meeting = (reach == Reach::Every).then(|| {
            Arc::new(Meeting {
                arrived: Mutex::new(0),
                all: Condvar::new(),
                workers,
            })
        });
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let meeting = meeting.clone();
                runtime.spawn(async move {
                    work();
                    if let Some(meeting) = meeting {
                        meeting.arrive_and_wait();
                    }
                })
            })
            .collect();
        for task in tasks {
            if task.await.is_err() {
                return false;
            }
        }
    }
    true
}

/// Where the tasks of [`on_every_thread`] on a multi-thread runtime wait for each other.
struct Meeting {
    arrived: Mutex<usize>,
    all: Condvar,
    workers: usize,
}

impl Meeting {
    /// Counts this task in and waits (blocking its worker, up to [`MEET_WAIT`]) for the rest.
    fn arrive_and_wait(&self) {
        let mut arrived = self.arrived.lock().unwrap_or_else(|e| e.into_inner());
        *arrived += 1;
        self.all.notify_all();
        let _ = self
            .all
            .wait_timeout_while(arrived, MEET_WAIT, |arrived| *arrived < self.workers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// How long `on_every_thread` takes on a runtime of two workers, one of which the
    /// application holds in a blocking call: the fastest of three tries.
    fn with_a_worker_held(reach: Reach) -> Duration {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let (held_tx, held) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        runtime.spawn(async move {
            held_tx.send(()).unwrap();
            let _ = released.recv_timeout(Duration::from_secs(10));
        });
        held.recv().unwrap();
        let handles = [runtime.handle().clone()];
        let fastest = (0..3)
            .map(|_| {
                let start = Instant::now();
                let reached = on_every_thread(&handles, reach, || {});
                assert!(runtime.block_on(reached));
                start.elapsed()
            })
            .min()
            .unwrap();
        release.send(()).unwrap();
        fastest
    }

    #[test]
    fn on_the_callers_runtime_a_held_worker_holds_up_no_other() {
        let took = with_a_worker_held(Reach::WithoutWaiting);
        assert!(took < MEET_WAIT, "took {took:?}");
    }

    #[test]
    fn on_the_connectors_own_runtime_the_workers_wait_for_each_other() {
        let took = with_a_worker_held(Reach::Every);
        assert!(took >= MEET_WAIT, "took {took:?}");
    }
}
