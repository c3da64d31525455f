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
    assert_eq!(wsc_threads(), Vec::<String>::new());
}
