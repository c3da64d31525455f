//! Graceful drain: new handshakes get 503 with Retry-After while the matching sockets close in
//! batches with the configured code; the health and metrics endpoints on the listener.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;
use wsconnector::{
    Config, Connector, DrainOptions, DrainProgress, ErrorKind, InboundPath, RefusalReason,
    SocketFilter, Trigger,
};

/// A plain HTTP request; the whole answer: (status, head, body).
fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    write!(tcp, "{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

/// N sockets, batches of B: ceil(N/B) batches, each socket closed with the drain's code and
/// reason, while a new handshake gets 503 with Retry-After and the health path says 503.
#[test]
fn a_drain_closes_its_sockets_in_batches_and_refuses_new_ones() {
    const N: usize = 7;
    const BATCH: usize = 3;
    let (server, events) = start_server(|c| {
        c.listener.as_mut().unwrap().health_path = "/health".into();
    });
    let addr = server.local_addr().unwrap();
    assert_eq!(http(addr, "GET", "/health").0, 200);
    let rt = runtime();
    let clients = rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..N {
            clients.push(connect(&url(&server, "/room")).await);
        }
        clients
    });
    for _ in 0..N {
        events.expect(Trigger::InboundConnection);
    }
    let options = DrainOptions::new()
        .batches(BATCH, Duration::from_millis(100))
        .close(1012, "restarting")
        .retry_after(Duration::from_millis(1500));
    let drain = server.drain(options).unwrap();
    assert!(server.is_draining());
    // The clients answer the close frames as they come.
    let closes: Vec<_> = clients
        .into_iter()
        .map(|mut client| rt.spawn(async move { recv_close(&mut client).await }))
        .collect();

    // A new connection is refused at once, with when to come back.
    let (status, head) = raw_http(addr, &upgrade_request("/room", ""));
    assert_eq!(status, 503, "{head}");
    assert!(head.contains("Retry-After: 2\r\n"), "{head}");
    assert_eq!(http(addr, "GET", "/health").0, 503);

    // Every progress seen keeps the batches whole: requests go out B at a time.
    let mut seen = DrainProgress::default();
    let mut batches_seen = Vec::new();
    while !seen.finished {
        seen = drain.wait_for_change(&seen, Some(WAIT));
        assert_eq!(seen.matched, N);
        assert_eq!(seen.requested, (seen.batches * BATCH).min(N), "{seen:?}");
        batches_seen.push(seen.batches);
    }
    assert_eq!(seen.batches, N.div_ceil(BATCH));
    assert_eq!((seen.requested, seen.closed), (N, N));
    assert!(batches_seen.windows(2).all(|w| w[0] <= w[1]));
    rt.block_on(async {
        for close in closes {
            assert_eq!(close.await.unwrap(), (1012, "restarting".to_owned()));
        }
    });
    for _ in 0..N {
        assert_eq!(events.closed().1, 1012);
    }
    let m = server.metrics();
    assert!(m.draining);
    assert_eq!(m.closed_with(Some(1012)), N as u64);
    assert_eq!(m.refused_for(RefusalReason::Draining), 1);
    assert_eq!(drain.wait(Some(WAIT)), seen);
    server.stop().unwrap();
}

/// A drain closes only the sockets of its filter; `drain_and_stop` closes the rest at the end.
#[test]
fn a_drain_closes_only_what_its_filter_matches_then_stop_closes_the_rest() {
    let (server, events) = start_server(|c| {
        c.listener.as_mut().unwrap().paths = vec![InboundPath::new("/a"), InboundPath::new("/b")];
    });
    let rt = runtime();
    let (mut a, mut b) = rt.block_on(async {
        (
            connect(&url(&server, "/a")).await,
            connect(&url(&server, "/b")).await,
        )
    });
    events.expect(Trigger::InboundConnection);
    events.expect(Trigger::InboundConnection);
    let a_closed = rt.spawn(async move { recv_close(&mut a).await });
    let only_a = DrainOptions::new()
        .filter(SocketFilter::all().with_path("/a").unwrap())
        .batches(10, Duration::from_millis(1));
    let progress = server.drain(only_a).unwrap().wait(Some(WAIT));
    assert!(progress.finished);
    assert_eq!((progress.matched, progress.closed), (1, 1));
    assert_eq!(rt.block_on(a_closed).unwrap().0, 1001);
    let (socket, code, _) = events.closed();
    assert_eq!((socket.path(), code), ("/a", 1001));
    assert_eq!(server.socket_count(), 1, "/b stays open");

    // Draining again, up to a deadline, then stopping: /b closes with the drain's code.
    let closer = std::thread::spawn(move || {
        rt.block_on(async { recv_close(&mut b).await });
    });
    let progress = server
        .drain_and_stop(DrainOptions::new().close(1012, "bye"), WAIT)
        .unwrap();
    assert!(progress.finished);
    assert_eq!(progress.closed, 1);
    closer.join().unwrap();
    let (socket, code, _) = events.closed();
    assert_eq!((socket.path(), code), ("/b", 1012));
    assert!(matches!(
        server
            .drain(DrainOptions::new())
            .map(|_| ())
            .unwrap_err()
            .kind(),
        ErrorKind::Stopped
    ));
}

