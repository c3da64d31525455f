//! The state a running connector shares with its handles and its tasks, and a socket's
//! registration in it, which reports the socket's end exactly once however it ends.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::{Event, EventQueue, TriggerSet};
use crate::io_threads::IoThreads;
use crate::metrics::{Gauges, Metrics, MetricsSnapshot};
use crate::outbound::proxy::Proxies;
use crate::outbound::refresh::HeaderRefresher;
use crate::park::Parking;
use crate::path::{full_pattern, normalize_base_path};
use crate::protocol::close::close_code;
use crate::queue::{reply, QueueLimits, Sealed, SendQueue};
use crate::registry::Registry;
use crate::socket::{Socket, SocketId, SocketState, SocketType};
use crate::timers::Timers;
use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

thread_local! {
    /// The connector whose dispatcher pool the calling thread belongs to (its `Shared`'s
    /// address; null on every other thread).
    static DISPATCHING_FOR: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
}

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const STOPPED: u8 = 2;

/// What outbound sockets need of a connector besides its settings, made at start.
pub(crate) struct ClientParts {
    pub tls: Arc<rustls::ClientConfig>,
    pub proxies: Proxies,
    pub header_refresher: Option<Arc<dyn HeaderRefresher>>,
}

/// State shared by the connector, its handles, and its tasks.
pub(crate) struct Shared {
    pub config: Config,
    /// Shared with the sockets it holds, weakly, for their own group operations.
    pub registry: Arc<Registry>,
    pub events: Arc<EventQueue>,
    /// Running, stopping or stopped.
    state: AtomicU8,
    /// Every task the connector spawns, so that stop can wait for all of them.
    pub tasks: TaskTracker,
    /// Cancelled at stop: ends the accept loop, handshakes and outbound connects.
    pub shutdown: CancellationToken,
    /// Where its tasks run.
    pub io: IoThreads,
    pub client_tls: Arc<rustls::ClientConfig>,
    /// The proxies of outbound sockets.
    pub proxies: Proxies,
    /// Outbound sockets, reconnecting ones and opens in progress included (for
    /// `max_outbound_connections`).
    pub outbound_sockets: AtomicUsize,
    /// Gives outbound sockets fresh handshake headers before each reconnect attempt.
    pub header_refresher: Option<Arc<dyn HeaderRefresher>>,
    /// The listener's address (with the port the OS chose), when there is a listener.
    pub local_addr: Option<SocketAddr>,
    /// Events go to a handler; without one the application pulls them.
    pub has_handler: bool,
    /// The triggers whose connection, closed and reconnect events [`Shared::deliver`] hands
    /// over: those the handler takes (`EventHandler::takes`), or every one when the application
    /// pulls its events.
    taken: TriggerSet,
    /// The handler that takes events where they happen, on the I/O thread (inline dispatch),
    /// instead of the dispatcher thread.
    pub inline: Option<Arc<dyn InlineHandler>>,
    /// The connector's figures.
    pub metrics: Arc<Metrics>,
    /// The send queues' bounds and policy, shared by every socket.
    queue_limits: Arc<QueueLimits>,
    /// A drain has begun: new handshakes are refused (503) and the health path says 503.
    draining: AtomicBool,
    /// The `Retry-After` (seconds) of the refusals while draining.
    retry_after_secs: AtomicU64,
    /// Woken when a socket leaves while the connector drains (a drain waits for its sockets).
    pub socket_left: Notify,
    /// The cluster's socket directory, when the connector is a node of one.
    pub directory: Option<Arc<dyn SocketDirectory>>,
    /// Every socket's next deadline.
    pub timers: Arc<Timers>,
    /// Where idle sockets park (see [`crate::park`]); `None` with `park_idle_after` 0.
    pub parking: Option<Arc<Parking>>,
}

/// An event handler called on the I/O thread where each event happens (inline dispatch, see
/// `ConnectorBuilder::on_event_inline`); it must never block.
pub(crate) trait InlineHandler: Send + Sync {
    /// Handles `event` on the calling thread, which the caller marked as inside this
    /// connector's handler (see [`Shared::run_as_inline_handler`]); catches the handler's
    /// panics.
    fn handle(&self, shared: &Arc<Shared>, event: Event);
}

