//! Graceful drain: the connector stops taking new sockets (new handshakes get 503 with
//! `Retry-After`, the health path says 503), then closes the sockets that match a filter in
//! batches, an interval apart, and reports its progress until every one of them has closed.

use crate::config::{validate_groups, MAX_DURATION};
use crate::error::{Error, Result};
use crate::protocol::close::{close_code, validate_close};
use crate::registry::SocketFilter;
use crate::shared::Shared;
use crate::socket::Socket;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How a drain closes its sockets: which (a filter), how many at a time, how far apart, with
/// which close code and reason, and the `Retry-After` that refused handshakes carry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DrainOptions {
    /// The sockets to close (default: every socket).
    pub filter: SocketFilter,
    /// Sockets closed at a time (default 1,000).
    pub batch_size: usize,
    /// Time between two batches (default 1 s).
    pub interval: Duration,
    /// The close code: 1001 (going away, the default) or 1012 (service restart) tell a
    /// client to reconnect, which a load balancer sends to another instance.
    pub code: u16,
    /// The close reason (default "server draining").
    pub reason: String,
    /// What refused handshakes tell clients to wait before trying again, in whole seconds
    /// (default 5 s).
    pub retry_after: Duration,
}

impl Default for DrainOptions {
    fn default() -> Self {
        DrainOptions {
            filter: SocketFilter::all(),
            batch_size: 1000,
            interval: Duration::from_secs(1),
            code: close_code::GOING_AWAY,
            reason: "server draining".into(),
            retry_after: Duration::from_secs(5),
        }
    }
}

impl DrainOptions {
    /// Every socket, 1,000 at a time, a second apart, with 1001.
    pub fn new() -> Self {
        DrainOptions::default()
    }

    /// Closes only the sockets that match `filter`.
    pub fn filter(mut self, filter: SocketFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Closes `batch_size` sockets at a time, `interval` apart.
    pub fn batches(mut self, batch_size: usize, interval: Duration) -> Self {
        self.batch_size = batch_size;
        self.interval = interval;
        self
    }

    /// Closes with `code` and `reason`.
    pub fn close(mut self, code: u16, reason: impl Into<String>) -> Self {
        self.code = code;
        self.reason = reason.into();
        self
    }

    /// Refused handshakes carry `Retry-After: retry_after` (in whole seconds, rounded up).
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::invalid("drain batch_size must be greater than 0"));
        }
        for (name, value) in [
            ("interval", self.interval),
            ("retry_after", self.retry_after),
        ] {
            if value > MAX_DURATION {
                return Err(Error::invalid(format!(
                    "drain {name} must be at most one year"
                )));
            }
        }
        validate_close(self.code, &self.reason)?;
        validate_groups(&self.filter.groups)
    }
}

/// Where a drain stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainProgress {
    /// Sockets that matched the filter when the drain began.
    pub matched: usize,
    /// Sockets the drain asked to close (those that had not closed or begun closing by then).
    pub requested: usize,
    /// Matched sockets that have closed.
    pub closed: usize,
    /// Batches of close requests sent.
    pub batches: usize,
    /// Every matched socket has closed (or the connector stopped).
    pub finished: bool,
}

/// A drain under way: its progress, to poll or wait on. Dropping it lets the drain go on.
#[derive(Clone)]
pub struct Drain {
    state: Arc<State>,
}

struct State {
    progress: Mutex<DrainProgress>,
    changed: Condvar,
    finished: tokio::sync::Notify,
}

impl Drain {
    fn lock(&self) -> MutexGuard<'_, DrainProgress> {
        self.state
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The progress now.
    pub fn progress(&self) -> DrainProgress {
        *self.lock()
    }

    /// Waits until the drain has finished, up to `timeout` (forever with `None`); returns the
    /// progress then. Blocks the calling thread: from async code use [`Drain::finished`].
    pub fn wait(&self, timeout: Option<Duration>) -> DrainProgress {
        self.wait_while(timeout, |p| !p.finished)
    }

    /// Waits until the progress differs from `seen` (a batch went out, a socket closed, the
    /// drain finished), up to `timeout`; returns the progress then.
    pub fn wait_for_change(
        &self,
        seen: &DrainProgress,
        timeout: Option<Duration>,
    ) -> DrainProgress {
        self.wait_while(timeout, |p| p == seen && !p.finished)
    }

    fn wait_while(
        &self,
        timeout: Option<Duration>,
        mut condition: impl FnMut(&DrainProgress) -> bool,
    ) -> DrainProgress {
        let deadline = timeout.map(|t| Instant::now() + t.min(MAX_DURATION));
        let mut progress = self.lock();
        while condition(&progress) {
            progress = match deadline {
                None => self
                    .state
                    .changed
                    .wait(progress)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.state
                        .changed
                        .wait_timeout(progress, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        *progress
    }

    /// Waits, without blocking a thread, until the drain has finished; returns the progress.
    pub async fn finished(&self) -> DrainProgress {
        loop {
            let finished = self.state.finished.notified();
            let progress = self.progress();
            if progress.finished {
                return progress;
            }
            finished.await;
        }
    }

    fn update(&self, change: impl FnOnce(&mut DrainProgress)) {
        let mut progress = self.lock();
        let before = *progress;
        change(&mut progress);
        if *progress != before {
            let finished = progress.finished;
            drop(progress);
            self.state.changed.notify_all();
            if finished {
                self.state.finished.notify_waiters();
            }
        }
    }
}

/// Begins a drain on a running connector: from now on new handshakes are refused, and the
/// matching sockets are closed by a task of the connector's.
pub(crate) fn start(shared: &Arc<Shared>, options: DrainOptions) -> Result<Drain> {
    options.validate()?;
    shared.check_running()?;
    shared.begin_draining(options.retry_after);
    let sockets = shared.registry.select(&options.filter);
    let drain = Drain {
        state: Arc::new(State {
            progress: Mutex::new(DrainProgress {
                matched: sockets.len(),
                ..DrainProgress::default()
            }),
            changed: Condvar::new(),
            finished: tokio::sync::Notify::new(),
        }),
    };
    let task = run(shared.clone(), sockets, options, drain.clone());
    shared.tasks.spawn_on(task, shared.io.general());
    Ok(drain)
}

/// The drain's task: a batch of close requests every interval, then waits for every matched
/// socket to leave; ends early when the connector stops.
async fn run(shared: Arc<Shared>, sockets: Vec<Socket>, options: DrainOptions, drain: Drain) {
    let stopping = shared.shutdown.clone();
    let mut next = sockets.iter();
    loop {
        let mut batch = 0;
        for socket in next.by_ref() {
            if socket.is_open() && socket.request_close(options.code, &options.reason) {
                batch += 1;
                if batch == options.batch_size {
                    break;
                }
            }
        }
        if batch > 0 {
            drain.update(|p| {
                p.requested += batch;
                p.batches += 1;
            });
        }
        if next.len() == 0 {
            break;
        }
        tokio::select! {
            _ = stopping.cancelled() => break,
            _ = tokio::time::sleep(options.interval) => {}
        }
    }
    let matched = sockets.len();
    let mut open = sockets;
    loop {
        let left = shared.socket_left.notified();
        tokio::pin!(left);
        left.as_mut().enable();
        open.retain(Socket::is_open);
        let closed = matched - open.len();
        drain.update(|p| p.closed = closed);
        if open.is_empty() {
            break;
        }
        tokio::select! {
            _ = stopping.cancelled() => break,
            _ = left => {}
        }
    }
    drain.update(|p| p.finished = true);
}
