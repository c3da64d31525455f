//! The node's connections to Redis: one for pub/sub (its subscriptions, kept in step with the
//! groups it holds), one multiplexed for commands and publishing; reconnected with backoff
//! when Redis goes away, with every subscription restored.

use super::{serve, Cluster};
use crate::error::{Error, ErrorKind, Result};
use crate::shared::Shared;
use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink};
use redis::{AsyncConnectionConfig, ConnectionInfo, RedisError};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// First wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Most publishes waiting for the backplane.
const PUBLISH_QUEUE: usize = 4096;
/// Most publishes sent to Redis in one pipeline.
const PUBLISH_BATCH: usize = 256;
/// Most channels in one SUBSCRIBE.
const SUBSCRIBE_CHUNK: usize = 512;

/// What the connection task learns about this node's groups, in order.
pub(super) enum GroupNotice {
    /// The group gained its first member or lost its last one here.
    Changed(Arc<str>),
    /// Told once every notice before it has been acted on (the channels (un)subscribed).
    Settled(oneshot::Sender<()>),
}

/// One message to publish on one or more channels.
pub(super) struct PublishJob {
    channels: Vec<String>,
    payload: Vec<u8>,
    /// Told how many subscribers got it in all, or why it failed.
    done: Option<oneshot::Sender<Result<u64>>>,
}

/// The state of the backplane connection, shared by the node's tasks and its operations.
pub(super) struct Link {
    info: ConnectionInfo,
    timeout: Duration,
    up: AtomicBool,
    connection: Mutex<Option<MultiplexedConnection>>,
    /// Counts the (re)connections: the directory resynchronizes on each.
    pub(super) epoch: watch::Sender<u64>,
    /// A command failed on the connection: the connection task starts over.
    broken: Notify,
    jobs: mpsc::Sender<PublishJob>,
}

impl Link {
    pub(super) fn new(
        info: ConnectionInfo,
        timeout: Duration,
    ) -> (Self, mpsc::Receiver<PublishJob>) {
        let (jobs, jobs_rx) = mpsc::channel(PUBLISH_QUEUE);
        let link = Link {
            info,
            timeout,
            up: AtomicBool::new(false),
            connection: Mutex::new(None),
            epoch: watch::Sender::new(0),
            broken: Notify::new(),
            jobs,
        };
        (link, jobs_rx)
    }

    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// The command connection, while the backplane is up.
    pub(super) fn connection(&self) -> Result<MultiplexedConnection> {
        self.connection
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|_| self.is_up())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Connectivity,
                    "the cluster's backplane (Redis) is unreachable",
                )
            })
    }

    fn set_up(&self, connection: MultiplexedConnection) {
        *self.connection.lock().unwrap_or_else(|e| e.into_inner()) = Some(connection);
        self.up.store(true, Ordering::Release);
        self.epoch.send_modify(|epoch| *epoch += 1);
    }

    fn set_down(&self) {
        self.up.store(false, Ordering::Release);
        *self.connection.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The command connection for the node's last words at stop (the backplane counts as down
    /// from the stop on); taken out of the link, which then holds no connection.
    pub(super) fn take_for_leaving(&self) -> Result<MultiplexedConnection> {
        self.connection
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Connectivity,
                    "the cluster's backplane (Redis) is unreachable",
                )
            })
    }

    /// A command failed for a reason of the connection: it is torn down and made again.
    pub(super) fn failed(&self, error: &RedisError) -> Error {
        let of_the_connection =
            error.is_io_error() || error.is_timeout() || error.is_connection_dropped();
        // Before the node is up, the connection task sees the failure itself.
        if of_the_connection && self.is_up() {
            self.broken.notify_one();
        }
        connectivity(error)
    }

    /// Queues a message for the backplane without waiting.
    pub(super) fn publish(&self, channels: Vec<String>, payload: Vec<u8>) -> Result<()> {
        self.jobs
            .try_send(PublishJob {
                channels,
                payload,
                done: None,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Error::new(
                    ErrorKind::QueueFull,
                    format!("{PUBLISH_QUEUE} messages are waiting for the cluster's backplane"),
                ),
                mpsc::error::TrySendError::Closed(_) => Error::stopped(),
            })
    }

    /// Publishes a message and says how many subscribers got it, in all its channels.
    pub(super) async fn publish_and_count(
        &self,
        channels: Vec<String>,
        payload: Vec<u8>,
        deadline: Instant,
    ) -> Result<u64> {
        let (done, outcome) = oneshot::channel();
        let job = PublishJob {
            channels,
            payload,
            done: Some(done),
        };
        let late = || Error::new(ErrorKind::Timeout, "the cluster's backplane did not answer");
        tokio::time::timeout_at(deadline, self.jobs.send(job))
            .await
            .map_err(|_| late())?
            .map_err(|_| Error::stopped())?;
        tokio::time::timeout_at(deadline, outcome)
            .await
            .map_err(|_| late())?
            .map_err(|_| Error::stopped())?
    }
}

pub(super) fn connectivity(error: &RedisError) -> Error {
    Error::new(
        ErrorKind::Connectivity,
        format!("the cluster's backplane (Redis): {error}"),
    )
}

