//! One socket as the application sees it: its ID, its attributes, its groups and its send queue.
//! The task that drives its stream lives in `driver.rs`.

use crate::config::validate_groups;
use crate::error::{Error, Result};
use crate::protocol::close::validate_close;
use crate::protocol::extensions::PerMessageDeflate;
use crate::protocol::handshake::{header_lines, HeaderLines};
use crate::queue::{CloseRequest, SendQueue};
use crate::tls::PeerCertificate;
use bytes::Bytes;
use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

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

    /// A fresh random ID (a UUID v4). Its bytes come from the per-thread CSPRNG
    /// (`rand::rng()`, seeded from the OS and reseeded by rand), not from a getrandom
    /// syscall per socket as `Uuid::new_v4` makes: unguessable all the same, one syscall
    /// less per handshake.
    pub(crate) fn generate() -> Self {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut buf = uuid::Uuid::encode_buffer();
        SocketId(Arc::from(&*id.hyphenated().encode_lower(&mut buf)))
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

/// The fixed facts of a socket, known once its handshake is done (see [`Socket::new`]).
#[derive(Debug)]
pub(crate) struct Attributes {
    pub id: SocketId,
    pub socket_type: SocketType,
    pub path: String,
    pub uri: String,
    /// Where the query string begins in `uri` (just past its `?`), if it has one.
    pub query_at: Option<usize>,
    pub secure: bool,
    pub headers: HeaderLines,
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
    /// Boxed: every socket keeps a link, few a certificate.
    pub peer_certificate: Option<Box<PeerCertificate>>,
    /// permessage-deflate, when negotiated.
    pub compression: Option<PerMessageDeflate>,
}

/// A socket's [`Attributes`] as it keeps them for its life: every idle connection holds them,
/// so the text (URI, path, headers, subprotocol) is one allocation, and the headers and query
/// as pairs are made only when the application first asks for them as slices.
struct Facts {
    id: SocketId,
    socket_type: SocketType,
    secure: bool,
    /// The URI, then the decoded path unless the URI holds it as it is, then the header
    /// lines (see [`HeaderLines`]), then the subprotocol.
    text: Box<str>,
    /// Where the pieces of `text` end, and where the path and the query begin.
    uri_end: u32,
    path: (u32, u32),
    query_at: Option<NonZeroU32>,
    headers_end: u32,
    has_subprotocol: bool,
    /// Boxed: most sockets have none, and then it costs one pointer (not a vector's three).
    #[allow(clippy::box_collection)]
    uri_params: Option<Box<Vec<(String, String)>>>,
    pairs: OnceLock<Box<Pairs>>,
}

/// The headers and query parameters as pairs, for the accessors that lend slices.
struct Pairs {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

impl Facts {
    /// Keeps `attrs` compactly. A handshake longer than 4 GiB cannot happen (the request is
    /// bounded by `max_handshake_bytes`), so its offsets fit in 32 bits.
    fn new(attrs: Attributes) -> Self {
        let Attributes {
            id,
            socket_type,
            path,
            uri,
            query_at,
            secure,
            headers,
            uri_params,
            subprotocol,
        } = attrs;
        let subprotocol = subprotocol.unwrap_or_default();
        let lines = headers.into_string();
        // The decoded path is usually the URI's own, as sent: then it is not kept twice.
        let path_in_uri = query_at
            .map_or(uri.len(), |at| at.saturating_sub(1))
            .checked_sub(path.len())
            .filter(|&at| {
                uri.get(at..)
                    .is_some_and(|rest| rest.starts_with(path.as_str()))
            });
        let mut text = String::with_capacity(
            uri.len()
                + path.len() * usize::from(path_in_uri.is_none())
                + lines.len()
                + subprotocol.len(),
        );
        text.push_str(&uri);
        let path_at = path_in_uri.unwrap_or_else(|| {
            text.push_str(&path);
            uri.len()
        });
        text.push_str(&lines);
        let headers_end = text.len();
        text.push_str(&subprotocol);
        let offset = |at: usize| u32::try_from(at).unwrap_or(u32::MAX);
        Facts {
            id,
            socket_type,
            secure,
            uri_end: offset(uri.len()),
            path: (offset(path_at), offset(path_at + path.len())),
            // Past the `?`: never 0.
            query_at: query_at.and_then(|at| NonZeroU32::new(offset(at))),
            headers_end: offset(headers_end),
            has_subprotocol: !subprotocol.is_empty(),
            text: text.into_boxed_str(),
            uri_params: (!uri_params.is_empty()).then(|| Box::new(uri_params)),
            pairs: OnceLock::new(),
        }
    }

    fn piece(&self, from: u32, to: u32) -> &str {
        self.text
            .get(from as usize..to as usize)
            .unwrap_or_default()
    }

    fn uri(&self) -> &str {
        self.piece(0, self.uri_end)
    }

    fn path(&self) -> &str {
        self.piece(self.path.0, self.path.1)
    }

    fn header_lines(&self) -> &str {
        let start = if self.path.1 > self.uri_end {
            self.path.1
        } else {
            self.uri_end
        };
        self.piece(start, self.headers_end)
    }

    fn subprotocol(&self) -> Option<&str> {
        self.has_subprotocol
            .then(|| self.piece(self.headers_end, self.text.len() as u32))
    }

    /// The query string (without `?` and fragment), if the URI has one.
    fn query_string(&self) -> Option<&str> {
        let query = self.piece(self.query_at?.get(), self.uri_end);
        Some(query.split('#').next().unwrap_or_default())
    }

    fn pairs(&self) -> &Pairs {
        self.pairs.get_or_init(|| {
            Box::new(Pairs {
                headers: header_lines(self.header_lines())
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                query: self
                    .query_string()
                    .map(|query| {
                        form_urlencoded::parse(query.as_bytes())
                            .into_owned()
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
    }
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
    /// Boxed: every socket keeps a status, few an error.
    last_error: Option<Box<Error>>,
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
    attrs: Facts,
    status: Mutex<Status>,
    pub membership: Mutex<Membership>,
    pub queue: SendQueue,
}

/// A socket: its attributes and current groups. Cheap to clone; stays readable after the
/// socket has closed.
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

impl Socket {
    pub(crate) fn new(attrs: Attributes, link: Link, queue: SendQueue) -> Self {
        Socket(Arc::new(SocketInner {
            attrs: Facts::new(attrs),
            status: Mutex::new(Status {
                link,
                state: SocketState::Connected,
                last_error: None,
            }),
            membership: Mutex::new(Membership::default()),
            queue,
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
            query_at: None,
            secure: false,
            headers: HeaderLines::default(),
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

    /// Where the socket lives: unique among the sockets alive at once.
    pub(crate) fn address(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    fn status(&self) -> MutexGuard<'_, Status> {
        self.0.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a change of state and, when the change comes from a failure, why.
    pub(crate) fn set_state(&self, state: SocketState, error: Option<Error>) {
        let mut status = self.status();
        status.state = state;
        if error.is_some() || state == SocketState::Connected {
            status.last_error = error.map(Box::new);
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
        self.status().last_error.as_deref().cloned()
    }

    /// Asks the socket to close (queued messages leave first; messages that arrive from the
    /// peer afterwards are not delivered); false when it was already closing.
    pub(crate) fn request_close(&self, code: u16, reason: &str) -> bool {
        self.0.queue.mark_close_requested();
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

    /// Sends `message` as this socket's reply when the calling thread runs its own inline
    /// handler and the reply slot takes it (what `send` does first); gives it back otherwise,
    /// unsent. A message that fits the send queue's byte bound only.
    #[cfg(feature = "capi")]
    #[inline(always)]
    pub(crate) fn offer_reply(&self, message: crate::Message) -> Option<crate::Message> {
        match self
            .0
            .queue
            .offer_reply(crate::queue::Outgoing::Message(message))?
        {
            crate::queue::Outgoing::Message(message) => Some(message),
            // The slot gives back what it was offered: a message, never a frame.
            crate::queue::Outgoing::Frame { .. } => None,
        }
    }

    /// Closes this socket: what `ConnectorHandle::close` does with its ID, without looking the
    /// ID up. A close code of 1000-1003, 1007-1014 or 3000-4999 and a reason of at most 123
    /// bytes, else `InvalidArgument`; `NoSuchSocket` once the socket has closed; closing a
    /// socket that is already closing is a no-op.
    pub fn close(&self, code: u16, reason: &str) -> Result<()> {
        validate_close(code, reason)?;
        self.close_validated(code, reason)
    }

    /// Refuses the socket after its inbound-connection handler failed (Mule discards the
    /// socket when its connection flow fails): closes it with `code`, or 1011 (internal error)
    /// when `code` is `None` or not a code one may send, unless the handler had already closed
    /// it with a code of its own. The messages that waited for the handler are not delivered;
    /// the closed event comes as for any close. The dispatcher does this when a Rust handler
    /// panics on an inbound connection, the C and Python layers when a callback refuses or
    /// raises.
    pub fn refuse(&self, code: Option<u16>) {
        const REASON: &str = "the connection handler failed";
        let code = code
            .filter(|&code| validate_close(code, REASON).is_ok())
            .unwrap_or(crate::protocol::close::close_code::INTERNAL_ERROR);
        self.request_close(code, REASON);
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
        self.0.queue.is_close_requested()
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
        self.0.attrs.path()
    }

    /// The full request URI, e.g. `wss://example.com:8443/chat/room1?user=ann`.
    pub fn uri(&self) -> &str {
        self.0.attrs.uri()
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
        &self.0.attrs.pairs().headers
    }

    /// The first handshake header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_lines(self.0.attrs.header_lines())
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The query parameters of the handshake request, decoded, in order.
    pub fn query(&self) -> &[(String, String)] {
        &self.0.attrs.pairs().query
    }

    /// The first query parameter named `name` (case-sensitive).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query string of the handshake request as sent (still percent-encoded, without the
    /// `?`); empty when there is none. Mule's `queryString`.
    pub fn query_string(&self) -> &str {
        self.0.attrs.query_string().unwrap_or_default()
    }

    /// The URI parameters: for an inbound socket, the values of the `{name}` segments of the
    /// served path pattern that matched (`/chat/{room}` served `/chat/lobby`: `room` =
    /// `lobby`), decoded; for an outbound socket, those that filled its URL's template. Mule's
    /// `uriParams`.
    pub fn uri_params(&self) -> &[(String, String)] {
        self.0
            .attrs
            .uri_params
            .as_deref()
            .map_or(&[], Vec::as_slice)
    }

    /// The URI parameter named `name` (case-sensitive).
    pub fn uri_param(&self, name: &str) -> Option<&str> {
        self.uri_params()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
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
        self.0.attrs.subprotocol()
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

    /// The groups the socket is subscribed to now, sorted; once it has closed, those it had
    /// when it closed (its closed event shows them: "who left room X").
    pub fn groups(&self) -> Vec<String> {
        self.membership()
            .groups
            .iter()
            .map(|g| g.to_string())
            .collect()
    }

    /// Whether the socket is subscribed to `group` (once closed: was, when it closed).
    pub fn in_group(&self, group: &str) -> bool {
        self.membership().groups.contains(group)
    }
}

fn as_strs<S: AsRef<str>>(strings: &[S]) -> Vec<&str> {
    strings.iter().map(AsRef::as_ref).collect()
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

    /// Every idle connection keeps its socket: one `Arc` allocation, the socket beside two
    /// 8-byte counts. glibc's malloc hands out chunks of 16-byte steps with 8 bytes of its own:
    /// a socket of at most 344 bytes takes a 368-byte chunk (it took 400 with 368).
    #[test]
    fn a_socket_fits_a_368_byte_chunk() {
        let size = std::mem::size_of::<SocketInner>();
        assert!(
            size <= 344,
            "{size} bytes: every connection's socket would take more than a 368-byte chunk"
        );
    }

    fn socket(uri: &str, query_at: Option<usize>, path: &str, subprotocol: Option<&str>) -> Socket {
        let addr = "127.0.0.1:1".parse().unwrap();
        let headers = vec![
            ("Host".to_owned(), "h?x=1".to_owned()),
            ("X-Two".to_owned(), "a: b".to_owned()),
            ("x-two".to_owned(), "c".to_owned()),
        ];
        let attrs = Attributes {
            id: SocketId::new("s").unwrap(),
            socket_type: SocketType::Inbound,
            path: path.into(),
            uri: uri.into(),
            query_at,
            secure: false,
            headers: HeaderLines::from_pairs(&headers),
            uri_params: Vec::new(),
            subprotocol: subprotocol.map(Into::into),
        };
        let link = Link {
            local_addr: addr,
            remote_addr: addr,
            peer_certificate: None,
            compression: None,
        };
        Socket::new(attrs, link, SendQueue::standalone(1, 1, Default::default()))
    }

    /// The attributes kept in one text read back as they were given: the path (whether the
    /// URI holds it as it is or not), the query (from the target, never from a `?` in the
    /// Host), the headers in order, the subprotocol.
    #[test]
    fn attributes_kept_compactly_read_back_as_given() {
        let plain = socket(
            "ws://h?x=1/chat/a?room=1&b=%20#f",
            Some(18),
            "/chat/a",
            Some("v2"),
        );
        assert_eq!(plain.uri(), "ws://h?x=1/chat/a?room=1&b=%20#f");
        assert_eq!(plain.path(), "/chat/a");
        assert_eq!(plain.query_param("room"), Some("1"));
        assert_eq!(plain.query_param("b"), Some(" "));
        assert_eq!(plain.query_param("x"), None, "a ? in the Host is no query");
        assert_eq!(plain.query().len(), 2);
        assert_eq!(plain.header("x-TWO"), Some("a: b"), "the first one");
        assert_eq!(
            plain.headers(),
            [
                ("Host".to_owned(), "h?x=1".to_owned()),
                ("X-Two".to_owned(), "a: b".to_owned()),
                ("x-two".to_owned(), "c".to_owned()),
            ]
        );
        assert_eq!(plain.subprotocol(), Some("v2"));
        let decoded = socket("wss://h/chat/%61", None, "/chat/a", None);
        assert_eq!(decoded.uri(), "wss://h/chat/%61");
        assert_eq!(decoded.path(), "/chat/a");
        assert!(decoded.query().is_empty());
        assert_eq!(decoded.header("host"), Some("h?x=1"));
        assert_eq!(decoded.header("none"), None);
        assert_eq!(decoded.subprotocol(), None);
    }

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

    /// Generated IDs are UUID v4 (version and variant set) and unique across threads: each
    /// thread's generator is seeded on its own, none repeats another's sequence.
    #[test]
    fn generated_socket_ids_are_v4_and_unique_across_threads() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| (0..2_000).map(|_| SocketId::generate()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = std::collections::HashSet::new();
        for t in threads {
            for id in t.join().unwrap() {
                let parsed = uuid::Uuid::parse_str(id.as_str()).unwrap();
                assert_eq!(parsed.get_version(), Some(uuid::Version::Random));
                assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
                assert!(all.insert(id), "a generated socket ID repeated");
            }
        }
        assert_eq!(all.len(), 8_000);
    }
}
