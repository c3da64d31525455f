//! One socket as the application sees it: its ID, its attributes, its groups and its send queue.
//! The task that drives its stream lives in `driver.rs`.

use crate::config::validate_groups;
use crate::error::{Error, Result};
use crate::protocol::close::validate_close;
use crate::protocol::extensions::PerMessageDeflate;
use crate::queue::{CloseRequest, SendQueue};
use crate::tls::PeerCertificate;
use bytes::Bytes;
use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Longest socket ID accepted, in bytes.
pub const MAX_SOCKET_ID_LEN: usize = 256;

/// The unique ID of a socket within one connector. Cloning is cheap.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(Arc<str>);

impl SocketId {
    /// A caller-chosen ID: not empty or blank, at most [`MAX_SOCKET_ID_LEN`] bytes, no control
    /// characters.
    pub fn new(id: &str) -> Result<Self> {
        let invalid = |why: &str| {
            Error::new(
                crate::ErrorKind::InvalidSocketId,
                format!("socket ID {id:?} {why}"),
            )
        };
        if id.trim().is_empty() {
            return Err(invalid("is empty or blank"));
        }
        if id.len() > MAX_SOCKET_ID_LEN {
            return Err(invalid(&format!(
                "is longer than {MAX_SOCKET_ID_LEN} bytes"
            )));
        }
        if id.chars().any(char::is_control) {
            return Err(invalid("contains control characters"));
        }
        Ok(SocketId(Arc::from(id)))
    }

    /// A fresh random ID (a UUID v4).
    pub(crate) fn generate() -> Self {
        let mut buf = uuid::Uuid::encode_buffer();
        SocketId(Arc::from(
            &*uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf),
        ))
    }

    /// The ID as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SocketId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SocketId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Which side opened the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketType {
    /// Accepted by the listener (a client connected to us).
    Inbound,
    /// Opened by the application (we are the client).
    Outbound,
}

impl SocketType {
    /// `"inbound"` or `"outbound"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SocketType::Inbound => "inbound",
            SocketType::Outbound => "outbound",
        }
    }
}

/// The fixed facts of a socket, known once its handshake is done.
#[derive(Debug)]
pub(crate) struct Attributes {
    pub id: SocketId,
    pub socket_type: SocketType,
    pub path: String,
    pub uri: String,
    pub secure: bool,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    /// The values of the `{name}` segments of the served path pattern that matched (inbound),
    /// or that filled the URL's template (outbound).
    pub uri_params: Vec<(String, String)>,
    pub subprotocol: Option<String>,
}

/// The connection a socket runs on: its two ends and the peer's certificate. An outbound
/// socket that reconnects gets a new one with each connection.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub local_addr: SocketAddr,
    pub remote_addr: SocketAddr,
    pub peer_certificate: Option<PeerCertificate>,
    /// permessage-deflate, when negotiated.
    pub compression: Option<PerMessageDeflate>,
}

/// Where a socket stands: connected, reconnecting (an outbound socket whose connection ended,
/// with a reconnect policy), disconnected (one in lazy mode, waiting for the next send to
/// reconnect), or closed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketState {
    /// Its connection is up.
    Connected,
    /// Its connection ended; it is waiting for, or making, an attempt to reconnect.
    Reconnecting,
    /// Its connection ended and, in lazy mode, it reconnects when a message is next sent to it.
    Disconnected,
    /// It has closed and left the connector.
    Closed,
}

impl SocketState {
    /// `"connected"`, `"reconnecting"`, `"disconnected"` or `"closed"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SocketState::Connected => "connected",
            SocketState::Reconnecting => "reconnecting",
            SocketState::Disconnected => "disconnected",
            SocketState::Closed => "closed",
        }
    }
}

/// What changes over a socket's life besides its groups: its connection, its state, and why
/// its last connection or attempt failed.
struct Status {
    link: Link,
    state: SocketState,
    last_error: Option<Error>,
}

/// The groups of a socket, whether it has left the registry (then nothing may join), and the
/// group index of the registry that holds it.
#[derive(Default)]
pub(crate) struct Membership {
    pub groups: BTreeSet<Arc<str>>,
    pub removed: bool,
    /// Set when the socket is registered. Weak: a socket kept by the application keeps no
    /// connector alive.
    pub index: Option<Weak<dyn GroupIndex>>,
}

