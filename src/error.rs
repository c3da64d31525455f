//! The one error type of the connector, with kinds that map one to one onto the C result codes.

use std::fmt;

/// The table of error kinds: `Variant = number, "name";` under the kind's one-line
/// description. Makes `ErrorKind` and its lookups; the C API's result codes and the Python
/// package's exceptions are held to it by their tests.
macro_rules! error_kinds {
    ($(#[doc = $doc:literal] $kind:ident = $code:literal, $name:literal;)*) => {
        /// What went wrong, as a closed list of kinds; each has a fixed number that never
        /// changes meaning (the C API's result code of the same number).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $(#[doc = $doc] $kind = $code,)*
        }

        impl ErrorKind {
            /// Every kind, in the order of their numbers.
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind),*];

            /// A short stable name for the kind, e.g. `"no_such_socket"`.
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $name,)*
                }
            }

            /// One line on what the kind means.
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $doc.trim_ascii(),)*
                }
            }
        }
    };
}

error_kinds! {
    /// An argument was malformed: a bad URL, path pattern, header, close code, setting.
    InvalidArgument = 1, "invalid_argument";
    /// No open socket has the given ID (never existed, or already closed).
    NoSuchSocket = 2, "no_such_socket";
    /// A caller-chosen socket ID is empty, blank or too long.
    InvalidSocketId = 3, "invalid_socket_id";
    /// A caller-chosen socket ID is already used by an open socket.
    NonUniqueSocketId = 4, "non_unique_socket_id";
    /// The TCP connection could not be made or broke (refused, reset, unreachable).
    Connectivity = 5, "connectivity";
    /// The host name of an outbound URL did not resolve.
    Dns = 6, "dns";
    /// TLS failed: untrusted or mismatched certificate, bad PEM, handshake failure.
    Tls = 7, "tls";
    /// The peer answered the WebSocket handshake with an HTTP status other than 101.
    Handshake = 8, "handshake";
    /// A connect, handshake or stop did not finish in time.
    Timeout = 9, "timeout";
    /// The peer closed the socket.
    RemotelyClosed = 10, "remotely_closed";
    /// A configured limit was reached (connections, message size).
    LimitExceeded = 11, "limit_exceeded";
    /// The socket's send queue is full and the slow-consumer policy is to fail the send.
    QueueFull = 12, "queue_full";
    /// The call is not allowed in the connector's current state (e.g. stop from a callback).
    InvalidState = 13, "invalid_state";
    /// The connector is stopped or stopping.
    Stopped = 14, "stopped";
    /// The peer broke the WebSocket protocol.
    Protocol = 15, "protocol";
    /// A bug inside the library (a caught panic); the connector keeps running.
    Internal = 16, "internal";
    /// An outbound socket's reconnect attempts ran out (its policy's maximum) and it closed.
    RetryExhausted = 17, "retry_exhausted";
    /// The server refused the handshake's basic authentication (HTTP 401 to our credentials).
    BasicAuthentication = 18, "basic_authentication";
    /// The outbound socket is reconnecting and its policy fails sends meanwhile.
    Reconnecting = 19, "reconnecting";
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error from the connector: a kind, a message for humans, and for handshake
/// refusals the HTTP status the peer answered with (and, for an outbound handshake, the
/// start of the response's body and its headers).
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    http_status: Option<u16>,
    /// Boxed: most errors carry none, and errors travel by value.
    response: Option<Box<HandshakeResponse>>,
}

/// What a server answered when it refused an outbound handshake, kept for the application
/// to read (a JSON error body, a `Retry-After` or `WWW-Authenticate` header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// The first bytes of the body, at most [`HandshakeResponse::MAX_BODY`] (up to its
    /// `Content-Length`).
    pub body: Vec<u8>,
    /// The response's headers, in order.
    pub headers: Vec<(String, String)>,
}

impl HandshakeResponse {
    /// Most bytes of a refusal's body kept (the rest is not read).
    pub const MAX_BODY: usize = 1024;
}

/// A refused handshake's HTTP status as Mule's WebSockets connector names its errors; the
/// statuses it names have their own variant, the others their class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeStatus {
    /// 401
    Unauthorized,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 500
    InternalServerError,
    /// 503
    ServiceUnavailable,
    /// Another 4xx.
    ClientError,
    /// Another 5xx.
    ServerError,
    /// Any other status (1xx, 2xx, 3xx without a usable redirect).
    Other,
}

