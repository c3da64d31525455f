//! The task that owns one socket's stream: it reads frames into events, writes the send queue
//! out, answers pings, sends its own pings, enforces the idle timeout and the close handshake,
//! and reports the close exactly once.
//!
//! Reading and writing progress together in one task (one `poll` drives both), and no lock or
//! channel sits between the stream and its owner. Reading pauses in two cases only: the
//! application is behind (the event queue is full; the peer's liveness clock stops meanwhile,
//! since its frames sit unread through no fault of its own), or the peer does not read the
//! pong it made us owe (at most one pong waits: what a peer that never reads can make us hold
//! stays bounded).

use crate::config::{MessageRatePolicy, MAX_DURATION};
use crate::events::Event;
use crate::metrics::Traffic;
use crate::protocol::close::{close_code, truncate_reason};
use crate::protocol::frame::{close_payload, opcode, server_frame_payload};
use crate::queue::{CloseRequest, Outgoing, Sealed};
use crate::rate::RateLimit;
use crate::shared::{Registration, Shared};
use crate::socket::{Socket, SocketType};
use crate::wire::{Incoming, Role, Wire, WireError};
use bytes::Bytes;
use futures_util::FutureExt;
use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use tracing::Instrument;

/// Most frames read or written in one poll before the task yields to others.
const WORK_PER_POLL: usize = 64;
/// Frames are gathered up to this many bytes before a write.
const WRITE_BATCH: usize = 64 * 1024;
/// Events read in one poll are handed over once they hold this much, so that the event
/// queue's byte bound stops reading within a poll too.
const EVENT_HANDOVER_BYTES: usize = 64 * 1024;

/// How a socket ended: the code and reason to report, whether we still owe the peer a close
/// frame (after a protocol violation or an internal error), and whether to wait (up to the
/// close timeout) for what is buffered to be written.
struct Ending {
    code: u16,
    reason: String,
    send_close: bool,
    linger: bool,
}

impl Ending {
    /// The close handshake finished (or the peer went away after it began).
    fn closed(code: u16, reason: impl Into<String>) -> Self {
        Ending {
            code,
            reason: reason.into(),
            send_close: false,
            linger: true,
        }
    }

    /// We fail the connection: a close frame with `code`, then the end.
    fn failed(code: u16, reason: impl Into<String>) -> Self {
        Ending {
            code,
            reason: truncate_reason(reason.into()),
            send_close: true,
            linger: true,
        }
    }

    /// The connection is dropped at once: nothing more is written.
    fn dropped(code: u16, reason: impl Into<String>) -> Self {
        Ending {
            code,
            reason: reason.into(),
            send_close: false,
            linger: false,
        }
    }
}

/// Runs a socket until it closes, then unregisters it and reports it closed. A panic anywhere
/// in its task reports it closed with 1011: one in a poll answers the peer with a close frame
/// first (see `run`), one in the set-up before or the flush after drops the connection.
/// (A plain function returning the future: one state machine less to poll per wake-up.)
pub(crate) fn drive(
    shared: Arc<Shared>,
    registration: Registration,
    wire: Wire,
) -> impl Future<Output = ()> {
    let socket = registration.socket().clone();
    let life = async move {
        let (code, reason) = serve(shared, registration.socket().clone(), wire).await;
        registration.finish(code, reason);
    };
    in_socket_span(&socket, life)
}

/// A socket's whole life (`life`, which ends with its registration's end) in the socket's
/// span (`socket_id`, `socket_type`, `socket_path`), so that everything its task logs names
/// it. A debug span: made only while debug records are wanted, it costs an idle socket nothing
/// otherwise (the task's warnings and errors name the socket themselves), and a busy one no
/// extra layer of polling (an `Either` of the two futures cost about 35 instructions a message).
pub(crate) fn in_socket_span<F: Future<Output = ()>>(
    socket: &Socket,
    life: F,
) -> impl Future<Output = ()> {
    let span = tracing::debug_span!(
        "socket",
        socket_id = %socket.id(),
        socket_type = socket.socket_type().as_str(),
        socket_path = socket.path(),
    );
    span.in_scope(|| tracing::debug!("socket opened"));
    let span = (!span.is_disabled()).then_some(span);
    async move {
        match span {
            None => life.await,
            Some(span) => Box::pin(life.instrument(span)).await,
        }
    }
}

