//! The options of one outbound socket, as the application gives them to an open.

use super::policy::ReconnectOption;
use std::time::Duration;

/// Options of one outbound socket.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OutboundOptions {
    /// Extra handshake headers (after the connector's default headers). A `Host` header
    /// replaces the URL's `host[:port]` (and a default `Host`); the handshake's own headers
    /// (`Upgrade`, `Connection`, `Sec-WebSocket-*`) cannot be set: opening fails with
    /// [`ErrorKind::InvalidArgument`].
    pub headers: Vec<(String, String)>,
    /// Extra query parameters (after the connector's default ones).
    pub query: Vec<(String, String)>,
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// Groups the socket starts in.
    pub groups: Vec<String>,
    /// The socket's ID; a random UUID when `None`.
    pub socket_id: Option<String>,
    /// Overrides the connector's connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Values of the `{name}` templates in the open's URL or path (percent-encoded as they
    /// go in), as Mule's URI parameters.
    pub uri_params: Vec<(String, String)>,
    /// Whether and how the socket reconnects when its connection ends (default: as the
    /// client settings say).
    pub reconnect: ReconnectOption,
    /// Whether to offer permessage-deflate, replacing
    /// [`Compression::outbound`](crate::Compression::outbound) when set.
    pub compression: Option<bool>,
}

impl OutboundOptions {
    /// No options: a generated ID, no extra headers, no groups.
    pub fn new() -> Self {
        OutboundOptions::default()
    }

    /// Offers permessage-deflate, or not, whatever the connector's
    /// [`Compression::outbound`](crate::Compression::outbound) says.
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = Some(on);
        self
    }

    /// Adds a handshake header (see [`headers`](Self::headers)).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Offers a subprotocol.
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Starts the socket in a group.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.groups.push(group.into());
        self
    }

    /// Chooses the socket's ID.
    pub fn socket_id(mut self, id: impl Into<String>) -> Self {
        self.socket_id = Some(id.into());
        self
    }

    /// Gives the URI parameter `name`, for the `{name}` templates of the URL or path.
    pub fn uri_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.uri_params.push((name.into(), value.into()));
        self
    }

    /// Chooses whether and how the socket reconnects: `true` (the client's policy, or the
    /// default one), `false`, or a [`Reconnect`](super::Reconnect) policy.
    pub fn reconnect(mut self, reconnect: impl Into<ReconnectOption>) -> Self {
        self.reconnect = reconnect.into();
        self
    }

    /// Sets the connect timeout for this socket.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }
}
