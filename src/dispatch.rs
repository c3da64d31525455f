//! The dispatcher: the thread that hands a connector's events to the application's handler,
//! in batches, in order for each socket; or, with inline dispatch, the handler called on the
//! I/O thread where each event happens.

use crate::cluster::Cluster;
use crate::events::{Batch, Event};
use crate::handle::ConnectorHandle;
use crate::shared::{InlineHandler, Shared};
use std::mem::ManuallyDrop;
use std::sync::Arc;

/// The dispatcher's log target: `wsconnector::events`, as when it lived in events.rs (the C log
/// callback and Python's `logging` show it; applications filter on it).
const LOG_TARGET: &str = "wsconnector::events";

/// Receives the events of a connector on its dispatcher thread, one at a time, in order for
/// each socket (or, registered with `ConnectorBuilder::on_event_inline`, on the I/O thread
/// where each happens, in the same order for each socket). It may call any operation through
/// `connector` (inline, all but those that wait for the connector).
pub trait EventHandler: Send + Sync + 'static {
    /// Called once per event.
    fn on_event(&self, connector: &ConnectorHandle, event: Event);
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
/// that work's time slice. The connector's own dispatcher thread calls it; a binding's or an
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

/// The dispatcher thread's loop: takes events in batches and hands each to the handler, until
/// the connector has stopped and the queue is drained. A panicking handler is logged and the
/// next event is delivered.
pub(crate) fn run_dispatcher(connector: ConnectorHandle, handler: Arc<dyn EventHandler>) {
    prefer_batched_wakeups();
    let mut batch = Batch::default();
    while connector
        .shared
        .events
        .take_batch(&mut batch, usize::MAX, None)
    {
        while let Some(event) = batch.pop() {
            call(&*handler, &connector, event);
        }
    }
}

/// Calls the handler with one event; a panic is logged, and the connector carries on.
fn call(handler: &dyn EventHandler, connector: &ConnectorHandle, event: Event) {
    let trigger = event.trigger();
    let call = std::panic::AssertUnwindSafe(|| handler.on_event(connector, event));
    if let Err(panic) = std::panic::catch_unwind(call) {
        tracing::error!(
            target: LOG_TARGET,
            ?trigger,
            panic = crate::panic_message(&*panic),
            "an event handler panicked; the connector carries on"
        );
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
        shared.run_as_inline_handler(|| call(&*self.handler, &connector, event));
    }
}
