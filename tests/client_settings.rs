//! The client settings on a par with Mule's, against independent peers: a client base with
//! URI parameters, redirects on the handshake (tokio-tungstenite behind a raw HTTP
//! redirector), an HTTP CONNECT proxy written here, basic authentication checked by a
//! tokio-tungstenite server, the outbound connection limit, and which roots wss:// trusts.

mod common;

use common::*;
use futures_util::StreamExt;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use wsconnector::{
    ClientScheme, Config, Connector, ErrorKind, OutboundOptions, Pem, Reconnect, ServerTls,
    Trigger, TrustedRoots,
};

/// A WebSocket server (tokio-tungstenite) that records each handshake's target and
/// `Authorization`, refuses with 401 any handshake whose `Authorization` is not `want_auth`
/// (when given), and echoes.
fn ws_server(
    rt: &tokio::runtime::Runtime,
    want_auth: Option<&'static str>,
) -> (SocketAddr, mpsc::Receiver<(String, Option<String>)>) {
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
                let check = |request: &Request, response: Response| {
                    let auth = request
                        .headers()
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned());
                    let _ = tx.send((request.uri().to_string(), auth.clone()));
                    match want_auth {
                        Some(want) if auth.as_deref() != Some(want) => {
                            let mut refusal = ErrorResponse::new(Some("who are you?".into()));
                            *refusal.status_mut() = 401.try_into().unwrap();
                            Err(refusal)
                        }
                        _ => Ok(response),
                    }
                };
                if let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, check).await {
                    while let Some(Ok(message)) = ws.next().await {
                        if message.is_text() {
                            use futures_util::SinkExt;
                            let _ = ws.send(message).await;
                        }
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// A plain HTTP server that answers every request with `status` and `Location: location(n)`
/// (n counts the requests from 0), and reports each request head.
fn redirector(
    status: u16,
    location: impl Fn(usize) -> String + Send + 'static,
) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (n, tcp) in listener.incoming().enumerate() {
            let Ok(mut tcp) = tcp else { return };
            let head = read_head(&mut tcp);
            let _ = tx.send(head);
            let response = format!(
                "HTTP/1.1 {status} Moved\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
                location(n)
            );
            let _ = tcp.write_all(response.as_bytes());
        }
    });
    (addr, rx)
}

