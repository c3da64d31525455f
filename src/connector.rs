//! The connector: start and stop, the runtime it runs on, and the operations.

use crate::config::{validate_groups, Config, MAX_DURATION};
use crate::dispatch::{run_dispatcher, EventHandler};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventBatch, EventQueue};
use crate::inbound::{Authorizer, Listener};
use crate::outbound::OutboundOptions;
use crate::protocol::close::{close_code, validate_close};
use crate::protocol::frame::encode_server_frame;
use crate::protocol::message::Message;
use crate::queue::{check_fits, CloseRequest, Delivery, Outgoing, Sealed, SendQueue};
use crate::registry::{Registry, SocketFilter};
use crate::socket::{Socket, SocketId, SocketType};
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;
const STOPPED: u8 = 2;

/// What broadcast did for one socket that did not get the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undelivered {
    /// Its queue was full and the policy dropped the message.
    Dropped,
    /// Its queue was full and the policy closed the socket (1013).
    Closed,
    /// The send failed (queue full under the fail policy, or the socket closed meanwhile).
    Failed(Error),
}

/// One socket a broadcast did not reach, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastFailure {
    /// The socket.
    pub socket_id: SocketId,
    /// What happened instead.
    pub what: Undelivered,
}

/// The outcome of a broadcast.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastResult {
    /// How many sockets the message was queued for.
    pub delivered: usize,
    /// How many older queued messages the drop-oldest policy discarded to make room.
    pub dropped_oldest: usize,
    /// The matching sockets that did not get it.
    pub failures: Vec<BroadcastFailure>,
}

/// State shared by the connector, its handles, and its tasks.
pub(crate) struct Shared {
    pub config: Config,
    /// Shared with the sockets it holds, weakly, for their own group operations.
    pub registry: Arc<Registry>,
    pub events: Arc<EventQueue>,
    state: AtomicU8,
    /// Every task the connector spawns, so that stop can wait for all of them.
    pub tasks: TaskTracker,
    /// Cancelled at stop: ends the accept loop, handshakes and outbound connects.
    pub shutdown: CancellationToken,
    pub runtime: Handle,
    pub client_tls: Arc<rustls::ClientConfig>,
    local_addr: Option<SocketAddr>,
    dispatcher_thread: OnceLock<ThreadId>,
    has_handler: bool,
}

impl Shared {
    pub(crate) fn is_running(&self) -> bool {
        self.state.load(Ordering::Acquire) == RUNNING
    }

    fn check_running(&self) -> Result<()> {
        if self.is_running() {
            Ok(())
        } else {
            Err(Error::stopped())
        }
    }

    /// Registers a socket whose handshake is done, with its initial groups; the registration
    /// takes it out of the registry again however it ends.
    pub(crate) fn register(
        self: &Arc<Self>,
        socket: &Socket,
        groups: &[String],
    ) -> Result<Registration> {
        self.check_running()?;
        self.registry.insert(socket, groups)?;
        Ok(Registration {
            shared: self.clone(),
            socket: socket.clone(),
            announced: false,
            ended: false,
        })
    }

    /// An empty send queue with the configured bounds and policy.
    pub(crate) fn send_queue(&self) -> SendQueue {
        let s = &self.config.socket;
        SendQueue::new(s.send_queue_messages, s.send_queue_bytes, s.slow_consumer)
    }

    fn on_dispatcher_thread(&self) -> bool {
        self.dispatcher_thread.get() == Some(&std::thread::current().id())
    }
}

/// A registered socket's way out of the registry, held from registration until its closed
/// event is queued. However the socket ends (its task finishes, panics, or is dropped; its
/// handshake fails after registration), it leaves the registry and its send queue is sealed;
/// once the application knows of it, its closed event is queued exactly once.
pub(crate) struct Registration {
    shared: Arc<Shared>,
    socket: Socket,
    /// The application knows of the socket: its end must be reported.
    announced: bool,
    /// The socket has left the registry.
    ended: bool,
}

