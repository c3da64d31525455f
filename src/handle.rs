//! The operations: a cheap, cloneable handle on a running connector, usable from any thread.

use crate::broadcast::{check, deliver, BroadcastResult};
use crate::cluster::{Cluster, RemoteOp};
use crate::config::{validate_groups, MAX_DURATION};
use crate::drain::{Drain, DrainOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Event, EventBatch};
use crate::metrics::MetricsSnapshot;
use crate::outbound::OutboundOptions;
use crate::protocol::close::validate_close;
use crate::protocol::message::Message;
use crate::queue::{Delivery, Outgoing};
use crate::registry::SocketFilter;
use crate::shared::Shared;
use crate::socket::{Socket, SocketId};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A cheap, cloneable handle to a running connector: every operation, callable from any
/// thread, including from inside an event handler.
#[derive(Clone)]
pub struct ConnectorHandle {
    pub(crate) shared: Arc<Shared>,
    /// The cluster this connector is a node of, if it has one.
    pub(crate) cluster: Option<Arc<Cluster>>,
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

    /// Whether the calling thread is one of the connector's dispatcher threads (its event
    /// handler runs there), where stopping the connector fails with `InvalidState`.
    pub fn on_dispatcher_thread(&self) -> bool {
        self.shared.on_dispatcher_thread()
    }

    /// Opens an outbound socket to a `ws://` or `wss://` URL (or to a path on the client base,
    /// `ClientConfig::host`...) and returns its ID once the handshake is done. The first
    /// connection is not retried: its failure is the open's error, whatever the socket's
    /// reconnect policy (which applies once it is up). Blocks the calling thread; from async
    /// code use [`ConnectorHandle::open_outbound_async`]. From an inline handler (see
    /// [`ConnectorBuilder::on_event_inline`]) it fails with `InvalidState` rather than block
    /// an I/O thread: spawn `open_outbound_async` there.
    ///
    /// [`ConnectorBuilder::on_event_inline`]: crate::ConnectorBuilder::on_event_inline
    pub fn open_outbound(&self, url: &str, options: OutboundOptions) -> Result<SocketId> {
        self.shared.check_running()?;
        if self.shared.in_inline_handler() {
            // It would block the I/O thread, which may be the one the connect needs.
            return Err(Error::new(
                ErrorKind::InvalidState,
                "open_outbound waits for the connect, which an inline handler must not do on \
                 its I/O thread; spawn open_outbound_async instead (tokio::spawn works there)",
            ));
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let shared = self.shared.clone();
        let url = url.to_owned();
        self.shared.tasks.spawn_on(
            async move {
                let _ = tx.send(crate::outbound::open(shared, url, options).await);
            },
            self.shared.io.next().handle,
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
            self.shared.io.next().handle,
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
    /// cluster's timeout for its outcome). An outbound socket that reconnects takes it as its
    /// policy says: [`Delivery::Buffered`], or `ErrorKind::Reconnecting`.
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
        self.cluster.as_ref().ok_or(missing)
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
                if let Some(cluster) = &self.cluster {
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
        self.broadcast_waiting(message.into(), filter, true)
    }

    /// [`ConnectorHandle::broadcast`] without waiting for the other nodes: delivered here,
    /// queued for the backplane, and the result counts this node's sockets only. Without a
    /// cluster, the same as `broadcast`.
    pub fn publish(
        &self,
        message: impl Into<Message>,
        filter: &SocketFilter,
    ) -> Result<BroadcastResult> {
        self.broadcast_waiting(message.into(), filter, false)
    }

    /// A broadcast here, and with a cluster on every node, waiting for their counts or not.
    fn broadcast_waiting(
        &self,
        message: Message,
        filter: &SocketFilter,
        wait: bool,
    ) -> Result<BroadcastResult> {
        self.shared.check_running()?;
        check(&self.shared, &message, filter)?;
        match &self.cluster {
            None => Ok(deliver(&self.shared, &message, filter)),
            Some(cluster) => cluster.broadcast(&self.shared, message, filter, wait),
        }
    }

    /// Closes one socket with a close code (1000-1003, 1007-1014, 3000-4999) and a reason of
    /// at most 123 bytes. Messages queued before leave first; messages that arrive from the
    /// peer afterwards are not delivered. Closing a socket that is already closing is a no-op.
    /// An outbound socket that is reconnecting (or waiting to, in lazy mode) closes at once:
    /// it has no connection to send a close frame on. ([`Socket::close`] does the same on a
    /// socket at hand.)
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

    /// Closes every socket that matches `filter`; returns how many it began to close, outbound
    /// sockets that are reconnecting (or waiting to, in lazy mode) counted like the others:
    /// they close at once, see [`ConnectorHandle::close`]. With a cluster, on every node (the
    /// count adds up those that answered in time).
    pub fn bulk_close(&self, filter: &SocketFilter, code: u16, reason: &str) -> Result<usize> {
        self.shared.check_running()?;
        validate_close(code, reason)?;
        filter.validate()?;
        match &self.cluster {
            None => Ok(self.shared.registry.close_matching(filter, code, reason)),
            Some(cluster) => cluster.bulk_close(&self.shared, filter, code, reason),
        }
    }

    /// The open socket with this ID, on this node.
    pub fn socket(&self, socket_id: &str) -> Result<Socket> {
        self.shared.registry.get(socket_id)
    }

    /// The open sockets that match `filter`, on this node.
    pub fn sockets(&self, filter: &SocketFilter) -> Result<Vec<Socket>> {
        filter.validate()?;
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

    /// Drains the connector: from now on new handshakes get 503 with `Retry-After` (and the
    /// health path 503), then the sockets that match the options' filter are closed in
    /// batches, an interval apart, with the options' close code and reason. Returns at once;
    /// the [`Drain`] tells the progress and waits for the end. The connector keeps draining
    /// until it stops. Errors: `InvalidArgument` (an option), `Stopped`.
    pub fn drain(&self, options: DrainOptions) -> Result<Drain> {
        crate::drain::start(&self.shared, options)
    }

    /// Whether a drain has begun.
    pub fn is_draining(&self) -> bool {
        self.shared.is_draining()
    }

    /// The connector's figures now: counters since start and gauges (see [`MetricsSnapshot`];
    /// [`MetricsSnapshot::to_prometheus`] renders them). Cheap enough to read every second;
    /// any thread; also after stop.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics()
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
