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

use crate::config::{MessageRatePolicy, SocketConfig, MAX_DURATION};
use crate::events::Event;
use crate::metrics::Traffic;
use crate::park::Resume;
use crate::protocol::close::{close_code, truncate_reason};
use crate::protocol::frame::{close_payload, opcode, server_frame_payload_len};
use crate::queue::{reply, CloseRequest, Outgoing, Sealed};
use crate::rate::RateLimit;
use crate::shared::{Registration, Shared};
use crate::socket::{Socket, SocketType};
use crate::timers::{Tick, Timers, NEVER};
use crate::wire::{Incoming, ParkedWire, Role, Wire, WireError};
use bytes::Bytes;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
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

/// A socket's task: its set-up (an inbound handshake, in an allocation of its own that is
/// freed once it is done), then its connection (see [`Connection`]), then the report of its
/// end.
///
/// Written by hand rather than as an async fn so that the task holds each thing once (an
/// async fn keeps its arguments beside what it moves them into): an idle connection's memory
/// is mostly this.
pub(crate) struct SocketTask<G> {
    stage: Stage<G>,
}

/// A socket task's set-up: the socket registered, its wire, and what the task holds until
/// the socket ends (`G`: an inbound connection's place under the listener's limits, released
/// before the closed event is queued, so that an application reconnecting on that event finds
/// room); `None` when there is no socket to drive.
pub(crate) type Setup<G> = Pin<Box<dyn Future<Output = Option<(Registration, Wire, G)>> + Send>>;

// The task spends its life in `Connected`: boxing it would cost every socket an allocation.
#[allow(clippy::large_enum_variant)]
enum Stage<G> {
    Setup(Setup<G>),
    Connected(Connection<Registration>, G),
    /// Parked (see [`crate::park`]), resuming on its first poll.
    Resume(Parked<G>),
    /// Connected, driven inside the socket's debug span: only while debug records are wanted
    /// (see [`socket_span`]), so a socket costs an allocation for it only then.
    Traced(Pin<Box<dyn Future<Output = ()> + Send>>),
    Done,
}

impl<G> SocketTask<G> {
    /// A task that sets a socket up with `setup`, then drives it.
    pub(crate) fn after(setup: Setup<G>) -> Self {
        SocketTask {
            stage: Stage::Setup(setup),
        }
    }
}

/// The task of a socket whose handshake is done: it runs the connection, then releases
/// `guard` and reports the socket closed.
pub(crate) fn drive<G: Unpin + Send + 'static>(
    registration: Registration,
    wire: Wire,
    guard: G,
) -> SocketTask<G> {
    SocketTask {
        stage: connected(registration, wire, guard),
    }
}

/// The stage of a socket whose handshake is done: in its span when debug records are wanted.
fn connected<G: Unpin + Send + 'static>(
    registration: Registration,
    wire: Wire,
    guard: G,
) -> Stage<G> {
    let span = socket_span(registration.socket(), "socket opened");
    traced(
        span,
        Stage::Connected(Connection::Start(registration, wire), guard),
    )
}

/// `stage` in the socket's `span`, if debug records are wanted.
fn traced<G: Unpin + Send + 'static>(span: Option<tracing::Span>, stage: Stage<G>) -> Stage<G> {
    match span {
        None => stage,
        Some(span) => Stage::Traced(Box::pin(SocketTask { stage }.instrument(span))),
    }
}

