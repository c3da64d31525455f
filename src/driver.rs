//! The task that owns one socket's stream: it reads frames into events, writes the send queue
//! out, answers pings, sends its own pings, enforces the idle timeout and the close handshake,
//! and reports the close exactly once.
//!
//! Reading and writing progress together in one task (one `poll` drives both), so a peer that
//! is slow to read never stops us from reading it, and no lock or channel sits between the
//! stream and its owner.

use crate::connector::{close_code, Shared, MAX_CLOSE_REASON_LEN};
use crate::events::Event;
use crate::message::Message;
use crate::queue::{Next, Sealed};
use crate::socket::{Socket, SocketType};
use crate::tls::IoStream;
use futures_util::{Sink, Stream};
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::WebSocketStream;

/// A socket's WebSocket stream over plain TCP or TLS.
pub(crate) type WsStream = WebSocketStream<IoStream>;

/// Most frames read or written in one poll before the task yields to others.
const WORK_PER_POLL: usize = 64;

/// How a socket ended: the code and reason to report, and whether we still owe the peer a
/// close frame (after a protocol violation or an internal error).
struct Ending {
    code: u16,
    reason: String,
    send_close: bool,
}

impl Ending {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Ending {
            code,
            reason: reason.into(),
            send_close: false,
        }
    }

    fn with_close_frame(code: u16, reason: impl Into<String>) -> Self {
        Ending {
            code,
            reason: truncate_reason(reason.into()),
            send_close: true,
        }
    }
}

/// Runs a socket until it closes, then unregisters it and reports it closed.
pub(crate) async fn drive(shared: Arc<Shared>, socket: Socket, ws: WsStream) {
    let config = &shared.config;
    let idle_timeout = match socket.socket_type() {
        SocketType::Inbound => config.listener.as_ref().and_then(|l| l.idle_timeout),
        SocketType::Outbound => config.client.idle_timeout,
    };
    let now = Instant::now();
    let mut driver = Driver {
        shared: shared.clone(),
        socket: socket.clone(),
        ws,
        ping_interval: config.socket.ping_interval,
        pong_timeout: config.socket.pong_timeout,
        close_timeout: config.socket.close_timeout,
        idle_timeout,
        need_flush: false,
        close_sent: false,
        ending: None,
        last_activity: now,
        last_received: now,
        ping_due: false,
        ping_sent: None,
        close_deadline: None,
        timer: Box::pin(tokio::time::sleep_until(now)),
        timer_armed: false,
        room_round: None,
        events: Vec::new(),
    };
    let ending = poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| driver.poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                tracing::error!(
                    socket = %driver.socket.id(),
                    panic = crate::panic_message(&*panic),
                    "a socket task panicked; closing that socket with 1011"
                );
                Poll::Ready(Ending::with_close_frame(
                    close_code::INTERNAL_ERROR,
                    "internal error",
                ))
            }
        },
    )
    .await;
    driver.flush_events();
    if ending.send_close {
        let frame = CloseFrame {
            code: CloseCode::from(ending.code),
            reason: ending.reason.clone().into(),
        };
        let _ = tokio::time::timeout(driver.close_timeout, driver.ws.close(Some(frame))).await;
    }
    drop(driver);
    shared.socket_finished(socket, ending.code, ending.reason);
}

struct Driver {
    shared: Arc<Shared>,
    socket: Socket,
    ws: WsStream,
    ping_interval: Option<Duration>,
    pong_timeout: Duration,
    close_timeout: Duration,
    idle_timeout: Option<Duration>,
    /// Frames were handed to the stream and not flushed yet.
    need_flush: bool,
    /// We sent a close frame; waiting for the peer's.
    close_sent: bool,
    /// The close code and reason to report, once known.
    ending: Option<(u16, String)>,
    /// Last data message in either direction (for the idle timeout).
    last_activity: Instant,
    /// Last frame of any kind from the peer (proof of life; pings are skipped while recent).
    last_received: Instant,
    ping_due: bool,
    ping_sent: Option<Instant>,
    close_deadline: Option<Instant>,
    /// One timer for every deadline; re-armed for the earliest when it fires.
    timer: Pin<Box<Sleep>>,
    timer_armed: bool,
    room_round: Option<u64>,
    /// Events read in this poll, handed over together at its end.
    events: Vec<Event>,
}

