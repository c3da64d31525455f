//! Outbound sockets against an independent server (tokio-tungstenite's own) and raw TCP
//! servers that answer with HTTP errors or nothing at all.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{
    self,
    handshake::server::{Request, Response},
};
use wsconnector::{
    Config, Connector, ErrorKind, HandshakeResponse, HandshakeStatus, OutboundOptions, SocketType,
    Trigger,
};

/// What the independent server saw of a handshake.
#[derive(Debug)]
struct Seen {
    uri: String,
    headers: Vec<(String, String)>,
}

/// An echo server made with tokio-tungstenite: reports each handshake, echoes every message,
/// answers `close-me` by closing with 4000, picks `proto.b` when offered.
fn independent_echo_server(
    rt: &tokio::runtime::Runtime,
) -> (std::net::SocketAddr, mpsc::Receiver<Seen>) {
    let (tx, rx) = mpsc::channel();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                #[allow(clippy::result_large_err)] // the error type is tungstenite's
                let callback = |request: &Request, mut response: Response| {
                    let headers = request
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    let offered = request
                        .headers()
                        .get("sec-websocket-protocol")
                        .map(|v| v.to_str().unwrap().to_owned());
                    if offered.is_some_and(|o| o.contains("proto.b")) {
                        response
                            .headers_mut()
                            .insert("sec-websocket-protocol", "proto.b".parse().unwrap());
                    }
                    let _ = tx.send(Seen {
                        uri: request.uri().to_string(),
                        headers,
                    });
                    Ok(response)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_text() && message.to_text().ok() == Some("close-me") {
                        let frame = tungstenite::protocol::CloseFrame {
                            code: 4000u16.into(),
                            reason: "as asked".into(),
                        };
                        let _ = ws.close(Some(frame)).await;
                    } else if (message.is_text() || message.is_binary())
                        && ws.send(message).await.is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    (addr, rx)
}

fn client_connector(configure: impl FnOnce(&mut Config)) -> (Connector, Events) {
    let mut config = Config::default();
    configure(&mut config);
    start_builder(Connector::builder(config))
}

#[test]
fn outbound_socket_sends_receives_and_carries_its_attributes() {
    let rt = runtime();
    let (addr, seen) = independent_echo_server(&rt);
    let (client, events) = client_connector(|c| {
        c.client
            .default_headers
            .push(("X-Default".into(), "d".into()));
        // Replaced by the open's header of the same name, whatever its case.
        c.client
            .default_headers
            .push(("AUTHORIZATION".into(), "Bearer default".into()));
        c.client.default_query.push(("app".into(), "wsc".into()));
    });
    let options = OutboundOptions::new()
        .header("Authorization", "Bearer t")
        .query("symbol", "A&B")
        .subprotocol("proto.a")
        .subprotocol("proto.b")
        .group("feeds")
        .socket_id("quotes");
    let id = client
        .open_outbound(&format!("ws://{addr}/stream?x=1"), options)
        .unwrap();
    assert_eq!(id.as_str(), "quotes");

    let handshake = seen.recv_timeout(WAIT).unwrap();
    assert_eq!(handshake.uri, "/stream?x=1&app=wsc&symbol=A%26B");
    let header = |name: &str| {
        handshake
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("x-default").as_deref(), Some("d"));
    assert_eq!(header("authorization").as_deref(), Some("Bearer t"));
    let authorizations = handshake
        .headers
        .iter()
        .filter(|(k, _)| k == "authorization")
        .count();
    assert_eq!(authorizations, 1, "{:?}", handshake.headers);

    let socket = client.socket("quotes").unwrap();
    assert_eq!(socket.socket_type(), SocketType::Outbound);
    assert_eq!(socket.path(), "/stream");
    assert_eq!(
        socket.uri(),
        format!("ws://{addr}/stream?x=1&app=wsc&symbol=A%26B")
    );
    assert_eq!(socket.query_param("symbol"), Some("A&B"));
    assert_eq!(socket.subprotocol(), Some("proto.b"));
    assert_eq!(socket.groups(), ["feeds"]);
    assert_eq!(socket.remote_addr(), addr);
    assert_eq!(socket.header("authorization"), Some("Bearer t"));

    client.send("quotes", "hello").unwrap();
    client
        .send("quotes", wsconnector::Message::binary(vec![1u8, 2]))
        .unwrap();
    assert_eq!(events.text(Trigger::OutboundMessage), "hello");
    assert_eq!(events.bytes(Trigger::OutboundMessage), [1, 2]);

    client.send("quotes", "close-me").unwrap();
    let (closed, code, reason) = events.closed();
    assert_eq!(
        (closed.id().as_str(), code, reason.as_str()),
        ("quotes", 4000, "as asked")
    );
    assert_eq!(
        client.send("quotes", "gone").unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );
}

#[test]
fn caller_chosen_ids_must_be_valid_and_unique() {
    let rt = runtime();
    let (addr, _seen) = independent_echo_server(&rt);
    let (client, _events) = client_connector(|_| {});
    let url = format!("ws://{addr}/");
    for blank in ["", "  ", "\n"] {
        let e = client
            .open_outbound(&url, OutboundOptions::new().socket_id(blank))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSocketId, "{blank:?}");
    }
    client
        .open_outbound(&url, OutboundOptions::new().socket_id("feed-1"))
        .unwrap();
    let e = client
        .open_outbound(&url, OutboundOptions::new().socket_id("feed-1"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NonUniqueSocketId);
    assert_eq!(client.socket_count(), 1);
    let generated = client.open_outbound(&url, OutboundOptions::new()).unwrap();
    assert_eq!(generated.as_str().len(), 36);
}

/// A server that answers every request with `status` (or, with `None`, accepts TCP and
/// never answers).
fn http_server(status: Option<u16>) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut tcp in listener.incoming().flatten() {
            match status {
                Some(status) => {
                    let mut buf = [0u8; 4096];
                    let _ = tcp.read(&mut buf);
                    // Longer than the part an error keeps.
                    let body = format!("status {status} {}", "x".repeat(2000));
                    let response = format!(
                        "HTTP/1.1 {status} X\r\nRetry-After: 7\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    // One write, so that head and body arrive together.
                    let _ = tcp.write_all(response.as_bytes());
                }
                None => held.push(tcp),
            }
        }
    });
    addr
}

