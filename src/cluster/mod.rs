//! Scale-out: several connector processes acting as one through a Redis pub/sub backplane.
//!
//! Each node subscribes to its own channel (requests for its sockets, and replies), to the
//! cluster-wide channel (requests without a group filter), and to the channel of each group it
//! holds members of, only while it holds some (so a message to a small room wakes only the nodes
//! that have members in it). A broadcast is delivered locally at once and published on the
//! channels its filter needs; each node that gets it delivers it to its own matching sockets and
//! answers with its counts on the origin's channel. Operations by socket ID look the owner up in
//! the socket directory ([`directory`]) and ask it on its channel. The connector reaches this
//! module through a few calls only: [`Cluster::start`], the directory hooks, and the cluster side
//! of each operation.

pub(crate) mod config;
mod directory;
mod link;
mod operations;
mod serve;
mod wire;

pub use config::{ClusterConfig, MAX_CLUSTER_NAME_LEN};

use crate::broadcast::{deliver, BroadcastFailure, BroadcastResult, RemoteFailure, Undelivered};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::message::Message;
use crate::queue::Delivery;
use crate::registry::SocketFilter;
use crate::shared::{DirectoryFuture, Shared, SocketDirectory};
use crate::socket::{Socket, SocketId, SocketType};
use directory::Change;
use link::{GroupNotice, Link};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use wire::{Body, DirectOp, Envelope, Reply, WireFailure, WireSocket};

/// A socket as the cluster sees it: which node holds it, and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSocket {
    /// The node that holds it (empty when the connector has no cluster).
    pub node: String,
    /// Its ID.
    pub id: SocketId,
    /// Inbound or outbound.
    pub socket_type: SocketType,
    /// Its full path.
    pub path: String,
    /// Its groups.
    pub groups: Vec<String>,
}

impl ClusterSocket {
    pub(crate) fn local(node: &str, socket: &Socket) -> Self {
        ClusterSocket {
            node: node.to_owned(),
            id: socket.id().clone(),
            socket_type: socket.socket_type(),
            path: socket.path().to_owned(),
            groups: socket.groups(),
        }
    }
}

/// Key and channel names, all under the cluster's prefix.
struct Names {
    prefix: String,
    node: String,
}

impl Names {
    fn all_channel(&self) -> String {
        format!("{}:all", self.prefix)
    }
    fn group_channel(&self, group: &str) -> String {
        format!("{}:group:{group}", self.prefix)
    }
    fn node_channel(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }
    fn alive_prefix(&self) -> String {
        format!("{}:alive:", self.prefix)
    }
    fn alive_key(&self, node: &str) -> String {
        format!("{}:alive:{node}", self.prefix)
    }
    fn socket_prefix(&self) -> String {
        format!("{}:socket:", self.prefix)
    }
    fn socket_key(&self, id: &str) -> String {
        format!("{}:socket:{id}", self.prefix)
    }
    fn node_sockets_key(&self, node: &str) -> String {
        format!("{}:sockets:{node}", self.prefix)
    }
    fn nodes_key(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
    /// The channels a request with `filter` goes to: its any-of groups' channels, else the first
    /// all-of group's (a socket in every one is in that one), else the cluster's.
    fn channels_for(&self, filter: &SocketFilter) -> Vec<String> {
        match (filter.groups.as_slice(), filter.all_groups.first()) {
            ([], None) => vec![self.all_channel()],
            ([], Some(group)) => vec![self.group_channel(group)],
            (groups, _) => groups.iter().map(|g| self.group_channel(g)).collect(),
        }
    }
}

/// Requests waiting for replies, by sequence number.
#[derive(Default)]
struct Pending(Mutex<HashMap<u64, mpsc::UnboundedSender<(String, Reply)>>>);

impl Pending {
    fn register(&self, seq: u64) -> (PendingGuard<'_>, mpsc::UnboundedReceiver<(String, Reply)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(seq, tx);
        (PendingGuard(self, seq), rx)
    }

    /// Hands a reply to its request; a reply nobody waits for (late, or foreign) is dropped.
    fn deliver(&self, seq: u64, node: String, reply: Reply) {
        if let Some(tx) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&seq) {
            let _ = tx.send((node, reply));
        }
    }
}

/// Unregisters a request however its wait ends.
struct PendingGuard<'a>(&'a Pending, u64);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0
             .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.1);
    }
}

/// What the nodes answered to one request.
struct Answers {
    /// How many nodes got the request (as Redis counted its receivers).
    receipts: u64,
    /// The replies, with the node that sent each.
    replies: Vec<(String, Reply)>,
}

