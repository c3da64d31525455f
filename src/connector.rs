//! The connector: start and stop, the runtime it runs on, and the operations.

use crate::cluster::{Cluster, ClusterSocket, RemoteFailure, RemoteOp};
use crate::config::{validate_groups, Config, MAX_DURATION};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{run_dispatcher, Event, EventBatch, EventHandler, EventQueue};
use crate::frame::encode_server_frame;
use crate::inbound::{Authorizer, Listener};
use crate::message::Message;
use crate::outbound::OutboundOptions;
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

/// Close codes with names (RFC 6455 section 7.4); any code from 3000 to 4999 is the
/// application's own.
pub mod close_code {
    /// The purpose of the connection was fulfilled.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away (server stopping, page left, idle timeout).
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// The peer sent a kind of data this endpoint cannot accept.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Reported (never sent) when a close frame carried no code.
    pub const NO_STATUS: u16 = 1005;
    /// Reported (never sent) when the connection ended without a close handshake.
    pub const ABNORMAL: u16 = 1006;
    /// A text message was not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A message broke the endpoint's policy.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A message was larger than the endpoint accepts.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The server hit an unexpected condition.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// The server is restarting.
    pub const SERVICE_RESTART: u16 = 1012;
    /// Overloaded (here: a slow consumer's queue was full); try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;