impl Registration {
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The application learns of the socket (an inbound socket's connection event is queued;
    /// an outbound one's open returns its ID): from now on its end is reported.
    pub(crate) fn announce(&mut self) {
        self.announced = true;
        if self.socket.socket_type() == SocketType::Inbound {
            self.shared.events.push(Event::InboundConnection {
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
        self.socket.queue().seal(Sealed::Ended);
        if self.announced {
            self.shared.events.push(Event::SocketClosed {
                socket: self.socket.clone(),
                code,
                reason,
            });
        }
    }
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

/// A cheap, cloneable handle to a running connector: every operation, callable from any
/// thread, including from inside an event handler.
#[derive(Clone)]
pub struct ConnectorHandle {
    pub(crate) shared: Arc<Shared>,
}

impl ConnectorHandle {
    /// The address the listener is bound to (with the OS-chosen port when the port was 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.shared.local_addr
    }

    /// Whether the connector is running (not stopping or stopped).
    pub fn is_running(&self) -> bool {
        self.shared.is_running()
    }

    /// Opens an outbound socket to a `ws://` or `wss://` URL and returns its ID once the
    /// handshake is done. Blocks the calling thread; from async code use
    /// [`ConnectorHandle::open_outbound_async`].
    pub fn open_outbound(&self, url: &str, options: OutboundOptions) -> Result<SocketId> {
        self.shared.check_running()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let shared = self.shared.clone();
        let url = url.to_owned();
        self.shared.tasks.spawn_on(
            async move {
                let _ = tx.send(crate::outbound::open(shared, url, options).await);
            },
            &self.shared.runtime,
        );
        rx.recv().unwrap_or_else(|_| Err(Error::stopped()))
    }

    /// Opens an outbound socket like [`ConnectorHandle::open_outbound`], without blocking;
    /// the future may be awaited on any executor. Dropping it abandons the connect.
    pub async fn open_outbound_async(
        &self,
        url: &str,
        options: OutboundOptions,
    ) -> Result<SocketId> {
        self.shared.check_running()?;
        let shared = self.shared.clone();
        let task = self.shared.tasks.spawn_on(
            crate::outbound::open(shared, url.to_owned(), options),
            &self.shared.runtime,
        );
        let abort_if_dropped = AbortOnDrop(Some(task.abort_handle()));
        let result = task.await;
        abort_if_dropped.disarm();
        match result {
            Ok(result) => result,
            Err(e) if e.is_panic() => {
                Err(Error::new(ErrorKind::Internal, "outbound connect panicked"))
            }
            Err(_) => Err(Error::stopped()),
        }
    }

    /// Queues a message for one socket. Messages to one socket leave in the order sent.
    pub fn send(&self, socket_id: &str, message: impl Into<Message>) -> Result<Delivery> {
        self.shared.check_running()?;
        let socket = self.shared.registry.get(socket_id)?;
        socket
            .queue()
            .push(socket_id, Outgoing::Message(message.into()))
    }

    /// Subscribes a socket to groups; groups it already has are ignored. ([`Socket::subscribe`]
    /// does the same on a socket at hand.)
    pub fn subscribe<S: AsRef<str>>(&self, socket_id: &str, groups: &[S]) -> Result<()> {
        self.shared.check_running()?;
        let socket = self.shared.registry.get(socket_id)?;
        self.shared.registry.subscribe(&socket, groups)
    }

    /// Unsubscribes a socket from groups; groups it does not have are ignored.
    /// ([`Socket::unsubscribe`] does the same on a socket at hand.)
    pub fn unsubscribe<S: AsRef<str>>(&self, socket_id: &str, groups: &[S]) -> Result<()> {
        self.shared.check_running()?;
        validate_groups(groups)?;
        let socket = self.shared.registry.get(socket_id)?;
        self.shared.registry.unsubscribe(&socket, groups)
    }

    /// The send queue's byte bound of every socket (`SocketConfig::send_queue_bytes`).
    pub(crate) fn send_queue_bytes(&self) -> usize {
        self.shared.config.socket.send_queue_bytes
    }

    /// Sends one message to every socket that matches `filter`; says how many got it and
    /// which did not. A message larger than the send queue's byte bound
    /// (`SocketConfig::send_queue_bytes`) fits no socket: `LimitExceeded`, sent to none.
    pub fn broadcast(
        &self,
        message: impl Into<Message>,
        filter: &SocketFilter,
    ) -> Result<BroadcastResult> {
        self.shared.check_running()?;
        validate_groups(&filter.groups)?;
        let message = message.into();
        check_fits(message.len(), self.send_queue_bytes())?;
        let mut result = BroadcastResult::default();
        // Server frames are unmasked and identical: encoded once for every inbound recipient.
        let mut server_frame = None;
        self.shared.registry.for_each_match(filter, |socket| {
            let item = match socket.socket_type() {
                SocketType::Inbound => Outgoing::Frame(
                    server_frame
                        .get_or_insert_with(|| encode_server_frame(&message))
                        .clone(),
                ),
                SocketType::Outbound => Outgoing::Message(message.clone()),
            };
            let undelivered = match socket.queue().push(socket.id().as_str(), item) {
                Ok(Delivery::Queued) => None,
                Ok(Delivery::QueuedDroppingOldest(n)) => {
                    result.dropped_oldest += n;
                    None
                }
                Ok(Delivery::DroppedNewest) => Some(Undelivered::Dropped),
                Ok(Delivery::ClosedSlowConsumer) => Some(Undelivered::Closed),
                Err(e) => Some(Undelivered::Failed(e)),
            };
            match undelivered {
                None => result.delivered += 1,
                Some(what) => result.failures.push(BroadcastFailure {
                    socket_id: socket.id().clone(),
                    what,
                }),
            }
        });
        Ok(result)
    }

    /// Closes one socket with a close code (1000-1003, 1007-1014, 3000-4999) and a reason of
    /// at most 123 bytes. Messages queued before leave first; messages that arrive from the
    /// peer afterwards are not delivered. Closing a socket that is already closing is a no-op.
    /// ([`Socket::close`] does the same on a socket at hand.)
    pub fn close(&self, socket_id: &str, code: u16, reason: &str) -> Result<()> {
        self.shared.check_running()?;
        validate_close(code, reason)?;
        self.shared
            .registry
            .get(socket_id)?
            .close_validated(code, reason)
    }

    /// Closes every socket that matches `filter`; returns how many it began to close.
    pub fn bulk_close(&self, filter: &SocketFilter, code: u16, reason: &str) -> Result<usize> {
        self.shared.check_running()?;
        validate_close(code, reason)?;
        validate_groups(&filter.groups)?;
        Ok(self
            .shared
            .registry
            .select(filter)
            .iter()
            .filter(|socket| socket.request_close(code, reason))
            .count())
    }

    /// The open socket with this ID.
    pub fn socket(&self, socket_id: &str) -> Result<Socket> {
        self.shared.registry.get(socket_id)
    }

    /// The open sockets that match `filter`.
    pub fn sockets(&self, filter: &SocketFilter) -> Result<Vec<Socket>> {
        validate_groups(&filter.groups)?;
        Ok(self.shared.registry.select(filter))
    }

    /// How many sockets are open.
    pub fn socket_count(&self) -> usize {
        self.shared.registry.len()
    }

    /// How many groups have at least one member.
    pub fn group_count(&self) -> usize {
        self.shared.registry.group_count()
    }

    /// Takes the next event when no handler was given at start (pull mode). Waits up to
    /// `timeout` (forever with `None`; a longer one than [`MAX_DURATION`] waits that long);
    /// `Ok(None)` on timeout; `Err(Stopped)` once the connector has stopped and every event
    /// has been taken. The event stops counting against the event queue's bounds as it is
    /// returned (see [`ConnectorHandle::next_events`] for events that count until the
    /// application is done with them).
    pub fn next_event(&self, timeout: Option<Duration>) -> Result<Option<Event>> {
        self.check_pull_mode("next_event")?;
        // A wait past a year is a wait forever; capped, its deadline cannot overflow.
        let timeout = timeout.map(|t| t.min(MAX_DURATION));
        loop {
            match self.shared.events.take_one(timeout) {
                Ok(Some(event)) if event.is_stale() => continue,
                Ok(event) => return Ok(event),
                Err(()) => return Err(Error::stopped()),
            }
        }
    }

    /// Pull mode in batches: releases what `batch` held, then takes up to `max` events into
    /// it (at least one), waiting up to `timeout` (forever with `None`; a longer one than
    /// [`MAX_DURATION`] waits that long) for the first; an empty batch on timeout. A consumer
    /// that hands events on in batches pays one wake-up and one lock per burst rather than per
    /// event. The events keep counting against the event queue's bounds until the batch is
    /// released (see [`EventBatch`]), where [`ConnectorHandle::next_event`] stops counting an
    /// event as it returns it. `Err(Stopped)` once the connector has stopped and every event
    /// has been taken.
    pub fn next_events(
        &self,
        batch: &mut EventBatch,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<()> {
        self.check_pull_mode("next_events")?;
        let timeout = timeout.map(|t| t.min(MAX_DURATION));
        if batch.take(&self.shared.events, max.max(1), timeout) {
            Ok(())
        } else {
            Err(Error::stopped())
        }
    }

    /// `InvalidState` when the connector delivers its events to a handler.
    fn check_pull_mode(&self, what: &str) -> Result<()> {
        if self.shared.has_handler {
            return Err(Error::new(
                ErrorKind::InvalidState,
                format!(
                    "this connector delivers events to its handler; \
                     {what} is for connectors started without one"
                ),
            ));
        }
        Ok(())
    }
}

/// Aborts a task when the future awaiting it is dropped before it finished.
struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl AbortOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

/// Configures and starts a connector.
pub struct ConnectorBuilder {
    config: Config,
    handler: Option<Arc<dyn EventHandler>>,
    authorizer: Option<Arc<dyn Authorizer>>,
}

impl ConnectorBuilder {
    /// Delivers events to `handler` on the connector's dispatcher thread. Without a handler,
    /// the application takes events with [`ConnectorHandle::next_event`].
    pub fn on_event(mut self, handler: impl EventHandler) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// Same as [`ConnectorBuilder::on_event`] with a shared handler.
    pub fn on_event_arc(mut self, handler: Arc<dyn EventHandler>) -> Self {
        self.handler = Some(handler);
        self
    }

    /// Decides on each inbound upgrade request before the 101 (accept with groups, or refuse
    /// with an HTTP status). It runs on a blocking-pool thread, never on an I/O thread.
    pub fn authorizer(mut self, authorizer: impl Authorizer) -> Self {
        self.authorizer = Some(Arc::new(authorizer));
        self
    }

    /// Same as [`ConnectorBuilder::authorizer`] with a shared authorizer.
    pub fn authorizer_arc(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// Starts the connector on a runtime of its own.
    pub fn start(self) -> Result<Connector> {
        self.config.validate()?;
        let threads = self
            .config
            .worker_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().min(4)));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("wsc-io")
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot start the runtime: {e}"),
                )
            })?;
        let handle = runtime.handle().clone();
        self.start_with(handle, Some(runtime))
    }

    /// Starts the connector on the caller's multi-threaded tokio runtime. Stop it with
    /// [`Connector::stop_async`] from async code.
    pub fn start_on(self, runtime: Handle) -> Result<Connector> {
        self.config.validate()?;
        self.start_with(runtime, None)
    }

    fn start_with(self, runtime: Handle, owned: Option<Runtime>) -> Result<Connector> {
        let config = self.config;
        let client_tls = crate::tls::client_config(&config.client)?;
        let listener = match &config.listener {
            Some(listener_config) => {
                let _guard = runtime.enter();
                Some(Listener::bind(listener_config, self.authorizer.clone())?)
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            registry: Arc::default(),
            events: Arc::new(EventQueue::new(
                config.event_queue_capacity,
                config.event_queue_bytes,
            )),
            state: AtomicU8::new(RUNNING),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            runtime: runtime.clone(),
            client_tls,
            local_addr: listener.as_ref().map(Listener::local_addr),
            dispatcher_thread: OnceLock::new(),
            has_handler: self.handler.is_some(),
            config,
        });
        if let Some(listener) = listener {
            shared
                .tasks
                .spawn_on(listener.run(shared.clone()), &runtime);
        }
        let dispatcher = match self.handler {
            Some(handler) => {
                let handle = ConnectorHandle {
                    shared: shared.clone(),
                };
                let thread = std::thread::Builder::new()
                    .name("wsc-dispatch".into())
                    .spawn(move || run_dispatcher(handle, handler))
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Internal,
                            format!("cannot start the dispatcher thread: {e}"),
                        )
                    })?;
                let _ = shared.dispatcher_thread.set(thread.thread().id());
                Some(thread)
            }
            None => None,
        };
        Ok(Connector {
            handle: ConnectorHandle { shared },
            runtime: Mutex::new(owned),
            dispatcher: Mutex::new(dispatcher),
            stop_lock: Mutex::new(()),
        })
    }
}