impl Answers {
    /// Every node that got the request answered in time.
    fn complete(&self) -> bool {
        self.replies.len() as u64 >= self.receipts
    }

    /// The nodes that answered, this one left out, each once.
    fn nodes(&self, this: &str) -> usize {
        self.replies
            .iter()
            .filter(|(node, reply)| node != this && *reply != Reply::Duplicate)
            .map(|(node, _)| node.as_str())
            .collect::<HashSet<_>>()
            .len()
    }
}

/// One connector's membership of a cluster.
pub(crate) struct Cluster {
    config: ClusterConfig,
    names: Names,
    link: Link,
    pending: Pending,
    seq: AtomicU64,
    /// The largest envelope a node publishes or accepts.
    max_wire: usize,
    directory: mpsc::UnboundedSender<Change>,
    /// Groups that gained their first member or lost their last one, for the connection task.
    group_changes: mpsc::UnboundedSender<GroupNotice>,
    /// The receiving ends, taken by the tasks at start.
    receivers: Mutex<Option<Receivers>>,
    /// Recent fan-out requests that came on several groups' channels, answered once.
    seen: serve::Seen,
}

struct Receivers {
    directory: mpsc::UnboundedReceiver<Change>,
    group_changes: mpsc::UnboundedReceiver<GroupNotice>,
    jobs: mpsc::Receiver<link::PublishJob>,
}

impl Cluster {
    /// The cluster of a connector about to start (its settings validated).
    pub(crate) fn new(config: ClusterConfig, max_message_size: usize) -> Result<Arc<Self>> {
        let info = config.connection_info()?;
        let node = if config.node_name.is_empty() {
            let id = uuid::Uuid::new_v4().simple().to_string();
            format!("node-{}", &id[..12])
        } else {
            config.node_name.clone()
        };
        let (directory, directory_rx) = mpsc::unbounded_channel();
        let (group_changes, group_changes_rx) = mpsc::unbounded_channel();
        let (link, jobs) = Link::new(info, config.timeout);
        Ok(Arc::new(Cluster {
            names: Names {
                prefix: config.name.clone(),
                node,
            },
            config,
            link,
            pending: Pending::default(),
            seq: AtomicU64::new(1),
            max_wire: max_message_size.saturating_add(wire::ENVELOPE_ALLOWANCE),
            directory,
            group_changes,
            receivers: Mutex::new(Some(Receivers {
                directory: directory_rx,
                group_changes: group_changes_rx,
                jobs,
            })),
            seen: serve::Seen::default(),
        }))
    }

    /// Starts the node's tasks: the backplane connection, the publisher and the directory.
    pub(crate) fn start(self: &Arc<Self>, shared: &Arc<Shared>) {
        let receivers = self
            .receivers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(receivers) = receivers else { return };
        let group_changes = self.group_changes.clone();
        shared.registry.watch_groups(Box::new(move |group| {
            let _ = group_changes.send(GroupNotice::Changed(group));
        }));
        let tasks = &shared.tasks;
        tasks.spawn_on(
            link::run(shared.clone(), self.clone(), receivers.group_changes),
            shared.io.general(),
        );
        tasks.spawn_on(
            link::publisher(self.clone(), receivers.jobs, shared.shutdown.clone()),
            shared.io.general(),
        );
        tasks.spawn_on(
            directory::run(shared.clone(), self.clone(), receivers.directory),
            shared.io.general(),
        );
    }

    /// How long operations wait for the other nodes.
    pub(crate) fn timeout(&self) -> Duration {
        self.config.timeout
    }

    /// This node's name.
    pub(crate) fn node(&self) -> &str {
        &self.names.node
    }

    /// Waits up to `bound` for the backplane to be reachable; `Timeout` if it is not.
    pub(crate) fn wait_up(self: &Arc<Self>, shared: &Shared, bound: Duration) -> Result<()> {
        if self.link.is_up() {
            return Ok(());
        }
        let this = self.clone();
        self.block_for(shared, bound, async move {
            let mut epoch = this.link.epoch.subscribe();
            let up = async {
                while !this.link.is_up() {
                    if epoch.changed().await.is_err() {
                        break;
                    }
                }
            };
            tokio::time::timeout(bound, up).await.map_err(|_| {
                Error::new(
                    ErrorKind::Timeout,
                    format!("the cluster's backplane was not reachable within {bound:?}"),
                )
            })
        })
    }