/// The connection task: connects, subscribes, serves what arrives, and starts over with
/// backoff whenever the connection is lost, until the connector stops.
pub(super) async fn run(
    shared: Arc<Shared>,
    cluster: Arc<Cluster>,
    mut group_changes: mpsc::UnboundedReceiver<GroupNotice>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let mut was_up = false;
        let outcome = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            outcome = session(&shared, &cluster, &mut group_changes, &mut was_up) => outcome,
        };
        cluster.link.set_down();
        if was_up {
            backoff = MIN_BACKOFF;
            tracing::warn!(node = cluster.node(), error = %outcome, "lost the cluster's backplane; reconnecting");
        } else {
            tracing::debug!(node = cluster.node(), error = %outcome, "cannot reach the cluster's backplane");
        }
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    // The directory task takes the connection for its last words, then drops it.
    cluster.link.up.store(false, Ordering::Release);
}

/// One connection's life: returns why it ended.
async fn session(
    shared: &Arc<Shared>,
    cluster: &Arc<Cluster>,
    group_changes: &mut mpsc::UnboundedReceiver<GroupNotice>,
    was_up: &mut bool,
) -> String {
    let link = &cluster.link;
    let client = match redis::Client::open(link.info.clone()) {
        Ok(client) => client,
        Err(e) => return e.to_string(),
    };
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(link.timeout)
        .set_response_timeout(link.timeout);
    let connection = match client
        .get_multiplexed_async_connection_with_config(&config)
        .await
    {
        Ok(connection) => connection,
        Err(e) => return e.to_string(),
    };
    let pubsub = match tokio::time::timeout(link.timeout, client.get_async_pubsub()).await {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(e)) => return e.to_string(),
        Err(_) => return "connecting took too long".into(),
    };
    let (mut sink, mut stream) = pubsub.split();
    let names = &cluster.names;
    // Stale notices: the subscriptions below are made from the registry as it is now.
    while group_changes.try_recv().is_ok() {}
    let mut channels = vec![names.node_channel(&names.node), names.all_channel()];
    let groups = shared.registry.group_names();
    channels.extend(groups.iter().map(|g| names.group_channel(g)));
    for chunk in channels.chunks(SUBSCRIBE_CHUNK) {
        if let Err(e) = within(link.timeout, sink.subscribe(chunk)).await {
            return e;
        }
    }
    let mut subscribed: HashSet<Arc<str>> = groups.into_iter().collect();
    let mut connection = connection;
    if let Err(e) = super::directory::reconcile(shared, cluster, &mut connection).await {
        return e.to_string();
    }
    link.set_up(connection);
    *was_up = true;
    tracing::info!(
        node = cluster.node(),
        groups = subscribed.len(),
        "joined the cluster's backplane"
    );
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => {
                    let payload = bytes::Bytes::copy_from_slice(message.get_payload_bytes());
                    serve::handle(shared, cluster, payload);
                }
                None => return "the connection closed".into(),
            },
            Some(notice) = group_changes.recv() => match notice {
                GroupNotice::Changed(group) => {
                    if let Err(e) = follow_group(shared, cluster, &mut sink, &mut subscribed, group).await {
                        return e;
                    }
                }
                GroupNotice::Settled(done) => {
                    let _ = done.send(());
                }
            },
            _ = link.broken.notified() => return "a command failed".into(),
        }
    }
}

/// Subscribes to a group's channel when the node holds members of it, unsubscribes when it
/// holds none any more.
async fn follow_group(
    shared: &Shared,
    cluster: &Cluster,
    sink: &mut PubSubSink,
    subscribed: &mut HashSet<Arc<str>>,
    group: Arc<str>,
) -> std::result::Result<(), String> {
    let wanted = shared.registry.has_group(&group);
    let channel = cluster.names.group_channel(&group);
    let timeout = cluster.link.timeout;
    if wanted && !subscribed.contains(&group) {
        within(timeout, sink.subscribe(&channel)).await?;
        subscribed.insert(group);
    } else if !wanted && subscribed.remove(&group) {
        within(timeout, sink.unsubscribe(&channel)).await?;
    }
    Ok(())
}

async fn within(
    timeout: Duration,
    request: impl std::future::Future<Output = redis::RedisResult<()>>,
) -> std::result::Result<(), String> {
    match tokio::time::timeout(timeout, request).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("Redis did not answer a (un)subscribe in time".into()),
    }
}

/// The publisher task: sends queued messages in order, many per round trip.
pub(super) async fn publisher(
    cluster: Arc<Cluster>,
    mut jobs: mpsc::Receiver<PublishJob>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            taken = jobs.recv_many(&mut batch, PUBLISH_BATCH) => if taken == 0 { break },
        }
        let outcome = match cluster.link.connection() {
            Ok(mut connection) => {
                let mut pipe = redis::pipe();
                for job in &batch {
                    for channel in &job.channels {
                        pipe.cmd("PUBLISH").arg(channel).arg(&job.payload[..]);
                    }
                }
                pipe.query_async::<Vec<u64>>(&mut connection)
                    .await
                    .map_err(|e| cluster.link.failed(&e))
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok(counts) => {
                let mut counts = counts.into_iter();
                for job in batch.drain(..) {
                    let receivers = counts.by_ref().take(job.channels.len()).sum();
                    if let Some(done) = job.done {
                        let _ = done.send(Ok(receivers));
                    }
                }
            }
            Err(e) => {
                if batch.iter().all(|job| job.done.is_none()) {
                    tracing::warn!(error = %e, dropped = batch.len(), "messages for the cluster were not published");
                }
                for job in batch.drain(..) {
                    if let Some(done) = job.done {
                        let _ = done.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}
