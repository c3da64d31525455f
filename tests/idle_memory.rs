//! What an idle plain connection costs in heap: the bytes allocated and still held per
//! connection opened (counted by this test's allocator), between two counts of connections so
//! that what the connector allocates once is left out. The bench's idle load measures the
//! same through the server's resident memory (benches/README.md).

mod common;

use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::TcpStream;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use wsconnector::{Config, Connector, ConnectorHandle, Event};

/// Bytes allocated and not freed yet, by the whole test process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call goes to the system allocator unchanged; only the sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Most heap an idle plain inbound connection may hold, in bytes (requested sizes, before the
/// allocator's rounding): its task (a 512-byte tokio cell), tokio's registration of its stream
/// (256), the socket (its `Arc`, its attributes' text, its ID), its place in the registry and
/// its deadline in the connector's timers: about 1,420. With a tokio timer of its own (112
/// bytes, boxed) it held about 1,510, and 1,440 with a socket of 368 bytes.
const MAX_HEAP_PER_IDLE_CONNECTION: isize = 1_440;

/// The heap-counting tests, one at a time: the count is the whole process's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Opens connections until `held` has `count`, each one's inbound-connection event handled;
/// with `echo`, each sends one message right after its handshake and reads its echo.
fn open(
    addr: std::net::SocketAddr,
    held: &mut Vec<TcpStream>,
    count: usize,
    opened: &mpsc::Receiver<()>,
    echo: bool,
) {
    let frames = if echo {
        vec![client_frame(0x1, b"one message")]
    } else {
        Vec::new()
    };
    while held.len() < count {
        let mut tcp = raw_ws(addr, "/idle", &frames);
        opened.recv_timeout(WAIT).expect("the connection's event");
        if echo {
            assert_eq!(read_server_frame(&mut tcp), (0x1, b"one message".to_vec()));
        }
        held.push(tcp);
    }
}

/// Asserts that each connection of `MORE` holds at most `bound` bytes of heap once opened
/// (after `FIRST` that leave out what the connector allocates once), on a dispatched
/// connector that echoes every message; holds the one-at-a-time lock until it has checked
/// (a failing check's backtrace allocates, and would count in the next test).
fn assert_heap_per_connection(echo: bool, bound: isize, what: &str) {
    const FIRST: usize = 100;
    const MORE: usize = 400;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (tx, opened) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event(move |_: &ConnectorHandle, event: Event| match event {
            Event::InboundConnection { .. } => {
                let _ = tx.lock().unwrap().send(());
            }
            Event::InboundMessage { socket, message } => {
                socket.send(message).expect("the echo is queued");
            }
            _ => {}
        })
        .start()
        .unwrap();
    let addr = server.local_addr().unwrap();
    let mut held = Vec::with_capacity(FIRST + MORE);
    open(addr, &mut held, FIRST, &opened, echo);
    let before = LIVE.load(Ordering::Relaxed);
    open(addr, &mut held, FIRST + MORE, &opened, echo);
    let per_connection = (LIVE.load(Ordering::Relaxed) - before) / MORE as isize;
    assert_eq!(server.socket_count(), FIRST + MORE);
    drop(held);
    server.stop().unwrap();
    eprintln!("{per_connection} bytes of heap per {what}");
    assert!(
        per_connection <= bound,
        "{per_connection} bytes of heap per {what}, more than {bound}"
    );
}

#[test]
fn an_idle_plain_connection_holds_at_most_its_heap_bound() {
    assert_heap_per_connection(false, MAX_HEAP_PER_IDLE_CONNECTION, "idle connection");
}

/// A socket whose first message came right after its handshake holds no buffer once its echo
/// has left: the bench's idle load does that, and buffers kept for a while by every fresh
/// socket are all live at the peak (3 KiB more per connection once held, and freed later,
/// they stay resident). The bound leaves room for the thread's spare buffers, which fill in
/// either count (up to ~110 bytes per connection measured), but not for a read buffer (at
/// least 2 KiB) per connection: 5,131 bytes on the code that kept them, about 1,420 now.
#[test]
fn a_connection_whose_one_message_was_echoed_holds_no_buffer() {
    assert_heap_per_connection(
        true,
        MAX_HEAP_PER_IDLE_CONNECTION + 1_024,
        "connection after one echo",
    );
}

/// Most heap an idle plain inbound connection may hold once parked (`park_idle_after`): no
/// task (512 bytes), no reactor registration (256); its parked state (its clocks, its place
/// under the listener's limits, its runtime, beside the socket's waker: about 190 bytes),
/// its place among the parked, the socket, its place in the registry and its deadline: about
/// 880 (1,425 unparked).
const MAX_HEAP_PER_PARKED_CONNECTION: isize = 920;

/// Waits (bounded) until `count` sockets are parked.
fn wait_parked(server: &Connector, count: u64) {
    wait_for_metrics(server, "parked in time", |m| m.sockets_parked == count);
}

#[test]
fn a_parked_idle_connection_holds_much_less() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    const FIRST: usize = 100;
    const MORE: usize = 400;
    let (tx, opened) = mpsc::channel();
    let tx = Mutex::new(tx);
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.socket.park_idle_after = std::time::Duration::from_millis(50);
    let server = Connector::builder(config)
        .on_event(move |_: &ConnectorHandle, event: Event| {
            if let Event::InboundConnection { .. } = event {
                let _ = tx.lock().unwrap().send(());
            }
        })
        .start()
        .unwrap();
    let addr = server.local_addr().unwrap();
    let mut held = Vec::with_capacity(FIRST + MORE);
    open(addr, &mut held, FIRST, &opened, false);
    wait_parked(&server, FIRST as u64);
    let before = LIVE.load(Ordering::Relaxed);
    open(addr, &mut held, FIRST + MORE, &opened, false);
    wait_parked(&server, (FIRST + MORE) as u64);
    let per_connection = (LIVE.load(Ordering::Relaxed) - before) / MORE as isize;
    assert_eq!(server.socket_count(), FIRST + MORE);
    eprintln!("{per_connection} bytes of heap per parked idle connection");
    assert!(
        per_connection <= MAX_HEAP_PER_PARKED_CONNECTION,
        "{per_connection} bytes of heap per parked connection, more than {MAX_HEAP_PER_PARKED_CONNECTION}"
    );
    drop(held);
    server.stop().unwrap();
}
