//! An outbound socket that reconnects. When its connection ends for a reason worth another
//! try, it waits (exponential backoff with full jitter, see [`Reconnect`]), connects again with
//! the same request, and carries on with the same ID, groups, attributes and send queue; until
//! its attempts run out, the application closes it, or the connector stops. In lazy mode it
//! first waits for a message to send.
//!
//! Its events, in order on the socket: [`Event::OutboundReconnecting`] before each attempt,
//! [`Event::OutboundReconnected`] once one succeeded (the new connection's messages come
//! after it), and the one closed event when it ends.

use super::connect::{establish_within, Connection, Slot};
use super::handshake::Request;
use super::policy::{Reconnect, ReconnectSendPolicy};
use crate::driver::serve;
use crate::error::{Error, ErrorKind, Result};
use crate::events::Event;
use crate::protocol::close::close_code;
use crate::protocol::handshake::validate_client_headers;
use crate::queue::{Offline, Sealed};
use crate::shared::{Registration, Shared};
use crate::socket::{Socket, SocketState};
use crate::wire::Wire;
use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// The close code and reason a socket ends with.
type End = (u16, String);

/// What an outbound socket with a reconnect policy needs to reconnect.
pub(super) struct Reconnecting {
    pub(super) shared: Arc<Shared>,
    /// The open's request, with the headers the refresher last gave.
    pub(super) request: Request,
    pub(super) policy: Reconnect,
    /// Each attempt's connect timeout.
    pub(super) timeout: Duration,
    /// Held until the socket ends: it counts as an outbound socket while it reconnects.
    pub(super) slot: Slot,
}

impl Reconnecting {
    /// Runs the socket, connection after connection, until it ends; then reports it closed.
    pub(super) async fn run(mut self, registration: Registration, mut wire: Wire) {
        let socket = registration.socket().clone();
        let (code, reason) = loop {
            let (code, reason) = serve(self.shared.clone(), socket.clone(), wire).await;
            let Some(error) = self.lost(&socket, code, &reason) else {
                break (code, reason);
            };
            match self.reconnect(&socket, error).await {
                Ok(next) => wire = next,
                Err(end) => break end,
            }
        };
        let Reconnecting { slot, .. } = self;
        drop(slot);
        registration.finish(code, reason);
    }

    /// Why the connection that ended with `code` and `reason` is worth reconnecting; `None`
    /// when the socket ends here: the application or the connector closed it (a close request,
    /// an idle timeout, a slow-consumer close, a stop), or the server closed it with a final
    /// code.
    fn lost(&self, socket: &Socket, code: u16, reason: &str) -> Option<Error> {
        let queue = socket.queue();
        if queue.is_killed() || !self.shared.is_running() || socket.is_close_requested() {
            return None;
        }
        match queue.sealed() {
            Some(Sealed::Closing | Sealed::Ended) => None,
            Some(Sealed::ClosedByPeer) => (!self.policy.is_final(code)).then(|| {
                Error::new(
                    ErrorKind::RemotelyClosed,
                    format!("the server closed the connection with {code} {reason}"),
                )
            }),
            None if code == close_code::ABNORMAL => {
                Some(Error::new(ErrorKind::Connectivity, reason))
            }
            None => Some(Error::new(
                ErrorKind::Protocol,
                format!("the connection failed with {code}: {reason}"),
            )),
        }
    }