/// A future of the socket directory.
pub(crate) type DirectoryFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the sockets of several connectors are known by ID (a cluster's directory): told of
/// each socket that joins or leaves this connector's registry.
pub(crate) trait SocketDirectory: Send + Sync {
    /// A socket joined; the future ends once it can be reached from every node (bounded).
    fn added<'a>(&'a self, id: &'a SocketId) -> DirectoryFuture<'a, ()>;
    /// A socket left, or a claimed ID was not used after all.
    fn removed(&self, id: &SocketId);
    /// Claims a caller-chosen ID before its socket opens: `NonUniqueSocketId` when another
    /// connector holds it. Released by [`SocketDirectory::removed`].
    fn claim<'a>(&'a self, id: &'a SocketId) -> DirectoryFuture<'a, Result<()>>;
}

/// A claimed socket ID, released when dropped unless its socket registered.
pub(crate) struct Claim {
    directory: Arc<dyn SocketDirectory>,
    id: Option<SocketId>,
}

impl Claim {
    /// Claims `id` in `directory`.
    pub(crate) async fn new(directory: &Arc<dyn SocketDirectory>, id: &SocketId) -> Result<Self> {
        directory.claim(id).await?;
        Ok(Claim {
            directory: directory.clone(),
            id: Some(id.clone()),
        })
    }

    /// The socket registered: its claim now lasts as long as the socket.
    pub(crate) fn keep(mut self) {
        self.id = None;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.directory.removed(&id);
        }
    }
}

impl Shared {
    /// The state of a connector that starts running.
    pub(crate) fn new(
        config: Config,
        io: IoThreads,
        client: ClientParts,
        local_addr: Option<SocketAddr>,
        taken: Option<TriggerSet>,
        inline: Option<Arc<dyn InlineHandler>>,
        directory: Option<Arc<dyn SocketDirectory>>,
    ) -> Self {
        let metrics = Arc::new(Metrics::new(path_labels(&config)));
        let s = &config.socket;
        let queue_limits = QueueLimits::new(
            s.send_queue_messages,
            s.send_queue_bytes,
            s.slow_consumer,
            metrics.clone(),
        );
        let shutdown = CancellationToken::new();
        let parking = if config.socket.park_idle_after.is_zero() {
            None
        } else {
            Parking::start(&io, shutdown.clone())
                .inspect_err(|e| tracing::warn!(error = %e, "sockets will not park"))
                .ok()
        };
        Shared {
            registry: Arc::default(),
            parking,
            events: Arc::new(EventQueue::new(
                config.event_queue_capacity,
                config.event_queue_bytes,
                metrics.clone(),
            )),
            state: AtomicU8::new(RUNNING),
            timers: Timers::start(io.general()),
            tasks: TaskTracker::new(),
            shutdown,
            io,
            client_tls: client.tls,
            proxies: client.proxies,
            outbound_sockets: AtomicUsize::new(0),
            header_refresher: client.header_refresher,
            local_addr,
            has_handler: taken.is_some(),
            taken: taken.unwrap_or(TriggerSet::ALL),
            inline,
            directory,
            config,
            metrics,
            queue_limits,
            draining: AtomicBool::new(false),
            retry_after_secs: AtomicU64::new(0),
            socket_left: Notify::new(),
        }
    }

    /// Hands an event to the application: to its inline handler at once, or to the queue;
    /// or nowhere, when its handler does not take the event's trigger.
    pub(crate) fn deliver(self: &Arc<Self>, event: Event) {
        if !self.taken.contains(event.trigger()) {
            return;
        }
        match &self.inline {
            Some(inline) => self.run_as_inline_handler(|| inline.handle(self, event)),
            None => self.events.push(event),
        }
    }

