//! Where an outbound socket connects: the URL an open names, made whole (URI parameters in
//! its `{name}` templates, a path put under the client base), taken apart, and followed through
//! redirects.

use crate::config::{ClientConfig, ClientScheme};
use crate::error::{Error, Result};
use crate::path::normalize_base_path;
use http::Uri;

/// The URL an open names, made whole: each `{name}` filled with the open's URI parameter of
/// that name (percent-encoded, so that it stays one path segment), and a path (anything
/// without `://`) put under the client base, `scheme://host[:port]base_path`.
pub(super) fn resolve(
    url: &str,
    client: &ClientConfig,
    params: &[(String, String)],
) -> Result<String> {
    let filled = fill_templates(url, params)?;
    if filled.contains("://") {
        return Ok(filled);
    }
    if client.host.is_empty() {
        return Err(Error::invalid(format!(
            "{url:?} is not a ws:// or wss:// URL, and there is no client base (client_host) \
             for a path"
        )));
    }
    let host = if client.host.contains(':') && !client.host.starts_with('[') {
        format!("[{}]", client.host)
    } else {
        client.host.clone()
    };
    let port = client.port.map_or(String::new(), |port| format!(":{port}"));
    let base = normalize_base_path(&client.base_path)?;
    let base = base.trim_end_matches('/');
    let path = filled.trim_start_matches('/');
    let scheme = match client.scheme {
        ClientScheme::Ws => "ws",
        ClientScheme::Wss => "wss",
    };
    Ok(format!("{scheme}://{host}{port}{base}/{path}"))
}

/// `text` with every `{name}` replaced by the parameter `name`, percent-encoded; a template
/// without its parameter, or an unclosed one, is an error.
fn fill_templates(text: &str, params: &[(String, String)]) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| Error::invalid(format!("{text:?} has a '{{' with no '}}' after it")))?;
        let name = &after[..close];
        let (_, value) = params.iter().find(|(n, _)| n == name).ok_or_else(|| {
            Error::invalid(format!(
                "{text:?} names the URI parameter {{{name}}}, which has no value"
            ))
        })?;
        out.extend(percent_encode_segment(value));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A value as one path segment: every byte but the unreserved ones (RFC 3986) percent-encoded.
fn percent_encode_segment(value: &str) -> impl Iterator<Item = String> + '_ {
    value.bytes().map(|byte| {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            char::from(byte).to_string()
        } else {
            format!("%{byte:02X}")
        }
    })
}

/// The port as written in the URL's authority, if it has one. The parser's own `port_u16`
/// gives `None` for a port that does not fit 16 bits, which would silently mean the default.
fn explicit_port(uri: &Uri) -> Option<&str> {
    let authority = uri.authority()?.as_str();
    let host_and_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, rest)| rest);
    host_and_port
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|port| !port.contains(']'))
}

