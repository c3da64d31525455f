//! The connector's life: configured by its builder, started on a runtime of its own or the
//! caller's, stopped once, every socket closed and every task and thread ended.

use crate::cluster::Cluster;
use crate::config::Config;
use crate::dispatch::{pool, EventHandler, Inline};
use crate::drain::{Drain, DrainOptions, DrainProgress};
use crate::error::{Error, ErrorKind, Result};
use crate::events::{Trigger, TriggerSet};
use crate::handle::ConnectorHandle;
use crate::handlers::Router;
use crate::inbound::auth::Authorizer;
use crate::inbound::listener::Listener;
use crate::io_threads::{IoThreads, OwnedIoThreads};
use crate::outbound::proxy::Proxies;
use crate::outbound::refresh::HeaderRefresher;
use crate::path::PathPattern;
use crate::protocol::close::close_code;
use crate::queue::CloseRequest;
use crate::shared::{ClientParts, Shared, SocketDirectory};
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::runtime::Handle;

/// Configures and starts a connector.
pub struct ConnectorBuilder {
    config: Config,
    handlers: Router,
    /// The first bad pattern given to `on_trigger_at`, reported by `start`.
    bad_pattern: Option<Error>,
    /// The handlers run inline, on the I/O threads.
    inline: bool,
    authorizer: Option<Arc<dyn Authorizer>>,
    header_refresher: Option<Arc<dyn HeaderRefresher>>,
}

impl ConnectorBuilder {
    /// Delivers events to `handler` on the connector's dispatcher threads: every event that no
    /// [`on_trigger`](Self::on_trigger) or [`on_trigger_at`](Self::on_trigger_at) registration
    /// takes. Without any handler, the application takes events with
    /// [`ConnectorHandle::next_event`].
    pub fn on_event(self, handler: impl EventHandler) -> Self {
        self.on_event_arc(Arc::new(handler))
    }

    /// Same as [`ConnectorBuilder::on_event`] with a shared handler.
    pub fn on_event_arc(mut self, handler: Arc<dyn EventHandler>) -> Self {
        self.handlers.set_fallback(handler);
        self.inline = false;
        self
    }

    /// Inline dispatch, for a handler that never blocks: `handler` runs on the I/O thread
    /// that read the message (for a connection, finished the handshake; for a close, saw
    /// the socket end; for a reconnecting outbound socket, runs its attempts), with no hand-off to a dispatcher thread, and what it sends to that
    /// socket leaves in the same write. The cheapest way to answer small messages (see the
    /// README's performance section).
    ///
    /// **A blocking handler blocks that I/O thread**: every socket it serves waits, reads and
    /// writes, pings and timeouts included (`worker_threads` sets how many there are). The
    /// ordering is the same as with [`ConnectorBuilder::on_event`] (connection, messages in
    /// order, closed last, exactly once, for each socket), events of sockets on different
    /// I/O threads run at the same time, and a panic is logged as it is there. The handler
    /// may call every operation, except those that would wait for the connector on its I/O
    /// thread: `stop` and `open_outbound` fail with `InvalidState` (spawn
    /// [`ConnectorHandle::open_outbound_async`] instead: a handler runs inside the
    /// I/O thread's runtime, so `tokio::spawn` works and the task runs on that thread). Nothing queues events, so the event
    /// queue's bounds (`event_queue_capacity`, `event_queue_bytes`) do not apply: the handler
    /// itself is the bound, since its I/O thread reads nothing more while it runs, and the
    /// peers of a slow one are held back by TCP.
    ///
    /// Handlers given with [`on_trigger`](Self::on_trigger) and
    /// [`on_trigger_at`](Self::on_trigger_at) run inline too.
    pub fn on_event_inline(self, handler: impl EventHandler) -> Self {
        self.on_event_inline_arc(Arc::new(handler))
    }

    /// Same as [`ConnectorBuilder::on_event_inline`] with a shared handler.
    pub fn on_event_inline_arc(mut self, handler: Arc<dyn EventHandler>) -> Self {
        self.handlers.set_fallback(handler);
        self.inline = true;
        self
    }

    /// Delivers the events of `trigger` to `handler`, unless a registration of the trigger for
    /// a path pattern takes them (see [`on_trigger_at`](Self::on_trigger_at)). Replaces an
    /// earlier one.
    pub fn on_trigger(mut self, trigger: Trigger, handler: impl EventHandler) -> Self {
        let handler: Arc<dyn EventHandler> = Arc::new(handler);
        self.handlers.routes(trigger).set_catch_all(Some(handler));
        self
    }