impl<G: Unpin + Send + 'static> Future for SocketTask<G> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let stage = &mut self.get_mut().stage;
        loop {
            match stage {
                Stage::Setup(setup) => match setup.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(None) => {
                        *stage = Stage::Done;
                        return Poll::Ready(());
                    }
                    Poll::Ready(Some((registration, wire, guard))) => {
                        *stage = connected(registration, wire, guard);
                    }
                },
                Stage::Traced(task) => {
                    ready!(task.as_mut().poll(cx));
                    *stage = Stage::Done;
                    return Poll::Ready(());
                }
                Stage::Resume(_) => {
                    let Stage::Resume(parked) = std::mem::replace(stage, Stage::Done) else {
                        unreachable!("matched above")
                    };
                    match parked.wire.resume() {
                        Ok(wire) => {
                            let span = socket_span(parked.registration.socket(), "socket resumed");
                            let driver = Driver::resumed(parked.registration, wire, parked.clocks);
                            *stage = traced(
                                span,
                                Stage::Connected(Connection::Running(driver), parked.guard),
                            );
                        }
                        Err(e) => {
                            drop(parked.guard);
                            parked.registration.finish(
                                close_code::ABNORMAL,
                                format!("the parked connection could not resume: {e}"),
                            );
                            return Poll::Ready(());
                        }
                    }
                }
                Stage::Connected(connection, _) => {
                    let (registration, code, reason) = match connection.poll(cx) {
                        Poll::Ready(end) => end,
                        Poll::Pending => {
                            if matches!(connection, Connection::Running(d) if d.may_park()) {
                                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                                    park(stage, runtime);
                                    return Poll::Ready(());
                                }
                            }
                            return Poll::Pending;
                        }
                    };
                    if let Stage::Connected(_, guard) = std::mem::replace(stage, Stage::Done) {
                        drop(guard);
                    }
                    registration.finish(code, reason);
                    return Poll::Ready(());
                }
                Stage::Done => return Poll::Ready(()),
            }
        }
    }
}

impl<G> Drop for SocketTask<G> {
    /// Dropped before its end (its runtime shut down): the guard goes first, then the
    /// connection, whose registration reports the socket closed.
    fn drop(&mut self) {
        if let Stage::Connected(connection, guard) = std::mem::replace(&mut self.stage, Stage::Done)
        {
            drop(guard);
            drop(connection);
        }
    }
}

/// A parked socket's task (see [`crate::park`]): what it resumes from. The guard first, so
/// that it is released before the registration reports the socket closed, should the task
/// be dropped unresumed (its runtime gone).
struct Parked<G> {
    guard: G,
    registration: Registration,
    wire: ParkedWire,
    clocks: Clocks,
    /// The runtime of the I/O thread it ran on, and resumes on.
    runtime: tokio::runtime::Handle,
}

/// What a parked socket's driver keeps of its state: its clocks and rate limit (everything
/// else is at rest while it may park, see [`Driver::may_park`]).
struct Clocks {
    last_activity: Instant,
    last_received: Instant,
    ping_sent: Option<Instant>,
    rate: Option<Box<RateLimit>>,
    timer: Tick,
}

/// Parks the socket of `stage`, whose driver may park: its task ends (the caller returns
/// ready) and its stream leaves the reactor for the connector's parking.
fn park<G: Unpin + Send + 'static>(stage: &mut Stage<G>, runtime: tokio::runtime::Handle) {
    let Stage::Connected(Connection::Running(driver), guard) =
        std::mem::replace(stage, Stage::Done)
    else {
        unreachable!("checked by the caller")
    };
    let (registration, wire, clocks) = driver.into_parts();
    let wire = match wire.park() {
        Ok(wire) => wire,
        Err(e) => {
            drop(guard);
            registration.finish(
                close_code::ABNORMAL,
                format!("the connection could not park: {e}"),
            );
            return;
        }
    };
    let Some(parking) = registration.shared().parking.clone() else {
        unreachable!("a driver parks only with parking on")
    };
    let socket = registration.socket().clone();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&wire.tcp);
    let parked = Parked {
        guard,
        registration,
        wire,
        clocks,
        runtime,
    };
    parking.park(fd, parked, socket.queue());
}

impl<G: Unpin + Send + 'static> Resume for Parked<G> {
    fn resume(self) {
        let shared = self.registration.shared().clone();
        let runtime = self.runtime.clone();
        shared.tasks.spawn_on(
            SocketTask {
                stage: Stage::Resume(self),
            },
            &runtime,
        );
    }
}

/// A socket's whole life (`life`, which ends with its registration's end) in the socket's
/// span (see [`socket_span`]).
pub(crate) fn in_socket_span<F: Future<Output = ()>>(
    socket: &Socket,
    life: F,
) -> impl Future<Output = ()> {
    let span = socket_span(socket, "socket opened");
    async move {
        match span {
            None => life.await,
            Some(span) => Box::pin(life.instrument(span)).await,
        }
    }
}