#[test]
fn drain_options_are_checked() {
    let (server, _events) = start_server(|_| {});
    for bad in [
        DrainOptions::new().batches(0, Duration::from_secs(1)),
        DrainOptions::new().close(1006, "reserved"),
        DrainOptions::new().close(1001, "x".repeat(200)),
        DrainOptions::new().filter(SocketFilter::all().with_groups([""])),
    ] {
        let e = server.drain(bad).map(|_| ()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
    assert!(!server.is_draining(), "a refused drain changes nothing");
}

/// The metrics path serves Prometheus text to allowed addresses; HEAD has no body; other
/// methods get 405; other paths still upgrade.
#[test]
fn the_metrics_path_serves_prometheus_text_to_allowed_clients() {
    let (server, events) = start_server(|c| {
        let listener = c.listener.as_mut().unwrap();
        listener.metrics_path = "/metrics".into();
        listener.health_path = "/healthz".into();
    });
    let addr = server.local_addr().unwrap();
    let rt = runtime();
    let _client = rt.block_on(connect(&url(&server, "/chat")));
    events.expect(Trigger::InboundConnection);
    let (status, head, body) = http(addr, "GET", "/metrics");
    assert_eq!(status, 200);
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        body.contains("wsconnector_sockets_open{type=\"inbound\"} 1\n"),
        "{body}"
    );
    let (status, _, body) = http(addr, "HEAD", "/metrics");
    assert_eq!((status, body.as_str()), (200, ""));
    let (status, head, _) = http(addr, "POST", "/metrics");
    assert_eq!(status, 405);
    assert!(head.contains("Allow: GET, HEAD"), "{head}");
    assert_eq!(
        http(addr, "GET", "/healthz"),
        (200, http(addr, "GET", "/healthz").1, "ok\n".into())
    );
    // Endpoint requests are neither sockets nor refusals.
    let m = server.metrics();
    assert_eq!(m.sockets_opened.inbound, 1);
    assert!(
        m.handshakes_refused.is_empty(),
        "{:?}",
        m.handshakes_refused
    );

    let (other, _events) = start_server(|c| {
        let listener = c.listener.as_mut().unwrap();
        listener.metrics_path = "/metrics".into();
        listener.metrics_allowed_addresses = vec!["10.0.0.0/8".into()];
    });
    let (status, _, body) = http(other.local_addr().unwrap(), "GET", "/metrics");
    assert_eq!((status, body.as_str()), (403, "not an allowed address\n"));
}

/// An endpoint path may not be a declared WebSocket path, nor the other endpoint's, nor a
/// pattern; the error names the setting.
#[test]
fn endpoint_paths_never_shadow_a_websocket_path() {
    let start = |configure: &dyn Fn(&mut Config)| {
        let mut config = Config::with_listener("127.0.0.1", 0);
        configure(&mut config);
        Connector::builder(config).start().map(|_| ())
    };
    type Configure<'a> = &'a dyn Fn(&mut Config);
    let cases: [(&str, Configure); 5] = [
        ("metrics_path", &|c| {
            let l = c.listener.as_mut().unwrap();
            l.paths = vec![InboundPath::new("/*")];
            l.metrics_path = "/metrics".into();
        }),
        ("health_path", &|c| {
            let l = c.listener.as_mut().unwrap();
            l.base_path = "/ws".into();
            l.paths = vec![InboundPath::new("/health")];
            l.health_path = "/ws/health".into();
        }),
        ("different", &|c| {
            let l = c.listener.as_mut().unwrap();
            l.metrics_path = "/x".into();
            l.health_path = "/x".into();
        }),
        ("metrics_path", &|c| {
            c.listener.as_mut().unwrap().metrics_path = "/m*".into()
        }),
        ("metrics_allowed_addresses", &|c| {
            c.listener.as_mut().unwrap().metrics_allowed_addresses = vec!["nope".into()]
        }),
    ];
    for (names, configure) in cases {
        let e = start(configure).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains(names), "{e}");
    }
    // Outside the declared paths (or under another base path) an endpoint is fine.
    start(&|c| {
        let l = c.listener.as_mut().unwrap();
        l.base_path = "/ws".into();
        l.paths = vec![InboundPath::new("/*")];
        l.metrics_path = "/metrics".into();
        l.health_path = "/health".into();
    })
    .unwrap();
}
