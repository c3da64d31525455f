//! Payloads of every size class go out and come in intact and in order, mixed small and
//! large, sent one by one and broadcast, on both socket types, over ws and wss.

mod common;

use common::*;
use wsconnector::{
    Config, Connector, Message, OutboundOptions, Pem, ServerTls, SocketFilter, Trigger,
};

/// Sizes around every framing and buffering boundary, mixed.
const SIZES: [usize; 14] = [
    0, 1, 125, 126, 127, 1023, 1024, 1025, 4096, 65535, 65536, 65537, 300_000, 7,
];

fn payload(size: usize, seed: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 + seed) as u8).collect()
}

/// One server and one client-side connector; the client opens an outbound socket to the
/// server, and both exchange every size, text and binary, send and broadcast.
fn exchange(tls: bool) {
    let pki = TestPki::new(&["localhost"]);
    let (server, server_events) = start_server(|c| {
        c.socket.max_message_size = 1 << 20;
        if tls {
            c.listener.as_mut().unwrap().tls = Some(ServerTls::new(
                Pem::Inline(pki.cert_pem.clone()),
                Pem::Inline(pki.key_pem.clone()),
            ));
        }
    });
    let mut client_config = Config::default();
    client_config.socket.max_message_size = 1 << 20;
    client_config.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone()));
    let (client, client_events) = start_builder(Connector::builder(client_config));
    let scheme = if tls { "wss" } else { "ws" };
    let url = format!(
        "{scheme}://localhost:{}/p",
        server.local_addr().unwrap().port()
    );
    let out_id = client.open_outbound(&url, OutboundOptions::new()).unwrap();
    let in_id = server_events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();

    let messages: Vec<Message> = SIZES
        .iter()
        .enumerate()
        .flat_map(|(i, &size)| {
            let text = Message::text("é".repeat(size / 2) + if size % 2 == 1 { "x" } else { "" });
            [text, Message::binary(payload(size, i))]
        })
        .collect();

    // Outbound (client frames, masked) to inbound.
    for m in &messages {
        client.send(out_id.as_str(), m.clone()).unwrap();
    }
    for m in &messages {
        let got = server_events.expect(Trigger::InboundMessage);
        assert_eq!(
            got.message().unwrap(),
            m,
            "client to server, {} bytes",
            m.len()
        );
    }
    // Inbound (server frames, large payloads written in place) to outbound, one by one and
    // by broadcast (one shared frame), interleaved.
    for (i, m) in messages.iter().enumerate() {
        if i % 2 == 0 {
            server.send(in_id.as_str(), m.clone()).unwrap();
        } else {
            let result = server.broadcast(m.clone(), &SocketFilter::all()).unwrap();
            assert_eq!(result.delivered, 1);
        }
    }
    for m in &messages {
        let got = client_events.expect(Trigger::OutboundMessage);
        assert_eq!(
            got.message().unwrap(),
            m,
            "server to client, {} bytes",
            m.len()
        );
    }
}

#[test]
fn every_size_over_ws() {
    exchange(false);
}

#[test]
fn every_size_over_wss() {
    exchange(true);
}

#[test]
fn fragmented_messages_from_an_independent_client_are_reassembled() {
    let (server, events) = start_server(|c| c.socket.max_message_size = 1 << 20);
    let big = payload(200_000, 3);
    let mut frames = Vec::new();
    for (i, piece) in big.chunks(30_000).enumerate() {
        let mut frame = client_frame(if i == 0 { BINARY } else { 0 }, piece);
        if (i + 1) * 30_000 < big.len() {
            frame[0] &= 0x7f;
        }
        frames.push(frame);
    }
    let _tcp = raw_ws(server.local_addr().unwrap(), "/", &frames);
    events.expect(Trigger::InboundConnection);
    assert_eq!(events.bytes(Trigger::InboundMessage), big);
}

#[test]
fn every_size_with_an_independent_client() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite;
    let (server, events) = start_server(|c| c.socket.max_message_size = 1 << 20);
    let rt = runtime();
    let mut ws = rt.block_on(connect(&url(&server, "/")));
    let id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();
    for (i, &size) in SIZES.iter().enumerate() {
        let data = payload(size, i);
        rt.block_on(ws.send(tungstenite::Message::binary(data.clone())))
            .unwrap();
        let got = events.expect(Trigger::InboundMessage);
        assert_eq!(
            got.message().unwrap().as_bytes(),
            &data[..],
            "{size} bytes in"
        );
        if i % 2 == 0 {
            server
                .send(id.as_str(), got.message().unwrap().clone())
                .unwrap();
        } else {
            server
                .broadcast(got.message().unwrap().clone(), &SocketFilter::all())
                .unwrap();
        }
        let back = rt.block_on(ws.next()).unwrap().unwrap();
        assert_eq!(back.into_data().as_ref(), &data[..], "{size} bytes out");
    }
}
