//! A slow, stalled or hostile peer: liveness under an application's backpressure, text that
//! breaks UTF-8 part-way through a message, and the per-socket message rate limit.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::io::Write;
use std::sync::{mpsc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite;
use wsconnector::{
    close_code, Config, Connector, ConnectorHandle, Event, MessageRateLimit, MessageRatePolicy,
    Trigger,
};

#[test]
fn a_stalled_application_does_not_get_healthy_peers_dropped_as_unresponsive() {
    // Pings every second and a second to answer; room for one event: while the application
    // is stalled, the server reads nothing, so the client's pongs wait unread.
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.socket.ping_interval = Some(Duration::from_secs(1));
    config.socket.pong_timeout = Duration::from_secs(1);
    config.event_queue_capacity = 1;
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
    let events = Events(rx);
    let rt = runtime();
    let client = rt.block_on(connect(&url(&server, "/healthy")));
    events.expect(Trigger::InboundConnection);
    // The client reads all along (answering pings) and sends 100 messages at once.
    let (mut sink, mut stream) = client.split();
    let (closed_tx, closed) = mpsc::channel();
    rt.spawn(async move {
        while let Some(Ok(frame)) = stream.next().await {
            if let tungstenite::Message::Close(close) = frame {
                let _ = closed_tx.send(close);
            }
        }
    });
    let count = 100;
    rt.block_on(async {
        for i in 0..count {
            sink.send(tungstenite::Message::text(i.to_string()))
                .await
                .unwrap();
        }
    });
    // The application stalls for three pong timeouts and more, then catches up.
    std::thread::sleep(Duration::from_secs(4));
    drop(gate_tx);
    for i in 0..count {
        assert_eq!(events.text(Trigger::InboundMessage), i.to_string());
    }
    assert!(closed.try_recv().is_err(), "the server closed the client");
    assert!(server.socket_count() == 1);
}

/// A raw client sends `bytes` and expects the server to close with 1007 right away, though
/// the message is not complete.
fn expect_invalid_payload_close(bytes: &[u8]) {
    let (server, events) = start_server(|c| c.socket.ping_interval = None);
    let mut tcp = raw_ws(server.local_addr().unwrap(), "/utf8", &[]);
    events.expect(Trigger::InboundConnection);
    tcp.write_all(bytes).unwrap();
    let (opcode, payload) = read_server_frame(&mut tcp);
    assert_eq!(opcode, CLOSE);
    assert_eq!(
        u16::from_be_bytes([payload[0], payload[1]]),
        close_code::INVALID_PAYLOAD
    );
    let (_, code, _) = events.closed();
    assert_eq!(code, close_code::INVALID_PAYLOAD);
}

/// A masked frame header for a payload of `len` bytes, with the test mask.
fn client_header(first: u8, len: usize) -> Vec<u8> {
    let frame = client_frame(0, &vec![0u8; len]);
    let mut header = frame[..frame.len() - len].to_vec();
    header[0] = first;
    header
}

#[test]
fn invalid_utf8_in_a_first_fragment_fails_at_once() {
    // A text fragment (FIN=0) of 0xFF: no further fragment is needed to know.
    let mut frame = client_frame(TEXT, &[0xff]);
    frame[0] = TEXT; // FIN cleared
    expect_invalid_payload_close(&frame);
}

#[test]
fn invalid_utf8_in_a_continuation_fails_at_once() {
    // 6.4.2's shape: valid text, then a fragment that makes the sequence impossible (0xF4
    // may only be followed by 0x80-0x8F).
    let mut first = client_frame(TEXT, "κόσμε".as_bytes());
    first[0] = TEXT;
    first.extend_from_slice(&{
        let mut next = client_frame(0, &[0xf4]);
        next[0] = 0;
        next
    });
    first.extend_from_slice(&{
        let mut next = client_frame(0, &[0x90]);
        next[0] = 0;
        next
    });
    expect_invalid_payload_close(&first);
}

#[test]
fn invalid_utf8_part_way_through_a_frame_fails_before_the_frame_is_complete() {
    // 6.4.3's shape: one text frame of 100 bytes, of which only the first 10 arrive, and they
    // already hold an impossible sequence.
    let mut bytes = client_header(0x81, 100);
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let part = [b'a', b'b', 0xf4, 0x90, 0x80, 0x80, b'c', b'd', b'e', b'f'];
    bytes.extend(part.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    expect_invalid_payload_close(&bytes);
}

#[test]
fn text_split_inside_a_character_across_fragments_is_accepted() {
    let (server, events) = start_server(|c| c.socket.ping_interval = None);
    let text = "é€𝄞";
    let bytes = text.as_bytes();
    // One byte per fragment: every character is cut.
    let mut frames = Vec::new();
    for (i, byte) in bytes.iter().enumerate() {
        let mut frame = client_frame(if i == 0 { TEXT } else { 0 }, &[*byte]);
        if i + 1 < bytes.len() {
            frame[0] &= 0x7f;
        }
        frames.push(frame);
    }
    let _tcp = raw_ws(server.local_addr().unwrap(), "/utf8", &frames);
    events.expect(Trigger::InboundConnection);
    assert_eq!(events.text(Trigger::InboundMessage), text);
}

#[test]
fn text_ending_inside_a_character_is_invalid() {
    let mut first = client_frame(TEXT, &[b'a', 0xe2]);
    first[0] = TEXT;
    first.extend_from_slice(&client_frame(0, &[0x82])); // final fragment, still one byte short
    expect_invalid_payload_close(&first);
}

/// A peer sends five messages at once against a burst of three (then one a second), then
/// closes; returns the texts delivered and the close code reported.
fn five_messages_against_a_burst_of_three(policy: MessageRatePolicy) -> (Vec<String>, u16) {
    let (server, events) = start_server(|c| {
        c.socket.message_rate_limit = Some(MessageRateLimit {
            per_second: 1,
            burst: 3,
        });
        c.socket.message_rate_policy = policy;
    });
    let mut frames: Vec<Vec<u8>> = (0..5)
        .map(|i| client_frame(TEXT, i.to_string().as_bytes()))
        .collect();
    frames.push(client_frame(CLOSE, &1000u16.to_be_bytes()));
    let _tcp = raw_ws(server.local_addr().unwrap(), "/rate", &frames);
    events.expect(Trigger::InboundConnection);
    let mut texts = Vec::new();
    loop {
        match events.next() {
            Event::InboundMessage { message, .. } => {
                texts.push(message.as_text().unwrap().to_owned())
            }
            Event::SocketClosed { code, .. } => return (texts, code),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn past_the_message_rate_limit_the_socket_is_closed_with_1008() {
    let (texts, code) = five_messages_against_a_burst_of_three(MessageRatePolicy::Close);
    assert_eq!(texts, ["0", "1", "2"]);
    assert_eq!(code, close_code::POLICY_VIOLATION);
}

#[test]
fn past_the_message_rate_limit_messages_are_dropped_under_the_drop_policy() {
    let (texts, code) = five_messages_against_a_burst_of_three(MessageRatePolicy::Drop);
    assert_eq!(texts, ["0", "1", "2"]);
    assert_eq!(
        code,
        close_code::NORMAL,
        "the socket stayed open until the peer closed"
    );
}