fn read_head(tcp: &mut std::net::TcpStream) -> String {
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && tcp.read(&mut byte).unwrap_or(0) == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// An HTTP CONNECT proxy: reports each request head, answers 407 unless it carries
/// `Proxy-Authorization: want_auth` (when given), then tunnels to the requested address.
fn connect_proxy(
    rt: &tokio::runtime::Runtime,
    want_auth: Option<&'static str>,
) -> (SocketAddr, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let _ = tx.send(head.clone());
                let authorized = want_auth.is_none_or(|want| {
                    head.lines()
                        .any(|l| l.eq_ignore_ascii_case(&format!("proxy-authorization: {want}")))
                });
                if !authorized {
                    let _ = client
                        .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                }
                let target = head.split_whitespace().nth(1).unwrap().to_owned();
                let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else {
                    let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, rx)
}

fn client(configure: impl FnOnce(&mut Config)) -> (Connector, Events) {
    let mut config = Config::default();
    configure(&mut config);
    start_builder(Connector::builder(config))
}

/// `Basic base64(user:password)`.
fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

#[test]
fn an_open_may_give_a_path_on_the_client_base_with_uri_parameters() {
    let rt = runtime();
    let (addr, seen) = ws_server(&rt, None);
    let (conn, events) = client(|c| {
        c.client.scheme = ClientScheme::Ws;
        c.client.host = "127.0.0.1".into();
        c.client.port = Some(addr.port().into());
        c.client.base_path = "/api".into();
    });
    let id = conn
        .open_outbound(
            "/quotes/{symbol}/live",
            OutboundOptions::new().uri_param("symbol", "BRK B"),
        )
        .unwrap();
    assert_eq!(
        seen.recv_timeout(WAIT).unwrap().0,
        "/api/quotes/BRK%20B/live"
    );
    let socket = conn.socket(id.as_str()).unwrap();
    assert_eq!(socket.path(), "/api/quotes/BRK%20B/live");
    conn.send(id.as_str(), "hi").unwrap();
    assert_eq!(events.text(Trigger::OutboundMessage), "hi");
    // A full URL still works, and goes where it says.
    conn.open_outbound(&format!("ws://{addr}/full"), OutboundOptions::new())
        .unwrap();
    assert_eq!(seen.recv_timeout(WAIT).unwrap().0, "/full");
    let e = conn
        .open_outbound("/quotes/{symbol}", OutboundOptions::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("{symbol}"), "{e}");
    conn.stop().unwrap();

    let (no_base, _) = client(|_| {});
    let e = no_base
        .open_outbound("/quotes", OutboundOptions::new())
        .unwrap_err();
    assert!(e.message().contains("client_host"), "{e}");
}

#[test]
fn redirects_are_followed_within_bounds_and_never_from_wss_to_ws() {
    let rt = runtime();
    let (target, seen) = ws_server(&rt, None);
    for status in [301, 302, 307, 308] {
        let (redirect, asked) = redirector(status, move |_| format!("ws://{target}/moved"));
        let (conn, events) = client(|_| {});
        let id = conn
            .open_outbound(
                &format!("ws://{redirect}/old"),
                OutboundOptions::new().header("Authorization", "Bearer t"),
            )
            .unwrap_or_else(|e| panic!("{status}: {e}"));
        assert!(asked.recv_timeout(WAIT).unwrap().starts_with("GET /old "));
        assert_eq!(
            seen.recv_timeout(WAIT).unwrap(),
            ("/moved".to_owned(), None),
            "{status}: credentials stay with the origin the open named"
        );
        let socket = conn.socket(id.as_str()).unwrap();
        assert_eq!(socket.uri(), format!("ws://{target}/moved"));
        conn.send(id.as_str(), "after a redirect").unwrap();
        assert_eq!(events.text(Trigger::OutboundMessage), "after a redirect");
    }
    let open = target;
    // At most max_redirects: here one (relative locations, resolved against the last).
    let (relative, _) = redirector(307, |n| {
        if n == 0 {
            "/second".to_owned()
        } else {
            "third".to_owned()
        }
    });
    let (bounded, _) = client(|c| c.client.max_redirects = 1);
    let (unfollowed, _) = client(|c| c.client.follow_redirects = false);
    let (to_open, _) = redirector(302, move |_| format!("ws://{open}/"));
    for (conn, from, status, says) in [
        (&bounded, relative, 307, "more than 1 redirects"),
        (&unfollowed, to_open, 302, "follow_redirects is off"),
    ] {
        let e = conn
            .open_outbound(&format!("ws://{from}/first"), OutboundOptions::new())
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.http_status()),
            (ErrorKind::Handshake, Some(status))
        );
        assert!(e.message().contains(says), "{e}");
    }

    // Never from wss:// to ws://.
    let pki = TestPki::new(&["localhost"]);
    let tls_redirect = tls_redirector(&rt, &pki, format!("ws://{open}/plain"));
    let (conn, _) = client(|c| c.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone())));
    let e = conn
        .open_outbound(
            &format!("wss://localhost:{}/", tls_redirect.port()),
            OutboundOptions::new(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(e.message().contains("wss:// to ws://"), "{e}");
}

/// A TLS server (tokio-rustls) that answers every request with a 301 to `location`.
fn tls_redirector(rt: &tokio::runtime::Runtime, pki: &TestPki, location: String) -> SocketAddr {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pki.cert_pem.as_bytes())
        .map(Result::unwrap)
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let mut buf = vec![0u8; 4096];
            let _ = tls.read(&mut buf).await;
            let response =
                format!("HTTP/1.1 301 Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
            let _ = tls.write_all(response.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    });
    addr
}

#[test]
fn a_connect_proxy_carries_ws_and_wss_with_its_credentials_except_for_no_proxy_hosts() {
    let rt = runtime();
    let (target, seen) = ws_server(&rt, None);
    let (proxy, asked) = connect_proxy(&rt, Some("Basic dXNlcjpwdw=="));
    let (conn, events) = client(|c| {
        c.client.proxy = format!("http://{proxy}");
        c.client.proxy_username = "user".into();
        c.client.proxy_password = "pw".into();
        c.client.no_proxy = vec!["localhost".into()];
    });
    let id = conn
        .open_outbound(&format!("ws://{target}/through"), OutboundOptions::new())
        .unwrap();
    let head = asked.recv_timeout(WAIT).unwrap();
    assert!(
        head.starts_with(&format!("CONNECT {target} HTTP/1.1\r\n")),
        "{head}"
    );
    assert_eq!(seen.recv_timeout(WAIT).unwrap().0, "/through");
    let socket = conn.socket(id.as_str()).unwrap();
    assert_eq!(socket.remote_addr(), proxy, "the connection is the proxy's");
    conn.send(id.as_str(), "tunnelled").unwrap();
    assert_eq!(events.text(Trigger::OutboundMessage), "tunnelled");

    // wss:// through the same proxy: TLS runs end to end inside the tunnel.
    let pki = TestPki::new(&["127.0.0.1"]);
    let (tls_server, tls_events) = start_server(|c| {
        c.listener.as_mut().unwrap().tls = Some(ServerTls::new(
            Pem::Inline(pki.cert_pem.clone()),
            Pem::Inline(pki.key_pem.clone()),
        ))
    });
    let (secure, _) = client(|c| {
        c.client.proxy = format!("http://user:pw@{proxy}");
        c.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone()));
    });
    secure
        .open_outbound(
            &format!("wss://{}/secure", tls_server.local_addr().unwrap()),
            OutboundOptions::new(),
        )
        .unwrap();
    assert!(asked
        .recv_timeout(WAIT)
        .unwrap()
        .starts_with("CONNECT 127.0.0.1:"));
    assert_eq!(
        tls_events
            .expect(Trigger::InboundConnection)
            .socket()
            .path(),
        "/secure"
    );

    // A host on the no_proxy list is reached directly.
    conn.open_outbound(
        &format!("ws://localhost:{}/direct", target.port()),
        OutboundOptions::new(),
    )
    .unwrap();
    assert_eq!(seen.recv_timeout(WAIT).unwrap().0, "/direct");
    assert!(asked.try_recv().is_err(), "the proxy saw nothing");

    // Wrong credentials: the proxy's 407 names itself.
    let (refused, _) = client(|c| c.client.proxy = format!("http://user:wrong@{proxy}"));
    let e = refused
        .open_outbound(&format!("ws://{target}/"), OutboundOptions::new())
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::Connectivity, Some(407))
    );
    assert!(e.message().contains("proxy"), "{e}");
}