#[test]
fn failed_connects_name_their_cause() {
    let (client, _events) =
        client_connector(|c| c.client.connect_timeout = Some(Duration::from_secs(3)));
    for (status, named) in [
        (401u16, HandshakeStatus::Unauthorized),
        (403, HandshakeStatus::Forbidden),
        (404, HandshakeStatus::NotFound),
        (500, HandshakeStatus::InternalServerError),
        (503, HandshakeStatus::ServiceUnavailable),
        (418, HandshakeStatus::ClientError),
        (502, HandshakeStatus::ServerError),
    ] {
        let addr = http_server(Some(status));
        let e = client
            .open_outbound(&format!("ws://{addr}/"), OutboundOptions::new())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Handshake, "{e}");
        assert_eq!(e.http_status(), Some(status), "{e}");
        assert_eq!(e.handshake_status(), Some(named), "{e}");
        assert!(
            e.message().contains(&format!("status {status}")),
            "the body is in the message: {e}"
        );
        let response = e.handshake_response().expect("the refusal's response");
        assert_eq!(response.body.len(), HandshakeResponse::MAX_BODY);
        assert!(response
            .body
            .starts_with(format!("status {status} x").as_bytes()));
        assert!(response
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("retry-after") && v == "7"));
    }

    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = client
        .open_outbound(&format!("ws://{free_port}/"), OutboundOptions::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connectivity, "{e}");
    assert!(e.message().contains("refused"), "{e}");

    let e = client
        .open_outbound("ws://no-such-host.invalid/", OutboundOptions::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Dns, "{e}");

    let silent = http_server(None);
    let options = OutboundOptions::new().connect_timeout(Duration::from_millis(200));
    let e = client
        .open_outbound(&format!("ws://{silent}/"), options)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    for timeout in [Duration::ZERO, wsconnector::MAX_DURATION * 2] {
        let options = OutboundOptions::new().connect_timeout(timeout);
        let e = client
            .open_outbound(&format!("ws://{silent}/"), options)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.message().contains("connect_timeout"), "{e}");
    }

    for bad in ["http://x/", "not a url", "ws://", "ws:///path"] {
        let e = client
            .open_outbound(bad, OutboundOptions::new())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}: {e}");
    }
    let e = client
        .open_outbound(
            &format!("ws://{silent}/"),
            OutboundOptions::new().header("Bad Name", "v"),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        client.socket_count(),
        0,
        "no failed connect left a socket behind"
    );
}