    /// `LimitExceeded` for a message larger than the nodes accept from the backplane.
    pub(crate) fn check_size(&self, len: usize) -> Result<()> {
        let max = self.max_wire - wire::ENVELOPE_ALLOWANCE;
        if len > max {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!("the message is {len} bytes; the cluster's nodes take at most {max} (max_message_size)"),
            ));
        }
        Ok(())
    }

    /// `Connectivity` at once when the backplane is unreachable.
    pub(crate) fn check_up(&self) -> Result<()> {
        if self.link.is_up() {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Connectivity,
                "the cluster's backplane (Redis) is unreachable; the node is reconnecting",
            ))
        }
    }

    /// Returns once the group changes made so far are followed on the backplane (at once while
    /// it is away).
    pub(crate) async fn settled(&self) {
        if !self.link.is_up() {
            return;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.group_changes.send(GroupNotice::Settled(tx)).is_ok() {
            let _ = tokio::time::timeout(self.config.timeout, rx).await;
        }
    }

    /// [`Cluster::settled`] for a thread outside the runtime.
    pub(crate) fn settled_blocking(self: &Arc<Self>, shared: &Shared) {
        let this = self.clone();
        let _ = self.block(shared, async move {
            this.settled().await;
            Ok(())
        });
    }

    fn timed_out(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "{what}: the cluster did not answer within {:?}",
                self.config.timeout
            ),
        )
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Publishes a request on `channels` and collects the replies until every node that got it
    /// answered or the deadline passed.
    async fn ask(&self, channels: Vec<String>, body: Body, deadline: Instant) -> Result<Answers> {
        Ok(self.ask_then(channels, body, deadline, || ()).await?.1)
    }

    /// [`Cluster::ask`], running `here` (this node's part) once Redis took the request: a
    /// request that fails to go out fails whole, done nowhere.
    async fn ask_then<T>(
        &self,
        channels: Vec<String>,
        body: Body,
        deadline: Instant,
        here: impl FnOnce() -> T,
    ) -> Result<(T, Answers)> {
        self.check_up()?;
        let seq = self.next_seq();
        let payload = self.envelope(seq, true, body)?;
        let (_registered, mut replies) = self.pending.register(seq);
        let receipts = self
            .link
            .publish_and_count(channels, payload, deadline)
            .await?;
        let done_here = here();
        let mut answers = Answers {
            receipts,
            replies: Vec::new(),
        };
        while !answers.complete() {
            match tokio::time::timeout_at(deadline, replies.recv()).await {
                Ok(Some(reply)) => answers.replies.push(reply),
                _ => break,
            }
        }
        Ok((done_here, answers))
    }

    /// Publishes a request without waiting for Redis or for replies.
    fn tell(&self, channels: Vec<String>, body: Body) -> Result<()> {
        self.check_up()?;
        let payload = self.envelope(self.next_seq(), false, body)?;
        self.link.publish(channels, payload)
    }

    fn envelope(&self, seq: u64, wants_reply: bool, body: Body) -> Result<Vec<u8>> {
        Envelope {
            origin: self.names.node.clone(),
            seq,
            wants_reply,
            body,
        }
        .encode(self.max_wire)
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.config.timeout
    }

    /// A broadcast on every node: published, delivered here once Redis took it, and with
    /// `wait` the other nodes' counts and failures added to this node's.
    pub(crate) fn broadcast(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        message: Message,
        filter: &SocketFilter,
        wait: bool,
    ) -> Result<BroadcastResult> {
        self.check_size(message.len())?;
        let channels = self.names.channels_for(filter);
        let body = Body::Broadcast {
            filter: filter.clone(),
            message: message.clone(),
        };
        if !wait {
            self.tell(channels, body)?;
            let mut local = deliver(shared, &message, filter);
            local.complete = false;
            return Ok(local);
        }
        let this = self.clone();
        let (here, filter) = (shared.clone(), filter.clone());
        let (mut local, answers) = self.block(shared, async move {
            this.ask_then(channels, body, this.deadline(), || {
                deliver(&here, &message, &filter)
            })
            .await
        })?;
        local.nodes_answered += answers.nodes(self.node());
        local.complete = answers.complete();
        for (node, reply) in answers.replies {
            match reply {
                Reply::Counts {
                    count,
                    dropped_oldest,
                    failures,
                    failures_omitted,
                } => {
                    local.delivered += count as usize;
                    local.dropped_oldest += dropped_oldest as usize;
                    local.remote_failures_omitted += failures_omitted as usize;
                    local.remote_failures.extend(
                        failures
                            .into_iter()
                            .filter_map(|f| remote_failure(&node, f)),
                    );
                }
                Reply::Failed { kind, message } => tracing::warn!(
                    node,
                    error = %Error::new(serve::kind_from_code(kind), message),
                    "a node could not broadcast"
                ),
                _ => {}
            }
        }
        Ok(local)
    }

    /// A bulk close on every node (here once Redis took it): how many sockets they began to
    /// close.
    pub(crate) fn bulk_close(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        filter: &SocketFilter,
        code: u16,
        reason: &str,
    ) -> Result<usize> {
        let channels = self.names.channels_for(filter);
        let body = Body::BulkClose {
            filter: filter.clone(),
            code,
            reason: reason.to_owned(),
        };
        let this = self.clone();
        let (here, filter, reason) = (shared.clone(), filter.clone(), reason.to_owned());
        let (closed_here, answers) = self.block(shared, async move {
            this.ask_then(channels, body, this.deadline(), || {
                here.registry.close_matching(&filter, code, &reason)
            })
            .await
        })?;
        Ok(closed_here + counted(&answers))
    }

    /// How many sockets match `filter` on the other nodes.
    pub(crate) fn count(self: &Arc<Self>, shared: &Shared, filter: &SocketFilter) -> Result<usize> {
        let channels = self.names.channels_for(filter);
        let body = Body::Count {
            filter: filter.clone(),
        };
        let this = self.clone();
        let answers = self.block(shared, async move {
            this.ask(channels, body, this.deadline()).await
        })?;
        Ok(counted(&answers))
    }

    /// The sockets that match `filter` on the other nodes.
    pub(crate) fn list(
        self: &Arc<Self>,
        shared: &Shared,
        filter: &SocketFilter,
    ) -> Result<Vec<ClusterSocket>> {
        let channels = self.names.channels_for(filter);
        let body = Body::List {
            filter: filter.clone(),
        };
        let this = self.clone();
        let answers = self.block(shared, async move {
            this.ask(channels, body, this.deadline()).await
        })?;
        let mut out = Vec::new();
        for (node, reply) in answers.replies {
            if let Reply::Sockets { sockets, truncated } = reply {
                if truncated {
                    tracing::warn!(node, "a node listed only part of its sockets");
                }
                out.extend(sockets.into_iter().filter_map(|s| remote_socket(&node, s)));
            }
        }
        Ok(out)
    }

    /// Sends to a socket that another node holds.
    pub(crate) fn send(
        self: &Arc<Self>,
        shared: &Shared,
        socket_id: &str,
        message: Message,
    ) -> Result<Delivery> {
        match self.direct(shared, socket_id, DirectOp::Send(message))?.1 {
            Reply::Delivered { code, dropped } => Ok(match code {
                0 => Delivery::Queued,
                1 => Delivery::QueuedDroppingOldest(dropped as usize),
                2 => Delivery::DroppedNewest,
                4 => Delivery::Buffered,
                _ => Delivery::ClosedSlowConsumer,
            }),
            other => Err(unexpected(&other)),
        }
    }

    /// Closes, subscribes or unsubscribes a socket that another node holds.
    pub(crate) fn apply(
        self: &Arc<Self>,
        shared: &Shared,
        socket_id: &str,
        op: RemoteOp,
    ) -> Result<()> {
        let op = match op {
            RemoteOp::Close { code, reason } => DirectOp::Close {
                code,
                reason: reason.to_owned(),
            },
            RemoteOp::Subscribe(groups) => DirectOp::Subscribe(groups),
            RemoteOp::Unsubscribe(groups) => DirectOp::Unsubscribe(groups),
        };
        match self.direct(shared, socket_id, op)?.1 {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// A socket that another node holds.
    pub(crate) fn lookup(
        self: &Arc<Self>,
        shared: &Shared,
        socket_id: &str,
    ) -> Result<ClusterSocket> {
        match self.direct(shared, socket_id, DirectOp::Lookup)? {
            (node, Reply::Sockets { sockets, .. }) => sockets
                .into_iter()
                .next()
                .and_then(|s| remote_socket(&node, s))
                .ok_or_else(|| Error::no_such_socket(socket_id)),
            (_, other) => Err(unexpected(&other)),
        }
    }

    /// Asks the node that holds `socket_id` to run `op` on it; `NoSuchSocket` when no live
    /// node does.
    fn direct(
        self: &Arc<Self>,
        shared: &Shared,
        socket_id: &str,
        op: DirectOp,
    ) -> Result<(String, Reply)> {
        self.check_up()?;
        let this = self.clone();
        let socket_id = socket_id.to_owned();
        self.block(shared, async move {
            let deadline = this.deadline();
            let owner = directory::owner(&this, &socket_id).await?;
            let owner = match owner {
                Some(owner) if owner != this.node() => owner,
                _ => return Err(Error::no_such_socket(&socket_id)),
            };
            let channel = this.names.node_channel(&owner);
            let body = Body::Direct {
                socket_id: socket_id.clone(),
                op,
            };
            let answers = this.ask(vec![channel], body, deadline).await?;
            match answers.replies.into_iter().next() {
                Some((_, Reply::Failed { kind, message })) => {
                    Err(Error::new(serve::kind_from_code(kind), message))
                }
                Some(answer) => Ok(answer),
                // Its node is gone (it no longer listens on its channel).
                None if answers.receipts == 0 => Err(Error::no_such_socket(&socket_id)),
                None => Err(this.timed_out(&format!("node {owner:?}"))),
            }
        })
    }

    /// Runs a cluster operation on the connector's runtime and waits for it on this thread,
    /// at most the cluster timeout (the operation bounds itself by the same deadline).
    fn block<T: Send + 'static>(
        &self,
        shared: &Shared,
        operation: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.block_for(shared, self.config.timeout, operation)
    }

    fn block_for<T: Send + 'static>(
        &self,
        shared: &Shared,
        bound: Duration,
        operation: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        // Owned by the connector like its other tasks: a stop waits for it (it is bounded).
        shared.tasks.spawn_on(
            async move {
                let _ = tx.send(operation.await);
            },
            shared.io.general(),
        );
        match rx.recv_timeout(bound + Duration::from_millis(500)) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(self.timed_out("the operation")),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::stopped()),
        }
    }
}