#[test]
fn basic_authentication_goes_with_the_handshake_and_a_refusal_has_its_own_kind() {
    let rt = runtime();
    let (addr, seen) = ws_server(&rt, Some("Basic YWxpY2U6czNjcjN0"));
    let (conn, events) = client(|c| {
        c.client.basic_auth_username = "alice".into();
        c.client.basic_auth_password = "s3cr3t".into();
    });
    let id = conn
        .open_outbound(&format!("ws://{addr}/private"), OutboundOptions::new())
        .unwrap();
    assert_eq!(
        seen.recv_timeout(WAIT).unwrap().1.as_deref(),
        Some(basic("alice", "s3cr3t").as_str())
    );
    conn.send(id.as_str(), "in").unwrap();
    assert_eq!(events.text(Trigger::OutboundMessage), "in");

    let (wrong, _) = client(|c| {
        c.client.basic_auth_username = "alice".into();
        c.client.basic_auth_password = "guess".into();
    });
    let e = wrong
        .open_outbound(&format!("ws://{addr}/private"), OutboundOptions::new())
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::BasicAuthentication, Some(401))
    );
    assert!(e.message().contains("alice"), "{e}");
    // Without credentials of the settings, a 401 stays a handshake refusal.
    let (anonymous, _) = client(|_| {});
    let e = anonymous
        .open_outbound(&format!("ws://{addr}/private"), OutboundOptions::new())
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::Handshake, Some(401))
    );
}

#[test]
fn max_outbound_connections_caps_outbound_sockets() {
    let rt = runtime();
    let (addr, _seen) = ws_server(&rt, None);
    let (conn, events) = client(|c| c.client.max_outbound_connections = Some(2));
    let url = format!("ws://{addr}/");
    let first = conn.open_outbound(&url, OutboundOptions::new()).unwrap();
    conn.open_outbound(&url, OutboundOptions::new().reconnect(Reconnect::new()))
        .unwrap();
    let e = conn
        .open_outbound(&url, OutboundOptions::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert!(e.message().contains("max_outbound_connections"), "{e}");
    conn.close(first.as_str(), 1000, "make room").unwrap();
    events.closed();
    conn.open_outbound(&url, OutboundOptions::new()).unwrap();
}

#[test]
fn extra_ca_only_trusts_the_private_ca_and_the_bundled_roots_do_not() {
    let pki = TestPki::new(&["localhost"]);
    let (server, _) = start_server(|c| {
        c.listener.as_mut().unwrap().tls = Some(ServerTls::new(
            Pem::Inline(pki.cert_pem.clone()),
            Pem::Inline(pki.key_pem.clone()),
        ))
    });
    let url = format!("wss://localhost:{}/", server.local_addr().unwrap().port());
    let (private, _) = client(|c| {
        c.client.trusted_roots = TrustedRoots::ExtraCaOnly;
        c.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone()));
    });
    private.open_outbound(&url, OutboundOptions::new()).unwrap();
    let (public, _) = client(|c| c.client.trusted_roots = TrustedRoots::Bundled);
    let e = public
        .open_outbound(&url, OutboundOptions::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls);
    let e = Connector::builder({
        let mut config = Config::default();
        config.client.trusted_roots = TrustedRoots::ExtraCaOnly;
        config
    })
    .start()
    .err()
    .unwrap();
    assert!(e.message().contains("extra_ca"), "{e}");
}