#[test]
fn outbound_to_own_listener_routes_messages_both_ways() {
    let (server, server_events) = start_server(|_| {});
    let (client, client_events) = client_connector(|_| {});
    let id = client
        .open_outbound(
            &url(&server, "/loop"),
            OutboundOptions::new().socket_id("up"),
        )
        .unwrap();
    let inbound = server_events
        .expect(Trigger::InboundConnection)
        .socket()
        .clone();
    assert_eq!(inbound.path(), "/loop");
    client.send(id.as_str(), "ping?").unwrap();
    assert_eq!(server_events.text(Trigger::InboundMessage), "ping?");
    server.send(inbound.id().as_str(), "pong!").unwrap();
    assert_eq!(client_events.text(Trigger::OutboundMessage), "pong!");
    client.close("up", 1000, "done").unwrap();
    let (_, code, reason) = server_events.closed();
    assert_eq!((code, reason.as_str()), (1000, "done"));
    let (_, code, reason) = client_events.closed();
    assert_eq!((code, reason.as_str()), (1000, "done"));
}

#[test]
fn async_open_works_from_another_runtime_and_can_be_abandoned() {
    let (server, _server_events) = start_server(|_| {});
    let (client, _events) = client_connector(|_| {});
    let rt = runtime();
    let handle = client.handle();
    let id = rt
        .block_on(handle.open_outbound_async(&url(&server, "/async"), OutboundOptions::new()))
        .unwrap();
    assert!(client.socket(id.as_str()).is_ok());

    let silent = http_server(None);
    let abandoned = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(100),
            handle.open_outbound_async(&format!("ws://{silent}/"), OutboundOptions::new()),
        )
        .await
    });
    assert!(
        abandoned.is_err(),
        "the connect was still pending and got dropped"
    );
    assert_eq!(client.socket_count(), 1);
}

#[test]
fn outbound_sockets_have_no_idle_timeout_by_default_but_honour_one() {
    let (server, server_events) =
        start_server(|c| c.listener.as_mut().unwrap().idle_timeout = None);
    let (client, events) = client_connector(|c| {
        c.client.idle_timeout = Some(Duration::from_millis(200));
        c.socket.ping_interval = None;
    });
    client
        .open_outbound(&url(&server, "/"), OutboundOptions::new())
        .unwrap();
    server_events.expect(Trigger::InboundConnection);
    let (socket, code, reason) = events.closed();
    assert_eq!(socket.socket_type(), SocketType::Outbound);
    assert_eq!((code, reason.as_str()), (1001, "idle timeout"));
}

#[test]
fn sends_after_the_peer_closed_are_remotely_closed_errors() {
    // A raw server: it upgrades, waits for one message, sends a close frame, reads our close
    // reply, reports it, and then holds the TCP connection open, so the socket lingers in its
    // closing handshake.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (replied_tx, replied_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut tcp = raw_ws_accept(&listener);
        assert_eq!(read_client_frame(&mut tcp), (1, b"first".to_vec()));
        tcp.write_all(&[0x88, 0x02, 0x0f, 0xa0]).unwrap(); // close 4000
        assert_eq!(read_client_frame(&mut tcp).0, 8, "the close reply");
        replied_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(WAIT);
    });
    let (client, events) = client_connector(|c| c.socket.close_timeout = Duration::from_secs(5));
    let id = client
        .open_outbound(&format!("ws://{addr}/"), OutboundOptions::new())
        .unwrap();
    client.send(id.as_str(), "first").unwrap();
    replied_rx.recv_timeout(WAIT).unwrap();
    let error = client.send(id.as_str(), "anyone?").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RemotelyClosed, "{error}");
    release_tx.send(()).unwrap();
    let (_, code, _) = events.closed();
    assert_eq!(code, 4000);
}
