//! The pre-upgrade authorization hook: what it sees of a request, and what it decides.

use bytes::Bytes;
use std::net::SocketAddr;

/// What the authorization hook sees of an upgrade request.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The full request path (base path included), percent-decoded, without the query: the
    /// path the served patterns matched.
    pub path: String,
    /// The full request URI.
    pub uri: String,
    /// The request headers, in order.
    pub headers: Vec<(String, String)>,
    /// The decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The client's address.
    pub remote_addr: SocketAddr,
    /// The subprotocols the client offered.
    pub subprotocols: Vec<String>,
    /// The certificate the client presented with mutual TLS (the leaf of its chain, DER), for
    /// an X.509 library to read; see [`crate::Socket::peer_certificate`].
    pub peer_certificate: Option<Bytes>,
    /// Its subject as RFC 4514 text; see [`crate::Socket::peer_certificate_subject`].
    pub peer_certificate_subject: Option<String>,
}

impl AuthRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first query parameter named `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The authorization hook's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// Upgrade, and subscribe the new socket to these groups (besides the path's defaults).
    Accept {
        /// Extra initial groups.
        groups: Vec<String>,
    },
    /// Refuse with an HTTP status (400-599) and a reason; no socket is created.
    Reject {
        /// The HTTP status, e.g. 401 or 403.
        status: u16,
        /// The reason phrase and body.
        reason: String,
    },
}

impl AuthDecision {
    /// Accept with no extra groups.
    pub fn accept() -> Self {
        AuthDecision::Accept { groups: Vec::new() }
    }

    /// Accept and subscribe to `groups`.
    pub fn accept_with_groups<S: Into<String>>(groups: impl IntoIterator<Item = S>) -> Self {
        AuthDecision::Accept {
            groups: groups.into_iter().map(Into::into).collect(),
        }
    }

    /// Refuse with `status` and `reason`.
    pub fn reject(status: u16, reason: impl Into<String>) -> Self {
        AuthDecision::Reject {
            status,
            reason: reason.into(),
        }
    }
}

/// Decides, before the 101, whether an upgrade request becomes a socket.
pub trait Authorizer: Send + Sync + 'static {
    /// Called once per upgrade request that passed the protocol, path and origin checks.
    fn authorize(&self, request: &AuthRequest) -> AuthDecision;
}

impl<F> Authorizer for F
where
    F: Fn(&AuthRequest) -> AuthDecision + Send + Sync + 'static,
{
    fn authorize(&self, request: &AuthRequest) -> AuthDecision {
        self(request)
    }
}
