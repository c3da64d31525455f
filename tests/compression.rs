//! permessage-deflate (RFC 7692) over real sockets: negotiation with every parameter
//! combination and messages of many sizes between our client and our server, the RFC's own
//! frames byte for byte from a raw peer, the rules a compressed stream must keep (RSV1 on a
//! message's first frame only, never on control frames, never without the extension), the
//! answers a client must refuse (1010), and broadcast to sockets of several parameters.

mod common;

use common::*;
use flate2::{Decompress, FlushDecompress};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use wsconnector::{
    Compression, Config, Connector, ConnectorHandle, ErrorKind, Event, InboundPath, Message,
    OutboundOptions, PerMessageDeflate, SocketFilter, Trigger,
};

/// A server that echoes every message on the socket it came from, with `compression`; its
/// events go to the returned channel too.
fn echo_server(compression: Compression) -> (Connector, Events) {
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.compression = compression;
    config.worker_threads = Some(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = Connector::builder(config)
        .on_event(move |_: &ConnectorHandle, event: Event| {
            if let Event::InboundMessage { socket, message } = &event {
                let _ = socket.send(message.clone());
            }
            let _ = tx.lock().unwrap().send(event);
        })
        .start()
        .unwrap();
    (server, Events(rx))
}

/// A client-only connector with `compression`.
fn client(compression: Compression) -> (Connector, Events) {
    let mut config = Config::default();
    config.compression = compression;
    config.worker_threads = Some(1);
    start_builder(Connector::builder(config))
}

fn preferring(preferred: PerMessageDeflate) -> Compression {
    let mut compression = Compression::on();
    compression.preferred = preferred;
    compression.threshold = 0;
    compression
}

/// Text that compresses as JSON does, `len` bytes long.
fn json_like(len: usize) -> String {
    let mut text = String::with_capacity(len + 64);
    let mut i = 0u64;
    while text.len() < len {
        text.push_str(&format!(
            "{{\"symbol\":\"S{}\",\"bid\":{}.{},\"seq\":{i}}},",
            i % 37,
            i % 997,
            i % 89
        ));
        i += 1;
    }
    text.truncate(len);
    text
}

const SIZES: [usize; 8] = [0, 1, 63, 64, 125, 2048, 16 * 1024, 70_000];

/// Our client offers each combination of parameters to our server, which asks for it too;
/// messages of many sizes, text and binary, come back intact, and both ends report what was
/// negotiated.
#[test]
fn every_parameter_combination_carries_messages_of_many_sizes() {
    for server_nct in [false, true] {
        for client_nct in [false, true] {
            for server_bits in [None, Some(8), Some(9), Some(15)] {
                for client_bits in [None, Some(8), Some(12)] {
                    let preferred = PerMessageDeflate {
                        server_no_context_takeover: server_nct,
                        client_no_context_takeover: client_nct,
                        server_max_window_bits: server_bits,
                        client_max_window_bits: client_bits,
                    };
                    round_trip(preferred);
                }
            }
        }
    }
}

fn round_trip(preferred: PerMessageDeflate) {
    let (server, server_events) = echo_server(preferring(preferred));
    let (client, events) = client(preferring(preferred));
    let id = client
        .open_outbound(&url(&server, "/"), OutboundOptions::new())
        .unwrap();
    let ours = client.socket(id.as_str()).unwrap();
    let theirs = server_events
        .expect(Trigger::InboundConnection)
        .socket()
        .clone();
    assert_eq!(ours.compression(), Some(preferred), "{preferred:?}");
    assert_eq!(theirs.compression(), Some(preferred), "{preferred:?}");
    assert_eq!(ours.extensions(), Some(preferred.header_value()));
    for len in SIZES {
        let text = json_like(len);
        client.send(id.as_str(), text.as_str()).unwrap();
        client
            .send(id.as_str(), Message::binary(text.clone().into_bytes()))
            .unwrap();
        assert!(
            events.text(Trigger::OutboundMessage) == text,
            "{preferred:?} {len}"
        );
        assert!(
            events.bytes(Trigger::OutboundMessage) == text.as_bytes(),
            "{preferred:?} {len}"
        );
    }
    client.stop().unwrap();
    server.stop().unwrap();
}

/// The server asks for what it prefers, within each offer; our client keeps to the answer.
#[test]
fn a_server_preference_limits_the_client_it_answers() {
    let (server, _server_events) = echo_server(preferring(PerMessageDeflate {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: Some(10),
        client_max_window_bits: Some(9),
    }));
    let (client, events) = client(preferring(PerMessageDeflate::default()));
    let id = client
        .open_outbound(&url(&server, "/"), OutboundOptions::new())
        .unwrap();
    let negotiated = client.socket(id.as_str()).unwrap().compression().unwrap();
    assert_eq!(
        negotiated.header_value(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=9"
    );
    let text = json_like(50_000);
    client.send(id.as_str(), text.as_str()).unwrap();
    assert!(events.text(Trigger::OutboundMessage) == text);
}

/// Off by default; on for a path or an open of its own, whatever the connector says.
#[test]
fn compression_is_off_by_default_and_set_per_path_and_per_open() {
    let mut config = Config::with_listener("127.0.0.1", 0);
    let listener = config.listener.as_mut().unwrap();
    listener.paths.push(InboundPath::new("/plain"));
    listener
        .paths
        .push(InboundPath::new("/deflate").compression(true));
    let (server, _events) = start_builder(Connector::builder(config));
    let (plain_client, _) = client(Compression::default());
    let open = |path: &str, options: OutboundOptions| {
        let id = plain_client
            .open_outbound(&url(&server, path), options)
            .unwrap();
        let socket = plain_client.socket(id.as_str()).unwrap();
        (
            socket.header("sec-websocket-extensions").is_some(),
            socket.compression().is_some(),
        )
    };
    assert_eq!(open("/plain", OutboundOptions::new()), (false, false));
    assert_eq!(open("/deflate", OutboundOptions::new()), (false, false));
    assert_eq!(
        open("/plain", OutboundOptions::new().compression(true)),
        (true, false),
        "offered, declined by the path"
    );
    assert_eq!(
        open("/deflate", OutboundOptions::new().compression(true)),
        (true, true)
    );
    let (compressing_client, _) = client(Compression::on());
    let id = compressing_client
        .open_outbound(
            &url(&server, "/deflate"),
            OutboundOptions::new().compression(false),
        )
        .unwrap();
    assert_eq!(
        compressing_client
            .socket(id.as_str())
            .unwrap()
            .compression(),
        None
    );
}

/// A raw client's upgrade, offering `extensions`; returns the stream after the 101 and the
/// response head.
fn raw_upgrade(addr: SocketAddr, extensions: Option<&str>) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let extra = extensions
        .map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n"))
        .unwrap_or_default();
    tcp.write_all(&upgrade_request("/", &extra)).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("a response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    (tcp, head)
}

/// A masked frame with `first` as its first byte (FIN, RSV bits, opcode).
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = client_frame(first & 0x0f, payload);
    frame[0] = first;
    frame
}

/// The close code of the server's close frame.
fn read_close_code(tcp: &mut TcpStream) -> u16 {
    loop {
        let (first, payload) = read_server_frame_whole(tcp);
        if first & 0x0f == CLOSE {
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}

/// Inflates a message's payload as RFC 7692 section 7.2.2 says (the tail put back).
fn inflate(decompress: &mut Decompress, payload: &[u8]) -> Vec<u8> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::new();
    let mut input = &input[..];
    while !input.is_empty() {
        out.reserve(64 * 1024);
        let before = decompress.total_in();
        decompress
            .decompress_vec(input, &mut out, FlushDecompress::Sync)
            .unwrap();
        input = &input[(decompress.total_in() - before) as usize..];
    }
    out
}

/// `data` compressed as one message (raw DEFLATE, sync flush, its tail left out).
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    compress
        .compress_vec(data, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

/// RFC 7692 section 7.2.3's frames, byte for byte, both ways: "Hello" in one frame, in two
/// fragments, and again with the shared window; the server's replies are the same bytes.
#[test]
fn the_rfc_frames_byte_for_byte() {
    let mut compression = Compression::on();
    compression.threshold = 0;
    let (server, events) = echo_server(compression);
    let (mut tcp, head) = raw_upgrade(
        server.local_addr().unwrap(),
        Some("permessage-deflate; client_max_window_bits"),
    );
    assert!(
        head.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"),
        "{head}"
    );
    let socket = events.expect(Trigger::InboundConnection).socket().clone();
    assert_eq!(socket.extensions().as_deref(), Some("permessage-deflate"));
    let frames = [
        masked(0xc1, &HELLO),
        masked(0x41, &HELLO[..3]),
        masked(0x80, &HELLO[3..]),
        masked(0xc1, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
    ]
    .concat();
    tcp.write_all(&frames).unwrap();
    for _ in 0..3 {
        assert_eq!(events.text(Trigger::InboundMessage), "Hello");
    }
    // The echoes: the first compressed alone, the next ones sharing the window.
    assert_eq!(read_server_frame_whole(&mut tcp), (0xc1, HELLO.to_vec()));
    assert_eq!(
        read_server_frame_whole(&mut tcp),
        (0xc1, vec![0xf2, 0x00, 0x11, 0x00, 0x00])
    );
    let (first, third) = read_server_frame_whole(&mut tcp);
    assert_eq!(first, 0xc1);
    assert!(third.len() < HELLO.len(), "{third:02x?}");
    let mut decompress = Decompress::new(false);
    for payload in [&HELLO[..], &[0xf2, 0x00, 0x11, 0x00, 0x00], &third] {
        assert_eq!(inflate(&mut decompress, payload), b"Hello");
    }
}

/// The protocol errors of a compressed stream, each answered with its close code.
#[test]
fn a_compressed_stream_that_breaks_the_rules_is_closed_with_its_code() {
    let (server, _events) = echo_server(Compression::on());
    let addr = server.local_addr().unwrap();
    let offer = Some("permessage-deflate");
    let cases: [(Option<&str>, Vec<u8>, u16); 5] = [
        // RSV1 on a continuation frame (section 6.1).
        (
            offer,
            [masked(0x41, &HELLO[..3]), masked(0xc0, &HELLO[3..])].concat(),
            1002,
        ),
        // RSV1 on a control frame.
        (offer, masked(0xc9, b""), 1002),
        // A compressed message without the extension negotiated.
        (None, masked(0xc1, &HELLO), 1002),
        // Data that is not DEFLATE.
        (offer, masked(0xc2, &[0xff; 8]), 1007),
        // Compressed text that is not UTF-8 once inflated.
        (offer, masked(0xc1, &deflate(b"ok \xff")), 1007),
    ];
    for (extensions, frames, code) in cases {
        let (mut tcp, _) = raw_upgrade(addr, extensions);
        tcp.write_all(&frames).unwrap();
        assert_eq!(
            read_close_code(&mut tcp),
            code,
            "{extensions:?} {frames:02x?}"
        );
    }
}

/// A raw server whose 101 answers the offer with `answer`; reports the request and the close
/// code the client sent.
fn answering_server(answer: &'static str) -> (SocketAddr, std::thread::JoinHandle<(String, u16)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let extra = format!("Sec-WebSocket-Extensions: {answer}\r\n");
        let (mut tcp, request) = raw_ws_accept_with(&listener, &extra);
        let (opcode, payload) = read_client_frame(&mut tcp);
        assert_eq!(opcode, CLOSE);
        (request, u16::from_be_bytes([payload[0], payload[1]]))
    });
    (addr, thread)
}

/// Answers a client must refuse fail the connection: the open fails, and the server gets a
/// close frame with 1010.
#[test]
fn a_client_refuses_an_answer_the_rfc_forbids_with_1010() {
    for (answer, offered) in [
        ("permessage-deflate; server_max_window_bits=16", true),
        ("permessage-deflate; unknown_parameter", true),
        ("permessage-deflate; client_max_window_bits", true),
        ("permessage-deflate, permessage-deflate", true),
        ("x-webkit-deflate-frame", true),
        ("permessage-deflate", false),
    ] {
        let (addr, server) = answering_server(answer);
        let (client, _) = client(Compression::default());
        let e = client
            .open_outbound(
                &format!("ws://{addr}/"),
                OutboundOptions::new().compression(offered),
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{answer}: {e}");
        assert!(e.message().contains("extension"), "{e}");
        let (request, code) = server.join().unwrap();
        assert_eq!(code, 1010, "{answer}");
        assert_eq!(
            request.contains(
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            ),
            offered,
            "{request}"
        );
    }
}

/// A broadcast reaches sockets without compression, sockets sharing compressed frames (no
/// server context, two window sizes) and sockets with their own context alike; the ones of
/// one window size get the very same bytes.
#[test]
fn a_broadcast_reaches_sockets_of_every_kind_of_compression() {
    let mut compression = Compression::on();
    compression.threshold = 100;
    let (server, events) = echo_server(compression);
    let addr = server.local_addr().unwrap();
    let offers = [
        None,
        Some("permessage-deflate; server_no_context_takeover"),
        Some("permessage-deflate; server_no_context_takeover"),
        Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=10"),
        Some("permessage-deflate"),
    ];
    let mut clients: Vec<_> = offers
        .iter()
        .map(|offer| {
            let (tcp, _) = raw_upgrade(addr, *offer);
            events.expect(Trigger::InboundConnection);
            (tcp, Decompress::new(false))
        })
        .collect();
    let text = json_like(20_000);
    let mut compressed_lens = Vec::new();
    for round in 0..3 {
        let reached = server
            .broadcast(text.as_str(), &SocketFilter::all())
            .unwrap();
        assert_eq!(reached.delivered, offers.len());
        let short = server.broadcast("short", &SocketFilter::all()).unwrap();
        assert_eq!(short.delivered, offers.len());
        let mut shared = Vec::new();
        for ((tcp, decompress), offer) in clients.iter_mut().zip(offers) {
            let (first, payload) = read_server_frame_whole(tcp);
            let got = if first & 0x40 != 0 {
                inflate(decompress, &payload)
            } else {
                payload.clone()
            };
            assert!(got == text.as_bytes(), "round {round}, {offer:?}");
            assert_eq!(first & 0x40 != 0, offer.is_some(), "{offer:?}");
            if offer.is_some() {
                assert!(payload.len() * 3 < text.len(), "{offer:?}");
            }
            shared.push(payload);
            // Below the threshold: plain for all.
            assert_eq!(read_server_frame_whole(tcp), (0x81, b"short".to_vec()));
        }
        assert!(shared[1] == shared[2], "one frame for one window size");
        assert!(shared[1] != shared[3], "another for another window size");
        compressed_lens.extend(shared[1..].iter().map(Vec::len));
    }
    // A shared compressed frame counts the message's own length as payload sent, and its
    // compressed length as what went on the wire.
    let figures = server.metrics();
    assert_eq!(figures.messages_out.text, 3 * 2 * offers.len() as u64);
    let plain = text.len() + "short".len();
    assert_eq!(figures.bytes_out.text, (3 * offers.len() * plain) as u64);
    assert_eq!(figures.compressed_messages_out, 3 * 4);
    let compressed: usize = compressed_lens.iter().sum();
    assert_eq!(figures.compressed_bytes_out, compressed as u64);
}

/// Compressed messages count in both directions at both ends: their own lengths as payload
/// bytes, their compressed lengths as bytes on the wire, the same at the sender and the
/// receiver.
#[test]
fn compressed_traffic_is_counted_at_both_ends() {
    let (server, _server_events) = echo_server(preferring(PerMessageDeflate::default()));
    let (client, events) = client(preferring(PerMessageDeflate::default()));
    let id = client
        .open_outbound(&url(&server, "/"), OutboundOptions::new())
        .unwrap();
    let text = json_like(4096);
    for _ in 0..3 {
        client.send(id.as_str(), text.as_str()).unwrap();
        assert!(events.text(Trigger::OutboundMessage) == text);
    }
    let (ours, theirs) = (client.metrics(), server.metrics());
    for (figures, side) in [(&ours, "client"), (&theirs, "server")] {
        assert_eq!(figures.messages_in.text, 3, "{side}");
        assert_eq!(figures.messages_out.text, 3, "{side}");
        assert_eq!(figures.bytes_in.text, 3 * 4096, "{side}");
        assert_eq!(figures.bytes_out.text, 3 * 4096, "{side}");
        assert_eq!(figures.compressed_messages_in, 3, "{side}");
        assert_eq!(figures.compressed_messages_out, 3, "{side}");
        assert!(
            figures.compressed_bytes_out * 3 < 3 * 4096,
            "{side}: {figures:?}"
        );
    }
    assert_eq!(ours.compressed_bytes_out, theirs.compressed_bytes_in);
    assert_eq!(theirs.compressed_bytes_out, ours.compressed_bytes_in);
    client.stop().unwrap();
    server.stop().unwrap();
}
