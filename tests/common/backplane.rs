//! A real redis-server for the cluster tests: on a free loopback port, in a temporary
//! directory, without persistence; stopped (and its directory removed) when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A redis-server process of the test's own.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a redis-server on a free loopback port; fails the test (saying how to install it)
    /// when there is none on PATH.
    pub fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("wsc-redis-{}-{}", std::process::id(), uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut server = RedisServer {
                child: None,
                port,
                dir: dir.clone(),
            };
            if server.launch() {
                return server;
            }
        }
        panic!("redis-server did not start on a free port");
    }

    /// Starts the process on `self.port`; false if it exited (the port was taken meanwhile).
    fn launch(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): `make test` installs it, or apt-get install redis-server")
            });
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.contains("Ready to accept connections") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let started = ready.recv_timeout(Duration::from_secs(10)).is_ok();
        self.child = Some(child);
        if !started {
            self.stop();
        }
        started
    }

    /// The backplane URL of this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops the server at once (SIGKILL); its clients see their connections drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: no persistence).
    pub fn restart(&mut self) {
        assert!(self.launch(), "redis-server restarts on its port");
    }

    /// Runs one command and returns its answer as Redis wrote it (RESP): the first line, or for
    /// a bulk string the string itself.
    pub fn command(&self, args: &[&[u8]]) -> String {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        tcp.write_all(&request).unwrap();
        let mut answer = Vec::new();
        let mut byte = [0u8];
        while !answer.ends_with(b"\r\n") {
            if tcp.read(&mut byte).unwrap() == 0 {
                break;
            }
            answer.push(byte[0]);
        }
        let first = String::from_utf8_lossy(&answer).trim_end().to_owned();
        match first
            .strip_prefix('$')
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(len) => {
                let mut bulk = vec![0; len + 2];
                tcp.read_exact(&mut bulk).unwrap();
                String::from_utf8_lossy(&bulk[..len]).into_owned()
            }
            None => first,
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn uuid_like() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}