/// A running connector: its listener, its outbound sockets, its runtime and its dispatcher.
/// Every operation is on the [`ConnectorHandle`] it dereferences to. Dropping it stops it.
pub struct Connector {
    handle: ConnectorHandle,
    runtime: Mutex<Option<Runtime>>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
    stop_lock: Mutex<()>,
}

impl Deref for Connector {
    type Target = ConnectorHandle;
    fn deref(&self) -> &ConnectorHandle {
        &self.handle
    }
}

impl Connector {
    /// Begins configuring a connector.
    pub fn builder(config: Config) -> ConnectorBuilder {
        ConnectorBuilder {
            config,
            handler: None,
            authorizer: None,
        }
    }

    /// A handle for the operations, to keep or hand to other threads.
    pub fn handle(&self) -> ConnectorHandle {
        self.handle.clone()
    }

    /// Stops the connector: stops accepting, closes every socket with 1001 (going away),
    /// waits up to the stop timeout for queued sends and close handshakes, delivers every
    /// remaining event (each socket's closed event included), and ends every thread and task.
    /// Blocks until done; calling it again is a no-op. From the connector's own event handler
    /// it fails with `InvalidState` (it would wait for itself).
    pub fn stop(&self) -> Result<()> {
        let shared = &self.handle.shared;
        if shared.on_dispatcher_thread() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "a connector cannot be stopped from its own event handler",
            ));
        }
        let _one_at_a_time = self.stop_lock.lock().unwrap_or_else(|e| e.into_inner());
        if shared.state.load(Ordering::Acquire) == STOPPED {
            return Ok(());
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let stopping = shared.clone();
        shared.runtime.spawn(async move {
            close_everything(&stopping).await;
            let _ = tx.send(());
        });
        // The runtime may already be gone if the caller's runtime shut down.
        let _ = rx.recv();
        self.finish_stop();
        Ok(())
    }

    /// Stops the connector like [`Connector::stop`], from async code.
    pub async fn stop_async(&self) -> Result<()> {
        let shared = self.handle.shared.clone();
        if shared.on_dispatcher_thread() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "a connector cannot be stopped from its own event handler",
            ));
        }
        close_everything(&shared).await;
        let dispatcher = self
            .dispatcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        shared.events.close();
        if let Some(thread) = dispatcher {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        self.finish_stop();
        Ok(())
    }

    fn finish_stop(&self) {
        let shared = &self.handle.shared;
        shared.events.close();
        if let Some(thread) = self
            .dispatcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = thread.join();
        }
        if let Some(runtime) = self
            .runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            if Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(shared.config.stop_timeout);
            }
        }
        shared.state.store(STOPPED, Ordering::Release);
    }
}

