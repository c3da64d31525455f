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

/// Opens connections until `held` has `count`, each one's inbound-connection event handled.
fn open(
    addr: std::net::SocketAddr,
    held: &mut Vec<TcpStream>,
    count: usize,
    opened: &mpsc::Receiver<()>,
) {
    while held.len() < count {
        held.push(raw_ws(addr, "/idle", &[]));
        opened.recv_timeout(WAIT).expect("the connection's event");
    }
}

/// The tests here count the heap of the whole process: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn an_idle_plain_connection_holds_at_most_its_heap_bound() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    const FIRST: usize = 100;
    const MORE: usize = 400;
    let (tx, opened) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event(move |_: &ConnectorHandle, event: Event| {
            if let Event::InboundConnection { .. } = event {
                let _ = tx.lock().unwrap().send(());
            }
        })
        .start()
        .unwrap();
    let addr = server.local_addr().unwrap();
    let mut held = Vec::with_capacity(FIRST + MORE);
    open(addr, &mut held, FIRST, &opened);
    let before = LIVE.load(Ordering::Relaxed);
    open(addr, &mut held, FIRST + MORE, &opened);
    let per_connection = (LIVE.load(Ordering::Relaxed) - before) / MORE as isize;
    assert_eq!(server.socket_count(), FIRST + MORE);
    assert!(
        per_connection <= MAX_HEAP_PER_IDLE_CONNECTION,
        "{per_connection} bytes of heap per idle connection, more than {MAX_HEAP_PER_IDLE_CONNECTION}"
    );
    eprintln!("{per_connection} bytes of heap per idle connection");
    drop(held);
    server.stop().unwrap();
}

/// Opens connections until `held` has `count`, each of which sends a message and reads its
/// echo (the socket reads and writes, so it holds buffers while it is busy).
fn open_and_echo(addr: std::net::SocketAddr, held: &mut Vec<TcpStream>, count: usize) {
    while held.len() < count {
        let mut tcp = raw_ws(addr, "/echo", &[client_frame(BINARY, b"busy for a moment")]);
        assert_eq!(
            read_server_frame(&mut tcp),
            (BINARY, b"busy for a moment".to_vec())
        );
        held.push(tcp);
    }
}

/// A busy socket keeps its read and write buffers between polls; once quiet it gives them
/// back, within a bounded time: a connection that went idle after traffic holds no more than
/// one that never had any.
#[test]
fn a_connection_that_went_quiet_gives_its_buffers_back() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    const FIRST: usize = 100;
    const MORE: usize = 400;
    let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
        .on_event_inline(|_: &ConnectorHandle, event: Event| {
            if let Event::InboundMessage { socket, message } = event {
                let _ = socket.send(message);
            }
        })
        .start()
        .unwrap();
    let addr = server.local_addr().unwrap();
    let per_connection_once_quiet = |held: &[TcpStream], before: isize| {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let per = (LIVE.load(Ordering::Relaxed) - before) / MORE as isize;
            if per <= MAX_HEAP_PER_IDLE_CONNECTION || std::time::Instant::now() > deadline {
                assert_eq!(server.socket_count(), held.len());
                return per;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    let mut held = Vec::with_capacity(FIRST + MORE);
    // The first ones fill the threads' spare buffers as they go quiet (most of their read and
    // write buffers, 2 KiB each, are freed, at most 64 kept as spares).
    let start = LIVE.load(Ordering::Relaxed);
    open_and_echo(addr, &mut held, FIRST);
    let busy = LIVE.load(Ordering::Relaxed);
    let quiet =
        (busy - FIRST as isize * 2048).max(start + FIRST as isize * MAX_HEAP_PER_IDLE_CONNECTION);
    let deadline = std::time::Instant::now() + WAIT;
    while LIVE.load(Ordering::Relaxed) > quiet {
        assert!(
            std::time::Instant::now() < deadline,
            "the first ones went quiet"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let before = LIVE.load(Ordering::Relaxed);
    open_and_echo(addr, &mut held, FIRST + MORE);
    let per_connection = per_connection_once_quiet(&held, before);
    assert!(
        per_connection <= MAX_HEAP_PER_IDLE_CONNECTION,
        "{per_connection} bytes of heap per connection quiet after an echo, more than \
         {MAX_HEAP_PER_IDLE_CONNECTION}"
    );
    drop(held);
    server.stop().unwrap();
}

/// Most heap an idle plain inbound connection may hold once parked (`park_idle_after`): no
/// task (512 bytes), no reactor registration (256); its parked state (its clocks, its place
/// under the listener's limits, its runtime, beside the socket's waker: about 190 bytes),
/// its place among the parked, the socket, its place in the registry and its deadline: about
/// 880 (1,425 unparked).
const MAX_HEAP_PER_PARKED_CONNECTION: isize = 920;

/// Waits (bounded) until `count` sockets are parked.
fn wait_parked(server: &Connector, count: u64) {
    let deadline = std::time::Instant::now() + WAIT;
    while server.metrics().sockets_parked != count {
        assert!(std::time::Instant::now() < deadline, "parked in time");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
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
    open(addr, &mut held, FIRST, &opened);
    wait_parked(&server, FIRST as u64);
    let before = LIVE.load(Ordering::Relaxed);
    open(addr, &mut held, FIRST + MORE, &opened);
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
