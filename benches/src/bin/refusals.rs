//! What a refused connection costs the listener: a connector whose one connection slot is held
//! takes a flood of further connections, and this prints how fast they are refused, the
//! listener's CPU time per refusal (its `wsc-io` threads only, from /proc/self/task) and, for
//! clients that send nothing, how many of them the listener still holds a second later.
//!
//! ```text
//! refusals [--tls 0|1] [--count 5000] [--concurrency 50] [--silent 500]
//! ```
//!
//! Plain clients send an upgrade request and read the answer; TLS clients start a TLS
//! handshake (trusting the test CA in tests/c/certs) and, if it completes, do the same over
//! TLS. Silent clients connect and send nothing. A figure, not a verdict.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wsconnector::{Config, Connector, Pem, ServerTls};
use wsconnector_bench::args::Args;

const CERTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/c/certs");
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

fn main() {
    if let Err(error) = run() {
        eprintln!("refusals: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = Args::from_env()?;
    let tls: u8 = args.get("tls", 0)?;
    let count: usize = args.get("count", 5000)?;
    let concurrency: usize = args.get("concurrency", 50)?;
    let silent: usize = args.get("silent", 500)?;
    args.finish()?;
    let tls = tls != 0;

    let mut config = Config::with_listener("127.0.0.1", 0);
    config.worker_threads = Some(1);
    if let Some(listener) = config.listener.as_mut() {
        listener.max_inbound_connections = 1;
        listener.handshake_timeout = Duration::from_secs(60);
        if tls {
            listener.tls = Some(ServerTls::new(
                Pem::File(format!("{CERTS}/server.pem").into()),
                Pem::File(format!("{CERTS}/server.key").into()),
            ));
        }
    }
    let connector = Connector::builder(config)
        .start()
        .map_err(|e| e.to_string())?;
    let addr = connector.local_addr().ok_or("no listener")?;
    let client_tls = tls.then(client_tls).transpose()?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        // Holds the one slot: a handshake that never finishes.
        let _holder = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_millis(100)).await;

        let cpu_before = io_threads_cpu().map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
        let mut done = 0;
        while done < count {
            let batch = concurrency.min(count - done);
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..batch {
                let client_tls = client_tls.clone();
                tasks.spawn(async move { refused(addr, client_tls).await });
            }
            while let Some(outcome) = tasks.join_next().await {
                let outcome = outcome.map_err(|e| e.to_string())?;
                *outcomes.entry(outcome).or_default() += 1;
            }
            done += batch;
        }
        let wall = started.elapsed();
        let cpu = io_threads_cpu().map_err(|e| e.to_string())? - cpu_before;
        println!(
            "{} flood: {count} refusals in {:.2} s = {:.0}/s; listener CPU {:.1} µs per refusal; outcomes {outcomes:?}",
            if tls { "TLS" } else { "plain" },
            wall.as_secs_f64(),
            count as f64 / wall.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / count as f64,
        );

        // Silent clients: still held by the listener one second after they connected? (A
        // connect that fails with a reset was refused at once.)
        let mut quiet = Vec::with_capacity(silent);
        for _ in 0..silent {
            if let Ok(tcp) = TcpStream::connect(addr).await {
                quiet.push(tcp);
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        let mut held = 0;
        for mut tcp in quiet {
            let mut byte = [0u8; 1];
            if tokio::time::timeout_at(deadline, tcp.read(&mut byte))
                .await
                .is_err()
            {
                held += 1;
            }
        }
        println!(
            "{} silent: {held} of {silent} over-limit connections still held after 1 s",
            if tls { "TLS" } else { "plain" },
        );
        Ok::<(), String>(())
    })?;
    connector.stop().map_err(|e| e.to_string())
}

/// One over-limit connection, as far as the listener lets it go: what it ended with.
async fn refused(
    addr: std::net::SocketAddr,
    client_tls: Option<tokio_rustls::TlsConnector>,
) -> String {
    let tcp = match TcpStream::connect(addr).await {
        Ok(tcp) => tcp,
        Err(e) => return format!("connect failed: {:?}", e.kind()),
    };
    let answer = match client_tls {
        None => request(tcp).await,
        Some(connector) => {
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
            match connector.connect(name, tcp).await {
                Ok(tls) => request(tls)
                    .await
                    .map(|a| format!("TLS handshake, then {a}")),
                Err(e) => Err(e),
            }
        }
    };
    match answer {
        Ok(answer) => answer,
        Err(e) => format!("{:?}", e.kind()),
    }
}

/// Sends the upgrade request and reads the answer until the connection ends (a reset after
/// the answer included): its status line, or the error when nothing came.
async fn request<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
) -> io::Result<String> {
    // A listener that answers at once may close before the request is written.
    let _ = stream.write_all(REQUEST).await;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    let end = loop {
        match stream.read(&mut chunk).await {
            Ok(0) => break None,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) => break Some(e),
        }
    };
    match (answer.is_empty(), end) {
        (true, Some(e)) => Err(e),
        (true, None) => Ok("EOF".into()),
        (false, _) => Ok(String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()),
    }
}

fn client_tls() -> Result<tokio_rustls::TlsConnector, String> {
    let ca = std::fs::read(format!("{CERTS}/ca.pem")).map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&ca) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// CPU time of the connector's I/O threads (named `wsc-io`), user plus system.
fn io_threads_cpu() -> io::Result<Duration> {
    // SAFETY: sysconf only reads a constant of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task")? {
        let stat = std::fs::read_to_string(task?.path().join("stat"))?;
        let Some((name, rest)) = stat.split_once(" (").and_then(|(_, s)| s.rsplit_once(')')) else {
            continue;
        };
        if name != "wsc-io" {
            continue;
        }
        let mut fields = rest.split_whitespace();
        let utime: u64 = fields.nth(11).and_then(|f| f.parse().ok()).unwrap_or(0);
        let stime: u64 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
        total += utime + stime;
    }
    Ok(Duration::from_secs_f64(total as f64 / ticks))
}