    /// Delivers the events of `trigger` on sockets whose full path matches `pattern` (an exact
    /// path, `*` wildcards, `{name}` segments: `/chat/*`, `/chat/{room}`) to `handler`, as a
    /// Mule flow declares its trigger's path. An event goes to the most specific matching
    /// pattern of its trigger (exact first, then more literal characters, then fewer `*`,
    /// then the first registered), else to the trigger's [`on_trigger`](Self::on_trigger)
    /// handler, else to [`on_event`](Self::on_event)'s. A bad pattern fails
    /// [`start`](Self::start) with `InvalidArgument`.
    pub fn on_trigger_at(
        mut self,
        trigger: Trigger,
        pattern: &str,
        handler: impl EventHandler,
    ) -> Self {
        match PathPattern::new(pattern) {
            Ok(pattern) => {
                let handler: Arc<dyn EventHandler> = Arc::new(handler);
                self.handlers.routes(trigger).set_at(pattern, Some(handler));
            }
            Err(e) => {
                self.bad_pattern.get_or_insert(e);
            }
        }
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

    /// Gives outbound sockets that reconnect fresh handshake headers (a new bearer token...)
    /// before each attempt. It runs on a blocking-pool thread, never on an I/O thread.
    pub fn header_refresher(mut self, refresher: impl HeaderRefresher) -> Self {
        self.header_refresher = Some(Arc::new(refresher));
        self
    }

    /// Same as [`ConnectorBuilder::header_refresher`] with a shared refresher.
    pub fn header_refresher_arc(mut self, refresher: Arc<dyn HeaderRefresher>) -> Self {
        self.header_refresher = Some(refresher);
        self
    }

    /// Starts the connector on I/O threads of its own (`worker_threads`): with inline dispatch
    /// each is a tokio current-thread runtime and a socket stays on one all its life; with
    /// dispatcher threads they are the workers of one multi-thread runtime (see `io_threads`).
    pub fn start(self) -> Result<Connector> {
        self.check()?;
        let threads = self
            .config
            .worker_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().min(4)));
        let stop_timeout = self.config.stop_timeout;
        let (io, owned) = if self.inline {
            IoThreads::start(threads, stop_timeout)?
        } else {
            IoThreads::start_shared(threads, stop_timeout)?
        };
        self.start_with(io, Some(owned))
    }

    /// Starts the connector on the caller's multi-threaded tokio runtime. Stop it with
    /// [`Connector::stop_async`] from async code.
    pub fn start_on(self, runtime: Handle) -> Result<Connector> {
        self.check()?;
        self.start_with(IoThreads::on(runtime), None)
    }

    /// The settings and the trigger patterns, checked.
    fn check(&self) -> Result<()> {
        if let Some(e) = &self.bad_pattern {
            return Err(e.clone());
        }
        self.config.validate()
    }

    fn start_with(self, io: IoThreads, owned: Option<OwnedIoThreads>) -> Result<Connector> {
        let config = self.config;
        let handler = self.handlers.into_handler();
        let client = ClientParts {
            tls: crate::tls::client_config(&config.client)?,
            proxies: Proxies::new(&config.client)?,
            header_refresher: self.header_refresher,
        };
        let listener = match &config.listener {
            Some(listener_config) => {
                // The accept loop runs on the general thread: its reactor holds the listener.
                let _guard = io.general().enter();
                Some(Listener::bind(
                    listener_config,
                    &config.compression,
                    self.authorizer.clone(),
                )?)
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
        let inline_dispatch = self.inline && handler.is_some();
        let inline = match (&handler, self.inline) {
            (Some(handler), true) => Some(Arc::new(Inline {
                handler: handler.clone(),
                cluster: cluster.clone(),
            }) as Arc<dyn crate::shared::InlineHandler>),
            _ => None,
        };
        let shared = Arc::new(Shared::new(
            config,
            io,
            client,
            listener.as_ref().map(Listener::local_addr),
            // The triggers the handler takes; none: the application pulls every event.
            handler
                .as_deref()
                .map(|handler| TriggerSet::of(|trigger| handler.takes(trigger))),
            inline,
            cluster
                .clone()
                .map(|cluster| cluster as Arc<dyn SocketDirectory>),
        ));
        if let Some(cluster) = &cluster {
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
                .spawn_on(listener.run(shared.clone()), shared.io.general());
        }
        let dispatchers = match handler {
            Some(handler) if !inline_dispatch => {
                let handle = ConnectorHandle {
                    shared: shared.clone(),
                    cluster: cluster.clone(),
                };
                let threads = shared.config.dispatcher_threads();
                pool::start(handle, handler, threads)?
            }
            _ => Vec::new(),
        };
        Ok(Connector {
            handle: ConnectorHandle { shared, cluster },
            io_threads: Mutex::new(owned),
            dispatchers: Mutex::new(dispatchers),
            stop_lock: Mutex::new(()),
        })
    }
}

/// A running connector: its listener, its outbound sockets, its I/O threads and its dispatcher
/// threads.
/// Every operation is on the [`ConnectorHandle`] it dereferences to. Dropping it stops it.
pub struct Connector {
    handle: ConnectorHandle,
    /// Its own I/O threads (none on the caller's runtime).
    io_threads: Mutex<Option<OwnedIoThreads>>,
    dispatchers: Mutex<Vec<JoinHandle<()>>>,
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
            handlers: Router::default(),
            bad_pattern: None,
            inline: false,
            authorizer: None,
            header_refresher: None,
        }
    }

    /// A handle for the operations, to keep or hand to other threads.
    pub fn handle(&self) -> ConnectorHandle {
        self.handle.clone()
    }

    /// Stops the connector: stops accepting, closes every socket with 1001 (going away),
    /// waits up to the stop timeout for queued sends and close handshakes, delivers every
    /// remaining event (each socket's closed event included), and ends every thread and task.
    /// Blocks until done; calling it again is a no-op. From the connector's own event handler,
    /// or a task on one of its I/O threads, it fails with `InvalidState` (it would wait for
    /// itself).
    pub fn stop(&self) -> Result<()> {
        self.check_not_own_handler()?;
        let shared = &self.handle.shared;
        let _one_at_a_time = self.stop_lock.lock().unwrap_or_else(|e| e.into_inner());
        if shared.is_stopped() {
            return Ok(());
        }
        close_everything_blocking(shared);
        self.finish_stop();
        Ok(())
    }

    /// Drains the connector (see [`ConnectorHandle::drain`]), waits up to `deadline` for the
    /// drain to finish, then stops it as [`Connector::stop`] does (the sockets still open then
    /// are closed with 1001). Returns the drain's progress at the deadline. From the
    /// connector's own event handler it fails with `InvalidState`.
    pub fn drain_and_stop(
        &self,
        options: DrainOptions,
        deadline: Duration,
    ) -> Result<DrainProgress> {
        let progress = match self.begin_final_drain(options)? {
            Some(drain) => drain.wait(Some(deadline)),
            None => DrainProgress::default(),
        };
        self.stop()?;
        Ok(progress)
    }

    /// [`Connector::drain_and_stop`] from async code.
    pub async fn drain_and_stop_async(
        &self,
        options: DrainOptions,
        deadline: Duration,
    ) -> Result<DrainProgress> {
        let progress = match self.begin_final_drain(options)? {
            Some(drain) => tokio::time::timeout(deadline, drain.finished())
                .await
                .unwrap_or_else(|_| drain.progress()),
            None => DrainProgress::default(),
        };
        self.stop_async().await?;
        Ok(progress)
    }

    /// The drain before a stop: `None` when the connector stopped already (the stop is then a
    /// no-op); `InvalidState` from its own handler, which the stop would wait for.
    fn begin_final_drain(&self, options: DrainOptions) -> Result<Option<Drain>> {
        self.check_not_own_handler()?;
        match self.handle.drain(options) {
            Ok(drain) => Ok(Some(drain)),
            Err(e) if e.kind() == ErrorKind::Stopped => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `InvalidState` on the connector's own dispatcher thread, in its inline handler or
    /// anywhere else on its I/O threads, which a stop would wait for.
    fn check_not_own_handler(&self) -> Result<()> {
        if self.handle.shared.in_own_handler() || self.handle.shared.io.on_own_thread() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "a connector cannot be stopped from its own event handler",
            ));
        }
        Ok(())
    }

    /// Stops the connector like [`Connector::stop`], from async code.
    pub async fn stop_async(&self) -> Result<()> {
        self.check_not_own_handler()?;
        let shared = self.handle.shared.clone();
        close_everything(&shared).await;
        let dispatchers = std::mem::take(&mut *lock(&self.dispatchers));
        shared.events.close();
        if !dispatchers.is_empty() {
            let join_all = move || dispatchers.into_iter().for_each(|t| drop(t.join()));
            let _ = tokio::task::spawn_blocking(join_all).await;
        }
        self.finish_stop();
        Ok(())
    }

    fn finish_stop(&self) {
        let shared = &self.handle.shared;
        shared.events.close();
        for thread in std::mem::take(&mut *lock(&self.dispatchers)) {
            let _ = thread.join();
        }
        if let Some(io_threads) = lock(&self.io_threads).take() {
            io_threads.stop();
        }
        shared.mark_stopped();
    }
}

/// The async half of stop, run on the general I/O thread from a thread that waits for it.
fn close_everything_blocking(shared: &Arc<Shared>) {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let stopping = shared.clone();
    shared.io.general().spawn(async move {
        close_everything(&stopping).await;
        let _ = tx.send(());
    });
    // The runtime may already be gone if the caller's runtime shut down.
    let _ = rx.recv();
}

/// The async half of stop: no new sockets, every socket closed, every task ended.
async fn close_everything(shared: &Arc<Shared>) {
    if !shared.begin_stop() {
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
        let shared = &self.handle.shared;
        if shared.in_own_handler() || shared.io.on_own_thread() {
            // Dropped from its own handler or I/O thread: a thread cannot join itself, so the
            // rest of the stop runs on a thread of its own.
            let shared = shared.clone();
            let io_threads = lock(&self.io_threads).take();
            let _ = std::thread::Builder::new()
                .name("wsc-stop".into())
                .spawn(move || {
                    close_everything_blocking(&shared);
                    shared.events.close();
                    if let Some(io_threads) = io_threads {
                        io_threads.stop();
                    }
                    shared.mark_stopped();
                });
            return;
        }
        let _ = self.stop();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
