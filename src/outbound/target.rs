//! Where an outbound socket connects: a `ws://` or `wss://` URL taken apart.

use crate::error::{Error, Result};
use http::Uri;

/// A parsed `ws://` or `wss://` URL with the extra query parameters added.
pub(super) struct Target {
    pub(super) uri: Uri,
    pub(super) secure: bool,
    pub(super) host: String,
    pub(super) port: u16,
    /// `host[:port]` as written in the URL: the Host header.
    pub(super) authority: String,
    /// The request target: path and query.
    pub(super) path_and_query: String,
}

impl Target {
    pub(super) fn parse(url: &str, extra_query: &[(String, String)]) -> Result<Self> {
        let invalid = |why: &str| Error::invalid(format!("URL {url:?} {why}"));
        let uri: Uri = url
            .parse()
            .map_err(|e| invalid(&format!("is not a valid URL: {e}")))?;
        let secure = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("ws") => false,
            Some("wss") => true,
            _ => return Err(invalid("must start with ws:// or wss://")),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("has no host"))?
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        let mut path_and_query = uri
            .path_and_query()
            .map_or("/".to_owned(), |pq| pq.as_str().to_owned());
        if path_and_query.is_empty() {
            path_and_query.push('/');
        }
        if !extra_query.is_empty() {
            let mut encoded = form_urlencoded::Serializer::new(String::new());
            for (name, value) in extra_query {
                encoded.append_pair(name, value);
            }
            path_and_query.push(if path_and_query.contains('?') {
                '&'
            } else {
                '?'
            });
            path_and_query.push_str(&encoded.finish());
        }
        let authority = uri
            .authority()
            .map_or(host.clone(), |a| a.as_str().to_owned());
        if authority.contains('@') {
            return Err(invalid(
                "carries credentials; send them in a header (e.g. Authorization) instead",
            ));
        }
        let full = format!(
            "{}://{authority}{path_and_query}",
            if secure { "wss" } else { "ws" }
        );
        let uri = full
            .parse()
            .map_err(|e| invalid(&format!("is not valid with its query: {e}")))?;
        Ok(Target {
            uri,
            secure,
            host,
            port,
            authority,
            path_and_query,
        })
    }
}
