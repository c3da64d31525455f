//! The header refresher: the application's hook that gives a reconnecting outbound socket fresh
//! handshake headers (a new bearer token...) before each attempt.

use crate::error::Result;
use crate::socket::Socket;

/// Gives an outbound socket fresh handshake headers before reconnect attempt `attempt` (1, 2,
/// ...). Each header returned replaces the socket's headers of that name (all of them) or is
/// added; an error fails that attempt (it counts, and the next one follows after its delay).
/// Runs on a blocking-pool thread, never on an I/O thread; it may block briefly (ask a token
/// service), though not past the connect timeout it delays.
pub trait HeaderRefresher: Send + Sync + 'static {
    /// The headers to send on this attempt in place of the socket's own of the same names.
    fn refresh(&self, socket: &Socket, attempt: u32) -> Result<Vec<(String, String)>>;
}

impl<F> HeaderRefresher for F
where
    F: Fn(&Socket, u32) -> Result<Vec<(String, String)>> + Send + Sync + 'static,
{
    fn refresh(&self, socket: &Socket, attempt: u32) -> Result<Vec<(String, String)>> {
        self(socket, attempt)
    }
}
