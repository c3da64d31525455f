//! Churn: thousands of clients connect, subscribe, send and leave (cleanly or abruptly) while
//! long-lived clients receive a numbered stream and their groups change. Afterwards every
//! numbered message arrived exactly once and in order, the registry and group index are
//! empty, and memory is back near where it started.
//!
//! `make test` runs a reduced size; `make soak` sets WSC_SOAK=1 for the full size.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite;
use wsconnector::{Config, Connector, ConnectorHandle, Event, SocketFilter};

struct Size {
    churners: usize,
    concurrency: usize,
    stayers: usize,
    numbered: usize,
}

fn size() -> Size {
    if std::env::var_os("WSC_SOAK").is_some() {
        Size {
            churners: 100_000,
            concurrency: 200,
            stayers: 20,
            numbered: 200_000,
        }
    } else {
        Size {
            churners: 3_000,
            concurrency: 50,
            stayers: 5,
            numbered: 5_000,
        }
    }
}

/// Resident memory of this process in bytes, after handing freed memory back to the OS.
fn rss() -> usize {
    // SAFETY: malloc_trim only releases free heap memory; it has no preconditions.
    unsafe { libc::malloc_trim(0) };
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// What the handler reports to the test.
enum Report {
    /// A long-lived client connected, with its socket ID.
    Stayer(String),
    /// A socket closed.
    Closed,
}

#[derive(Default)]
struct Counts {
    opened: AtomicUsize,
    messages: AtomicUsize,
}

fn start(counts: Arc<Counts>, reports: std::sync::mpsc::Sender<Report>) -> Connector {
    let reports = std::sync::Mutex::new(reports);
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.socket.send_queue_messages = 1_000_000;
    config.socket.send_queue_bytes = 1 << 30;
    config.socket.close_timeout = Duration::from_secs(2);
    Connector::builder(config)
        .on_event(move |conn: &ConnectorHandle, event: Event| match &event {
            Event::InboundConnection { socket } => {
                counts.opened.fetch_add(1, Ordering::Relaxed);
                if socket.path() == "/stay" {
                    let _ = reports
                        .lock()
                        .unwrap()
                        .send(Report::Stayer(socket.id().to_string()));
                }
                if let Some(n) = socket.query_param("n") {
                    let group = format!("g{}", n.len() % 7);
                    let _ = conn.subscribe(socket.id().as_str(), &[group.as_str(), "churn"]);
                }
            }
            Event::InboundMessage { socket, message } => {
                counts.messages.fetch_add(1, Ordering::Relaxed);
                // Churners' messages go to their group: broadcasts while sockets come and go.
                let groups = socket.groups();
                let _ = conn.broadcast(message.clone(), &SocketFilter::all().with_groups(groups));
            }
            Event::SocketClosed { .. } => {
                let _ = reports.lock().unwrap().send(Report::Closed);
            }
            _ => {}
        })
        .start()
        .unwrap()
}

/// Connects `count` short-lived clients, `concurrency` at a time.
async fn churn(url: String, count: usize, concurrency: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let next = next.clone();
        let url = url.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    break;
                }
                let mut ws = connect(&format!("{url}?n={}", "x".repeat(n % 13))).await;
                if n % 3 == 0 {
                    ws.send(tungstenite::Message::text(format!("hi from {n}")))
                        .await
                        .unwrap();
                }
                if n % 5 == 0 && n % 3 != 0 {
                    // Abrupt: no close frame. (Only for clients that sent nothing: a reset
                    // may discard what the server had not read yet, which is TCP, not us.)
                    drop(ws);
                } else {
                    let _ = ws.close(None).await;
                    while let Some(Ok(_)) = ws.next().await {}
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
}

/// Reads the numbered stream on a long-lived client: checks each number comes once, in
/// order, until `end`.
async fn read_numbered(mut ws: Client, numbered: usize) -> usize {
    let mut expected = 0;
    loop {
        let text = recv_text(&mut ws).await;
        if text == "end" {
            break;
        }
        if let Some(number) = text.strip_prefix('#') {
            assert_eq!(
                number.parse::<usize>().unwrap(),
                expected,
                "numbered messages arrive once, in order"
            );
            expected += 1;
        }
    }
    assert_eq!(expected, numbered);
    let _ = ws.close(None).await;
    while let Some(Ok(_)) = ws.next().await {}
    expected
}

fn run_round(size: &Size) {
    let counts = Arc::new(Counts::default());
    let (reports_tx, reports) = std::sync::mpsc::channel();
    let server = start(counts.clone(), reports_tx);
    let rt = runtime();
    let base = url(&server, "/");
    let stayers: Vec<Client> = (0..size.stayers)
        .map(|_| rt.block_on(connect(&format!("{base}stay"))))
        .collect();
    let stay_ids: Vec<String> = (0..size.stayers)
        .map(|_| match reports.recv_timeout(WAIT).unwrap() {
            Report::Stayer(id) => id,
            Report::Closed => panic!("nothing closes yet"),
        })
        .collect();
    for id in &stay_ids {
        server.subscribe(id, &["stay"]).unwrap();
    }
    let readers: Vec<_> = stayers
        .into_iter()
        .map(|ws| rt.spawn(read_numbered(ws, size.numbered)))
        .collect();
    let churning = rt.spawn(churn(
        format!("{base}churn"),
        size.churners,
        size.concurrency,
    ));

    // The numbered stream: broadcast to the "stay" group, while their other groups change.
    let stay = SocketFilter::all().with_groups(["stay"]);
    for i in 0..size.numbered {
        let result = server.broadcast(format!("#{i}"), &stay).unwrap();
        assert_eq!((result.delivered, result.failures.len()), (size.stayers, 0));
        if i % 100 == 0 {
            let id = &stay_ids[i / 100 % stay_ids.len()];
            let extra = format!("extra{}", i % 3);
            server.subscribe(id, &[extra.as_str()]).unwrap();
            server.unsubscribe(id, &["extra0", "extra1"]).unwrap();
        }
    }
    rt.block_on(churning).unwrap();
    assert_eq!(
        server.broadcast("end", &stay).unwrap().delivered,
        size.stayers
    );
    for reader in readers {
        assert_eq!(rt.block_on(reader).unwrap(), size.numbered);
    }

    let total = size.churners + size.stayers;
    for closed in 0..total {
        match reports.recv_timeout(WAIT) {
            Ok(Report::Closed) => {}
            Ok(Report::Stayer(_)) => panic!("no stayer connects now"),
            Err(e) => panic!("only {closed} of {total} sockets reported closed: {e}"),
        }
    }
    assert_eq!(counts.opened.load(Ordering::Relaxed), total);
    assert_eq!(
        counts.messages.load(Ordering::Relaxed),
        size.churners.div_ceil(3)
    );
    assert_eq!(server.socket_count(), 0, "the registry is empty");
    assert_eq!(server.group_count(), 0, "the group index is empty");
    server.stop().unwrap();
}

#[test]
fn churn_leaves_nothing_behind() {
    let size = size();
    // A small round first, so that the baseline includes what warms up once (runtime, TLS
    // roots, allocator arenas).
    run_round(&Size {
        churners: size.churners / 10,
        concurrency: size.concurrency,
        stayers: 2,
        numbered: 100,
    });
    let baseline = rss();
    run_round(&size);
    let after = rss();
    let growth = after.saturating_sub(baseline);
    eprintln!(
        "churn: RSS baseline {} KiB, after {} KiB, growth {} KiB",
        baseline / 1024,
        after / 1024,
        growth / 1024
    );
    assert!(growth < 32 << 20, "memory grew by {} KiB", growth / 1024);
}
