//! Slow consumers: a peer that stops reading fills its own bounded queue, and the configured
//! policy decides what sends do; nobody else is slowed down.

mod common;

use common::*;
use wsconnector::{
    close_code, Delivery, ErrorKind, SlowConsumerPolicy, SocketFilter, Trigger, Undelivered,
};

const QUEUE: usize = 4;

/// A server with a small queue and `policy`, one client that never reads ("stuck") and one
/// that reads everything ("reader"). Returns the stuck socket's ID.
struct Setup {
    rt: tokio::runtime::Runtime,
    stuck: Option<std::net::TcpStream>,
    reader: Option<Client>,
    reader_id: String,
    stuck_id: String,
    server: wsconnector::Connector,
    events: Events,
}

fn setup(policy: SlowConsumerPolicy) -> Setup {
    setup_with(policy, QUEUE, 16 << 20)
}

/// `setup` with the queue bounded at `messages` and `bytes`.
fn setup_with(policy: SlowConsumerPolicy, messages: usize, bytes: usize) -> Setup {
    let (server, events) = start_server(|c| {
        c.socket.send_queue_messages = messages;
        c.socket.send_queue_bytes = bytes;
        c.socket.slow_consumer = policy;
        c.socket.ping_interval = None;
        c.socket.close_timeout = std::time::Duration::from_millis(300);
    });
    let rt = runtime();
    let stuck = raw_ws(server.local_addr().unwrap(), "/stuck", &[]);
    let stuck_id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .to_string();
    let reader = rt.block_on(connect(&url(&server, "/reader")));
    let reader_id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .to_string();
    Setup {
        rt,
        stuck: Some(stuck),
        reader: Some(reader),
        reader_id,
        stuck_id,
        server,
        events,
    }
}

/// Sends 64 KiB messages to the stuck socket until the queue is full (the kernel buffers
/// fill first); returns what the first send past the bound did.
fn fill(s: &Setup) -> Result<Delivery, wsconnector::Error> {
    let payload = "x".repeat(64 * 1024);
    for _ in 0..10_000 {
        match s.server.send(&s.stuck_id, payload.as_str()) {
            Ok(Delivery::Queued) => continue,
            other => return other,
        }
    }
    panic!("the queue never filled");
}

#[test]
fn fail_policy_refuses_the_send_and_keeps_the_socket() {
    let s = setup(SlowConsumerPolicy::Fail);
    let e = fill(&s).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::QueueFull, "{e}");
    assert!(s.server.socket(&s.stuck_id).unwrap().is_open());
}

#[test]
fn drop_newest_policy_drops_the_new_message() {
    let s = setup(SlowConsumerPolicy::DropNewest);
    assert_eq!(fill(&s).unwrap(), Delivery::DroppedNewest);
}

#[test]
fn drop_oldest_policy_makes_room() {
    let s = setup(SlowConsumerPolicy::DropOldest);
    assert_eq!(fill(&s).unwrap(), Delivery::QueuedDroppingOldest(1));
}

#[test]
fn close_policy_closes_the_slow_socket_with_1013() {
    // Bounded in bytes only: the queue fills after the kernel's buffers, so the socket's task
    // is parked on a full socket when the close is requested, and must still act on it.
    let mut s = setup_with(SlowConsumerPolicy::Close, 100_000, 1 << 20);
    assert_eq!(fill(&s).unwrap(), Delivery::ClosedSlowConsumer);
    let (socket, code, reason) = s.events.closed();
    assert_eq!(socket.id().as_str(), s.stuck_id);
    assert_eq!(code, close_code::TRY_AGAIN_LATER);
    assert!(reason.contains("slow consumer"), "{reason}");
    assert_eq!(
        s.server.send(&s.stuck_id, "x").unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );
    s.stuck.take();
}

#[test]
fn broadcast_reports_each_slow_socket_and_the_others_get_everything() {
    for (policy, expected) in [
        (SlowConsumerPolicy::Fail, "failed"),
        (SlowConsumerPolicy::DropNewest, "dropped"),
        (SlowConsumerPolicy::Close, "closed"),
    ] {
        let mut s = setup(policy);
        // The reader reads all along and reports each message; the sender waits for that
        // report before the next broadcast, so only the stuck socket falls behind.
        let mut reader = s.reader.take().unwrap();
        let (got_tx, got) = std::sync::mpsc::channel();
        s.rt.spawn(async move {
            loop {
                let text = recv_text(&mut reader).await;
                let done = text == "done";
                got_tx.send(text.len()).unwrap();
                if done {
                    break;
                }
            }
        });
        let payload = "y".repeat(64 * 1024);
        let mut what = None;
        let everyone = SocketFilter::all();
        for _ in 0..10_000 {
            let result = s.server.broadcast(payload.as_str(), &everyone).unwrap();
            assert_eq!(result.delivered, 2 - result.failures.len());
            assert_eq!(
                got.recv_timeout(WAIT).unwrap(),
                payload.len(),
                "the reader got it"
            );
            if let Some(failure) = result.failures.first() {
                assert_eq!(result.failures.len(), 1);
                assert_eq!(failure.socket_id.as_str(), s.stuck_id);
                what = Some(match &failure.what {
                    Undelivered::Failed(e) if e.kind() == ErrorKind::QueueFull => "failed",
                    Undelivered::Dropped => "dropped",
                    Undelivered::Closed => "closed",
                    other => panic!("{other:?}"),
                });
                break;
            }
        }
        assert_eq!(what, Some(expected), "{policy:?}");
        s.server.send(&s.reader_id, "done").unwrap();
        assert_eq!(got.recv_timeout(WAIT).unwrap(), 4);
        s.stuck.take();
    }
}

