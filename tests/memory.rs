//! What a hostile peer or a stalled application can make the connector hold, measured as the
//! process's own memory (/proc/self/statm) before and after, against bounds derived from the
//! settings. One test at a time: they read the whole process's memory.

mod common;

use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use wsconnector::{Config, Connector, ConnectorHandle, Event, Message, Trigger};

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
/// (a write blocked for a second) or drops the connection. Returns the bytes written.
fn write_until_blocked(tcp: &mut TcpStream, chunk: &[u8], limit: usize) -> usize {
    tcp.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut sent = 0;
    while sent < limit {
        match tcp.write(chunk) {
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::BrokenPipe
                ) =>
            {
                break
            }
            Err(e) => panic!("write failed after {sent} bytes: {e}"),
        }
    }
    sent
}

/// A 1 KiB binary message followed by about 63 KiB of unsolicited pongs (which the server
/// only reads): each message arrives in a read buffer of its own.
fn padded_message() -> Vec<u8> {
    let mut bytes = client_frame(BINARY, &[1u8; 1024]);
    let pong = client_frame(PONG, &[b'p'; 125]);
    while bytes.len() + pong.len() <= 64 * 1024 {
        bytes.extend_from_slice(&pong);
    }
    bytes
}

/// A server whose handler forwards every event, but holds each message event until the
/// test lets it go (or gives up the gate): a stalled application.
fn stalled_server(configure: impl FnOnce(&mut Config)) -> (Connector, Events, mpsc::Sender<()>) {
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.worker_threads = Some(1);
    configure(&mut config);
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let gate = Mutex::new(gate_rx);
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = Connector::builder(config)
        .on_event(move |_: &ConnectorHandle, event: Event| {
            if event.message().is_some() {
                let _ = gate.lock().unwrap().recv_timeout(3 * WAIT);
            }
            let _ = tx.lock().unwrap().send(event);
        })
        .start()
        .unwrap();
    (server, Events(rx), gate_tx)
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
    // A small receive buffer: the pongs it leaves unread fill the connection. How many pings
    // that takes depends on the kernel's buffers (one pong may answer a poll's worth of
    // pings), so the flood is also bounded in bytes.
    set_receive_buffer(&tcp, 4096);
    let before = memory();
    let pings = client_frame(PING, &[b'p'; 125]).repeat(512);
    let sent = write_until_blocked(&mut tcp, &pings, 256 * MIB);
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
    // The peer never reads, so it never answers the server's own ping: it is dropped.
    let (_, code, reason) = events.closed();
    assert_eq!(code, wsconnector::close_code::ABNORMAL, "{reason}");
    drop(tcp);
}

#[test]
fn a_stalled_application_holds_at_most_the_event_queue_bound() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let queue_bytes = MIB;
    let (server, events, gate) = stalled_server(|c| {
        c.event_queue_bytes = queue_bytes;
        c.dispatcher_threads = Some(4); // events sorted into mailboxes count as well
        c.socket.ping_interval = None;
    });
    let mut tcp = raw_ws(server.local_addr().unwrap(), "/pinned", &[]);
    events.expect(Trigger::InboundConnection);
    let before = memory();
    let period = padded_message();
    // Counted bytes plus what one read may add past the bound before it shows.
    let bound = 2 * queue_bytes + SLACK;
    let sent = write_until_blocked(&mut tcp, &period, 8 * 64 * queue_bytes);
    let grown = resident_growth(before);
    eprintln!(
        "stalled application: {} messages sent, {} KiB resident growth",
        sent / period.len(),
        grown / 1024
    );
    assert!(grown <= bound, "{grown} bytes held while stalled");
    // The application takes the first message: the dispatcher's next batch is the whole
    // queue, which still counts until the application is done with it.
    gate.send(()).unwrap();
    let sent = write_until_blocked(&mut tcp, &period, 8 * 64 * queue_bytes);
    let grown = resident_growth(before);
    eprintln!(
        "stalled application, next batch taken: {} more messages, {} KiB resident growth",
        sent / period.len(),
        grown / 1024
    );
    assert!(grown <= bound, "{grown} bytes held while the batch is held");
    drop(gate);
    drop(tcp);
}

#[test]
fn a_message_the_application_keeps_does_not_pin_its_read_buffer() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let kept = Arc::new(Mutex::new(Vec::<Message>::new()));
    let history = kept.clone();
    let (got_tx, got) = mpsc::channel();
    let got_tx = Mutex::new(got_tx);
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.worker_threads = Some(1);
    config.socket.ping_interval = None;
    let server = Connector::builder(config)
        .on_event(move |_: &ConnectorHandle, event: Event| {
            if let Some(message) = event.message() {
                history.lock().unwrap().push(message.clone());
                let _ = got_tx.lock().unwrap().send(());
            }
        })
        .start()
        .unwrap();
    let mut tcp = raw_ws(server.local_addr().unwrap(), "/history", &[]);
    let before = memory();
    let count = 1024;
    let period = padded_message();
    tcp.write_all(&period.repeat(count)).unwrap();
    for i in 0..count {
        got.recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("{i} of {count} messages arrived"));
    }
    let grown = resident_growth(before);
    eprintln!(
        "{count} kept messages of 1 KiB: {} KiB resident growth",
        grown / 1024
    );
    let bound = 2 * count * 1024 + SLACK;
    assert!(
        grown <= bound,
        "{grown} bytes held by {count} kept 1 KiB messages"
    );
    assert_eq!(kept.lock().unwrap().len(), count);
    drop(tcp);
}