/// The cluster's socket directory, as the connector's registration sees it.
impl SocketDirectory for Cluster {
    /// Returns once the ID resolves in the cluster and the node follows the socket's groups'
    /// channels, so that an application that learns of the socket can reach it from any node
    /// (at once while the backplane is away, and at most after the cluster's timeout).
    fn added<'a>(&'a self, id: &'a SocketId) -> DirectoryFuture<'a, ()> {
        Box::pin(async move {
            if !self.link.is_up() {
                let _ = self.directory.send(Change::Added(id.clone(), None));
                return;
            }
            let (written, directory_done) = tokio::sync::oneshot::channel();
            let _ = self
                .directory
                .send(Change::Added(id.clone(), Some(written)));
            let _ = tokio::time::timeout(self.config.timeout, async {
                let _ = directory_done.await;
                self.settled().await;
            })
            .await;
        })
    }

    fn removed(&self, id: &SocketId) {
        let _ = self.directory.send(Change::Removed(id.clone()));
    }

    /// `NonUniqueSocketId` when another live node holds the ID.
    fn claim<'a>(&'a self, id: &'a SocketId) -> DirectoryFuture<'a, Result<()>> {
        Box::pin(async move {
            self.check_up()?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.directory
                .send(Change::Claim(id.clone(), tx))
                .map_err(|_| Error::stopped())?;
            tokio::time::timeout(self.config.timeout, rx)
                .await
                .map_err(|_| self.timed_out("claiming the socket ID"))?
                .map_err(|_| Error::stopped())?
        })
    }
}

