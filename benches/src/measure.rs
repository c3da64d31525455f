//! The measured window of a load: a warm-up, then a window whose edges read the clock and the
//! CPU time of server and client; completions count only inside the window.

use crate::histogram::Histogram;
use crate::procfs::{self, Process};
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Load runs, nothing counts yet.
    Warmup,
    /// Completions are counted and their latencies recorded.
    Measure,
    /// The window has closed; connections stop.
    Done,
}

/// Completions and their latencies, shared by the tasks of one single-threaded load.
pub struct Tally {
    phase: Cell<Phase>,
    count: Cell<u64>,
    /// Bytes read from the server in the window.
    received: Cell<u64>,
    latencies: RefCell<Histogram>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            phase: Cell::new(Phase::Warmup),
            count: Cell::new(0),
            received: Cell::new(0),
            latencies: RefCell::new(Histogram::default()),
        }
    }
}

impl Tally {
    /// Records one completed round trip or delivery, if the window is open.
    pub fn complete(&self, latency: Duration) {
        if self.phase.get() == Phase::Measure {
            self.count.set(self.count.get() + 1);
            self.latencies.borrow_mut().record(latency);
        }
    }

    /// Records `bytes` read from the server, if the window is open.
    pub fn received(&self, bytes: usize) {
        if self.phase.get() == Phase::Measure {
            self.received.set(self.received.get() + bytes as u64);
        }
    }

    /// Bytes read from the server in the window.
    pub fn received_bytes(&self) -> u64 {
        self.received.get()
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase.get()
    }

    /// Runs the warm-up and the window (the load's tasks run meanwhile) and returns what the
    /// window measured.
    pub async fn run_window(
        &self,
        server: Process,
        warmup: Duration,
        window: Duration,
    ) -> Result<Span, String> {
        tokio::time::sleep(warmup).await;
        let start = Mark::now(server)?;
        self.phase.set(Phase::Measure);
        tokio::time::sleep(window).await;
        self.phase.set(Phase::Done);
        let end = Mark::now(server)?;
        Ok(Span::between(&start, &end))
    }

    /// Completions counted in the window.
    pub fn count(&self) -> u64 {
        self.count.get()
    }

    /// The latencies recorded in the window.
    pub fn latencies(&self) -> std::cell::Ref<'_, Histogram> {
        self.latencies.borrow()
    }
}

/// The clock, both processes' CPU time and the machine's at one instant.
pub struct Mark {
    at: Instant,
    server_cpu: Duration,
    client_cpu: Duration,
    machine_busy: Duration,
}

impl Mark {
    /// Reads them now.
    pub fn now(server: Process) -> Result<Mark, String> {
        let server_cpu = server
            .cpu_time()
            .map_err(|e| format!("server CPU time: {e}"))?;
        let client_cpu = Process::current()
            .cpu_time()
            .map_err(|e| format!("client CPU time: {e}"))?;
        let machine_busy = procfs::machine_busy().map_err(|e| format!("machine CPU time: {e}"))?;
        Ok(Mark {
            at: Instant::now(),
            server_cpu,
            client_cpu,
            machine_busy,
        })
    }
}

/// What passed between two marks.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// Wall-clock time.
    pub elapsed: Duration,
    /// CPU time the server used.
    pub server_cpu: Duration,
    /// CPU time the load client used.
    pub client_cpu: Duration,
    /// CPU time other processes used: the noise in the figures.
    pub other_cpu: Duration,
}

impl Span {
    /// From `start` to `end`.
    pub fn between(start: &Mark, end: &Mark) -> Span {
        let server_cpu = end.server_cpu.saturating_sub(start.server_cpu);
        let client_cpu = end.client_cpu.saturating_sub(start.client_cpu);
        let busy = end.machine_busy.saturating_sub(start.machine_busy);
        Span {
            elapsed: end.at - start.at,
            server_cpu,
            client_cpu,
            other_cpu: busy.saturating_sub(server_cpu + client_cpu),
        }
    }
}