/// The socket's span (`socket_id`, `socket_type`, `socket_path`), so that everything its task
/// logs names it. A debug span: made only while debug records are wanted (`None` otherwise),
/// it costs an idle socket nothing then (the task's warnings and errors name the socket
/// themselves), and a busy one no extra layer of polling. Logs `what` in it: the socket's task
/// starts (a parked socket's task ends, and a new one starts when it resumes).
fn socket_span(socket: &Socket, what: &str) -> Option<tracing::Span> {
    let span = tracing::debug_span!(
        "socket",
        socket_id = %socket.id(),
        socket_type = socket.socket_type().as_str(),
        socket_path = socket.path(),
    );
    span.in_scope(|| tracing::debug!("{what}"));
    (!span.is_disabled()).then_some(span)
}

/// Runs one connection of a socket whose registration is held elsewhere (an outbound socket
/// that reconnects) until it ends; returns the close code and reason. What comes next is the
/// caller's: the socket's end, or a reconnect.
pub(crate) fn serve(shared: Arc<Shared>, socket: Socket, wire: Wire) -> Serve {
    Serve(Connection::Start(Link { shared, socket }, wire))
}

/// The future of [`serve`].
pub(crate) struct Serve(Connection<Link>);

impl Future for Serve {
    type Output = (u16, String);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(u16, String)> {
        self.get_mut()
            .0
            .poll(cx)
            .map(|(_, code, reason)| (code, reason))
    }
}

/// What a connection is run for: its socket and the connector's state, held by the socket's
/// registration, or beside a registration held elsewhere.
pub(crate) trait Owner {
    fn socket(&self) -> &Socket;
    fn shared(&self) -> &Arc<Shared>;
}

impl Owner for Registration {
    fn socket(&self) -> &Socket {
        Registration::socket(self)
    }

    fn shared(&self) -> &Arc<Shared> {
        Registration::shared(self)
    }
}

/// A socket and its connector's state, for a connection whose registration is held elsewhere.
pub(crate) struct Link {
    shared: Arc<Shared>,
    socket: Socket,
}

impl Owner for Link {
    fn socket(&self) -> &Socket {
        &self.socket
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// One connection of a socket: started on its first poll, run until it ends, then lingering
/// while what is buffered leaves; its owner comes back with the close code and reason. A
/// panic anywhere in it ends it with 1011: one in a poll answers the peer with a close frame
/// first, one in the start or the linger drops the connection.
pub(crate) enum Connection<O> {
    Start(O, Wire),
    Running(Driver<O>),
    Lingering(Driver<O>),
    Done,
}

impl<O: Owner> Connection<O> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(O, u16, String)> {
        loop {
            match self {
                Connection::Start(..) => {
                    let Connection::Start(owner, wire) = std::mem::replace(self, Connection::Done)
                    else {
                        unreachable!("matched above")
                    };
                    let started = catch_unwind(AssertUnwindSafe(|| {
                        #[cfg(test)]
                        tests::fault_point(owner.socket(), "setup");
                    }));
                    match started {
                        Ok(()) => *self = Connection::Running(Driver::new(owner, wire)),
                        Err(panic) => {
                            report_panic(owner.socket(), &*panic);
                            return Poll::Ready((
                                owner,
                                close_code::INTERNAL_ERROR,
                                INTERNAL.into(),
                            ));
                        }
                    }
                }
                Connection::Running(driver) => {
                    let ending = match catch_unwind(AssertUnwindSafe(|| driver.poll(cx))) {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(ending)) => ending,
                        Err(panic) => {
                            report_panic(driver.socket(), &*panic);
                            Ending::failed(close_code::INTERNAL_ERROR, INTERNAL)
                        }
                    };
                    // What the poll read before it ended (or panicked) is this socket's:
                    // deliver it, and leave the thread's event buffer empty for the next task.
                    driver.flush_events();
                    if ending.send_close && !driver.close_sent {
                        driver.wire.buffer_control(
                            opcode::CLOSE,
                            &close_payload(ending.code, &ending.reason),
                        );
                    }
                    let linger = ending.linger;
                    driver.ending = Some(Box::new((ending.code, ending.reason)));
                    let Connection::Running(mut driver) = std::mem::replace(self, Connection::Done)
                    else {
                        unreachable!("matched above")
                    };
                    if !linger {
                        return Poll::Ready(driver.end(None));
                    }
                    driver.start_linger();
                    *self = Connection::Lingering(driver);
                }
                Connection::Lingering(driver) => {
                    let lingered = catch_unwind(AssertUnwindSafe(|| {
                        #[cfg(test)]
                        tests::fault_point(driver.socket(), "linger");
                        driver.poll_linger(cx)
                    }));
                    let panicked = match lingered {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(())) => None,
                        Err(panic) => {
                            report_panic(driver.socket(), &*panic);
                            Some((close_code::INTERNAL_ERROR, INTERNAL.to_owned()))
                        }
                    };
                    let Connection::Lingering(driver) = std::mem::replace(self, Connection::Done)
                    else {
                        unreachable!("matched above")
                    };
                    return Poll::Ready(driver.end(panicked));
                }
                // Not polled again once it has returned its end.
                Connection::Done => return Poll::Pending,
            }
        }
    }
}

