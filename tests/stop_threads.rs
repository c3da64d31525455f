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

/// The `wsc-` threads once `done` holds for them, or after 5 s. Threads name themselves when
/// they first run, and a joined thread can stay listed for a moment (`pthread_join` returns
/// when its ID is released, before the kernel has finished its exit): no event marks either,
/// so this polls, bounded.
fn wsc_threads_once(done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let threads = wsc_threads();
        if done(&threads) || std::time::Instant::now() > deadline {
            return threads;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn named(threads: &[String], name: &str) -> usize {
    threads.iter().filter(|t| *t == name).count()
}

#[test]
fn stop_ends_every_thread_and_task() {
    assert!(wsc_threads().is_empty());
    let (server, events) = start_server(|c| {
        c.worker_threads = Some(3);
        c.dispatcher_threads = Some(3);
    });
    let (client, _client_events) = start_server(|c| c.dispatcher_threads = Some(1));
    client
        .open_outbound(&url(&server, "/"), OutboundOptions::new())
        .unwrap();
    events.expect(Trigger::InboundConnection);
    // The dispatcher threads may not have named themselves yet.
    let threads = wsc_threads_once(|t| named(t, "wsc-io") >= 2 && named(t, "wsc-dispatch") == 4);
    // At least one worker per runtime has started by now.
    assert!(named(&threads, "wsc-io") >= 2, "{threads:?}");
    assert_eq!(named(&threads, "wsc-dispatch"), 4, "{threads:?}");
    server.stop().unwrap();
    client.stop().unwrap();
    assert_eq!(wsc_threads_once(<[String]>::is_empty), Vec::<String>::new());

    // With inline dispatch, each I/O thread is a runtime of its own: all end and are joined.
    let mut config = wsconnector::Config::with_listener("127.0.0.1", 0);
    config.worker_threads = Some(3);
    let (tx, connected) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let inline = wsconnector::Connector::builder(config)
        .on_event_inline(
            move |_: &wsconnector::ConnectorHandle, event: wsconnector::Event| {
                let _ = tx.lock().unwrap().send(event.trigger());
            },
        )
        .start()
        .unwrap();
    let url = url(&inline, "/");
    let rt = runtime();
    let clients: Vec<_> = (0..3).map(|_| rt.block_on(connect(&url))).collect();
    for _ in 0..3 {
        assert_eq!(connected.recv_timeout(WAIT), Ok(Trigger::InboundConnection));
    }
    let threads = wsc_threads_once(|t| named(t, "wsc-io") == 3);
    assert_eq!(named(&threads, "wsc-io"), 3, "{threads:?}");
    drop(clients);
    inline.stop().unwrap();
    assert_eq!(wsc_threads_once(<[String]>::is_empty), Vec::<String>::new());
}