    /// Whether an application may send `code` in a close frame.
    pub fn is_sendable(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

/// Longest close reason in bytes (a close frame's payload is at most 125 bytes).
pub const MAX_CLOSE_REASON_LEN: usize = 123;

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

/// The outcome of a broadcast. With a cluster, the counts are every node's that answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastResult {
    /// How many sockets the message was queued for.
    pub delivered: usize,
    /// How many older queued messages the drop-oldest policy discarded to make room.
    pub dropped_oldest: usize,
    /// The matching sockets of this node that did not get it.
    pub failures: Vec<BroadcastFailure>,
    /// How many nodes' counts are in the result, this one included (1 without a cluster, or
    /// from [`ConnectorHandle::publish`]).
    pub nodes_answered: usize,
    /// Every node that got the message answered within the cluster's timeout (always true
    /// without a cluster; false from [`ConnectorHandle::publish`], which waits for none).
    pub complete: bool,
    /// The matching sockets of other nodes that did not get it, at most 100 per node.
    pub remote_failures: Vec<RemoteFailure>,
    /// Failures on other nodes left out of `remote_failures`.
    pub remote_failures_omitted: usize,
}

/// State shared by the connector, its handles, and its tasks.
pub(crate) struct Shared {
    pub config: Config,
    /// Shared with the sockets it holds, weakly, for their own group operations.
    pub registry: Arc<Registry>,
    pub events: EventQueue,
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
    /// The cluster this connector is a node of, if it has one.
    pub cluster: Option<Arc<Cluster>>,
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
    /// With a cluster, it returns once the socket can be reached from every node (see
    /// `Cluster::socket_added`).
    pub(crate) async fn register(
        self: &Arc<Self>,
        socket: &Socket,
        groups: &[String],
    ) -> Result<Registration> {
        self.check_running()?;
        self.registry.insert(socket, groups)?;
        let registration = Registration {
            shared: self.clone(),
            socket: socket.clone(),
            announced: false,
            ended: false,
        };
        if let Some(cluster) = &self.cluster {
            cluster.socket_added(socket.id()).await;
        }
        Ok(registration)
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
        if let Some(cluster) = &self.shared.cluster {
            cluster.socket_removed(self.socket.id());
        }
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

    /// Queues a message for one socket. Messages to one socket leave in the order sent. With a
    /// cluster, a socket held by another node gets it through that node (waiting at most the
    /// cluster's timeout for its outcome).
    pub fn send(&self, socket_id: &str, message: impl Into<Message>) -> Result<Delivery> {
        self.shared.check_running()?;
        match self.shared.registry.get(socket_id) {
            Ok(socket) => socket
                .queue()
                .push(socket_id, Outgoing::Message(message.into())),
            Err(missing) => {
                let cluster = self.remote(missing)?;
                let message = message.into();
                cluster.check_size(message.len())?;
                cluster.send(&self.shared, socket_id, message)
            }
        }
    }

    /// The cluster, to reach a socket this node does not hold; `missing` without one.
    fn remote(&self, missing: Error) -> Result<&Arc<Cluster>> {
        self.shared.cluster.as_ref().ok_or(missing)
    }

    /// Subscribes a socket to groups; groups it already has are ignored. ([`Socket::subscribe`]
    /// does the same on a socket at hand.) With a cluster, it returns once broadcasts from
    /// every node to those groups reach the socket (at most the cluster's timeout), where
    /// `Socket::subscribe` does not wait for the other nodes to learn of a new group.
    pub fn subscribe<S: AsRef<str>>(&self, socket_id: &str, groups: &[S]) -> Result<()> {
        self.shared.check_running()?;
        match self.shared.registry.get(socket_id) {
            Ok(socket) => {
                self.shared.registry.subscribe(&socket, groups)?;
                if let Some(cluster) = &self.shared.cluster {
                    cluster.settled_blocking(&self.shared);
                }
                Ok(())
            }
            Err(missing) => {
                validate_groups(groups)?;
                let groups = groups.iter().map(|g| g.as_ref().to_owned()).collect();
                self.remote(missing)?
                    .apply(&self.shared, socket_id, RemoteOp::Subscribe(groups))
            }
        }
    }

    /// Unsubscribes a socket from groups; groups it does not have are ignored.
    /// ([`Socket::unsubscribe`] does the same on a socket at hand.)
    pub fn unsubscribe<S: AsRef<str>>(&self, socket_id: &str, groups: &[S]) -> Result<()> {
        self.shared.check_running()?;
        validate_groups(groups)?;
        match self.shared.registry.get(socket_id) {
            Ok(socket) => self.shared.registry.unsubscribe(&socket, groups),
            Err(missing) => {
                let groups = groups.iter().map(|g| g.as_ref().to_owned()).collect();
                self.remote(missing)?
                    .apply(&self.shared, socket_id, RemoteOp::Unsubscribe(groups))
            }
        }
    }

    /// The send queue's byte bound of every socket (`SocketConfig::send_queue_bytes`).
    pub(crate) fn send_queue_bytes(&self) -> usize {
        self.shared.config.socket.send_queue_bytes
    }

    /// Sends one message to every socket that matches `filter`; says how many got it and
    /// which did not. A message larger than the send queue's byte bound
    /// (`SocketConfig::send_queue_bytes`) fits no socket: `LimitExceeded`, sent to none.
    ///
    /// With a cluster, every node delivers it to its own matching sockets, and the result adds
    /// up the counts of the nodes that answered within the cluster's timeout. When the message
    /// cannot be published (the backplane is unreachable: at once), it fails with
    /// `Connectivity`, delivered to none; this node delivers once Redis has taken it.
    pub fn broadcast(
        &self,
        message: impl Into<Message>,
        filter: &SocketFilter,
    ) -> Result<BroadcastResult> {
        self.broadcast_to_cluster(message.into(), filter, true)
    }

    /// [`ConnectorHandle::broadcast`] without waiting for the other nodes: delivered here,
    /// queued for the backplane, and the result counts this node's sockets only. Without a
    /// cluster, the same as `broadcast`.
    pub fn publish(
        &self,
        message: impl Into<Message>,
        filter: &SocketFilter,
    ) -> Result<BroadcastResult> {
        self.broadcast_to_cluster(message.into(), filter, false)
    }

    fn broadcast_to_cluster(
        &self,
        message: Message,
        filter: &SocketFilter,
        wait: bool,
    ) -> Result<BroadcastResult> {
        self.shared.check_running()?;
        validate_groups(&filter.groups)?;
        check_fits(message.len(), self.send_queue_bytes())?;
        match &self.shared.cluster {
            None => Ok(self.deliver(&message, filter)),
            Some(cluster) => {
                cluster.check_size(message.len())?;
                cluster.broadcast(self, message, filter, wait)
            }
        }
    }

    /// Queues `message` for this node's sockets that match `filter` (checked by the caller).
    pub(crate) fn deliver(&self, message: &Message, filter: &SocketFilter) -> BroadcastResult {
        let mut result = BroadcastResult {
            nodes_answered: 1,
            complete: true,
            ..BroadcastResult::default()
        };
        // Server frames are unmasked and identical: encoded once for every inbound recipient.
        let mut server_frame = None;
        self.shared.registry.for_each_match(filter, |socket| {
            let item = match socket.socket_type() {
                SocketType::Inbound => Outgoing::Frame(
                    server_frame
                        .get_or_insert_with(|| encode_server_frame(message))
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
        result
    }

    /// Closes one socket with a close code (1000-1003, 1007-1014, 3000-4999) and a reason of
    /// at most 123 bytes. Messages queued before leave first; messages that arrive from the
    /// peer afterwards are not delivered. Closing a socket that is already closing is a no-op.
    /// ([`Socket::close`] does the same on a socket at hand.)
    pub fn close(&self, socket_id: &str, code: u16, reason: &str) -> Result<()> {
        self.shared.check_running()?;
        validate_close(code, reason)?;
        match self.shared.registry.get(socket_id) {
            Ok(socket) => socket.close_validated(code, reason),
            Err(missing) => self.remote(missing)?.apply(
                &self.shared,
                socket_id,
                RemoteOp::Close { code, reason },
            ),
        }
    }

    /// Closes every socket that matches `filter`; returns how many it began to close. With a
    /// cluster, on every node (the count adds up those that answered in time).
    pub fn bulk_close(&self, filter: &SocketFilter, code: u16, reason: &str) -> Result<usize> {
        self.shared.check_running()?;
        validate_close(code, reason)?;
        validate_groups(&filter.groups)?;
        match &self.shared.cluster {
            None => Ok(self.close_matching(filter, code, reason)),
            Some(cluster) => cluster.bulk_close(self, filter, code, reason),
        }
    }

    /// Begins to close this node's sockets that match `filter`; how many.
    pub(crate) fn close_matching(&self, filter: &SocketFilter, code: u16, reason: &str) -> usize {
        self.shared
            .registry
            .select(filter)
            .iter()
            .filter(|socket| socket.request_close(code, reason))
            .count()
    }

    /// The open socket with this ID, on this node.
    pub fn socket(&self, socket_id: &str) -> Result<Socket> {
        self.shared.registry.get(socket_id)
    }

    /// The open sockets that match `filter`, on this node.
    pub fn sockets(&self, filter: &SocketFilter) -> Result<Vec<Socket>> {
        validate_groups(&filter.groups)?;
        Ok(self.shared.registry.select(filter))
    }

    /// Waits up to `timeout` for the cluster's backplane to be reachable: `Ok` at once while it
    /// is (and without a cluster), `Timeout` if it does not come back in time. A starting node
    /// waits for it up to the cluster's timeout; a node that lost it reconnects by itself.
    pub fn wait_for_cluster(&self, timeout: Duration) -> Result<()> {
        self.shared.check_running()?;
        match &self.shared.cluster {
            None => Ok(()),
            Some(cluster) => cluster.wait_up(&self.shared, timeout.min(MAX_DURATION)),
        }
    }

    /// This node's name in its cluster; `None` without a cluster.
    pub fn node_name(&self) -> Option<&str> {
        self.shared.cluster.as_deref().map(Cluster::node)
    }

    /// The open socket with this ID on whichever node of the cluster holds it (this node alone
    /// without a cluster).
    pub fn cluster_socket(&self, socket_id: &str) -> Result<ClusterSocket> {
        self.shared.check_running()?;
        let node = self.node_name().unwrap_or_default();
        match self.shared.registry.get(socket_id) {
            Ok(socket) => Ok(ClusterSocket::local(node, &socket)),
            Err(missing) => self.remote(missing)?.lookup(&self.shared, socket_id),
        }
    }

    /// The open sockets that match `filter` on every node that answers within the cluster's
    /// timeout (this node alone without a cluster); each node lists at most 10,000.
    pub fn cluster_sockets(&self, filter: &SocketFilter) -> Result<Vec<ClusterSocket>> {
        self.shared.check_running()?;
        let node = self.node_name().unwrap_or_default();
        let mut sockets: Vec<_> = self
            .sockets(filter)?
            .iter()
            .map(|s| ClusterSocket::local(node, s))
            .collect();
        if let Some(cluster) = &self.shared.cluster {
            cluster.check_up()?;
            sockets.extend(cluster.list(&self.shared, filter)?);
        }
        Ok(sockets)
    }

    /// How many open sockets match `filter` on every node that answers within the cluster's
    /// timeout (this node alone without a cluster).
    pub fn cluster_socket_count(&self, filter: &SocketFilter) -> Result<usize> {
        self.shared.check_running()?;
        validate_groups(&filter.groups)?;
        let here = self.shared.registry.select(filter).len();
        match &self.shared.cluster {
            None => Ok(here),
            Some(cluster) => {
                cluster.check_up()?;
                Ok(here + cluster.count(&self.shared, filter)?)
            }
        }
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
        if batch.take(&self.shared, max.max(1), timeout) {
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

/// Checks a close code and reason the application wants to send.
pub(crate) fn validate_close(code: u16, reason: &str) -> Result<()> {
    if !close_code::is_sendable(code) {
        return Err(Error::invalid(format!(
            "close code {code} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999"
        )));
    }
    if reason.len() > MAX_CLOSE_REASON_LEN {
        return Err(Error::invalid(format!(
            "close reason is {} bytes; at most {MAX_CLOSE_REASON_LEN} fit in a close frame",
            reason.len()
        )));
    }
    Ok(())
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
        let cluster = match &config.cluster {
            Some(cluster) => Some(Cluster::new(
                cluster.clone(),
                config.socket.max_message_size,
            )?),
            None => None,
        };
        let shared = Arc::new(Shared {
            registry: Arc::default(),
            events: EventQueue::new(config.event_queue_capacity, config.event_queue_bytes),
            state: AtomicU8::new(RUNNING),
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            runtime: runtime.clone(),
            client_tls,
            local_addr: listener.as_ref().map(Listener::local_addr),
            dispatcher_thread: OnceLock::new(),
            has_handler: self.handler.is_some(),
            cluster,
            config,
        });
        if let Some(cluster) = &shared.cluster {
            cluster.start(&shared);
            // The node starts with the backplane if it can be had within the cluster's timeout;
            // without it, it keeps trying in the background.
            if let Err(e) = cluster.wait_up(&shared, cluster.timeout()) {
                tracing::warn!(node = cluster.node(), error = %e, "starting without the cluster's backplane");
            }
        }
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