impl Driver {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Ending> {
        let result = self.poll_inner(cx);
        self.flush_events();
        result
    }

    fn flush_events(&mut self) {
        if !self.events.is_empty() {
            self.shared.events.push_all(&mut self.events);
        }
    }

    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Ending> {
        if !self.timer_armed {
            self.arm_timer();
        }
        if self.close_deadline.is_none() {
            // A close was asked for: it must finish in time even if the frame cannot be
            // written yet (a peer that stopped reading).
            if let Some(request) = self.socket.queue().pending_close() {
                self.ending.get_or_insert((request.code, request.reason));
                self.set_close_deadline();
            }
        }
        let mut work = 0;
        loop {
            if self.socket.queue().is_killed() {
                return Poll::Ready(self.end_without_handshake(
                    "the connector stopped before the close handshake finished",
                ));
            }
            let mut progressed = false;

            // Write: hand queued messages (and a due ping) to the stream while it accepts them.
            while !self.close_sent && work < WORK_PER_POLL {
                match Pin::new(&mut self.ws).poll_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(self.broken(e)),
                    Poll::Pending => break,
                }
                if self.ping_due {
                    self.ping_due = false;
                    if let Err(e) = self.start_send(Frame::Ping(Default::default())) {
                        return Poll::Ready(self.broken(e));
                    }
                    continue;
                }
                match self.socket.queue().poll_next(cx) {
                    Poll::Ready(Next::Message(message)) => {
                        self.last_activity = Instant::now();
                        if let Err(e) = self.start_send(message.to_wire()) {
                            return Poll::Ready(self.broken(e));
                        }
                        work += 1;
                        progressed = true;
                    }
                    Poll::Ready(Next::Close(request)) => {
                        let frame = CloseFrame {
                            code: CloseCode::from(request.code),
                            reason: request.reason.clone().into(),
                        };
                        if let Err(e) = self.start_send(Frame::Close(Some(frame))) {
                            return Poll::Ready(self.broken(e));
                        }
                        self.close_sent = true;
                        self.ending.get_or_insert((request.code, request.reason));
                        self.set_close_deadline();
                        progressed = true;
                    }
                    Poll::Pending => break,
                }
            }
            if self.need_flush {
                match Pin::new(&mut self.ws).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.need_flush = false,
                    Poll::Ready(Err(e)) => return Poll::Ready(self.broken(e)),
                    Poll::Pending => {}
                }
            }