    /// Reconnects after `error` ended the connection: attempt after attempt, each after its
    /// delay, until one succeeds (the new connection's wire); the close code and reason to end
    /// with when the attempts run out, or the socket is closed meanwhile.
    async fn reconnect(&mut self, socket: &Socket, mut error: Error) -> Result<Wire, End> {
        let queue = socket.queue();
        if self.policy.lazy {
            queue.go_offline(Offline::Buffer);
            socket.set_state(SocketState::Disconnected, Some(error.clone()));
            if let Wake::Close(end) = wake(socket, true).await {
                return Err(end);
            }
        }
        queue.go_offline(match self.policy.send_policy {
            ReconnectSendPolicy::Buffer => Offline::Buffer,
            ReconnectSendPolicy::Fail => Offline::Fail,
        });
        let mut attempt = 1;
        loop {
            if self.policy.exhausted(attempt) {
                let exhausted = Error::new(
                    ErrorKind::RetryExhausted,
                    format!(
                        "{} reconnect attempts failed; the last: {error}",
                        attempt - 1
                    ),
                );
                let end = (close_code::ABNORMAL, exhausted.message().to_owned());
                socket.set_state(SocketState::Reconnecting, Some(exhausted));
                self.shared.metrics.reconnects_exhausted();
                return Err(end);
            }
            socket.set_state(SocketState::Reconnecting, Some(error.clone()));
            // An application that is behind holds the attempts back, as it holds reads back:
            // a socket that cannot reconnect queues no more events than the bounds allow.
            tokio::select! {
                Wake::Close(end) = wake(socket, false) => return Err(end),
                () = room(&self.shared) => {}
            }
            let delay = self.policy.delay(attempt);
            self.shared.metrics.reconnect_attempt();
            self.shared.deliver(Event::OutboundReconnecting {
                socket: socket.clone(),
                attempt,
                delay,
                error: error.clone(),
            });
            let trying = async {
                tokio::time::sleep(delay).await;
                self.attempt(socket, attempt).await
            };
            tokio::select! {
                Wake::Close(end) = wake(socket, false) => return Err(end),
                result = trying => match result {
                    Ok(connection) => {
                        socket.relink(connection.link);
                        queue.go_online();
                        self.shared.metrics.reconnected();
                        self.shared.deliver(Event::OutboundReconnected {
                            socket: socket.clone(),
                            attempts: attempt,
                        });
                        return Ok(connection.wire);
                    }
                    Err(e) if e.kind() == ErrorKind::Stopped => {
                        return Err(closing(socket).unwrap_or_else(going_away));
                    }
                    Err(e) => error = e,
                },
            }
            attempt += 1;
        }
    }

    /// One attempt: fresh headers from the refresher, if any, then a connection within the
    /// connect timeout, whose server must choose the subprotocol the socket has.
    async fn attempt(&mut self, socket: &Socket, attempt: u32) -> Result<Connection> {
        if let Some(refresher) = self.shared.header_refresher.clone() {
            let asked = socket.clone();
            let fresh = tokio::task::spawn_blocking(move || refresher.refresh(&asked, attempt))
                .await
                .map_err(|_| Error::new(ErrorKind::Internal, "the header refresher panicked"))??;
            validate_client_headers(&fresh)?;
            self.request.refresh_headers(&fresh);
        }
        let connection = establish_within(&self.shared, &self.request, self.timeout).await?;
        if connection.subprotocol.as_deref() != socket.subprotocol() {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "the server chose subprotocol {:?}, and the socket has {:?}",
                    connection.subprotocol,
                    socket.subprotocol()
                ),
            ));
        }
        Ok(connection)
    }
}

/// Resolves when the event queue has room (at once, unless the application is behind).
async fn room(shared: &Shared) {
    let mut registered = 0;
    poll_fn(|cx| shared.events.poll_room(cx, &mut registered)).await
}

/// Why a wait of a socket without a connection ended.
enum Wake {
    /// A message waits in its queue.
    Send,
    /// It is to close, with this code and reason.
    Close(End),
}

/// Resolves when the socket is to close (the application's close request, or a stop), or,
/// with `on_send`, once a message waits in its queue.
fn wake(socket: &Socket, on_send: bool) -> impl Future<Output = Wake> + '_ {
    poll_fn(move |cx| {
        socket.queue().register(cx);
        if let Some(end) = closing(socket) {
            return Poll::Ready(Wake::Close(end));
        }
        if on_send && !socket.queue().is_empty() {
            return Poll::Ready(Wake::Send);
        }
        Poll::Pending
    })
}

/// The close a socket without a connection ends with at once, if it is to close: the
/// application's (or the stop's) request, or a stop that gave up waiting.
fn closing(socket: &Socket) -> Option<End> {
    if let Some(request) = socket.queue().take_close() {
        return Some((request.code, request.reason));
    }
    socket.queue().is_killed().then(going_away)
}

fn going_away() -> End {
    (close_code::GOING_AWAY, "the connector stopped".to_owned())
}
