//! What a hostile peer or a stalled application can make the connector hold, measured as the
//! process's own memory (/proc/self/statm) before and after, against bounds derived from the
//! settings. One test at a time: they read the whole process's memory.

mod common;

use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;
use wsconnector::Trigger;

const MIB: usize = 1 << 20;
/// What the allocator, the runtime and the test's own buffers may add beside the bound.
const SLACK: usize = 8 * MIB;

/// The tests measure the whole process: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The process's virtual and resident memory, in bytes, after giving freed memory back.
fn memory() -> (usize, usize) {
    // SAFETY: plain libc calls without pointers.
    let page = unsafe {
        libc::malloc_trim(0);
        libc::sysconf(libc::_SC_PAGESIZE) as usize
    };
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let mut fields = statm
        .split_whitespace()
        .map(|f| f.parse::<usize>().unwrap());
    (fields.next().unwrap() * page, fields.next().unwrap() * page)
}

/// Shrinks `tcp`'s receive buffer (SO_RCVBUF).
fn set_receive_buffer(tcp: &TcpStream, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt reads one int through the pointer, on a socket we own.
    let rc = unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_RCVBUF");
}

/// Resident memory grown since `before`.
fn resident_growth(before: (usize, usize)) -> usize {
    memory().1.saturating_sub(before.1)
}

/// Writes `chunk` over and over, up to `limit` bytes in all, until the peer stops taking it
/// (a write blocked for a second). Returns the bytes written.
fn write_until_blocked(tcp: &mut TcpStream, chunk: &[u8], limit: usize) -> usize {
    tcp.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut sent = 0;
    while sent < limit {
        match tcp.write(chunk) {
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) => panic!("write failed after {sent} bytes: {e}"),
        }
    }
    sent
}

#[test]
fn a_ping_flood_from_a_peer_that_never_reads_holds_bounded_memory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (server, events) = start_server(|c| {
        c.worker_threads = Some(1);
        c.socket.max_message_size = MIB;
        c.socket.ping_interval = Some(Duration::from_secs(1));
        c.socket.pong_timeout = Duration::from_secs(1);
    });
    let mut tcp = raw_ws(server.local_addr().unwrap(), "/flood", &[]);
    events.expect(Trigger::InboundConnection);
    // A small receive buffer: the pongs it leaves unread soon fill the connection.
    set_receive_buffer(&tcp, 4096);
    let before = memory();
    let pings = client_frame(PING, &[b'p'; 125]).repeat(512);
    let limit = 256 * MIB;
    let sent = write_until_blocked(&mut tcp, &pings, limit);
    // One pong owed at a time, and no reading past it: the read buffer and a write batch.
    let bound = 2 * MIB + SLACK;
    let grown = resident_growth(before);
    eprintln!(
        "ping flood: {} MiB sent, {} KiB resident growth",
        sent / MIB,
        grown / 1024
    );
    assert!(
        grown <= bound,
        "{grown} bytes held after {sent} bytes of pings"
    );
    assert!(
        sent < limit,
        "the server read the whole flood, owing pongs it could not send"
    );
    // The peer never reads, so it never answers the server's own ping: it is dropped.
    let (_, code, reason) = events.closed();
    assert_eq!(code, wsconnector::close_code::ABNORMAL, "{reason}");
    drop(tcp);
}
