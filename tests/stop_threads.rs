//! No thread outlives stop (a test binary of its own, so no other test's threads interfere).

mod common;

use common::*;
use wsconnector::{OutboundOptions, Trigger};

fn wsc_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| name.starts_with("wsc-"))
        .collect()
}

/// The `wsc-` threads still listed once every joined thread has left `/proc`. A joined thread
/// can stay listed for a moment: `pthread_join` returns when the thread's ID is released,
/// before the kernel has finished its exit. No event marks that end, so this polls, bounded.
fn wsc_threads_after_exits() -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let threads = wsc_threads();
        if threads.is_empty() || std::time::Instant::now() > deadline {
            return threads;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn stop_ends_every_thread_and_task() {
    assert!(wsc_threads().is_empty());
    let (server, events) = start_server(|c| c.worker_threads = Some(3));
    let (client, _client_events) = start_server(|_| {});
    client
        .open_outbound(&url(&server, "/"), OutboundOptions::new())
        .unwrap();
    events.expect(Trigger::InboundConnection);
    let threads = wsc_threads();
    // Worker threads name themselves as they start; at least one per runtime has by now.
    assert!(
        threads.iter().filter(|t| *t == "wsc-io").count() >= 2,
        "{threads:?}"
    );
    assert_eq!(threads.iter().filter(|t| *t == "wsc-dispatch").count(), 2);
    server.stop().unwrap();
    client.stop().unwrap();
    assert_eq!(wsc_threads_after_exits(), Vec::<String>::new());
}