    /// Runs `f` (an inline handler's call) with the thread marked as inside this connector's
    /// handler, for [`Shared::in_own_handler`]. The socket task's call of the handler for a
    /// message marks the thread as it opens the reply slot instead (one thread-local for
    /// both, see [`reply::collect`]).
    pub(crate) fn run_as_inline_handler<R>(&self, f: impl FnOnce() -> R) -> R {
        reply::as_handler_of(self.handler_mark(), f)
    }

    /// This connector as [`reply`] marks the thread that runs its inline handler.
    pub(crate) fn handler_mark(&self) -> *const () {
        (self as *const Shared).cast()
    }

    /// Whether a drain has begun (it lasts until the connector stops).
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Begins draining: from now on new handshakes get 503 with `Retry-After: retry_after`
    /// (whole seconds, rounded up).
    pub(crate) fn begin_draining(&self, retry_after: Duration) {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        self.retry_after_secs.store(secs, Ordering::Relaxed);
        self.draining.store(true, Ordering::Release);
    }

    /// The `Retry-After` of the refusals while draining, in seconds.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        self.retry_after_secs.load(Ordering::Relaxed)
    }

    /// The connector's figures now: its counters, and the gauges read from the sockets' send
    /// queues (each visited once), the event queue and the connector's state.
    pub(crate) fn metrics(&self) -> MetricsSnapshot {
        let mut gauges = Gauges {
            draining: self.is_draining(),
            ..Gauges::default()
        };
        self.registry.for_each(|socket| {
            let (messages, bytes) = socket.queue().depth();
            gauges.send_queue_messages += messages as u64;
            gauges.send_queue_bytes += bytes as u64;
            gauges.send_queue_largest = gauges.send_queue_largest.max(messages as u64);
        });
        if let Some(parking) = &self.parking {
            gauges.sockets_parked = parking.count() as u64;
            gauges.memory_purges = parking.purges();
        }
        let (events, bytes) = self.events.waiting();
        gauges.events_waiting = events as u64;
        gauges.event_bytes_waiting = bytes as u64;
        self.metrics.snapshot(gauges)
    }

    /// Whether the connector runs (is not stopping or stopped).
    pub(crate) fn is_running(&self) -> bool {
        self.state.load(Ordering::Acquire) == RUNNING
    }

    /// `Stopped` unless the connector runs.
    pub(crate) fn check_running(&self) -> Result<()> {
        if self.is_running() {
            Ok(())
        } else {
            Err(Error::stopped())
        }
    }

    /// Registers a socket whose handshake is done, with its initial groups (an inbound one on
    /// the listener's served path number `path`); the registration takes it out of the
    /// registry again however it ends. With a socket directory, it returns once the socket can
    /// be reached from every node.
    pub(crate) async fn register(
        self: &Arc<Self>,
        socket: &Socket,
        groups: &[String],
        path: Option<usize>,
    ) -> Result<Registration> {
        self.check_running()?;
        self.registry.insert(socket, groups)?;
        let path = path.and_then(|p| u16::try_from(p).ok());
        let inbound = socket.socket_type() == SocketType::Inbound;
        self.metrics.socket_opened(inbound, path.map(usize::from));
        let registration = Registration {
            shared: self.clone(),
            socket: socket.clone(),
            path,
            announced: false,
            ended: false,
        };
        if let Some(directory) = &self.directory {
            directory.added(socket.id()).await;
        }
        Ok(registration)
    }

    /// An empty send queue with the configured bounds and policy.
    pub(crate) fn send_queue(&self) -> SendQueue {
        SendQueue::new(self.queue_limits.clone())
    }

    /// The send queue's byte bound of every socket (`SocketConfig::send_queue_bytes`).
    pub(crate) fn send_queue_bytes(&self) -> usize {
        self.config.socket.send_queue_bytes
    }

    /// Whether the calling thread runs this connector's event handler: one of its dispatcher
    /// threads, or an I/O thread inside an inline handler. Such a thread may not wait for the
    /// connector (stop it, or open an outbound socket and wait for it): it would wait for
    /// itself.
    pub(crate) fn in_own_handler(&self) -> bool {
        self.in_inline_handler() || self.on_dispatcher_thread()
    }

    /// Whether the calling thread is an I/O thread inside this connector's inline handler,
    /// which must not block.
    pub(crate) fn in_inline_handler(&self) -> bool {
        std::ptr::eq(reply::handler_of(), self.handler_mark())
    }

    /// Marks the calling thread, for its whole life, as one of this connector's dispatcher
    /// threads: the threads that may not stop the connector (they would wait for themselves).
    pub(crate) fn enter_dispatcher(&self) {
        DISPATCHING_FOR.with(|d| d.set(self));
    }

    /// Whether the calling thread is one of the connector's dispatcher threads.
    pub(crate) fn on_dispatcher_thread(&self) -> bool {
        DISPATCHING_FOR.with(|d| std::ptr::eq(d.get(), self))
    }

    /// Moves from running to stopping; false when a stop had begun already.
    pub(crate) fn begin_stop(&self) -> bool {
        self.state
            .compare_exchange(RUNNING, STOPPING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether a stop has finished.
    pub(crate) fn is_stopped(&self) -> bool {
        self.state.load(Ordering::Acquire) == STOPPED
    }

    /// The stop has finished.
    pub(crate) fn mark_stopped(&self) {
        self.state.store(STOPPED, Ordering::Release);
    }
}

/// A registered socket's way out of the registry, held from registration until its closed
/// event is queued. However the socket ends (its task finishes, panics, or is dropped; its
/// handshake fails after registration), it leaves the registry and its send queue is sealed;
/// once the application knows of it, its closed event is queued exactly once.
pub(crate) struct Registration {
    shared: Arc<Shared>,
    socket: Socket,
    /// The served path an inbound socket came in on (its figures are counted by path).
    path: Option<u16>,
    /// The application knows of the socket: its end must be reported.
    announced: bool,
    /// The socket has left the registry.
    ended: bool,
}

impl Registration {
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The state of the connector the socket is registered in.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The application learns of the socket (an inbound socket's connection event is queued;
    /// an outbound one's open returns its ID): from now on its end is reported.
    pub(crate) fn announce(&mut self) {
        self.announced = true;
        if self.socket.socket_type() == SocketType::Inbound {
            self.shared.deliver(Event::InboundConnection {
                socket: self.socket.clone(),
            });
        }
    }

    /// The socket ended with `code` and `reason`: unregister, refuse sends, report closed.
    pub(crate) fn finish(mut self, code: u16, reason: String) {
        self.end(code, reason);
    }

    fn end(&mut self, code: u16, reason: String) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        self.shared.registry.remove(&self.socket);
        if let Some(directory) = &self.shared.directory {
            directory.removed(self.socket.id());
        }
        self.socket.queue().seal(Sealed::Ended);
        self.socket.set_state(SocketState::Closed, None);
        let path = self.path.map(usize::from);
        let inbound = self.socket.socket_type() == SocketType::Inbound;
        self.shared.metrics.socket_closed(inbound, path, code);
        tracing::debug!(code, reason = %reason, "socket closed");
        if self.shared.is_draining() {
            self.shared.socket_left.notify_waiters();
        }
        if self.announced {
            self.shared.deliver(Event::SocketClosed {
                socket: self.socket.clone(),
                code,
                reason,
            });
        }
    }
}

/// The full path patterns of the listener's served paths, in their order (the labels of the
/// by-path figures): one for the whole base path when none is declared.
fn path_labels(config: &Config) -> Vec<String> {
    let Some(listener) = &config.listener else {
        return Vec::new();
    };
    let base =
        normalize_base_path(&listener.base_path).unwrap_or_else(|_| listener.base_path.clone());
    if listener.paths.is_empty() {
        return vec![full_pattern(&base, "*")];
    }
    listener
        .paths
        .iter()
        .map(|path| full_pattern(&base, &path.pattern))
        .collect()
}

impl Drop for Registration {
    /// The socket's task was dropped before it finished (its runtime shut down, or its
    /// handshake was cancelled or failed after registration): the connection is gone.
    fn drop(&mut self) {
        self.end(
            close_code::ABNORMAL,
            "the socket's task ended before the socket closed".into(),
        );
    }
}