/// Fills the stuck socket's queue until it stays full once the peer's kernel buffers are
/// full too: its task is then parked on a connection it cannot write to, usually with part of
/// a message written (the case where a close request once found room in its write buffer,
/// took one more message and waited for a write that never came, without a close deadline).
/// The kernel's buffers on loopback hold a few of the queue's megabyte: bounded rounds.
fn fill_past_the_kernel(s: &Setup) {
    let stuck = s.stuck.as_ref().unwrap();
    for _ in 0..32 {
        assert_eq!(fill(s).unwrap_err().kind(), ErrorKind::QueueFull);
        wait_until_peer_blocked(stuck);
        // A message as large as the ones that filled it still does not fit: nothing left.
        if s.server.send(&s.stuck_id, "x".repeat(64 * 1024)).is_err() {
            return;
        }
    }
    panic!("the peer's kernel buffers never filled");
}

#[test]
fn a_close_reaches_a_socket_stuck_on_a_full_connection() {
    // The queue is bounded in bytes only, so it is full only once the kernel's buffers are:
    // the socket's task is then parked on a connection it cannot write to.
    let mut s = setup_with(SlowConsumerPolicy::Fail, 100_000, 1 << 20);
    fill_past_the_kernel(&s);
    s.server.close(&s.stuck_id, 4000, "bye").unwrap();
    let (socket, code, reason) = s.events.closed();
    assert_eq!(
        (socket.id().as_str(), code, reason.as_str()),
        (s.stuck_id.as_str(), 4000, "bye")
    );
    s.stuck.take();
}

#[test]
fn a_message_larger_than_the_queue_fits_no_socket() {
    let mut s = setup_with(SlowConsumerPolicy::DropOldest, QUEUE, 1024);
    let too_large = vec![7u8; 1025];
    let e = s.server.send(&s.reader_id, too_large.clone()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    let e = s
        .server
        .broadcast(too_large, &SocketFilter::all())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    assert!(e.to_string().contains("1025 bytes"), "{e}");
    // Nothing was queued or dropped: the next message that fits is the first to arrive.
    let result = s.server.broadcast("fits", &SocketFilter::all()).unwrap();
    assert_eq!((result.delivered, result.dropped_oldest), (2, 0));
    let reader = s.reader.as_mut().unwrap();
    assert_eq!(s.rt.block_on(recv_text(reader)), "fits");
}

/// Reads `count` data frames from a raw peer that has paused until now (server frames when
/// `from_server`), on a thread, reporting how many arrived; waits (bounded) for all of them.
fn resume_and_expect(mut tcp: std::net::TcpStream, from_server: bool, count: usize, len: usize) {
    wait_until_peer_blocked(&tcp);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for i in 0..count {
            let (opcode, payload) = if from_server {
                read_server_frame(&mut tcp)
            } else {
                read_client_frame(&mut tcp)
            };
            assert_eq!((opcode, payload.len()), (BINARY, len), "message {i}");
            if tx.send(i + 1).is_err() {
                return;
            }
        }
        drop(tcp);
    });
    let mut got = 0;
    while got < count {
        match rx.recv_timeout(WAIT) {
            Ok(n) => got = n,
            Err(_) => panic!("{got} of {count} queued messages arrived; the rest stalled"),
        }
    }
}

/// A peer that stops reading while more than the socket buffers hold is queued, then reads
/// again, gets everything at the pace it reads: no keepalive ping (off here) is needed to
/// wake the writer.
fn paused_reader_gets_everything(count: usize, len: usize, broadcast: bool) {
    let (server, events) = start_server(|c| {
        c.socket.ping_interval = None;
        c.socket.send_queue_messages = count;
        c.socket.send_queue_bytes = count * len;
    });
    let tcp = raw_ws(server.local_addr().unwrap(), "/paused", &[]);
    let id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();
    let payload = vec![7u8; len];
    for _ in 0..count {
        let delivery = if broadcast {
            let result = server
                .broadcast(payload.clone(), &SocketFilter::all())
                .unwrap();
            assert_eq!(result.delivered, 1);
            Delivery::Queued
        } else {
            server.send(id.as_str(), payload.clone()).unwrap()
        };
        assert_eq!(delivery, Delivery::Queued);
    }
    resume_and_expect(tcp, true, count, len);
}

#[test]
fn a_paused_inbound_reader_gets_100_broadcasts_of_100_kb() {
    paused_reader_gets_everything(100, 100_000, true);
}

#[test]
fn a_paused_inbound_reader_gets_10_000_messages_of_1_kib() {
    paused_reader_gets_everything(10_000, 1024, false);
}

#[test]
fn a_paused_outbound_peer_gets_everything_queued() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (count, len) = (100, 100_000);
    let (client, _events) = start_builder(wsconnector::Connector::builder({
        let mut c = wsconnector::Config::default();
        c.socket.ping_interval = None;
        c.socket.send_queue_messages = count;
        c.socket.send_queue_bytes = count * len;
        c
    }));
    let accepted = std::thread::spawn(move || raw_ws_accept(&listener));
    let id = client
        .open_outbound(
            &format!("ws://{addr}/"),
            wsconnector::OutboundOptions::new(),
        )
        .unwrap();
    let tcp = accepted.join().unwrap();
    for _ in 0..count {
        assert_eq!(
            client.send(id.as_str(), vec![7u8; len]).unwrap(),
            Delivery::Queued
        );
    }
    resume_and_expect(tcp, false, count, len);
}