#[test]
fn a_frame_header_alone_reserves_no_room_for_its_payload() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let max_message = 16 * MIB;
    let (server, events) = start_server(|c| {
        c.worker_threads = Some(1);
        c.socket.max_message_size = max_message;
        c.socket.ping_interval = None;
    });
    let addr = server.local_addr().unwrap();
    let before = memory();
    // Each peer sends a message and, in the same write, the header of a frame as large as
    // allowed with a few bytes of its payload, and then nothing.
    let count = 64;
    let mut opening = client_frame(TEXT, b"ready");
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&(max_message as u64).to_be_bytes());
    header.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    opening.extend_from_slice(&header);
    opening.extend_from_slice(&[0u8; 100]);
    let peers: Vec<TcpStream> = (0..count)
        .map(|_| raw_ws(addr, "/big", &[opening.clone()]))
        .collect();
    let mut ready = 0;
    while ready < count {
        if events.next().trigger() == Trigger::InboundMessage {
            ready += 1;
        }
    }
    let (virtual_before, _) = before;
    let grown = memory().0.saturating_sub(virtual_before);
    eprintln!(
        "{count} peers each announcing {} MiB: {} MiB virtual growth",
        max_message / MIB,
        grown / MIB
    );
    // Reading follows the bytes received: a read buffer each, not the announced size (the
    // allocator's per-thread arenas are the rest of the slack).
    let bound = count * 128 * 1024 + 32 * SLACK;
    assert!(
        grown <= bound,
        "{grown} bytes of address space for {count} frame headers"
    );
    drop(peers);
}

/// `inflated` bytes of zeros (a multiple of 1 MiB) compressed as one permessage-deflate message:
/// the first MiB, then the next one (which refers back to the first) over and over, so that a
/// frame of about a thousandth of the size (DEFLATE's best ratio) is made from 2 MiB of work.
fn compression_bomb(inflated: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let zeros = vec![0u8; MIB];
    let mut compress = Compress::new(Compression::best(), false);
    let mut block = |out: &mut Vec<u8>| {
        out.clear();
        out.reserve(MIB);
        compress
            .compress_vec(&zeros, out, FlushCompress::Sync)
            .unwrap();
    };
    let (mut first, mut next) = (Vec::new(), Vec::new());
    block(&mut first);
    block(&mut next);
    let mut bomb = first;
    for _ in 1..inflated / MIB {
        bomb.extend_from_slice(&next);
    }
    // The sync flush's tail is left out of a message (RFC 7692 section 7.2.1).
    bomb.truncate(bomb.len() - 4);
    bomb
}

/// Resets the process's peak resident memory to what it holds now (Linux's clear_refs).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

/// The process's peak resident memory since [`reset_peak`], in bytes (VmHWM).
fn peak_resident() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .unwrap();
    kib * 1024
}

/// A frame of about 1 MiB that inflates to 1 GiB (a compression bomb), against the default
/// 16 MiB message limit: the socket closes with 1009 once the inflated size passes the limit,
/// and the process's peak memory grows by about the limit, never by the bomb's size.
#[test]
fn a_compression_bomb_closes_with_1009_within_the_message_limit() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let bomb = compression_bomb(1 << 30);
    let mut frame = client_frame(BINARY, &bomb);
    frame[0] |= 0x40;
    let (server, events) = start_server(|c| {
        c.worker_threads = Some(1);
        c.socket.ping_interval = None;
        c.compression = wsconnector::Compression::on();
    });
    let limit = wsconnector::SocketConfig::default().max_message_size;
    let before = memory();
    reset_peak();
    let mut tcp = raw_ws_with(
        server.local_addr().unwrap(),
        "/bomb",
        "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        &[frame],
    );
    let (opcode, payload) = read_server_frame(&mut tcp);
    assert_eq!(
        (opcode, payload.get(..2)),
        (CLOSE, Some(&[0x03, 0xf1][..])),
        "1009"
    );
    events.expect(Trigger::InboundConnection);
    let (_, code, reason) = events.closed();
    assert_eq!(code, wsconnector::close_code::MESSAGE_TOO_BIG, "{reason}");
    let peak = peak_resident().saturating_sub(before.1);
    let grown = resident_growth(before);
    eprintln!(
        "a {} KiB frame inflating to 1 GiB: peak {} KiB, then {} KiB resident growth (limit {} MiB)",
        bomb.len() / 1024,
        peak / 1024,
        grown / 1024,
        limit / MIB
    );
    assert!(bomb.len() < 2 * MIB, "{}", bomb.len());
    assert!(peak <= limit + 2 * MIB + SLACK, "peak {peak} bytes");
    assert!(grown <= SLACK, "{grown} bytes held after");
}