            // Read, unless the application is behind (then the event queue wakes us).
            while work < WORK_PER_POLL {
                if self
                    .shared
                    .events
                    .poll_room(cx, &mut self.room_round)
                    .is_pending()
                {
                    break;
                }
                match Pin::new(&mut self.ws).poll_next(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        work += 1;
                        progressed = true;
                        self.on_frame(frame);
                    }
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(self.broken(e)),
                    Poll::Ready(None) => return Poll::Ready(self.end_of_stream()),
                    Poll::Pending => break,
                }
            }

            if self.timer.as_mut().poll(cx).is_ready() {
                if let Some(ending) = self.on_timer() {
                    return Poll::Ready(ending);
                }
                self.arm_timer();
                progressed = true;
            }

            if work >= WORK_PER_POLL {
                // Let other sockets run; come back right away.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }

    fn start_send(&mut self, frame: Frame) -> Result<(), WsError> {
        Pin::new(&mut self.ws).start_send(frame)?;
        self.need_flush = true;
        Ok(())
    }

    fn on_frame(&mut self, frame: Frame) {
        let now = Instant::now();
        self.last_received = now;
        match frame {
            Frame::Text(_) | Frame::Binary(_) => {
                self.last_activity = now;
                // Once we close, or the application asked to, nothing more is delivered.
                if self.close_sent || self.socket.is_close_requested() {
                    return;
                }
                let Some(message) = Message::from_wire(frame) else {
                    return;
                };
                #[cfg(test)]
                if message.as_text() == Some(tests::PANIC_TRIGGER) {
                    panic!("injected fault");
                }
                let socket = self.socket.clone();
                self.events.push(match socket.socket_type() {
                    SocketType::Inbound => Event::InboundMessage { socket, message },
                    SocketType::Outbound => Event::OutboundMessage { socket, message },
                });
            }
            // tungstenite queued the pong; flushing sends it.
            Frame::Ping(_) => self.need_flush = true,
            Frame::Pong(_) => self.ping_sent = None,
            Frame::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (u16::from(f.code), f.reason.to_string()),
                    None => (close_code::NO_STATUS, String::new()),
                };
                if self.ending.is_none() {
                    self.ending = Some((code, reason));
                    self.socket.queue().seal(Sealed::ClosedByPeer);
                }
                // tungstenite queued the reply; flush it and wait for the stream to end.
                self.need_flush = true;
                self.close_sent = true;
                self.set_close_deadline();
            }
            Frame::Frame(_) => {}
        }
    }

    fn set_close_deadline(&mut self) {
        if self.close_deadline.is_none() {
            let deadline = Instant::now() + self.close_timeout;
            self.close_deadline = Some(deadline);
            if deadline < self.timer.deadline() {
                self.timer.as_mut().reset(deadline);
            }
        }
    }

    /// Handles whatever deadline passed; returns an ending when the socket must end now.
    fn on_timer(&mut self) -> Option<Ending> {
        let now = Instant::now();
        if self.close_deadline.is_some_and(|d| now >= d) {
            return Some(
                self.end_without_handshake("the peer did not complete the close handshake in time"),
            );
        }
        if self.close_sent {
            return None;
        }
        if let Some(sent) = self.ping_sent {
            if now >= sent + self.pong_timeout {
                return Some(Ending::new(
                    close_code::ABNORMAL,
                    "no pong within the pong timeout: peer is unresponsive",
                ));
            }
        }
        if let Some(idle) = self.idle_timeout {
            if now >= self.last_activity + idle {
                self.idle_timeout = None;
                self.socket
                    .queue()
                    .request_close(crate::queue::CloseRequest {
                        code: close_code::GOING_AWAY,
                        reason: "idle timeout".into(),
                    });
            }
        }
        if let Some(interval) = self.ping_interval {
            if self.ping_sent.is_none() && now >= self.last_received + interval {
                self.ping_due = true;
                self.ping_sent = Some(now);
            }
        }
        None
    }

    /// Sets the timer for the earliest deadline still ahead.
    fn arm_timer(&mut self) {
        self.timer_armed = true;
        let now = Instant::now();
        let mut next = now + Duration::from_secs(24 * 3600);
        let mut consider = |at: Instant| next = next.min(at.max(now + Duration::from_millis(1)));
        if let Some(deadline) = self.close_deadline {
            consider(deadline);
        }
        if self.close_sent {
            self.timer.as_mut().reset(next);
            return;
        }
        if let Some(sent) = self.ping_sent {
            consider(sent + self.pong_timeout);
        }
        if let Some(idle) = self.idle_timeout {
            consider(self.last_activity + idle);
        }
        if let (Some(interval), None) = (self.ping_interval, self.ping_sent) {
            consider(self.last_received + interval);
        }
        self.timer.as_mut().reset(next);
    }

    /// The stream ended: after a close handshake, or without one.
    fn end_of_stream(&mut self) -> Ending {
        match self.ending.take() {
            Some((code, reason)) => Ending::new(code, reason),
            None => Ending::new(
                close_code::ABNORMAL,
                "connection closed without a close frame",
            ),
        }
    }

    fn end_without_handshake(&mut self, why: &str) -> Ending {
        match self.ending.take() {
            Some((code, reason)) => Ending::new(code, reason),
            None => Ending::new(close_code::ABNORMAL, why),
        }
    }

    /// Maps a stream error to how the socket ends, with the close code the RFC asks for.
    fn broken(&mut self, error: WsError) -> Ending {
        match error {
            WsError::ConnectionClosed | WsError::AlreadyClosed => self.end_of_stream(),
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                self.end_without_handshake("connection reset without a close handshake")
            }
            WsError::Protocol(e) => {
                Ending::with_close_frame(close_code::PROTOCOL_ERROR, e.to_string())
            }
            WsError::Capacity(e) => {
                Ending::with_close_frame(close_code::MESSAGE_TOO_BIG, e.to_string())
            }
            WsError::Utf8(_) => Ending::with_close_frame(
                close_code::INVALID_PAYLOAD,
                "text message is not valid UTF-8",
            ),
            WsError::Io(e) => self.end_without_handshake(&format!("I/O error: {e}")),
            other => Ending::with_close_frame(close_code::INTERNAL_ERROR, other.to_string()),
        }
    }
}