/// The reason reported for a socket closed by a panic.
const INTERNAL: &str = "internal error";

fn report_panic(socket: &Socket, panic: &(dyn std::any::Any + Send)) {
    tracing::error!(
        socket_id = %socket.id(),
        panic = crate::panic_message(panic),
        "a socket task panicked; closing that socket with 1011"
    );
}

/// A socket task's state: held for as long as the socket lives, so kept small (an idle
/// connection's memory is mostly this, in its task): settings are read from the shared
/// configuration rather than copied, and what only some sockets use is boxed.
pub(crate) struct Driver<O> {
    /// The socket and the connector's state.
    owner: O,
    wire: Wire,
    /// The idle timeout has asked for the close: it applies no more.
    idle_closed: bool,
    /// The peer's message rate limit, when one is set.
    rate: Option<Box<RateLimit>>,
    /// We wrote (or buffered) a close frame: nothing else is written.
    close_sent: bool,
    /// The peer's close frame arrived.
    close_received: bool,
    /// Lingering, everything buffered was written.
    flushed: bool,
    /// The send queue has this poll's waker.
    queue_waker_set: bool,
    /// The close code and reason to report, once known.
    ending: Option<Box<(u16, String)>>,
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
    pong: Option<Box<Bytes>>,
    /// Where the last pong buffered ends, in bytes written (see [`Wire::written`]).
    pong_end: u64,
    /// Since when reads wait for the application (the peer's liveness clock is stopped).
    reads_paused_since: Option<Instant>,
    close_deadline: Option<Instant>,
    /// The earliest deadline, in the connector's [`Timers`] (which wake the task then, through
    /// its send queue's waker); moved to the next one when it passes.
    timer: Tick,
    /// See [`EventQueue::poll_room`](crate::events::EventQueue::poll_room).
    room_round: u64,
    /// The timer comes by the park deadline at the latest: so until the timer moves later
    /// (traffic only moves the park deadline later), and [`Driver::arm_park_timer`] has
    /// nothing to check.
    timer_by_park: bool,
}

thread_local! {
    /// Events read during the current poll of a socket task on this thread, with the memory
    /// each keeps, handed over together at its end (one lock, one wake-up); empty between
    /// polls.
    static POLL_EVENTS: RefCell<Vec<(Event, usize)>> = const { RefCell::new(Vec::new()) };
    /// The memory kept by the events in `POLL_EVENTS` (here rather than in every socket's
    /// task, which would keep it between polls too).
    static POLL_EVENT_BYTES: Cell<usize> = const { Cell::new(0) };
}

impl<O: Owner> Driver<O> {
    fn new(owner: O, wire: Wire) -> Self {
        let config = &owner.shared().config.socket;
        let now = Instant::now();
        let rate = config
            .message_rate_limit
            .map(|limit| Box::new(RateLimit::new(limit, config.message_rate_policy, now)));
        let clocks = Clocks {
            last_activity: now,
            last_received: now,
            ping_sent: None,
            rate,
            timer: NEVER,
        };
        let mut driver = Driver::at_rest(owner, wire, now, clocks);
        driver.arm_timer();
        driver
    }