/// A parsed `ws://` or `wss://` URL with the extra query parameters added.
#[derive(Debug, Clone)]
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
        if url.contains('#') {
            // The parser would drop it; RFC 6455 section 3 says WebSocket URLs carry none.
            return Err(invalid(
                "has a fragment (#...), which a WebSocket URL cannot carry",
            ));
        }
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
        let port = match explicit_port(&uri) {
            None => {
                if secure {
                    443
                } else {
                    80
                }
            }
            Some(text) => text
                .parse::<u16>()
                .ok()
                .filter(|&port| port != 0)
                .ok_or_else(|| invalid(&format!("has port {text:?}: a port is 1-65535")))?,
        };
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

    /// Whether `other` has the same origin (scheme, host and port): credentials the open
    /// gave go to that origin only.
    pub(super) fn same_origin(&self, other: &Target) -> bool {
        self.secure == other.secure
            && self.port == other.port
            && self.host.eq_ignore_ascii_case(&other.host)
    }

    /// Where a redirect's `Location` leads from here: an absolute URL (`http` and `https` are
    /// taken as `ws` and `wss`), `//authority/path`, an absolute path or a relative one. Never
    /// from `wss://` to `ws://`.
    pub(super) fn redirect(&self, location: &str) -> Result<Target> {
        let scheme = if self.secure { "wss" } else { "ws" };
        let lower = location.to_ascii_lowercase();
        let url = if let Some((given, rest)) = location.split_once("://").filter(|_| {
            ["ws://", "wss://", "http://", "https://"]
                .iter()
                .any(|s| lower.starts_with(s))
        }) {
            let secure = matches!(given.to_ascii_lowercase().as_str(), "wss" | "https");
            format!("{}://{rest}", if secure { "wss" } else { "ws" })
        } else if location.starts_with("//") {
            format!("{scheme}:{location}")
        } else if location.starts_with('/') {
            format!("{scheme}://{}{location}", self.authority)
        } else {
            let path = self.uri.path();
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{scheme}://{}{dir}{location}", self.authority)
        };
        let next = Target::parse(&url, &[])
            .map_err(|e| Error::invalid(format!("redirect to {location:?}: {}", e.message())))?;
        if self.secure && !next.secure {
            return Err(Error::new(
                crate::ErrorKind::Protocol,
                format!("refused a redirect from wss:// to ws:// ({location})"),
            ));
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(configure: impl FnOnce(&mut ClientConfig)) -> ClientConfig {
        let mut client = ClientConfig::default();
        configure(&mut client);
        client
    }

    #[test]
    fn a_path_goes_under_the_client_base_with_its_templates_filled() {
        let client = base(|c| {
            c.scheme = ClientScheme::Wss;
            c.host = "feed.example".into();
            c.port = Some(8443);
            c.base_path = "/api/".into();
        });
        let params = [("symbol".to_owned(), "A B/C".to_owned())];
        assert_eq!(
            resolve("/quotes/{symbol}?depth=1", &client, &params).unwrap(),
            "wss://feed.example:8443/api/quotes/A%20B%2FC?depth=1"
        );
        assert_eq!(
            resolve("quotes", &client, &[]).unwrap(),
            "wss://feed.example:8443/api/quotes"
        );
        assert_eq!(
            resolve("ws://other/{symbol}", &client, &params).unwrap(),
            "ws://other/A%20B%2FC",
            "a full URL keeps its own host"
        );
        let ipv6 = base(|c| c.host = "::1".into());
        assert_eq!(resolve("/x", &ipv6, &[]).unwrap(), "ws://[::1]/x");
    }

    #[test]
    fn missing_parameters_and_a_path_without_a_base_are_refused() {
        let e = resolve("/quotes", &ClientConfig::default(), &[]).unwrap_err();
        assert!(e.message().contains("client_host"), "{e}");
        let client = base(|c| c.host = "h".into());
        let e = resolve("/quotes/{symbol}", &client, &[]).unwrap_err();
        assert!(e.message().contains("{symbol}"), "{e}");
        assert!(resolve("/quotes/{symbol", &client, &[]).is_err());
    }

    #[test]
    fn a_port_outside_1_to_65535_or_a_fragment_is_refused_naming_the_url() {
        for url in [
            "ws://127.0.0.1:99999/",
            "ws://127.0.0.1:0/",
            "ws://127.0.0.1:/",
            "wss://[::1]:65536/x",
            "ws://h/x#part",
        ] {
            let e = Target::parse(url, &[]).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{url}");
            assert!(e.message().contains(url), "{e}");
        }
        assert_eq!(Target::parse("ws://h:65535/", &[]).unwrap().port, 65535);
        assert_eq!(Target::parse("wss://[::1]/", &[]).unwrap().port, 443);
        assert_eq!(Target::parse("ws://[::1]:1/", &[]).unwrap().port, 1);
    }

    #[test]
    fn redirects_resolve_against_the_target_and_never_downgrade() {
        let from = Target::parse("ws://a.example:8080/x/feed?q=1", &[]).unwrap();
        let to = |location: &str| from.redirect(location).map(|t| t.uri.to_string());
        assert_eq!(to("/moved").unwrap(), "ws://a.example:8080/moved");
        assert_eq!(to("other").unwrap(), "ws://a.example:8080/x/other");
        assert_eq!(to("//b.example/y").unwrap(), "ws://b.example/y");
        assert_eq!(to("https://b.example/y").unwrap(), "wss://b.example/y");
        assert!(!from.same_origin(&from.redirect("wss://a.example:8080/x").unwrap()));
        assert!(from.same_origin(&from.redirect("/z").unwrap()));
        let secure = Target::parse("wss://a.example/", &[]).unwrap();
        for down in ["ws://a.example/", "http://a.example/"] {
            let e = secure.redirect(down).unwrap_err();
            assert!(e.message().contains("wss:// to ws://"), "{e}");
        }
        assert!(secure.redirect("//b.example/").unwrap().secure);
    }
}