impl HandshakeStatus {
    /// The name of `status`'s variant.
    pub fn of(status: u16) -> Self {
        match status {
            401 => HandshakeStatus::Unauthorized,
            403 => HandshakeStatus::Forbidden,
            404 => HandshakeStatus::NotFound,
            500 => HandshakeStatus::InternalServerError,
            503 => HandshakeStatus::ServiceUnavailable,
            _ if (400..500).contains(&status) => HandshakeStatus::ClientError,
            _ if (500..600).contains(&status) => HandshakeStatus::ServerError,
            _ => HandshakeStatus::Other,
        }
    }

    /// A short stable name: `"unauthorized"`, `"forbidden"`, `"not_found"`,
    /// `"internal_server_error"`, `"service_unavailable"`, `"client_error"`, `"server_error"`
    /// or `"other"`.
    pub fn name(self) -> &'static str {
        match self {
            HandshakeStatus::Unauthorized => "unauthorized",
            HandshakeStatus::Forbidden => "forbidden",
            HandshakeStatus::NotFound => "not_found",
            HandshakeStatus::InternalServerError => "internal_server_error",
            HandshakeStatus::ServiceUnavailable => "service_unavailable",
            HandshakeStatus::ClientError => "client_error",
            HandshakeStatus::ServerError => "server_error",
            HandshakeStatus::Other => "other",
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            http_status: None,
            response: None,
        }
    }

    /// A handshake refused by the peer with an HTTP status.
    pub fn handshake(status: u16, message: impl Into<String>) -> Self {
        Error::with_status(ErrorKind::Handshake, status, message)
    }

    /// The same error carrying what the server answered (an outbound handshake's refusal).
    pub(crate) fn with_response(mut self, response: HandshakeResponse) -> Self {
        self.response = Some(Box::new(response));
        self
    }

    /// Which kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status of a refused handshake (401, 403, 404, 503, ...) or of a proxy's
    /// refusal, if any.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// For a refused handshake (kind `Handshake`), its status as Mule names it: match on
    /// `Some(HandshakeStatus::Unauthorized)` as a Mule flow on `WEBSOCKETS:UNAUTHORIZED`.
    pub fn handshake_status(&self) -> Option<HandshakeStatus> {
        match (self.kind, self.http_status) {
            (ErrorKind::Handshake, Some(status)) => Some(HandshakeStatus::of(status)),
            _ => None,
        }
    }

    /// What the server answered when it refused an outbound handshake: the start of the body
    /// and the headers.
    pub fn handshake_response(&self) -> Option<&HandshakeResponse> {
        self.response.as_deref()
    }

    /// An error of `kind` that came with an HTTP status (a proxy's refusal, a 401).
    pub(crate) fn with_status(kind: ErrorKind, status: u16, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            http_status: Some(status),
            response: None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn no_such_socket(id: &str) -> Self {
        Error::new(
            ErrorKind::NoSuchSocket,
            format!("no open socket has the ID {id:?}"),
        )
    }

    /// The same error, its message prefixed with where it belongs (a setting, a path).
    pub(crate) fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub(crate) fn stopped() -> Self {
        Error::new(ErrorKind::Stopped, "the connector is stopped")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// Reads as the message does, unescaped, with the HTTP status when there is one: `fn main()
/// -> Result<(), wsconnector::Error>` prints it on failure.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)?;
        match self.http_status {
            Some(status) => write!(f, " (HTTP status {status})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_reads_as_the_message_with_the_http_status() {
        let e = Error::invalid(r#"URL "ws://h:99999/" has port "99999": a port is 1-65535"#);
        assert_eq!(
            format!("{e:?}"),
            r#"invalid_argument: URL "ws://h:99999/" has port "99999": a port is 1-65535"#
        );
        let refused = Error {
            http_status: Some(404),
            ..Error::new(ErrorKind::Handshake, "refused")
        };
        assert_eq!(
            format!("{refused:?}"),
            "handshake: refused (HTTP status 404)"
        );
    }
}