/// A connector's group index as a socket reaches it for its own subscribe and unsubscribe,
/// without knowing the registry that implements it (the registry sits above the socket).
pub(crate) trait GroupIndex: Send + Sync {
    /// Adds groups (already validated) to `socket`; `NoSuchSocket` once it has left.
    fn subscribe(&self, socket: &Socket, groups: &[&str]) -> Result<()>;
    /// Removes groups (already validated) from `socket`; `NoSuchSocket` once it has left.
    fn unsubscribe(&self, socket: &Socket, groups: &[&str]) -> Result<()>;
}

pub(crate) struct SocketInner {
    pub attrs: Attributes,
    status: Mutex<Status>,
    pub membership: Mutex<Membership>,
    pub queue: SendQueue,
    /// The application asked to close it: messages still in flight are not delivered.
    pub close_requested: AtomicBool,
}

/// A socket: its attributes and current groups. Cheap to clone; stays readable after the
/// socket has closed.
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl Socket {
    pub(crate) fn new(attrs: Attributes, link: Link, queue: SendQueue) -> Self {
        Socket(Arc::new(SocketInner {
            attrs,
            status: Mutex::new(Status {
                link,
                state: SocketState::Connected,
                last_error: None,
            }),
            membership: Mutex::new(Membership::default()),
            queue,
            close_requested: AtomicBool::new(false),
        }))
    }

    /// An inbound socket `s` on `/` that no connector holds, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(queue: SendQueue) -> Self {
        Socket::for_tests_of(SocketType::Inbound, None, queue)
    }

    /// A socket `s` of `socket_type` on `/` with `compression` negotiated, that no connector
    /// holds, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests_of(
        socket_type: SocketType,
        compression: Option<PerMessageDeflate>,
        queue: SendQueue,
    ) -> Self {
        let addr: SocketAddr = ([127, 0, 0, 1], 1).into();
        let attrs = Attributes {
            id: SocketId::new("s").expect("a valid ID"),
            socket_type,
            path: "/".into(),
            uri: "ws://127.0.0.1:1/".into(),
            secure: false,
            headers: Vec::new(),
            query: Vec::new(),
            uri_params: Vec::new(),
            subprotocol: None,
        };
        let link = Link {
            local_addr: addr,
            remote_addr: addr,
            peer_certificate: None,
            compression,
        };
        Socket::new(attrs, link, queue)
    }

    pub(crate) fn membership(&self) -> MutexGuard<'_, Membership> {
        self.0.membership.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn queue(&self) -> &SendQueue {
        &self.0.queue
    }

    fn status(&self) -> MutexGuard<'_, Status> {
        self.0.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a change of state and, when the change comes from a failure, why.
    pub(crate) fn set_state(&self, state: SocketState, error: Option<Error>) {
        let mut status = self.status();
        status.state = state;
        if error.is_some() || state == SocketState::Connected {
            status.last_error = error;
        }
    }

    /// The socket runs on a new connection.
    pub(crate) fn relink(&self, link: Link) {
        let mut status = self.status();
        status.link = link;
        status.state = SocketState::Connected;
        status.last_error = None;
    }

    /// Where the socket stands: connected, reconnecting, disconnected (lazy mode) or closed.
    pub fn state(&self) -> SocketState {
        self.status().state
    }

    /// Why the socket's last connection or reconnect attempt failed, while it reconnects (or
    /// waits to, in lazy mode); once it closed because its attempts ran out, a
    /// [`RetryExhausted`](crate::ErrorKind::RetryExhausted) error naming the last failure.
    /// `None` while connected.
    pub fn last_error(&self) -> Option<Error> {
        self.status().last_error.clone()
    }

    /// Asks the socket to close (queued messages leave first; messages that arrive from the
    /// peer afterwards are not delivered); false when it was already closing.
    pub(crate) fn request_close(&self, code: u16, reason: &str) -> bool {
        self.0.close_requested.store(true, Ordering::Release);
        self.0.queue.request_close(CloseRequest {
            code,
            reason: reason.to_owned(),
        })
    }

    /// [`Socket::close`] with arguments already validated: `NoSuchSocket` once the socket has
    /// closed; closing a socket that is already closing is a no-op.
    pub(crate) fn close_validated(&self, code: u16, reason: &str) -> Result<()> {
        if !self.is_open() {
            return Err(Error::no_such_socket(self.id().as_str()));
        }
        self.request_close(code, reason);
        Ok(())
    }

    /// Queues a message for this socket: what `ConnectorHandle::send` does with its ID, without
    /// looking the ID up (handy in an event handler, which has the socket at hand).
    pub fn send(&self, message: impl Into<crate::Message>) -> Result<crate::Delivery> {
        let outgoing = crate::queue::Outgoing::Message(message.into());
        self.0.queue.push(self.id().as_str(), outgoing)
    }

    /// Closes this socket: what `ConnectorHandle::close` does with its ID, without looking the
    /// ID up. A close code of 1000-1003, 1007-1014 or 3000-4999 and a reason of at most 123
    /// bytes, else `InvalidArgument`; `NoSuchSocket` once the socket has closed; closing a
    /// socket that is already closing is a no-op.
    pub fn close(&self, code: u16, reason: &str) -> Result<()> {
        validate_close(code, reason)?;
        self.close_validated(code, reason)
    }

    /// Subscribes this socket to groups (groups it has already are ignored): what
    /// `ConnectorHandle::subscribe` does with its ID, without looking the ID up. A bad group
    /// name is `InvalidArgument`; `NoSuchSocket` once the socket has closed.
    pub fn subscribe<S: AsRef<str>>(&self, groups: &[S]) -> Result<()> {
        validate_groups(groups)?;
        self.group_index()?.subscribe(self, &as_strs(groups))
    }

    /// Unsubscribes this socket from groups (groups it does not have are ignored): what
    /// `ConnectorHandle::unsubscribe` does with its ID, without looking the ID up. A bad group
    /// name is `InvalidArgument`; `NoSuchSocket` once the socket has closed.
    pub fn unsubscribe<S: AsRef<str>>(&self, groups: &[S]) -> Result<()> {
        validate_groups(groups)?;
        self.group_index()?.unsubscribe(self, &as_strs(groups))
    }

    /// The group index of the registry that holds the socket; `NoSuchSocket` when there is
    /// none (never registered, or its connector is gone).
    fn group_index(&self) -> Result<Arc<dyn GroupIndex>> {
        let index = self.membership().index.as_ref().and_then(Weak::upgrade);
        index.ok_or_else(|| Error::no_such_socket(self.id().as_str()))
    }

    /// Whether the application has asked this socket to close.
    pub fn is_close_requested(&self) -> bool {
        self.0.close_requested.load(Ordering::Acquire)
    }

    /// Whether the socket is still registered (open and not yet closed).
    pub fn is_open(&self) -> bool {
        !self.membership().removed
    }

    /// The socket's unique ID.
    pub fn id(&self) -> &SocketId {
        &self.0.attrs.id
    }

    /// Inbound or outbound.
    pub fn socket_type(&self) -> SocketType {
        self.0.attrs.socket_type
    }

    /// The full path of the handshake request (base path included), without the query; for
    /// an inbound socket, percent-decoded: the path the served patterns matched.
    pub fn path(&self) -> &str {
        &self.0.attrs.path
    }

    /// The full request URI, e.g. `wss://example.com:8443/chat/room1?user=ann`.
    pub fn uri(&self) -> &str {
        &self.0.attrs.uri
    }

    /// `"ws"` or `"wss"`.
    pub fn scheme(&self) -> &'static str {
        if self.0.attrs.secure {
            "wss"
        } else {
            "ws"
        }
    }

    /// Whether the socket runs over TLS.
    pub fn is_secure(&self) -> bool {
        self.0.attrs.secure
    }

    /// The handshake request's headers, in order, as sent (for outbound sockets: the ones we sent).
    pub fn headers(&self) -> &[(String, String)] {
        &self.0.attrs.headers
    }

    /// The first handshake header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_pair(&self.0.attrs.headers, |k| k.eq_ignore_ascii_case(name))
    }

    /// The query parameters of the handshake request, decoded, in order.
    pub fn query(&self) -> &[(String, String)] {
        &self.0.attrs.query
    }

    /// The first query parameter named `name` (case-sensitive).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        find_pair(&self.0.attrs.query, |k| k == name)
    }

    /// The query string of the handshake request as sent (still percent-encoded, without the
    /// `?`); empty when there is none. Mule's `queryString`.
    pub fn query_string(&self) -> &str {
        let uri = &self.0.attrs.uri;
        let before_fragment = uri.split('#').next().unwrap_or("");
        before_fragment
            .split_once('?')
            .map_or("", |(_, query)| query)
    }

    /// The URI parameters: for an inbound socket, the values of the `{name}` segments of the
    /// served path pattern that matched (`/chat/{room}` served `/chat/lobby`: `room` =
    /// `lobby`), decoded; for an outbound socket, those that filled its URL's template. Mule's
    /// `uriParams`.
    pub fn uri_params(&self) -> &[(String, String)] {
        &self.0.attrs.uri_params
    }

    /// The URI parameter named `name` (case-sensitive).
    pub fn uri_param(&self, name: &str) -> Option<&str> {
        find_pair(&self.0.attrs.uri_params, |k| k == name)
    }

    /// The handshake request's method: always `"GET"` (an upgrade is a GET). Mule's `method`.
    pub fn method(&self) -> &'static str {
        "GET"
    }

    /// The handshake's HTTP version: always `"HTTP/1.1"` (WebSocket upgrades need it). Mule's
    /// HTTP version attribute.
    pub fn http_version(&self) -> &'static str {
        "HTTP/1.1"
    }

    /// The negotiated subprotocol, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.0.attrs.subprotocol.as_deref()
    }

    /// permessage-deflate's parameters, when the handshake negotiated it (of an outbound
    /// socket that reconnected: the latest handshake's).
    pub fn compression(&self) -> Option<PerMessageDeflate> {
        self.status().link.compression
    }

    /// The negotiated extensions as the handshake's `Sec-WebSocket-Extensions` response states
    /// them (e.g. `permessage-deflate; client_max_window_bits=12`); `None` when none was.
    pub fn extensions(&self) -> Option<String> {
        self.compression().map(|c| c.header_value())
    }

    /// Our end of the connection (of an outbound socket that reconnected: of the latest).
    pub fn local_addr(&self) -> SocketAddr {
        self.status().link.local_addr
    }

    /// The peer's end of the connection (through a proxy: the proxy's).
    pub fn remote_addr(&self) -> SocketAddr {
        self.status().link.remote_addr
    }

    /// The certificate the peer presented, as DER, for an X.509 library to read: a client's
    /// with mutual TLS (inbound sockets), the server's (outbound `wss` sockets; of the latest
    /// connection); the leaf of its chain. `None` without TLS, or when the client presented
    /// none.
    pub fn peer_certificate(&self) -> Option<Bytes> {
        Some(self.status().link.peer_certificate.as_ref()?.der.clone())
    }

    /// The subject of [`Socket::peer_certificate`] as an RFC 4514 string, last RDN first,
    /// values escaped (e.g. `CN=alice\,O=Admins` for one CN, `O=Admins,CN=alice` for a CN
    /// and an O); `None` when there is no certificate.
    pub fn peer_certificate_subject(&self) -> Option<String> {
        self.status()
            .link
            .peer_certificate
            .as_ref()?
            .subject
            .clone()
    }

    /// The connection the socket runs on now (the C API lends its parts out).
    #[cfg(feature = "capi")]
    pub(crate) fn link(&self) -> Link {
        self.status().link.clone()
    }

    /// The groups the socket is subscribed to now, sorted.
    pub fn groups(&self) -> Vec<String> {
        self.membership()
            .groups
            .iter()
            .map(|g| g.to_string())
            .collect()
    }

    /// Whether the socket is subscribed to `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.membership().groups.contains(group)
    }
}

fn as_strs<S: AsRef<str>>(strings: &[S]) -> Vec<&str> {
    strings.iter().map(AsRef::as_ref).collect()
}

fn find_pair(pairs: &[(String, String)], key: impl Fn(&str) -> bool) -> Option<&str> {
    pairs.iter().find(|(k, _)| key(k)).map(|(_, v)| v.as_str())
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", self.id())
            .field("type", &self.socket_type())
            .field("path", &self.path())
            .field("remote_addr", &self.remote_addr())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Socket {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_ids() {
        assert!(SocketId::new("abc").is_ok());
        for bad in ["", "   ", "\t", "a\nb"] {
            let e = SocketId::new(bad).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidSocketId, "{bad:?}");
        }
        assert!(SocketId::new(&"x".repeat(MAX_SOCKET_ID_LEN + 1)).is_err());
        let a = SocketId::generate();
        let b = SocketId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 36);
    }
}
