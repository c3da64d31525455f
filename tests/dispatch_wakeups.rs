//! What the dispatcher pool costs in thread switches: an event that a free taker handles at
//! once wakes that one thread, not a second one to watch the queue meanwhile. Counted from the
//! kernel's switch counts of the pool's threads (Linux), so this binary holds one connector.

#![cfg(target_os = "linux")]

mod common;

use common::*;
use wsconnector::{Config, Connector, ConnectorHandle, Event};

/// Voluntary context switches (sleeps) of this process's dispatcher threads so far.
fn dispatcher_sleeps() -> u64 {
    let mut sleeps = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let Ok(name) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread ended meanwhile
        };
        if name.trim_end() != "wsc-dispatch" {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        sleeps += status
            .lines()
            .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
            .map_or(0, |count| count.trim().parse::<u64>().unwrap());
    }
    sleeps
}

/// One socket echoes messages one at a time through a pool of four threads: each message
/// wakes the taker, which handles it and takes again, so the pool's threads sleep about once
/// per message. (Before, the taker woke a second thread to watch the queue while it handled
/// the message: two sleeps per message.)
#[test]
fn one_event_at_a_time_wakes_one_thread_each() {
    const ROUND_TRIPS: u64 = 300;
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.dispatcher_threads = Some(4);
    let server = Connector::builder(config)
        .on_event(|_: &ConnectorHandle, event: Event| {
            if let Event::InboundMessage { socket, message } = event {
                socket.send(message).unwrap();
            }
        })
        .start()
        .unwrap();
    let rt = runtime();
    let mut client = rt.block_on(connect(&url(&server, "/")));
    let mut round_trips = |count| {
        for i in 0..count {
            let text = format!("m{i}");
            rt.block_on(send_text(&mut client, &text));
            assert_eq!(rt.block_on(recv_text(&mut client)), text);
        }
    };
    round_trips(10); // every thread started and asleep
    let before = dispatcher_sleeps();
    round_trips(ROUND_TRIPS);
    let sleeps = dispatcher_sleeps() - before;
    assert!(
        sleeps <= ROUND_TRIPS * 3 / 2,
        "{sleeps} sleeps of the dispatcher threads for {ROUND_TRIPS} events"
    );
}