/// The async half of stop: no new sockets, every socket closed, every task ended.
async fn close_everything(shared: &Arc<Shared>) {
    if shared
        .state
        .compare_exchange(RUNNING, STOPPING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Another stop is under way or done; wait for the tasks it is ending.
        shared.tasks.wait().await;
        return;
    }
    shared.shutdown.cancel();
    for socket in shared.registry.all() {
        socket.queue().request_close(CloseRequest {
            code: close_code::GOING_AWAY,
            reason: "going away".into(),
        });
    }
    shared.tasks.close();
    if tokio::time::timeout(shared.config.stop_timeout, shared.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            sockets = shared.registry.len(),
            "stop timeout reached; dropping the sockets that are still closing"
        );
        for socket in shared.registry.all() {
            socket.queue().kill();
        }
        shared.tasks.wait().await;
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        if self.handle.shared.on_dispatcher_thread() {
            // Dropped from its own handler: the dispatcher cannot join itself, so the rest of
            // the stop runs on a thread of its own.
            let shared = self.handle.shared.clone();
            let runtime = self
                .runtime
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let _ = std::thread::Builder::new()
                .name("wsc-stop".into())
                .spawn(move || {
                    // On the connector's own runtime or the caller's, whichever it runs on.
                    shared.runtime.block_on(close_everything(&shared));
                    shared.events.close();
                    if let Some(runtime) = runtime {
                        runtime.shutdown_timeout(shared.config.stop_timeout);
                    }
                    shared.state.store(STOPPED, Ordering::Release);
                });
            return;
        }
        let _ = self.stop();
    }
}