    /// A driver with `clocks` and nothing buffered, owed or under way: a new socket's, or a
    /// parked one's as it resumes (see [`Driver::may_park`]).
    fn at_rest(owner: O, wire: Wire, now: Instant, clocks: Clocks) -> Self {
        let Clocks {
            last_activity,
            last_received,
            ping_sent,
            rate,
            timer,
        } = clocks;
        Driver {
            owner,
            wire,
            idle_closed: false,
            rate,
            close_sent: false,
            close_received: false,
            flushed: false,
            queue_waker_set: false,
            ending: None,
            now,
            last_activity,
            last_received,
            ping_due: false,
            ping_sent,
            pong: None,
            pong_end: 0,
            reads_paused_since: None,
            close_deadline: None,
            timer,
            room_round: 0,
            timer_by_park: false,
        }
    }

    fn socket(&self) -> &Socket {
        self.owner.socket()
    }

    /// The driver of a parked socket that resumes: as it was when it parked.
    fn resumed(owner: O, wire: Wire, clocks: Clocks) -> Self {
        Driver::at_rest(owner, wire, Instant::now(), clocks)
    }

    /// Whether the socket may park now (see [`crate::park`]): parking is on, the socket has
    /// been quiet for `park_idle_after`, and nothing is buffered, owed or waiting: every
    /// field [`Driver::resumed`] does not restore is at its start.
    ///
    /// Its first test inlined: asked after every poll, a busy socket is answered without a
    /// call.
    #[inline]
    fn may_park(&self) -> bool {
        // A frame arrived in this poll: not quiet (asked after every poll of a busy socket,
        // this spares it the deadline's arithmetic, about 60 instructions).
        self.last_received != self.now && self.quiet_enough_to_park()
    }

    /// [`Driver::may_park`] past its first test.
    #[inline(never)]
    fn quiet_enough_to_park(&self) -> bool {
        let Some(at) = self.park_deadline() else {
            return false;
        };
        let queue = self.owner.socket().queue();
        self.now >= at
            && !self.close_sent
            && !self.close_received
            && self.ending.is_none()
            && !self.idle_closed
            && !self.ping_due
            && self.pong.is_none()
            && self.reads_paused_since.is_none()
            && self.close_deadline.is_none()
            && self.wire.may_park()
            && !queue.wants_task()
            && queue.sealed().is_none()
            && !self.wire.input_waiting()
    }

    /// When the socket parks if nothing is going on then: `park_idle_after` after its last
    /// frame from the peer or message either way; `None` when it never parks.
    fn park_deadline(&self) -> Option<Instant> {
        let shared = self.owner.shared();
        let quiet = shared.config.socket.park_idle_after;
        if quiet.is_zero() || shared.parking.is_none() || !self.wire.parks() {
            return None;
        }
        Some(after(self.last_received.max(self.last_activity), quiet))
    }

    /// The owner, the wire and the clocks of a driver that parks.
    fn into_parts(self) -> (O, Wire, Clocks) {
        let clocks = Clocks {
            last_activity: self.last_activity,
            last_received: self.last_received,
            ping_sent: self.ping_sent,
            rate: self.rate,
            timer: self.timer,
        };
        (self.owner, self.wire, clocks)
    }

