//! The dispatcher: the pool of threads that hands a connector's events to the application's
//! handler, in order for each socket, different sockets side by side (`pool`, `mailbox`); or,
//! with inline dispatch, the handler called on the I/O thread where each event happens.

mod mailbox;
pub(crate) mod pool;

use crate::cluster::Cluster;
use crate::events::{Event, Trigger};
use crate::handle::ConnectorHandle;
use crate::shared::{InlineHandler, Shared};
use std::mem::ManuallyDrop;
use std::sync::Arc;

/// The dispatcher's log target: `wsconnector::events`, as when it lived in events.rs (the C log
/// callback and Python's `logging` show it; applications filter on it).
const LOG_TARGET: &str = "wsconnector::events";

/// Receives the events of a connector on its dispatcher threads (the `dispatcher_threads`
/// setting): one event at a time for each socket, in order (connection, messages, closed last);
/// events of different sockets may run at the same time on different threads. Registered
/// with `ConnectorBuilder::on_event_inline`, it is called on the I/O thread where each event
/// happens instead, in the same order for each socket. It may call any operation through
/// `connector` (inline, all but those that wait for the connector). A panic while handling
/// an inbound connection refuses the socket (see [`crate::Socket::refuse`]).
pub trait EventHandler: Send + Sync + 'static {
    /// Called once per event.
    fn on_event(&self, connector: &ConnectorHandle, event: Event);

    /// Whether the handler takes the events of `trigger`, asked once when the connector
    /// starts: the connection, closed and reconnect events of a trigger it does not take are
    /// never made, so that they cost no hand-off to a dispatcher thread (a binding with no
    /// callback for a trigger says no). Message events are handed over all the same (one
    /// check less per message). Every trigger by default.
    fn takes(&self, trigger: Trigger) -> bool {
        let _ = trigger;
        true
    }
}

impl<F> EventHandler for F
where
    F: Fn(&ConnectorHandle, Event) + Send + Sync + 'static,
{
    fn on_event(&self, connector: &ConnectorHandle, event: Event) {
        self(connector, event)
    }
}

/// Lets the calling thread, a consumer of a connector's events, be woken without preempting
/// the thread that woke it (Linux: the `SCHED_BATCH` policy; elsewhere nothing). An I/O
/// thread that queues an event then goes on reading the other ready sockets instead of
/// switching to the consumer for each event, so the consumer takes them in batches: on a busy
/// core, one switch per batch instead of two per event (measured: server CPU per echoed 32 B
/// message down by about a quarter, to the raw tokio-tungstenite server's). On an idle core the
/// consumer runs at once as before; on a core busy with other work it may wait for the end of
/// that work's time slice. The connector's own dispatcher threads call it; a binding's or an
/// application's thread that takes events from [`ConnectorHandle::next_event`] may too. A
/// callback that needs the default policy back can reset it with `sched_setscheduler`.
pub fn prefer_batched_wakeups() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: plain system call on the calling thread (pid 0) with a valid parameter.
        // Moving between SCHED_OTHER and SCHED_BATCH needs no privilege; a refusal (a sandbox
        // that forbids it) leaves the thread as it was, which is correct, only slower.
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    }
}

/// Hands one event to the application's handler (the connector's `handlers::Router`, which
/// picks the registration for the event's trigger and path), catching a panic (logged; the
/// connector carries on): every dispatcher thread, and inline dispatch, delivers through here. A handler
/// that fails on an inbound connection refuses the socket: it is closed with 1011 (unless the
/// handler closed it with a code of its own before failing), and the messages that waited for
/// the handler are dropped.
///
/// Inlined: an inline handler's every event comes through here (one call less per message).
#[inline(always)]
pub(crate) fn deliver(handler: &dyn EventHandler, connector: &ConnectorHandle, event: Event) {
    let trigger = event.trigger();
    let connecting = (trigger == Trigger::InboundConnection).then(|| event.socket().clone());
    let call = std::panic::AssertUnwindSafe(|| handler.on_event(connector, event));
    if let Err(panic) = std::panic::catch_unwind(call) {
        tracing::error!(
            target: LOG_TARGET,
            ?trigger,
            panic = crate::panic_message(&*panic),
            "an event handler panicked; the connector carries on"
        );
        if let Some(socket) = connecting {
            socket.refuse(None);
        }
    }
}

/// An [`EventHandler`] called inline, on the I/O thread where each event happens, with what
/// its connector handle needs besides the connector's state.
pub(crate) struct Inline {
    pub(crate) handler: Arc<dyn EventHandler>,
    pub(crate) cluster: Option<Arc<Cluster>>,
}

impl InlineHandler for Inline {
    fn handle(&self, shared: &Arc<Shared>, event: Event) {
        // The handle lent to the handler shares `shared` without counting a reference (no
        // atomic operation per event on the count every thread touches): never dropped, it
        // gives back none. A handler that keeps a handle clones it, which counts.
        let connector = ManuallyDrop::new(ConnectorHandle {
            // SAFETY: a pointer from `Arc::as_ptr` of a live `Arc`, which outlives this call;
            // the count is not decremented for this copy (ManuallyDrop), as it was not
            // incremented.
            shared: unsafe { Arc::from_raw(Arc::as_ptr(shared)) },
            // SAFETY: as above, for the cluster this handler keeps.
            cluster: self
                .cluster
                .as_ref()
                .map(|cluster| unsafe { Arc::from_raw(Arc::as_ptr(cluster)) }),
        });
        deliver(&*self.handler, &connector, event);
    }
}
