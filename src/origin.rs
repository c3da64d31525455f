//! The origin policy: which browser pages (by their `Origin` header) may open a socket on the
//! listener, against cross-site WebSocket hijacking.

use crate::error::{Error, Result};

/// A parsed `allowed_origins` list; an empty list allows every origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AllowedOrigins {
    patterns: Vec<OriginPattern>,
}

/// One allowed origin: `*`, `null`, or `[scheme://]host[:port]` where the host may start with
/// `*.` (any subdomain).
#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginPattern {
    Any,
    Null,
    Site {
        scheme: Option<String>,
        host: HostPattern,
        port: Option<u16>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// Any host ending in `.` + this domain (not the domain itself).
    SubdomainOf(String),
}

/// An `Origin` header value, split: `scheme://host[:port]`, lower case.
struct Origin<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
}

impl AllowedOrigins {
    /// Parses the entries of a setting; errors start with `setting`.
    pub(crate) fn parse<S: AsRef<str>>(setting: &str, entries: &[S]) -> Result<Self> {
        let patterns = entries
            .iter()
            .map(|entry| {
                OriginPattern::parse(entry.as_ref())
                    .map_err(|why| Error::invalid(format!("{setting}: {:?} {why}", entry.as_ref())))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AllowedOrigins { patterns })
    }

    /// Whether the list is empty (every origin allowed).
    pub(crate) fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether a browser page of `origin` (an `Origin` header's value) may connect.
    pub(crate) fn allows(&self, origin: &str) -> bool {
        if self.patterns.is_empty() {
            return true;
        }
        let origin = origin.trim().to_ascii_lowercase();
        let parsed = if origin == "null" {
            None
        } else {
            match split_origin(&origin) {
                Ok(parsed) => Some(parsed),
                Err(_) => return false,
            }
        };
        self.patterns
            .iter()
            .any(|pattern| match (pattern, &parsed) {
                (OriginPattern::Any, _) => true,
                (OriginPattern::Null, None) => true,
                (OriginPattern::Site { scheme, host, port }, Some(origin)) => {
                    scheme.as_deref().is_none_or(|s| s == origin.scheme)
                        && host.matches(origin.host)
                        && port_matches(scheme.as_deref(), *port, origin)
                }
                _ => false,
            })
    }
}

impl OriginPattern {
    fn parse(entry: &str) -> std::result::Result<Self, &'static str> {
        let entry = entry.trim().to_ascii_lowercase();
        match entry.as_str() {
            "*" => return Ok(OriginPattern::Any),
            "null" => return Ok(OriginPattern::Null),
            "" => return Err("is empty"),
            _ => {}
        }
        let (scheme, host, port) = if entry.contains("://") {
            let origin = split_origin(&entry)?;
            (Some(origin.scheme.to_owned()), origin.host, origin.port)
        } else {
            let (host, port) = split_authority(&entry)?;
            (None, host, port)
        };
        let host = match host.strip_prefix("*.") {
            Some(domain) if !domain.is_empty() && !domain.contains('*') => {
                HostPattern::SubdomainOf(domain.to_owned())
            }
            Some(_) => return Err("has a wildcard that is not a leading `*.` of a domain"),
            None if host.contains('*') => {
                return Err("has a wildcard that is not a leading `*.` of a domain")
            }
            None => HostPattern::Exact(host.to_owned()),
        };
        Ok(OriginPattern::Site { scheme, host, port })
    }
}

impl HostPattern {
    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(exact) => host == exact,
            HostPattern::SubdomainOf(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        }
    }
}

