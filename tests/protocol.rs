//! Protocol violations from a peer close its socket with the code RFC 6455 asks for, fire
//! on-socket-closed, and leave the connector and every other socket working.

mod common;

use common::*;
use std::io::Write;
use wsconnector::{close_code, Trigger};

/// Connects a raw client, sends `frames`, and returns the close code the server answered with
/// and the code on-socket-closed reported; checks that a bystander socket still works.
fn violation(frames: &[Vec<u8>]) -> (u16, u16) {
    let (server, events) = start_server(|c| c.socket.max_message_size = 1024);
    let rt = runtime();
    let mut bystander = rt.block_on(connect(&url(&server, "/bystander")));
    let bystander_id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();

    let mut tcp = raw_ws(server.local_addr().unwrap(), "/violator", &[]);
    assert_eq!(
        events.expect(Trigger::InboundConnection).socket().path(),
        "/violator"
    );
    for frame in frames {
        tcp.write_all(frame).unwrap();
    }
    let sent_code = loop {
        let (opcode, payload) = read_server_frame(&mut tcp);
        if opcode == CLOSE {
            break u16::from_be_bytes([payload[0], payload[1]]);
        }
    };
    let (socket, reported, _) = events.closed();
    assert_eq!(socket.path(), "/violator");

    server.send(bystander_id.as_str(), "still fine").unwrap();
    assert_eq!(rt.block_on(recv_text(&mut bystander)), "still fine");
    rt.block_on(send_text(&mut bystander, "me too"));
    assert_eq!(events.text(Trigger::InboundMessage), "me too");
    (sent_code, reported)
}

fn unmasked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode, payload.len() as u8];
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn reserved_opcode_is_a_protocol_error() {
    assert_eq!(violation(&[client_frame(0x3, b"?")]), (1002, 1002));
}

#[test]
fn unmasked_client_frame_is_a_protocol_error() {
    assert_eq!(violation(&[unmasked(TEXT, b"no mask")]), (1002, 1002));
}

#[test]
fn invalid_utf8_text_is_1007() {
    assert_eq!(
        violation(&[client_frame(TEXT, &[0xff, 0xfe, 0x80])]),
        (1007, 1007)
    );
}

#[test]
fn invalid_utf8_split_across_fragments_is_1007() {
    let mut first = client_frame(TEXT, &[0xe2, 0x82]); // half of "€"
    first[0] &= 0x7f; // not final
    let last = client_frame(0x0, &[0x41]); // continuation that breaks the sequence
    assert_eq!(violation(&[first, last]), (1007, 1007));
}

#[test]
fn control_frame_longer_than_125_bytes_is_a_protocol_error() {
    assert_eq!(violation(&[client_frame(PING, &[0u8; 126])]), (1002, 1002));
}

#[test]
fn fragmented_control_frame_is_a_protocol_error() {
    let mut ping = client_frame(PING, b"x");
    ping[0] &= 0x7f;
    assert_eq!(violation(&[ping]), (1002, 1002));
}

#[test]
fn continuation_without_a_start_is_a_protocol_error() {
    assert_eq!(violation(&[client_frame(0x0, b"orphan")]), (1002, 1002));
}

#[test]
fn reserved_bits_are_a_protocol_error() {
    let mut frame = client_frame(TEXT, b"rsv");
    frame[0] |= 0x40;
    assert_eq!(violation(&[frame]), (1002, 1002));
}

#[test]
fn oversize_message_across_fragments_is_1009() {
    let mut first = client_frame(BINARY, &[1u8; 700]);
    first[0] &= 0x7f;
    let last = client_frame(0x0, &[2u8; 700]);
    assert_eq!(
        violation(&[first, last]),
        (close_code::MESSAGE_TOO_BIG, close_code::MESSAGE_TOO_BIG)
    );
}

#[test]
fn a_close_frame_with_a_one_byte_payload_is_a_protocol_error() {
    let (sent, reported) = violation(&[client_frame(CLOSE, &[0x03])]);
    assert_eq!((sent, reported), (1002, 1002));
}

#[test]
fn a_close_code_that_may_not_be_sent_is_answered_with_1002() {
    let (sent, _) = violation(&[client_frame(CLOSE, &1005u16.to_be_bytes())]);
    assert_eq!(sent, 1002);
}

#[test]
fn interleaved_ping_inside_a_fragmented_message_is_fine() {
    let (server, events) = start_server(|_| {});
    let mut first = client_frame(TEXT, b"hel");
    first[0] &= 0x7f;
    let frames = [first, client_frame(PING, b"p"), client_frame(0x0, b"lo")];
    let mut tcp = raw_ws(server.local_addr().unwrap(), "/", &frames);
    events.expect(Trigger::InboundConnection);
    assert_eq!(read_server_frame(&mut tcp), (PONG, b"p".to_vec()));
    assert_eq!(events.text(Trigger::InboundMessage), "hello");
}