/// An operation by socket ID that answers with nothing but success.
pub(crate) enum RemoteOp<'a> {
    Close { code: u16, reason: &'a str },
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
}

/// The sum of the counts in `answers`.
fn counted(answers: &Answers) -> usize {
    answers
        .replies
        .iter()
        .map(|(_, reply)| match reply {
            Reply::Counts { count, .. } => *count as usize,
            _ => 0,
        })
        .sum()
}

fn unexpected(reply: &Reply) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("a node answered with an unexpected reply: {reply:?}"),
    )
}

fn remote_failure(node: &str, f: WireFailure) -> Option<RemoteFailure> {
    let what = match f.what {
        1 => Undelivered::Dropped,
        2 => Undelivered::Closed,
        _ => Undelivered::Failed(Error::new(serve::kind_from_code(f.kind), f.message)),
    };
    Some(RemoteFailure {
        node: node.to_owned(),
        failure: BroadcastFailure {
            socket_id: SocketId::new(&f.socket_id).ok()?,
            what,
        },
    })
}

fn remote_socket(node: &str, s: WireSocket) -> Option<ClusterSocket> {
    Some(ClusterSocket {
        node: node.to_owned(),
        id: SocketId::new(&s.id).ok()?,
        socket_type: if s.inbound {
            SocketType::Inbound
        } else {
            SocketType::Outbound
        },
        path: s.path,
        groups: s.groups,
    })
}