/// The port a pattern asks for (its own, or its scheme's default) against the origin's (its
/// own, or its scheme's default); a pattern with neither asks for the origin's default port.
fn port_matches(scheme: Option<&str>, port: Option<u16>, origin: &Origin<'_>) -> bool {
    let origin_default = default_port(origin.scheme);
    let origin_port = origin.port.or(origin_default);
    match port.or_else(|| scheme.and_then(default_port)) {
        Some(wanted) => origin_port == Some(wanted),
        None => origin.port.is_none() || origin.port == origin_default,
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Splits a lower-case `scheme://host[:port]`; nothing may follow (no path, query, user).
fn split_origin(origin: &str) -> std::result::Result<Origin<'_>, &'static str> {
    let (scheme, authority) = origin
        .split_once("://")
        .ok_or("is not an origin (scheme://host[:port])")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err("has an invalid scheme");
    }
    let (host, port) = split_authority(authority)?;
    Ok(Origin { scheme, host, port })
}

/// Splits `host[:port]` (an IPv6 host in brackets).
fn split_authority(authority: &str) -> std::result::Result<(&str, Option<u16>), &'static str> {
    if authority.contains(['/', '?', '#', '@', ' ']) {
        return Err("is not an origin: it may only hold scheme://host[:port]");
    }
    let (host, port) = match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => {
            let port = authority[at + 1..]
                .parse::<u16>()
                .map_err(|_| "has an invalid port")?;
            (&authority[..at], Some(port))
        }
        _ => (authority, None),
    };
    if host.is_empty() || host == "[]" {
        return Err("has no host");
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entries: &[&str], origin: &str) -> bool {
        AllowedOrigins::parse("test", entries)
            .unwrap()
            .allows(origin)
    }

    #[test]
    fn exact_origins_match_scheme_host_and_port() {
        let list = ["https://app.example.com", "http://localhost:3000"];
        assert!(allows(&list, "https://app.example.com"));
        assert!(allows(&list, "HTTPS://App.Example.com"));
        assert!(allows(&list, "https://app.example.com:443"));
        assert!(allows(&list, "http://localhost:3000"));
        assert!(!allows(&list, "http://app.example.com"));
        assert!(!allows(&list, "https://app.example.com:8443"));
        assert!(!allows(&list, "https://evil.app.example.com"));
        assert!(!allows(&list, "https://app.example.com.evil.net"));
        assert!(!allows(&list, "http://localhost"));
        assert!(!allows(&list, "null"));
        assert!(!allows(&list, "garbage"));
        assert!(!allows(&list, "https://app.example.com/path"));
    }

    #[test]
    fn subdomain_patterns_and_schemeless_entries() {
        let list = ["https://*.example.com"];
        assert!(allows(&list, "https://a.example.com"));
        assert!(allows(&list, "https://a.b.example.com"));
        assert!(!allows(&list, "https://example.com"));
        assert!(!allows(&list, "https://aexample.com"));
        assert!(!allows(&list, "http://a.example.com"));
        let any_scheme = ["*.example.com", "example.org"];
        assert!(allows(&any_scheme, "http://a.example.com"));
        assert!(allows(&any_scheme, "https://a.example.com"));
        assert!(!allows(&any_scheme, "https://a.example.com:8443"));
        assert!(allows(&any_scheme, "https://example.org"));
        assert!(allows(&any_scheme, "http://example.org:80"));
        assert!(!allows(&any_scheme, "https://b.example.org"));
        assert!(allows(&["example.org:8080"], "http://example.org:8080"));
        assert!(allows(&["http://[::1]:8080"], "http://[::1]:8080"));
        assert!(!allows(&["http://[::1]:8080"], "http://[::1]"));
    }

    #[test]
    fn any_null_and_empty() {
        assert!(allows(&[], "https://anything.net"));
        assert!(allows(&["*"], "https://anything.net"));
        assert!(allows(&["*"], "null"));
        assert!(allows(&["null"], "null"));
        assert!(!allows(&["null"], "https://a.net"));
        assert!(AllowedOrigins::parse::<&str>("x", &[]).unwrap().is_empty());
    }

    #[test]
    fn bad_entries_are_errors_that_name_the_setting() {
        for bad in [
            "",
            "https://",
            "https://a.com/",
            "https://a.com/path",
            "https://user@a.com",
            "https://a.com:99999",
            "https://a.*.com",
            "https://*.",
            "*.",
            "1http://a.com",
            "https://a.com:port",
        ] {
            let e = AllowedOrigins::parse("listener allowed_origins", &[bad]).unwrap_err();
            assert!(
                e.message().starts_with("listener allowed_origins"),
                "{bad:?}: {e}"
            );
        }
    }
}
