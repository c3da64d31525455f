//! Awaiting the core's async operations from asyncio, without holding the GIL on a tokio thread.
//!
//! The core's futures do their work on the connector's own runtime; polling them only collects
//! the outcome. One thread of ours (the bridge) polls them when they wake it, and hands each
//! outcome to its Python callback, taking the GIL once per batch of outcomes. The asyncio side
//! (`wsconnector/_asyncio.py`) turns the callback into `loop.call_soon_threadsafe`. Cancelling
//! drops the future, which abandons the work (for a connect: the connection attempt).

use crate::errors;
use crate::logging::log_exception;
use pyo3::prelude::*;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

/// What a finished job does with the GIL: call its Python callback.
type Completion = Box<dyn FnOnce(Python<'_>) + Send>;
type Job = Pin<Box<dyn Future<Output = Completion> + Send>>;

enum Command {
    Start(u64, Job),
    Poll(u64),
    Cancel(u64),
}

struct Bridge {
    commands: Sender<Command>,
    next_id: AtomicU64,
}

static BRIDGE: OnceLock<Bridge> = OnceLock::new();

fn bridge() -> &'static Bridge {
    BRIDGE.get_or_init(|| {
        let (commands, received) = channel();
        let wake_sender = commands.clone();
        let _ = std::thread::Builder::new()
            .name("wsc-py-async".into())
            .spawn(move || run(received, wake_sender));
        Bridge {
            commands,
            next_id: AtomicU64::new(1),
        }
    })
}

/// Wakes a job by asking the bridge to poll it again.
struct JobWaker {
    id: u64,
    commands: Sender<Command>,
}

impl Wake for JobWaker {
    fn wake(self: Arc<Self>) {
        let _ = self.commands.send(Command::Poll(self.id));
    }
}

/// The bridge thread: applies commands, polls the jobs they name, and delivers the outcomes of
/// the jobs that finished under one GIL hold.
fn run(commands: Receiver<Command>, wake_sender: Sender<Command>) {
    let mut jobs: HashMap<u64, Job> = HashMap::new();
    let mut finished: Vec<Completion> = Vec::new();
    let poll = |jobs: &mut HashMap<u64, Job>, id: u64, finished: &mut Vec<Completion>| {
        let Some(job) = jobs.get_mut(&id) else {
            return; // finished or cancelled already
        };
        let waker = Waker::from(Arc::new(JobWaker {
            id,
            commands: wake_sender.clone(),
        }));
        if let Poll::Ready(completion) = job.as_mut().poll(&mut Context::from_waker(&waker)) {
            jobs.remove(&id);
            finished.push(completion);
        }
    };
    while let Ok(first) = commands.recv() {
        for command in std::iter::once(first).chain(commands.try_iter()) {
            match command {
                Command::Start(id, job) => {
                    jobs.insert(id, job);
                    poll(&mut jobs, id, &mut finished);
                }
                Command::Poll(id) => poll(&mut jobs, id, &mut finished),
                Command::Cancel(id) => drop(jobs.remove(&id)),
            }
        }
        if !finished.is_empty()
            && Python::try_attach(|py| finished.drain(..).for_each(|done| done(py))).is_none()
        {
            return; // the interpreter is shutting down
        }
    }
}

/// A core operation under way for asyncio; `cancel()` abandons it.
#[pyclass(module = "wsconnector._native", frozen)]
pub(crate) struct Pending {
    id: u64,
}

#[pymethods]
impl Pending {
    /// Abandons the operation: its future is dropped and its callback is never called.
    fn cancel(&self) {
        let _ = bridge().commands.send(Command::Cancel(self.id));
    }
}

/// Runs `operation` on the bridge and calls `on_done(result, None)` when it succeeds or
/// `on_done(None, exception)` when it fails, on the bridge thread with the GIL.
pub(crate) fn spawn<T, F>(operation: F, on_done: Py<PyAny>) -> Pending
where
    T: for<'py> IntoPyObject<'py> + Send + 'static,
    F: Future<Output = wsconnector::Result<T>> + Send + 'static,
{
    let job: Job = Box::pin(async move {
        let outcome = operation.await;
        Box::new(move |py: Python<'_>| {
            let called = match outcome {
                Ok(value) => on_done.call1(py, (value, py.None())),
                Err(error) => on_done.call1(py, (py.None(), errors::to_py(py, &error).value(py))),
            };
            if let Err(error) = called {
                log_exception(py, "a completion callback raised", &error);
            }
        }) as Completion
    });
    let bridge = bridge();
    let id = bridge.next_id.fetch_add(1, Ordering::Relaxed);
    let _ = bridge.commands.send(Command::Start(id, job));
    Pending { id }
}