/// Cuts a close reason to what fits a close frame, at a character boundary.
fn truncate_reason(mut reason: String) -> String {
    if reason.len() > MAX_CLOSE_REASON_LEN {
        let mut end = MAX_CLOSE_REASON_LEN;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

#[cfg(test)]
mod tests {
    use crate::{log, Config, Connector, ConnectorHandle, Event};
    use futures_util::{SinkExt, StreamExt};
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::Duration;
    use tokio_tungstenite::tungstenite::Message as Frame;

    /// A text message that makes the receiving socket's task panic (tests only).
    pub(super) const PANIC_TRIGGER: &str = "\u{0}wsc-test-panic\u{0}";

    #[test]
    fn a_panic_in_a_socket_task_closes_only_that_socket_with_1011_and_is_logged() {
        let _one_at_a_time = log::tests::SINK_TESTS
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let logged = Arc::new(Mutex::new(Vec::new()));
        let sink_logged = logged.clone();
        log::set_log_sink(
            Some(Arc::new(move |_, target: &str, message: &str| {
                if target == "wsconnector::driver" {
                    sink_logged.lock().unwrap().push(message.to_owned());
                }
            })),
            log::LogLevel::Error,
        )
        .unwrap();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let server = Connector::builder(Config::with_listener("127.0.0.1", 0))
            .on_event(move |_: &ConnectorHandle, event: Event| {
                let _ = tx.lock().unwrap().send(event);
            })
            .start()
            .unwrap();
        let url = format!("ws://{}/", server.local_addr().unwrap());
        let wait = Duration::from_secs(10);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let _bystander = rt.block_on(async {
            let (mut victim, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
            let (mut bystander, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
            victim.send(Frame::text(PANIC_TRIGGER)).await.unwrap();
            match tokio::time::timeout(wait, victim.next()).await.unwrap() {
                Some(Ok(Frame::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1011),
                other => panic!("expected close 1011, got {other:?}"),
            }
            bystander.send(Frame::text("still here")).await.unwrap();
            bystander
        });
        let mut closed = None;
        let mut bystander_spoke = false;
        while closed.is_none() || !bystander_spoke {
            match rx.recv_timeout(wait).unwrap() {
                Event::SocketClosed { code, .. } => closed = Some(code),
                Event::InboundMessage { message, .. } => {
                    assert_eq!(message.as_text(), Some("still here"));
                    bystander_spoke = true;
                }
                _ => {}
            }
        }
        assert_eq!(closed, Some(1011));
        assert_eq!(server.socket_count(), 1);
        let logged = logged.lock().unwrap();
        assert!(
            logged
                .iter()
                .any(|m| m.contains("panicked") && m.contains("injected fault")),
            "{logged:?}"
        );
    }
}