/// Runs one connection of a socket until it ends; returns the close code and reason. What
/// comes next is the caller's: the socket's end ([`drive`]), or a reconnect.
pub(crate) async fn serve(shared: Arc<Shared>, socket: Socket, wire: Wire) -> (u16, String) {
    let id = socket.id().clone();
    let ran = AssertUnwindSafe(run(shared, socket, wire))
        .catch_unwind()
        .await;
    ran.unwrap_or_else(|panic| {
        tracing::error!(
            socket_id = %id,
            panic = crate::panic_message(&*panic),
            "a socket task panicked; closing that socket with 1011"
        );
        (close_code::INTERNAL_ERROR, "internal error".to_owned())
    })
}

/// Runs a socket until it closes; returns the close code and reason to report.
async fn run(shared: Arc<Shared>, socket: Socket, wire: Wire) -> (u16, String) {
    #[cfg(test)]
    tests::fault_point(&socket, "setup");
    let config = &shared.config;
    let idle_timeout = match socket.socket_type() {
        SocketType::Inbound => config.listener.as_ref().and_then(|l| l.idle_timeout),
        SocketType::Outbound => config.client.idle_timeout,
    };
    let now = Instant::now();
    let mut driver = Driver {
        shared: shared.clone(),
        socket: socket.clone(),
        wire,
        ping_interval: config.socket.ping_interval,
        pong_timeout: config.socket.pong_timeout,
        close_timeout: config.socket.close_timeout,
        idle_timeout,
        rate: config
            .socket
            .message_rate_limit
            .map(|limit| RateLimit::new(limit, config.socket.message_rate_policy, now)),
        close_sent: false,
        close_received: false,
        ending: None,
        now,
        last_activity: now,
        last_received: now,
        ping_due: false,
        ping_sent: None,
        pong: None,
        pong_end: 0,
        reads_paused_since: None,
        close_deadline: None,
        timer: Box::pin(tokio::time::sleep_until(now)),
        timer_registered: false,
        room_round: None,
        poll_event_bytes: 0,
    };
    driver.arm_timer();
    let ending = poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| driver.poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                tracing::error!(
                    socket_id = %driver.socket.id(),
                    panic = crate::panic_message(&*panic),
                    "a socket task panicked; closing that socket with 1011"
                );
                // What the poll read before the panic is this socket's: deliver it, and
                // leave the thread's event buffer empty for the next task.
                driver.flush_events();
                Poll::Ready(Ending::failed(close_code::INTERNAL_ERROR, "internal error"))
            }
        },
    )
    .await;
    driver.flush_events();
    if ending.send_close && !driver.close_sent {
        driver
            .wire
            .buffer_control(opcode::CLOSE, &close_payload(ending.code, &ending.reason));
    }
    if ending.linger {
        #[cfg(test)]
        tests::fault_point(&socket, "linger");
        // What is still buffered (a close frame or its reply) goes out, then a clean shutdown.
        let wire = &mut driver.wire;
        let _ = tokio::time::timeout(driver.close_timeout, async {
            poll_fn(|cx| wire.poll_flush(cx)).await?;
            poll_fn(|cx| wire.poll_shutdown(cx)).await
        })
        .await;
    }
    (ending.code, ending.reason)
}

struct Driver {
    shared: Arc<Shared>,
    socket: Socket,
    wire: Wire,
    ping_interval: Option<Duration>,
    pong_timeout: Duration,
    close_timeout: Duration,
    idle_timeout: Option<Duration>,
    /// The peer's message rate limit, when one is set.
    rate: Option<RateLimit>,
    /// We wrote (or buffered) a close frame: nothing else is written.
    close_sent: bool,
    /// The peer's close frame arrived.
    close_received: bool,
    /// The close code and reason to report, once known.
    ending: Option<(u16, String)>,
    /// When this poll began: one clock read serves every frame it handles.
    now: Instant,
    /// Last data message in either direction (for the idle timeout).
    last_activity: Instant,
    /// Last frame of any kind from the peer (proof of life; pings are skipped while recent).
    last_received: Instant,
    ping_due: bool,
    ping_sent: Option<Instant>,
    /// The payload of the pong we owe, not yet buffered: the latest ping's (RFC 6455 section
    /// 5.5.3 allows answering only the latest), buffered once the previous pong has left.
    pong: Option<Bytes>,
    /// Where the last pong buffered ends, in bytes written (see [`Wire::written`]).
    pong_end: u64,
    /// Since when reads wait for the application (the peer's liveness clock is stopped).
    reads_paused_since: Option<Instant>,
    close_deadline: Option<Instant>,
    /// One timer for every deadline; re-armed for the earliest when it fires.
    timer: Pin<Box<Sleep>>,
    /// The timer was polled since it was last reset, so it will wake the task.
    timer_registered: bool,
    room_round: Option<u64>,
    /// Memory kept by the events read in this poll and not yet handed over.
    poll_event_bytes: usize,
}