    /// The owner back, with the close code and reason: the ending the connection came to,
    /// or `panicked`.
    fn end(self, panicked: Option<(u16, String)>) -> (O, u16, String) {
        self.set_timer(NEVER);
        let (code, reason) = panicked
            .or(self.ending.map(|ending| *ending))
            .unwrap_or((close_code::ABNORMAL, String::new()));
        (self.owner, code, reason)
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Ending> {
        let mut traffic = Traffic::default();
        let result = self.poll_inner(cx, &mut traffic);
        self.owner.shared().metrics.add_received(&mut traffic);
        self.flush_events();
        result
    }

    /// Hands the events of this poll to the application's queue.
    fn flush_events(&mut self) {
        POLL_EVENT_BYTES.set(0);
        POLL_EVENTS.with(|events| {
            let mut events = events.borrow_mut();
            if !events.is_empty() {
                self.owner.shared().events.push_all(&mut events);
            }
        });
    }

    /// One poll; what it reads and writes is counted in `traffic`, and added to the figures
    /// before the events are handed over (received) and before the write (sent): a message is
    /// in the figures by the time the application or the peer can see it.
    fn poll_inner(&mut self, cx: &mut Context<'_>, traffic: &mut Traffic) -> Poll<Ending> {
        self.now = Instant::now();
        // Frames read and messages taken this poll, each bounded apart: neither side starves
        // the other, and the task yields once either has done its share.
        let (mut read_work, mut write_work) = (0, 0);
        // The stream had nothing to read: until the reactor wakes the task, it has nothing
        // this poll either (the waker is registered), so it is not asked again.
        let mut read_blocked = false;
        self.queue_waker_set = false;
        loop {
            if self.owner.socket().queue().is_killed() {
                return Poll::Ready(
                    self.end_abruptly("the connector stopped before the close handshake finished"),
                );
            }
            let mut progressed = false;

            // Read, unless the application is behind (the event queue wakes us when it has
            // room) or the peer has not read the pong it is owed (the write wakes us).
            while read_work < WORK_PER_POLL && !read_blocked && !self.pong_blocked() {
                let shared = self.owner.shared();
                if shared.inline.is_none()
                    && shared
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
                        // What the message led to (replies, a close, a pong) is written below.
                        read_work += 1;
                        if let Some(ending) = self.on_incoming(incoming, traffic) {
                            return Poll::Ready(ending);
                        }
                        if self.close_received {
                            // Nothing after the close is delivered; its reply goes out below,
                            // and the next round reads to the end of the stream.
                            progressed = true;
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
                    Poll::Pending => read_blocked = true,
                }
            }

            // Write: gather queued messages (and a due ping, a pong, replies to what was just
            // read) into one write. The queue's waker is always registered (once per poll), so
            // a close request or a kill reaches a task that is waiting on a full socket.
            if !self.queue_waker_set {
                self.owner.socket().queue().register(cx);
                self.queue_waker_set = true;
            }
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
                if room > 0 && write_work < WORK_PER_POLL {
                    let wire = &mut self.wire;
                    let (count, close) = self
                        .owner
                        .socket()
                        .queue()
                        .take(room, |outgoing| buffer_outgoing(wire, outgoing, traffic));
                    if count > 0 {
                        self.last_activity = self.now;
                        write_work += count;
                    }
                    if let Some(request) = close {
                        self.send_close(request);
                        progressed = true;
                    }
                }
                if self.wire.buffered() >= WRITE_BATCH && self.close_deadline.is_none() {
                    // The peer is not reading: a close asked for now cannot leave yet, but must
                    // still finish in time. Checked after the take, whose room may have just
                    // filled: this poll may end here, waiting for a write that never comes.
                    if let Some(request) = self.owner.socket().queue().pending_close() {
                        self.ending
                            .get_or_insert_with(|| Box::new((request.code, request.reason)));
                        self.set_close_deadline();
                    }
                }
            }
            if self.wire.buffered() > 0 {
                // What is sent (taken above, or an inline handler's reply) is counted before
                // the peer can see it.
                self.owner.shared().metrics.add_sent(traffic);
                match self.wire.poll_flush(cx) {
                    // All written: the queue may have more for the room this made, and reads
                    // held back by an owed pong may go on.
                    Poll::Ready(Ok(())) => {
                        progressed |= self.owner.socket().queue().has_work() || self.pong.is_some()
                    }
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

            if self.owner.socket().queue().take_deadline_passed() {
                if let Some(ending) = self.on_timer() {
                    return Poll::Ready(ending);
                }
                self.arm_timer();
                progressed = true;
            }

            if read_work >= WORK_PER_POLL || write_work >= WORK_PER_POLL {
                // Let other sockets run; come back right away.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if !progressed {
                if read_work + write_work > 0 {
                    self.arm_park_timer();
                }
                return Poll::Pending;
            }
        }
    }

    /// After traffic, the timer comes by the park deadline at the latest (moved when it would
    /// come later, which happens once per `park_idle_after` at most). Checked once after each
    /// time the timer moved later, not after every poll (the deadline's arithmetic cost a busy
    /// socket about 90 instructions a message).
    fn arm_park_timer(&mut self) {
        if self.timer_by_park {
            return;
        }
        if let Some(at) = self.park_deadline() {
            let at = self.timers().deadline(at);
            if at < self.timer {
                self.set_timer(at);
                self.timer = at;
            }
            self.timer_by_park = true;
        }
    }

    fn timers(&self) -> &Timers {
        &self.owner.shared().timers
    }

    /// Moves the task's deadline to `to`.
    fn set_timer(&self, to: Tick) {
        self.timers().set(self.owner.socket(), self.timer, to);
    }

    /// The socket settings (pings, timeouts).
    fn config(&self) -> &SocketConfig {
        &self.owner.shared().config.socket
    }

    /// The idle timeout of this socket's side, until it has asked for the close.
    fn idle_timeout(&self) -> Option<Duration> {
        if self.idle_closed {
            return None;
        }
        match self.owner.socket().socket_type() {
            SocketType::Inbound => self.owner.shared().config.listener.as_ref()?.idle_timeout,
            SocketType::Outbound => self.owner.shared().config.client.idle_timeout,
        }
    }

    /// After the end, what is still buffered (a close frame or its reply) goes out, then a
    /// clean shutdown, within the close timeout (on the task's one timer).
    fn start_linger(&mut self) {
        let deadline = self
            .timers()
            .deadline(after(Instant::now(), self.config().close_timeout));
        self.set_timer(deadline);
        self.timer = deadline;
        self.timer_by_park = false;
    }

    /// Lingers (see [`Driver::start_linger`]) until done or out of time.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // The timers wake the task through its queue's waker.
        self.owner.socket().queue().register(cx);
        if self.timers().tick(Instant::now()) >= self.timer {
            return Poll::Ready(());
        }
        if !self.flushed {
            match self.wire.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.flushed = true,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.wire.poll_shutdown(cx).map(|_| ())
    }

    /// Buffers our close frame; from now on nothing else is written.
    fn send_close(&mut self, request: CloseRequest) {
        self.wire
            .buffer_control(opcode::CLOSE, &close_payload(request.code, &request.reason));
        self.close_sent = true;
        self.ending
            .get_or_insert_with(|| Box::new((request.code, request.reason)));
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
                if self.close_sent || self.owner.socket().is_close_requested() {
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
                let socket = self.owner.socket().clone();
                let event = match socket.socket_type() {
                    SocketType::Inbound => Event::InboundMessage { socket, message },
                    SocketType::Outbound => Event::OutboundMessage { socket, message },
                };
                let shared = self.owner.shared();
                if let Some(inline) = &shared.inline {
                    // Inline dispatch: the handler runs here, now; what it sends to this
                    // socket is written by this same poll: its first reply straight away, the
                    // others through the queue, taken below without a wake-up (its waker
                    // stays registered, for other threads' pushes).
                    let queue = self.owner.socket().queue();
                    // The message is counted before the handler sees it.
                    shared.metrics.add_received(traffic);
                    let mark = shared.handler_mark();
                    if let Some(reply) =
                        reply::collect(mark, queue, || inline.handle(shared, event))
                    {
                        self.last_activity = now;
                        buffer_outgoing(&mut self.wire, reply, traffic);
                    }
                    return None;
                }
                POLL_EVENTS.with(|events| events.borrow_mut().push((event, retained)));
                let poll_event_bytes = POLL_EVENT_BYTES.get() + retained;
                POLL_EVENT_BYTES.set(poll_event_bytes);
                if poll_event_bytes >= EVENT_HANDOVER_BYTES {
                    self.owner.shared().metrics.add_received(traffic);
                    self.flush_events();
                }
            }
            Incoming::Ping(payload) => {
                if !self.close_sent {
                    self.pong = Some(Box::new(payload));
                }
            }
            Incoming::Pong => self.ping_sent = None,
            Incoming::Close(close) => {
                self.close_received = true;
                if self.ending.is_none() {
                    self.ending = Some(Box::new(
                        close
                            .clone()
                            .unwrap_or((close_code::NO_STATUS, String::new())),
                    ));
                    self.owner.socket().queue().seal(Sealed::ClosedByPeer);
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
            let deadline = after(Instant::now(), self.config().close_timeout);
            self.close_deadline = Some(deadline);
            let deadline = self.timers().deadline(deadline);
            if deadline < self.timer {
                self.set_timer(deadline);
                self.timer = deadline;
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
            if now >= after(sent, self.config().pong_timeout) {
                self.owner.shared().metrics.pong_timeout();
                return Some(Ending::dropped(
                    close_code::ABNORMAL,
                    "no pong within the pong timeout: peer is unresponsive",
                ));
            }
        }
        if let Some(idle) = self.idle_timeout() {
            if now >= after(self.last_activity, idle) {
                self.idle_closed = true;
                self.owner.socket().queue().request_close(CloseRequest {
                    code: close_code::GOING_AWAY,
                    reason: "idle timeout".into(),
                });
            }
        }
        if let Some(interval) = self.config().ping_interval {
            if self.ping_sent.is_none() && now >= after(self.last_received, interval) {
                self.ping_due = true;
                self.ping_sent = Some(now);
                self.owner.shared().metrics.ping_sent();
            }
        }
        None
    }

    /// Sets the timer for the earliest deadline still ahead.
    fn arm_timer(&mut self) {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut consider = |at: Instant| {
            let at = at.max(now + Duration::from_millis(1));
            next = Some(next.map_or(at, |next| next.min(at)));
        };
        if let Some(deadline) = self.close_deadline {
            consider(deadline);
        }
        if !self.close_sent && self.reads_paused_since.is_none() {
            if let Some(sent) = self.ping_sent {
                consider(after(sent, self.config().pong_timeout));
            }
            if let Some(idle) = self.idle_timeout() {
                consider(after(self.last_activity, idle));
            }
            if let (Some(interval), None) = (self.config().ping_interval, self.ping_sent) {
                consider(after(self.last_received, interval));
            }
            // Once passed, the socket parks at the end of a poll where it may. Passed by
            // `self.now`, the poll's clock, which `may_park` reads: a deadline that fell
            // between the poll's start and now would otherwise get no timer, and the socket,
            // which this poll cannot park, would never park.
            if let Some(park) = self.park_deadline().filter(|&at| at > self.now) {
                consider(park);
            }
        }
        let next = next.map_or(NEVER, |next| self.timers().deadline(next));
        self.set_timer(next);
        self.timer = next;
        self.timer_by_park = false;
    }

    /// The stream ended: after a close handshake, or without one.
    fn end_of_stream(&mut self) -> Ending {
        match self.ending.take().map(|ending| *ending) {
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
        match self.ending.take().map(|ending| *ending) {
            Some((code, reason)) => Ending::dropped(code, reason),
            None => Ending::dropped(close_code::ABNORMAL, why),
        }
    }
}

/// Buffers a message taken for the peer, counted in `traffic` (written to the figures before
/// the flush). Always inlined: it runs once per message sent, and its few counts cost less
/// than a call that moves the message.
#[inline(always)]
fn buffer_outgoing(wire: &mut Wire, outgoing: Outgoing, traffic: &mut Traffic) {
    match outgoing {
        Outgoing::Message(message) => {
            traffic.sent(message.kind(), message.len());
            if let Some(len) = wire.buffer_message(&message) {
                traffic.compressed_sent(len);
            }
        }
        Outgoing::Frame {
            frame,
            kind,
            message_len,
            compressed,
        } => {
            traffic.sent(kind, message_len);
            if compressed {
                traffic.compressed_sent(server_frame_payload_len(&frame));
            }
            wire.buffer_encoded(frame)
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
    use std::time::{Duration, Instant};
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
        traced_life(Config::with_listener("127.0.0.1", 0), &[]);
    }

    /// A parked socket's task ends, and a new one resumes it: in the socket's span again.
    #[test]
    fn a_sockets_records_carry_its_id_after_it_parked_and_resumed() {
        let mut config = Config::with_listener("127.0.0.1", 0);
        config.socket.park_idle_after = Duration::from_millis(50);
        traced_life(config, &["socket resumed"]);
    }

    /// Opens a socket to a connector with `config` (waiting for it to park if parking is on),
    /// closes it, and checks that the socket's records, `expected` among them, name it.
    fn traced_life(config: Config, expected: &[&str]) {
        let _one_at_a_time = log::tests::SINK_TESTS
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let logged = library_records(log::LogLevel::Debug);
        let parks = !config.socket.park_idle_after.is_zero();
        let (server, rx) = recording(config);
        let url = format!("ws://{}/traced", server.local_addr().unwrap());
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (mut client, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while parks && server.metrics().sockets_parked == 0 {
                assert!(Instant::now() < deadline, "the socket did not park");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
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
        for start in ["socket opened", "socket closed code=1005"]
            .iter()
            .chain(expected)
        {
            assert!(
                own.iter().any(|(m, _)| m.starts_with(start)),
                "no {start:?} in {logged:?}"
            );
        }
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
