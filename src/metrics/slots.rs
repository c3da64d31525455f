//! Per-thread slots for the counters of the per-message path: each thread that records gets a
//! slot of its own (the same index in every connector's table), which only it writes, with a
//! plain load and store instead of a locked add, on cache lines no other thread writes. A slot
//! goes back to the pool when its thread ends and the next thread continues its counts. Past
//! [`OWNED`] threads at once, the others share one last slot with atomic adds.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Threads that hold a slot of their own at once; the index of the shared slot.
pub(super) const OWNED: usize = 32;
/// Slots in a connector's table: the owned ones and the shared one.
pub(super) const SLOTS: usize = OWNED + 1;
const UNCLAIMED: usize = usize::MAX;

/// Slot indices not held by a live thread, and the next never handed out.
struct Pool {
    free: Vec<usize>,
    next: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    free: Vec::new(),
    next: 0,
});

thread_local! {
    /// This thread's slot once claimed (no destructor: readable while the thread ends).
    static SLOT: Cell<usize> = const { Cell::new(UNCLAIMED) };
    /// Holds the claim; gives the slot back when the thread ends.
    static CLAIM: Claim = Claim::new();
}

struct Claim(usize);

impl Claim {
    fn new() -> Self {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let slot = pool.free.pop().unwrap_or_else(|| {
            let next = pool.next;
            if next < OWNED {
                pool.next += 1;
            }
            next.min(OWNED)
        });
        Claim(slot)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Whatever this thread records from now on (other destructors) goes to the shared slot.
        SLOT.set(OWNED);
        if self.0 < OWNED {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            pool.free.push(self.0);
        }
    }
}

/// The calling thread's slot: its own (below [`OWNED`]) or the shared one.
#[inline]
pub(super) fn current() -> usize {
    let slot = SLOT.get();
    if slot != UNCLAIMED {
        slot
    } else {
        claim()
    }
}

#[cold]
fn claim() -> usize {
    let slot = CLAIM.try_with(|claim| claim.0).unwrap_or(OWNED);
    SLOT.set(slot);
    slot
}

/// Adds `n` to `cell`, a counter of slot `slot`, as the thread that [`current`] gave it to:
/// a plain read and write on an owned slot (no other thread writes it, so nothing is lost and
/// readers see it grow), an atomic add on the shared one.
#[inline]
pub(super) fn add(slot: usize, cell: &AtomicU64, n: u64) {
    if slot < OWNED {
        cell.store(
            cell.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    } else {
        cell.fetch_add(n, Ordering::Relaxed);
    }
}

/// Adds `counts` to `cells`, counters of slot `slot`, one to one (see [`add`]), with one test
/// of the slot for them all.
#[inline]
pub(super) fn add_all(slot: usize, cells: &[AtomicU64], counts: &[u64]) {
    let pairs = cells.iter().zip(counts);
    if slot < OWNED {
        pairs.for_each(|(cell, &n)| {
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            )
        });
    } else {
        pairs.for_each(|(cell, &n)| {
            cell.fetch_add(n, Ordering::Relaxed);
        });
    }
}

/// Adds one to each counter of slot `slot` that `cells` yields (see [`add`]), with one test
/// of the slot for them all.
#[inline]
pub(super) fn add_each<'a>(slot: usize, cells: impl Iterator<Item = &'a AtomicU64>) {
    if slot < OWNED {
        cells.for_each(|cell| {
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            )
        });
    } else {
        cells.for_each(|cell| {
            cell.fetch_add(1, Ordering::Relaxed);
        });
    }
}