thread_local! {
    /// Events read during the current poll of a socket task on this thread, with the memory
    /// each keeps, handed over together at its end (one lock, one wake-up); empty between
    /// polls.
    static POLL_EVENTS: RefCell<Vec<(Event, usize)>> = const { RefCell::new(Vec::new()) };
}

impl Driver {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Ending> {
        let mut traffic = Traffic::default();
        let result = self.poll_inner(cx, &mut traffic);
        self.shared.metrics.add_received(&mut traffic);
        self.flush_events();
        result
    }

    /// Hands the events of this poll to the application's queue.
    fn flush_events(&mut self) {
        self.poll_event_bytes = 0;
        POLL_EVENTS.with(|events| {
            let mut events = events.borrow_mut();
            if !events.is_empty() {
                self.shared.events.push_all(&mut events);
            }
        });
    }

    /// One poll; what it reads and writes is counted in `traffic`, and added to the figures
    /// before the events are handed over (received) and before the write (sent): a message is
    /// in the figures by the time the application or the peer can see it.
    fn poll_inner(&mut self, cx: &mut Context<'_>, traffic: &mut Traffic) -> Poll<Ending> {
        self.now = Instant::now();
        let mut work = 0;
        loop {
            if self.socket.queue().is_killed() {
                return Poll::Ready(
                    self.end_abruptly("the connector stopped before the close handshake finished"),
                );
            }
            let mut progressed = false;

            // Write: gather queued messages (and a due ping) into one write. The queue's waker
            // is always registered, so a close request or a kill reaches a task that is
            // waiting on a full socket.
            self.socket.queue().register(cx);
            if !self.close_sent {
                if self.ping_due {
                    self.ping_due = false;
                    self.wire.buffer_control(opcode::PING, b"");
                }
                if self.wire.written() >= self.pong_end {
                    if let Some(payload) = self.pong.take() {
                        self.wire.buffer_control(opcode::PONG, &payload);
                        self.pong_end = self.wire.written() + self.wire.buffered() as u64;
                    }
                }
                let room = WRITE_BATCH.saturating_sub(self.wire.buffered());
                if room == 0 && self.close_deadline.is_none() {
                    // The peer is not reading: a close asked for now cannot leave yet, but must
                    // still finish in time.
                    if let Some(request) = self.socket.queue().pending_close() {
                        self.ending.get_or_insert((request.code, request.reason));
                        self.set_close_deadline();
                    }
                }
                if room > 0 && work < WORK_PER_POLL {
                    let wire = &mut self.wire;
                    let (count, close) =
                        self.socket.queue().take(room, |outgoing| match outgoing {
                            Outgoing::Message(message) => {
                                traffic.sent(message.kind(), message.len());
                                if let Some(len) = wire.buffer_message(&message) {
                                    traffic.compressed_sent(len);
                                }
                            }
                            Outgoing::Frame { frame, message_len } => {
                                if let Some(payload) = server_frame_payload(&frame) {
                                    traffic.sent(payload.kind, message_len);
                                    if payload.compressed {
                                        traffic.compressed_sent(payload.len);
                                    }
                                }
                                wire.buffer_encoded(frame)
                            }
                        });
                    if count > 0 {
                        self.shared.metrics.add_sent(traffic);
                        self.last_activity = self.now;
                        work += count;
                        progressed = true;
                    }
                    if let Some(request) = close {
                        self.send_close(request);
                        progressed = true;
                    }
                }
            }
            if self.wire.buffered() > 0 {
                match self.wire.poll_flush(cx) {
                    // All written: the queue may have more for the room this made.
                    Poll::Ready(Ok(())) => progressed = true,
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(self.end_abruptly(&format!("write failed: {e}")))
                    }
                    Poll::Pending => {}
                }
            }
            if self.close_sent
                && self.close_received
                && self.wire.role() == Role::Server
                && self.wire.buffered() == 0
            {
                // Handshake complete: the server closes the TCP connection first.
                return Poll::Ready(self.end_of_stream());
            }

            // Read, unless the application is behind (the event queue wakes us when it has
            // room) or the peer has not read the pong it is owed (the write wakes us).
            while work < WORK_PER_POLL && !self.pong_blocked() {
                if self
                    .shared
                    .events
                    .poll_room(cx, &mut self.room_round)
                    .is_pending()
                {
                    self.reads_paused_since.get_or_insert(self.now);
                    break;
                }
                self.resume_liveness();
                match self.wire.poll_next(cx) {
                    Poll::Ready(Ok(incoming)) => {
                        work += 1;
                        progressed = true;
                        if let Some(ending) = self.on_incoming(incoming, traffic) {
                            return Poll::Ready(ending);
                        }
                        if self.close_received {
                            break;
                        }
                    }
                    Poll::Ready(Err(WireError::Eof)) => return Poll::Ready(self.end_of_stream()),
                    Poll::Ready(Err(WireError::Violation(v))) => {
                        return Poll::Ready(Ending::failed(v.close_code(), v.describe()))
                    }
                    Poll::Ready(Err(WireError::Io(e))) => {
                        return Poll::Ready(self.end_abruptly(&format!("read failed: {e}")))
                    }
                    Poll::Pending => break,
                }
            }

            // The timer is polled once after each reset (so that it wakes the task) and then
            // only once its deadline has passed.
            if !self.timer_registered || self.now >= self.timer.deadline() {
                self.timer_registered = true;
                if self.timer.as_mut().poll(cx).is_ready() {
                    self.now = Instant::now();
                    if let Some(ending) = self.on_timer() {
                        return Poll::Ready(ending);
                    }
                    self.arm_timer();
                    progressed = true;
                }
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

    /// Buffers our close frame; from now on nothing else is written.
    fn send_close(&mut self, request: CloseRequest) {
        self.wire
            .buffer_control(opcode::CLOSE, &close_payload(request.code, &request.reason));
        self.close_sent = true;
        self.ending.get_or_insert((request.code, request.reason));
        self.set_close_deadline();
    }

    /// Whether reading waits for the peer to read: it owes us reading a pong still unwritten,
    /// and has already earned another.
    fn pong_blocked(&self) -> bool {
        self.pong.is_some() && !self.close_sent && self.wire.written() < self.pong_end
    }

    /// Reads go on after waiting for the application: the clocks that measure the peer's
    /// liveness (and activity) move on by the pause, during which its frames sat unread.
    fn resume_liveness(&mut self) {
        if let Some(since) = self.reads_paused_since.take() {
            let paused = self.now.saturating_duration_since(since);
            self.last_received += paused;
            self.last_activity = (self.last_activity + paused).min(self.now);
            if let Some(sent) = &mut self.ping_sent {
                *sent += paused;
            }
            self.arm_timer();
        }
    }

    /// Acts on what the peer sent; returns an ending when the socket must end now.
    fn on_incoming(&mut self, incoming: Incoming, traffic: &mut Traffic) -> Option<Ending> {
        let now = self.now;
        self.last_received = now;
        match incoming {
            Incoming::Message {
                message,
                retained,
                compressed,
            } => {
                traffic.received(message.kind(), message.len());
                if let Some(len) = compressed {
                    traffic.compressed_received(len);
                }
                self.last_activity = now;
                // Once we close, or the application asked to, nothing more is delivered.
                if self.close_sent || self.socket.is_close_requested() {
                    return None;
                }
                if let Some(rate) = &mut self.rate {
                    if !rate.admit(now) {
                        return match rate.policy() {
                            MessageRatePolicy::Drop => None,
                            MessageRatePolicy::Close => Some(Ending::failed(
                                close_code::POLICY_VIOLATION,
                                "message rate limit exceeded",
                            )),
                        };
                    }
                }
                #[cfg(test)]
                if message.as_text() == Some(tests::PANIC_TRIGGER) {
                    panic!("injected fault");
                }
                let socket = self.socket.clone();
                let event = match socket.socket_type() {
                    SocketType::Inbound => Event::InboundMessage { socket, message },
                    SocketType::Outbound => Event::OutboundMessage { socket, message },
                };
                POLL_EVENTS.with(|events| events.borrow_mut().push((event, retained)));
                self.poll_event_bytes += retained;
                if self.poll_event_bytes >= EVENT_HANDOVER_BYTES {
                    self.shared.metrics.add_received(traffic);
                    self.flush_events();
                }
            }
            Incoming::Ping(payload) => {
                if !self.close_sent {
                    self.pong = Some(payload);
                }
            }
            Incoming::Pong => self.ping_sent = None,
            Incoming::Close(close) => {
                self.close_received = true;
                if self.ending.is_none() {
                    self.ending = Some(
                        close
                            .clone()
                            .unwrap_or((close_code::NO_STATUS, String::new())),
                    );
                    self.socket.queue().seal(Sealed::ClosedByPeer);
                }
                if !self.close_sent {
                    // Answer with the same code, as RFC 6455 suggests.
                    let reply = close
                        .map(|(code, _)| code.to_be_bytes().to_vec())
                        .unwrap_or_default();
                    self.wire.buffer_control(opcode::CLOSE, &reply);
                    self.close_sent = true;
                }
                self.set_close_deadline();
            }
        }
        None
    }

    fn set_close_deadline(&mut self) {
        if self.close_deadline.is_none() {
            let deadline = after(Instant::now(), self.close_timeout);
            self.close_deadline = Some(deadline);
            if deadline < self.timer.deadline() {
                self.timer.as_mut().reset(deadline);
                self.timer_registered = false;
            }
        }
    }

    /// Handles whatever deadline passed; returns an ending when the socket must end now.
    fn on_timer(&mut self) -> Option<Ending> {
        let now = Instant::now();
        if self.close_deadline.is_some_and(|d| now >= d) {
            return Some(
                self.end_abruptly("the peer did not complete the close handshake in time"),
            );
        }
        if self.close_sent || self.reads_paused_since.is_some() {
            return None;
        }
        if let Some(sent) = self.ping_sent {
            if now >= after(sent, self.pong_timeout) {
                self.shared.metrics.pong_timeout();
                return Some(Ending::dropped(
                    close_code::ABNORMAL,
                    "no pong within the pong timeout: peer is unresponsive",
                ));
            }
        }
        if let Some(idle) = self.idle_timeout {
            if now >= after(self.last_activity, idle) {
                self.idle_timeout = None;
                self.socket.queue().request_close(CloseRequest {
                    code: close_code::GOING_AWAY,
                    reason: "idle timeout".into(),
                });
            }
        }
        if let Some(interval) = self.ping_interval {
            if self.ping_sent.is_none() && now >= after(self.last_received, interval) {
                self.ping_due = true;
                self.ping_sent = Some(now);
                self.shared.metrics.ping_sent();
            }
        }
        None
    }

    /// Sets the timer for the earliest deadline still ahead.
    fn arm_timer(&mut self) {
        let now = Instant::now();
        let mut next = now + Duration::from_secs(24 * 3600);
        let mut consider = |at: Instant| next = next.min(at.max(now + Duration::from_millis(1)));
        if let Some(deadline) = self.close_deadline {
            consider(deadline);
        }
        if !self.close_sent && self.reads_paused_since.is_none() {
            if let Some(sent) = self.ping_sent {
                consider(after(sent, self.pong_timeout));
            }
            if let Some(idle) = self.idle_timeout {
                consider(after(self.last_activity, idle));
            }
            if let (Some(interval), None) = (self.ping_interval, self.ping_sent) {
                consider(after(self.last_received, interval));
            }
        }
        self.timer.as_mut().reset(next);
        self.timer_registered = false;
    }

    /// The stream ended: after a close handshake, or without one.
    fn end_of_stream(&mut self) -> Ending {
        match self.ending.take() {
            Some((code, reason)) => Ending::closed(code, reason),
            None => Ending::dropped(
                close_code::ABNORMAL,
                "connection closed without a close frame",
            ),
        }
    }

    /// The connection is dropped without (finishing) the close handshake; a close code
    /// already known (requested or received) is still the one reported.
    fn end_abruptly(&mut self, why: &str) -> Ending {
        match self.ending.take() {
            Some((code, reason)) => Ending::dropped(code, reason),
            None => Ending::dropped(close_code::ABNORMAL, why),
        }
    }
}

/// `at + by`, with `by` capped at [`MAX_DURATION`] as validation already caps every setting:
/// whatever reaches the driver, its deadline arithmetic cannot overflow.
fn after(at: Instant, by: Duration) -> Instant {
    at + by.min(MAX_DURATION)
}

#[cfg(test)]
mod tests {
    use crate::{log, Config, Connector, ConnectorHandle, Event, Socket};
    use futures_util::{SinkExt, StreamExt};
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::Duration;
    use tokio_tungstenite::tungstenite::Message as Frame;

    /// A text message that makes the receiving socket's task panic (tests only).
    pub(super) const PANIC_TRIGGER: &str = "\u{0}wsc-test-panic\u{0}";

    /// A connector listening on 127.0.0.1 whose events go to the returned channel.
    fn recording(config: Config) -> (Connector, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let connector = Connector::builder(config)
            .on_event(move |_: &ConnectorHandle, event: Event| {
                let _ = tx.lock().unwrap().send(event);
            })
            .start()
            .unwrap();
        (connector, rx)
    }

    /// Records kept by a test's sink: each one's message and span fields.
    type Records = Arc<Mutex<Vec<(String, Vec<(&'static str, String)>)>>>;

    /// Installs a log sink that keeps the library's records at `level` and above (a socket's
    /// life spans modules: it opens in the driver and closes in its registration).
    fn library_records(level: log::LogLevel) -> Records {
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink_records = records.clone();
        log::set_log_sink(
            Some(Arc::new(move |record: &log::LogRecord<'_>| {
                if record.target.starts_with("wsconnector::") {
                    let fields = record.span_fields.to_vec();
                    sink_records
                        .lock()
                        .unwrap()
                        .push((record.message.to_owned(), fields));
                }
            })),
            level,
        )
        .unwrap();
        records
    }

    /// Panics at `point` of the task of a socket whose path is `/wsc-test-fault/<point>`.
    pub(super) fn fault_point(socket: &Socket, point: &str) {
        if socket.path().strip_prefix("/wsc-test-fault/") == Some(point) {
            panic!("injected fault at {point}");
        }
    }

    #[test]
    fn a_panic_in_a_socket_task_closes_only_that_socket_with_1011_and_is_logged() {
        let _one_at_a_time = log::tests::SINK_TESTS
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let logged = library_records(log::LogLevel::Error);
        let (server, rx) = recording(Config::with_listener("127.0.0.1", 0));
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
            logged.iter().any(|(m, _)| m.contains("panicked")
                && m.contains("injected fault")
                && m.contains("socket_id=")),
            "{logged:?}"
        );
    }

    /// With debug records on, everything a socket's task logs carries the socket's span fields:
    /// filtering the records by its ID shows its whole life, from opened to closed.
    #[test]
    fn a_sockets_records_carry_its_id_from_open_to_close() {
        let _one_at_a_time = log::tests::SINK_TESTS
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let logged = library_records(log::LogLevel::Debug);
        let (server, rx) = recording(Config::with_listener("127.0.0.1", 0));
        let url = format!("ws://{}/traced", server.local_addr().unwrap());
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (mut client, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
            client.close(None).await.unwrap();
            while let Some(Ok(_)) = client.next().await {}
        });
        let id = loop {
            if let Event::SocketClosed { socket, .. } =
                rx.recv_timeout(Duration::from_secs(10)).unwrap()
            {
                break socket.id().to_string();
            }
        };
        server.stop().unwrap();
        log::set_log_sink(None, log::LogLevel::Debug).unwrap();
        let logged = logged.lock().unwrap();
        let own: Vec<_> = logged
            .iter()
            .filter(|(message, _)| message.contains(&format!("socket_id={id}")))
            .collect();
        assert!(
            own.iter().any(|(m, _)| m.starts_with("socket opened")),
            "{logged:?}"
        );
        assert!(
            own.iter()
                .any(|(m, _)| m.starts_with("socket closed code=1005")),
            "{logged:?}"
        );
        for (message, fields) in own {
            assert!(
                message.contains("socket_type=inbound socket_path=/traced"),
                "{message}"
            );
            assert_eq!(fields[0], ("socket_id", id.clone()), "{message}");
        }
    }

    /// A panic outside the poll's own guard (in the set-up before the first poll, in the flush
    /// after the close handshake) still unregisters the socket and reports it closed exactly
    /// once, with 1011; other sockets carry on.
    #[test]
    fn a_panic_before_or_after_the_poll_still_unregisters_the_socket_and_reports_1011_once() {
        let (server, rx) = recording(Config::with_listener("127.0.0.1", 0));
        let addr = server.local_addr().unwrap();
        let wait = Duration::from_secs(10);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (mut bystander_out, mut bystander_in) = rt.block_on(async {
            let (client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/fine"))
                .await
                .unwrap();
            client.split()
        });
        // It reads (and so answers the close at stop) all along.
        rt.spawn(async move { while let Some(Ok(_)) = bystander_in.next().await {} });
        for point in ["setup", "linger"] {
            let path = format!("/wsc-test-fault/{point}");
            rt.block_on(async {
                let (mut victim, _) =
                    tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
                        .await
                        .unwrap();
                // "linger" is reached once a close handshake is done; after "setup" the
                // connection is already gone, and this close just fails.
                let _ = victim.close(None).await;
                let _ = tokio::time::timeout(wait, victim.next()).await.unwrap();
            });
            let mut connected = false;
            let code = loop {
                match rx.recv_timeout(wait).unwrap() {
                    Event::InboundConnection { socket } => connected |= socket.path() == path,
                    Event::SocketClosed { socket, code, .. } if socket.path() == path => {
                        assert!(!socket.is_open());
                        break code;
                    }
                    _ => {}
                }
            };
            assert!(connected, "{point}: the connection came first");
            assert_eq!(code, 1011, "{point}");
            assert_eq!(
                server.socket_count(),
                1,
                "{point}: only the bystander is left"
            );
        }
        rt.block_on(bystander_out.send(Frame::text("still here")))
            .unwrap();
        let spoke = loop {
            if let Event::InboundMessage { message, .. } = rx.recv_timeout(wait).unwrap() {
                break message;
            }
        };
        assert_eq!(spoke.as_text(), Some("still here"));
        server.stop().unwrap();
        let closed_after_stop: Vec<_> = rx
            .try_iter()
            .filter_map(|event| match event {
                Event::SocketClosed { socket, .. } => Some(socket.path().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(
            closed_after_stop,
            ["/fine"],
            "each socket closed exactly once"
        );
    }

    /// Every duration at the longest allowed (a year) serves sockets as usual.
    #[test]
    fn the_longest_durations_serve_sockets() {
        let longest = crate::MAX_DURATION;
        let mut config = Config::with_listener("127.0.0.1", 0);
        let listener = config.listener.as_mut().unwrap();
        listener.handshake_timeout = longest;
        listener.idle_timeout = Some(longest);
        config.socket.ping_interval = Some(longest);
        config.socket.pong_timeout = longest;
        config.socket.close_timeout = longest;
        config.stop_timeout = longest;
        let (server, rx) = recording(config);
        let url = format!("ws://{}/", server.local_addr().unwrap());
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (mut client, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
            client.send(Frame::text("a year")).await.unwrap();
            client.close(None).await.unwrap();
            while let Some(Ok(_)) = client.next().await {}
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            got.push(match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
                Event::InboundConnection { .. } => "connection".to_owned(),
                Event::InboundMessage { message, .. } => message.as_text().unwrap().to_owned(),
                Event::SocketClosed { code, .. } => code.to_string(),
                other => format!("{:?}", other.trigger()),
            });
        }
        assert_eq!(
            got,
            ["connection", "a year", "1005"],
            "1005: a close without a code"
        );
    }

    /// Deadline arithmetic saturates: a duration no validation let through cannot overflow.
    #[test]
    fn deadlines_saturate_at_the_longest_duration() {
        let now = tokio::time::Instant::now();
        assert_eq!(super::after(now, Duration::MAX), now + crate::MAX_DURATION);
    }
}
