//! The memory parked sockets free goes back to the system (feature `mimalloc-purge`): on
//! mimalloc, as in the C library and the Python package, whose delayed purge an idle process
//! never carries out, the library purges after each batch of parks. Reads the process's
//! resident memory, which a counting allocator cannot see.

mod common;

use common::*;
use std::time::Duration;
use wsconnector::{Config, Connector, ConnectorHandle, Event};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Idle connections held: enough that a few hundred bytes each outweigh mimalloc's pages.
const CONNECTIONS: usize = 3_000;

/// Sockets park after this: all of them open first (in about 1 s), so that they park in one
/// batch, with no allocation after it to carry out mimalloc's delayed purge.
const PARK_AFTER: Duration = Duration::from_secs(2);

/// Most resident memory each parked connection may add (its client end included) once its
/// batch is purged: 1,141-1,378 bytes measured (a debug build, two workers), 2,020-2,330
/// before the purge and with the purge reduced to mimalloc's unforced collect (which waits
/// out the delay). About one run in eight gives back only about half (1,529-1,677 bytes
/// left, at 836f674 too): a part of the memory that is not yet reached when the batch's
/// purge runs (not the workers' meeting: a 200 ms wait there left it the same). The bound
/// allows that; [`MIN_GIVEN_BACK_PER_PARKED_CONNECTION`] still fails a purge that does nothing.
const MAX_RESIDENT_PER_PARKED_CONNECTION: u64 = 1_800;

/// Least the purge must give back per parked connection: 444-1,000 bytes measured.
const MIN_GIVEN_BACK_PER_PARKED_CONNECTION: u64 = 300;

/// The process's resident memory, in bytes (/proc/self/statm).
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf takes no pointer.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

#[test]
fn the_memory_parked_sockets_free_goes_back_to_the_system() {
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.socket.park_idle_after = PARK_AFTER;
    config.stop_timeout = Duration::from_millis(500);
    // Two workers of one multi-thread runtime (dispatched events): the purge reaches both.
    config.worker_threads = Some(2);
    let server = Connector::builder(config)
        .on_event(|_: &ConnectorHandle, _: Event| {})
        .start()
        .unwrap();
    let addr = server.local_addr().unwrap();
    let before = resident();
    let held: Vec<_> = (0..CONNECTIONS)
        .map(|_| raw_ws(addr, "/idle", &[]))
        .collect();
    wait_for_metrics(&server, "every socket parked", |m| {
        m.sockets_parked == CONNECTIONS as u64
    });
    let unpurged = resident().saturating_sub(before) / CONNECTIONS as u64;
    let purges = server.metrics().memory_purges;
    wait_for_metrics(&server, "the batch purged", |m| m.memory_purges > purges);
    let per_connection = resident().saturating_sub(before) / CONNECTIONS as u64;
    eprintln!(
        "{per_connection} bytes resident per parked connection ({unpurged} before the purge)"
    );
    assert!(
        per_connection <= MAX_RESIDENT_PER_PARKED_CONNECTION,
        "{per_connection} bytes resident per parked connection, more than {MAX_RESIDENT_PER_PARKED_CONNECTION}"
    );
    assert!(
        unpurged.saturating_sub(per_connection) >= MIN_GIVEN_BACK_PER_PARKED_CONNECTION,
        "the purge gave back {} bytes per parked connection, less than {MIN_GIVEN_BACK_PER_PARKED_CONNECTION}",
        unpurged.saturating_sub(per_connection)
    );
    drop(held);
    server.stop().unwrap();
}

#[test]
fn on_the_callers_runtime_the_parks_are_purged_too() {
    // The application's runtime: the purge reaches its workers without holding them.
    let runtime = runtime();
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.socket.park_idle_after = Duration::from_millis(200);
    let server = Connector::builder(config)
        .on_event(|_: &ConnectorHandle, _: Event| {})
        .start_on(runtime.handle().clone())
        .unwrap();
    let addr = server.local_addr().unwrap();
    let held: Vec<_> = (0..50).map(|_| raw_ws(addr, "/idle", &[])).collect();
    wait_for_metrics(&server, "every socket parked", |m| m.sockets_parked == 50);
    wait_for_metrics(&server, "the batch purged", |m| m.memory_purges >= 1);
    drop(held);
    server.stop().unwrap();
}

#[test]
fn with_the_purge_sockets_park_after_10_s_by_default() {
    let config = Config::with_listener("127.0.0.1", 0);
    assert_eq!(config.socket.park_idle_after, Duration::from_secs(10));
    assert_eq!(
        wsconnector::DEFAULT_PARK_IDLE_AFTER,
        Duration::from_secs(10)
    );
}
