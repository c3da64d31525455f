//! Path patterns: exact paths, or paths with `*` wildcards such as `/chat/*`; and request
//! paths made ready for matching (decoded once, dot-segments and encoded slashes refused).

use crate::error::{Error, Result};
use std::fmt;

/// A path pattern: an exact path, or one where each `*` matches any run of characters
/// (including `/`), so `/chat/*` matches `/chat/a` and `/chat/a/b`, and `*` matches everything.
#[derive(Clone, PartialEq, Eq)]
pub struct PathPattern {
    raw: String,
    /// The literal pieces between the `*`s; one piece means an exact path.
    pieces: Vec<String>,
}

impl PathPattern {
    /// Parses a pattern; it must be `*` or start with `/`, and hold no whitespace or control
    /// characters, `?` or `#`.
    pub fn new(pattern: &str) -> Result<Self> {
        if pattern.is_empty() {
            return Err(Error::invalid("a path pattern must not be empty"));
        }
        if !pattern.starts_with('/') && !pattern.starts_with('*') {
            return Err(Error::invalid(format!(
                "path pattern {pattern:?} must start with '/' or '*'"
            )));
        }
        if let Some(c) = pattern
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || *c == '?' || *c == '#')
        {
            return Err(Error::invalid(format!(
                "path pattern {pattern:?} contains the character {c:?}"
            )));
        }
        Ok(PathPattern {
            raw: pattern.to_owned(),
            pieces: pattern.split('*').map(str::to_owned).collect(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the pattern holds no wildcard.
    pub fn is_exact(&self) -> bool {
        self.pieces.len() == 1
    }

    /// Whether `path` matches the pattern.
    pub fn matches(&self, path: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(split) => split,
            None => return false,
        };
        if rest.is_empty() {
            return path == first;
        }
        let Some(mut remaining) = path.strip_prefix(first.as_str()) else {
            return false;
        };
        let (last, middle) = rest.split_last().expect("rest is not empty");
        for piece in middle {
            match remaining.find(piece.as_str()) {
                Some(at) => remaining = &remaining[at + piece.len()..],
                None => return false,
            }
        }
        remaining.len() >= last.len() && remaining.ends_with(last.as_str())
    }
}

impl fmt::Debug for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathPattern({:?})", self.raw)
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for PathPattern {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        PathPattern::new(s)
    }
}

/// Normalises a listener base path: starts with `/`, no trailing `/` unless it is the root.
pub(crate) fn normalize_base_path(base: &str) -> Result<String> {
    let pattern = PathPattern::new(base)?;
    if !pattern.is_exact() || !base.starts_with('/') {
        return Err(Error::invalid(format!(
            "base path {base:?} must be an exact path starting with '/'"
        )));
    }
    let trimmed = base.trim_end_matches('/');
    Ok(if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    })
}

/// The full path pattern of `pattern` (a served path, relative to the normalised `base`).
pub(crate) fn full_pattern(base: &str, pattern: &str) -> String {
    match (base, pattern.starts_with('/')) {
        ("/", _) => pattern.to_owned(),
        (_, true) => format!("{base}{pattern}"),
        (_, false) => format!("{base}/{pattern}"),
    }
}

/// The part of `full` below `base` (always starting with `/`), or `None` when `full` is not
/// under `base`.
pub(crate) fn strip_base<'a>(base: &str, full: &'a str) -> Option<&'a str> {
    if base == "/" {
        return Some(full);
    }
    let rest = full.strip_prefix(base)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

/// A request's path (the target without its query), percent-decoded once, as patterns match
/// it and the socket's attributes show it. Refused, with the reason: malformed
/// percent-encoding, an encoded slash (`%2F`, which would make one segment look like two), a
/// dot-segment (`.` or `..`, written or encoded, which would let `/chat/../admin` match
/// `/chat/*`), a control character, or bytes that are not UTF-8.
pub(crate) fn decode_request_path(raw: &str) -> std::result::Result<String, &'static str> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut rest = raw.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte != b'%' {
            bytes.push(byte);
            rest = tail;
            continue;
        }
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        let (Some(high), Some(low)) = (hex(tail.first()), hex(tail.get(1))) else {
            return Err("the path has malformed percent-encoding");
        };
        let decoded = (high * 16 + low) as u8;
        if decoded == b'/' {
            return Err("the path has an encoded slash (%2F)");
        }
        bytes.push(decoded);
        rest = &tail[2..];
    }
    let path = String::from_utf8(bytes).map_err(|_| "the decoded path is not UTF-8")?;
    if path.chars().any(char::is_control) {
        return Err("the path has a control character");
    }
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err("the path has a dot-segment (. or ..)");
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        PathPattern::new(p).unwrap().matches(path)
    }

    #[test]
    fn exact_and_wildcards() {
        assert!(m("/chat", "/chat"));
        assert!(!m("/chat", "/chat/"));
        assert!(m("/chat/*", "/chat/a"));
        assert!(m("/chat/*", "/chat/a/b"));
        assert!(m("/chat/*", "/chat/"));
        assert!(!m("/chat/*", "/chat"));
        assert!(m("*", "/anything/at/all"));
        assert!(m("/a/*/c", "/a/b/c"));
        assert!(!m("/a/*/c", "/a/b/d"));
        assert!(m("/a*b*c", "/abc"));
        assert!(!m("/a*bc*c", "/abc"));
        assert!(m("*/feed", "/x/feed"));
        assert!(!m("/ab*ba", "/aba"));
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in ["", "chat", "/a b", "/a?x", "/a#b", "/a\n"] {
            assert!(PathPattern::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn request_paths_are_decoded_once_and_tricks_refused() {
        assert_eq!(
            decode_request_path("/chat/room%201").unwrap(),
            "/chat/room 1"
        );
        assert_eq!(decode_request_path("/ch%61t/%C3%A9").unwrap(), "/chat/é");
        assert_eq!(
            decode_request_path("/a%2541").unwrap(),
            "/a%41",
            "decoded once, not twice"
        );
        assert_eq!(decode_request_path("/a/.b/c..").unwrap(), "/a/.b/c..");
        for bad in [
            "/chat/../admin",
            "/chat/./x",
            "/chat/..",
            "/chat/%2e%2e/admin",
            "/chat/.%2E",
            "/a%2Fb",
            "/a%2fb",
            "/a%2",
            "/a%zz",
            "/a%00",
            "/a%0A",
            "/a%FF",
        ] {
            assert!(
                decode_request_path(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn base_paths() {
        assert_eq!(normalize_base_path("/").unwrap(), "/");
        assert_eq!(normalize_base_path("/api/").unwrap(), "/api");
        assert!(normalize_base_path("/api/*").is_err());
        assert_eq!(strip_base("/", "/x"), Some("/x"));
        assert_eq!(strip_base("/api", "/api"), Some("/"));
        assert_eq!(strip_base("/api", "/api/x"), Some("/x"));
        assert_eq!(strip_base("/api", "/apix"), None);
        assert_eq!(strip_base("/api", "/other"), None);
    }
}
