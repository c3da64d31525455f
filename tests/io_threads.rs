//! The connector's I/O threads (`worker_threads`): new sockets, inbound and outbound, go to
//! each thread in turn, every event of a socket happens on the one thread it lives on, and a
//! task an inline handler spawns runs there too.

mod common;

use common::*;
use std::collections::{HashMap, HashSet};
use std::sync::{mpsc, Mutex};
use std::thread::ThreadId;
use wsconnector::{Config, Connector, ConnectorHandle, Event, OutboundOptions, Trigger};

/// Events seen by an inline handler: the socket's ID, its trigger, the thread it ran on.
type Seen = mpsc::Receiver<(String, Trigger, ThreadId)>;

/// A connector with `threads` I/O threads whose inline handler reports every event's thread,
/// after `act` has acted on it.
fn inline_connector(
    config: Config,
    threads: usize,
    act: impl Fn(&Event) + Send + Sync + 'static,
) -> (Connector, Seen) {
    let mut config = config;
    config.worker_threads = Some(threads);
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let connector = Connector::builder(config)
        .on_event_inline(move |_: &ConnectorHandle, event: Event| {
            act(&event);
            let id = event.socket().id().to_string();
            let seen = (id, event.trigger(), std::thread::current().id());
            let _ = tx.lock().unwrap().send(seen);
        })
        .start()
        .unwrap();
    (connector, rx)
}

/// The thread of each socket's events until `sockets` sockets closed; fails if one socket's
/// events ran on two threads.
fn threads_by_socket(seen: &Seen, sockets: usize) -> HashMap<String, ThreadId> {
    let mut threads = HashMap::new();
    let mut closed = 0;
    while closed < sockets {
        let (id, trigger, thread) = seen.recv_timeout(WAIT).expect("an event in time");
        assert_ne!(thread, std::thread::current().id());
        let first = *threads.entry(id.clone()).or_insert(thread);
        assert_eq!(
            first, thread,
            "{trigger:?} of socket {id} ran on another thread"
        );
        closed += usize::from(trigger == Trigger::SocketClosed);
    }
    threads
}

/// How many sockets each thread got.
fn per_thread(threads: &HashMap<String, ThreadId>) -> Vec<usize> {
    let mut counts: HashMap<ThreadId, usize> = HashMap::new();
    for thread in threads.values() {
        *counts.entry(*thread).or_default() += 1;
    }
    let mut counts: Vec<usize> = counts.into_values().collect();
    counts.sort_unstable();
    counts
}

#[test]
fn sockets_spread_over_the_io_threads_and_each_stays_on_one() {
    const SOCKETS: usize = 8;
    const MESSAGES: usize = 20;
    let (server, server_seen) =
        inline_connector(Config::with_listener("127.0.0.1", 0), 2, |event| {
            if let Event::InboundMessage { socket, message } = event {
                socket.send(message.clone()).unwrap();
            }
        });
    let (echoed_tx, echoed) = mpsc::channel();
    let echoed_tx = Mutex::new(echoed_tx);
    let (client, client_seen) = inline_connector(Config::default(), 2, move |event| {
        if let Event::OutboundMessage { socket, .. } = event {
            let _ = echoed_tx.lock().unwrap().send(socket.id().to_string());
        }
    });
    let url = url(&server, "/");
    let ids: Vec<String> = (0..SOCKETS)
        .map(|_| {
            let id = client.open_outbound(&url, OutboundOptions::new()).unwrap();
            id.to_string()
        })
        .collect();
    for id in &ids {
        for m in 0..MESSAGES {
            client.send(id, format!("{m}")).unwrap();
        }
    }
    for _ in 0..SOCKETS * MESSAGES {
        echoed.recv_timeout(WAIT).expect("every echo in time");
    }
    for id in &ids {
        client.close(id, 1000, "done").unwrap();
    }
    let inbound = threads_by_socket(&server_seen, SOCKETS);
    let outbound = threads_by_socket(&client_seen, SOCKETS);
    assert_eq!(per_thread(&inbound), [SOCKETS / 2, SOCKETS / 2]);
    assert_eq!(per_thread(&outbound), [SOCKETS / 2, SOCKETS / 2]);
    let server_threads: HashSet<_> = inbound.values().collect();
    assert!(outbound.values().all(|t| !server_threads.contains(t)));
    client.stop().unwrap();
    server.stop().unwrap();
}

#[test]
fn a_task_an_inline_handler_spawns_runs_on_its_io_thread() {
    let (tx, spawned) = mpsc::channel();
    let tx = Mutex::new(tx);
    let (server, seen) = inline_connector(Config::with_listener("127.0.0.1", 0), 2, move |event| {
        if let Event::InboundMessage { socket, message } = event {
            let socket = socket.clone();
            let message = message.clone();
            let tx = tx.lock().unwrap().clone();
            let handler_thread = std::thread::current().id();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                let _ = tx.send(handler_thread == std::thread::current().id());
                socket.send(message).unwrap();
            });
        }
    });
    let url = url(&server, "/");
    runtime().block_on(async {
        let mut client = connect(&url).await;
        send_text(&mut client, "hello").await;
        assert_eq!(recv_text(&mut client).await, "hello");
    });
    let same_thread = spawned.recv_timeout(WAIT).unwrap();
    assert!(same_thread, "the spawned task ran on another thread");
    threads_by_socket(&seen, 1);
    server.stop().unwrap();
}
