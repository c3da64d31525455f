//! Path patterns: exact paths, paths with `*` wildcards such as `/chat/*`, and `{name}`
//! template segments such as `/chat/{room}` that capture what they match; and request paths
//! made ready for matching (decoded once, dot-segments and encoded slashes refused).

use crate::error::{Error, Result};
use std::cmp::Reverse;
use std::fmt;

/// A path pattern: an exact path, or one where each `*` matches any run of characters
/// (including `/`), so `/chat/*` matches `/chat/a` and `/chat/a/b`, and `*` matches everything;
/// a whole segment `{name}` matches one non-empty segment (no `/`) and captures it, so
/// `/chat/{room}` matches `/chat/lobby` with `room` = `lobby`.
#[derive(Clone, PartialEq, Eq)]
pub struct PathPattern {
    raw: String,
    pieces: Vec<Piece>,
}

/// One part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// `*`: any run of characters.
    Any,
    /// `{name}`: one non-empty segment, captured.
    Param(String),
}

impl PathPattern {
    /// Parses a pattern; it must be `*` or start with `/`, and hold no whitespace or control
    /// characters, `?` or `#`; braces only as whole `{name}` segments (a name of letters,
    /// digits, `_`, `-` or `.`, each name once).
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
        let mut pieces = Vec::new();
        let mut literal = String::new();
        for (i, segment) in pattern.split('/').enumerate() {
            if i > 0 {
                literal.push('/');
            }
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
                if !valid {
                    return Err(Error::invalid(format!(
                        "path pattern {pattern:?} has a bad template name {name:?}"
                    )));
                }
                if pieces.contains(&Piece::Param(name.to_owned())) {
                    return Err(Error::invalid(format!(
                        "path pattern {pattern:?} names {{{name}}} twice"
                    )));
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Param(name.to_owned()));
                continue;
            }
            if segment.contains(['{', '}']) {
                return Err(Error::invalid(format!(
                    "path pattern {pattern:?}: a template must be a whole segment, as in /chat/{{room}}"
                )));
            }
            for c in segment.chars() {
                if c == '*' {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Any);
                } else {
                    literal.push(c);
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(PathPattern {
            raw: pattern.to_owned(),
            pieces,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the pattern holds no wildcard and no template.
    pub fn is_exact(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Literal(_)))
    }

    /// Whether `path` matches the pattern.
    pub fn matches(&self, path: &str) -> bool {
        self.captures(path).is_some()
    }

    /// The values of the `{name}` segments when `path` matches (empty without templates), or
    /// `None` when it does not. Where `*`s make several splits possible, each `*` takes the
    /// shortest run that lets the rest match.
    pub fn captures(&self, path: &str) -> Option<Vec<(String, String)>> {
        let has_params = self.pieces.iter().any(|p| matches!(p, Piece::Param(_)));
        let has_any = self.pieces.contains(&Piece::Any);
        match (has_params, has_any) {
            (false, _) => self.matches_wildcards(path).then(Vec::new),
            (true, false) => self.walk(path, |_, _| false),
            (true, true) => {
                let table = self.reachable(path);
                self.walk(path, |piece, pos| table[piece][pos])
            }
        }
    }

    /// Matching with literals and `*` only (the pattern split at its `*`s): the first piece
    /// is a prefix, the last a suffix, those between are found leftmost (linear, no
    /// allocation: the path comes from the peer).
    fn matches_wildcards(&self, path: &str) -> bool {
        let mut split = self.raw.split('*');
        let first = split.next().unwrap_or("");
        let Some(mut remaining) = path.strip_prefix(first) else {
            return false;
        };
        let Some(last) = split.next_back() else {
            return remaining.is_empty();
        };
        for piece in split {
            match remaining.find(piece) {
                Some(at) => remaining = &remaining[at + piece.len()..],
                None => return false,
            }
        }
        remaining.len() >= last.len() && remaining.ends_with(last)
    }

    /// Walks the pieces over `path`, capturing the templates; a `*` stops at the first
    /// position from which `fits(next piece, position)` holds.
    fn walk(
        &self,
        path: &str,
        fits: impl Fn(usize, usize) -> bool,
    ) -> Option<Vec<(String, String)>> {
        let mut captures = Vec::new();
        let mut pos = 0;
        for (i, piece) in self.pieces.iter().enumerate() {
            match piece {
                Piece::Literal(literal) => {
                    if !path.get(pos..)?.starts_with(literal.as_str()) {
                        return None;
                    }
                    pos += literal.len();
                }
                Piece::Param(name) => {
                    let rest = path.get(pos..)?;
                    let len = rest.find('/').unwrap_or(rest.len());
                    if len == 0 {
                        return None;
                    }
                    captures.push((name.clone(), rest[..len].to_owned()));
                    pos += len;
                }
                Piece::Any => {
                    pos = (pos..=path.len()).find(|&p| fits(i + 1, p))?;
                }
            }
        }
        (pos == path.len()).then_some(captures)
    }

    /// For patterns with both `*` and templates: from which byte positions each piece (and
    /// the end, last row) can match the rest of `path`; pieces times path length, each entry
    /// decided once (no backtracking on a peer's path).
    fn reachable(&self, path: &str) -> Vec<Vec<bool>> {
        let n = path.len();
        let bytes = path.as_bytes();
        let mut table = vec![vec![false; n + 1]; self.pieces.len() + 1];
        table[self.pieces.len()][n] = true;
        for (i, piece) in self.pieces.iter().enumerate().rev() {
            for pos in (0..=n).rev() {
                table[i][pos] = match piece {
                    Piece::Literal(literal) => {
                        bytes[pos..].starts_with(literal.as_bytes())
                            && table[i + 1][pos + literal.len()]
                    }
                    Piece::Param(_) => {
                        let end = bytes[pos..]
                            .iter()
                            .position(|b| *b == b'/')
                            .map_or(n, |at| pos + at);
                        end > pos && table[i + 1][end]
                    }
                    Piece::Any => table[i + 1][pos] || (pos < n && table[i][pos + 1]),
                };
            }
        }
        table
    }

    /// How specific the pattern is, greater first: exact paths, then more literal characters
    /// ("longer before shorter"), then fewer `*` (a `{name}` segment is narrower than `*`).
    pub(crate) fn specificity(&self) -> impl Ord {
        let literal: usize = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(l) => l.len(),
                _ => 0,
            })
            .sum();
        let wildcards = self.pieces.iter().filter(|p| **p == Piece::Any).count();
        (self.is_exact(), literal, Reverse(wildcards))
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
    fn templates_capture_one_segment() {
        let c = |p: &str, path: &str| PathPattern::new(p).unwrap().captures(path);
        let pairs = |v: &[(&str, &str)]| {
            Some(
                v.iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            c("/chat/{room}", "/chat/lobby"),
            pairs(&[("room", "lobby")])
        );
        assert_eq!(c("/chat/{room}", "/chat/a/b"), None);
        assert_eq!(c("/chat/{room}", "/chat/"), None);
        assert_eq!(c("/chat/{room}", "/chat"), None);
        assert_eq!(
            c("/u/{user}/chat/{room}", "/u/ann/chat/r1"),
            pairs(&[("user", "ann"), ("room", "r1")])
        );
        assert_eq!(c("/{a}", "/x"), pairs(&[("a", "x")]));
        assert_eq!(
            c("/t/{tenant}/*", "/t/acme/x/y"),
            pairs(&[("tenant", "acme")])
        );
        assert_eq!(c("*/feed/{id}", "/a/b/feed/7"), pairs(&[("id", "7")]));
        assert_eq!(c("*/feed/{id}", "/a/feed/b/feed/7"), pairs(&[("id", "7")]));
        assert_eq!(c("*/feed/{id}", "/a/feed/7/x"), None);
        assert_eq!(c("/chat/*", "/chat/x"), pairs(&[]));
        assert!(!PathPattern::new("/chat/{room}").unwrap().is_exact());
        // A long hostile path against a pattern with both: decided without backtracking.
        let long = "/a".repeat(4000);
        assert_eq!(c("*/{x}/*/b", &long), None);
    }

    #[test]
    fn specificity_orders_exact_longer_then_narrower() {
        let s = |p: &str| PathPattern::new(p).unwrap();
        assert!(s("/chat/a").specificity() > s("/chat/*").specificity());
        assert!(s("/chat/vip/*").specificity() > s("/chat/*").specificity());
        assert!(s("/chat/{room}").specificity() > s("/chat/*").specificity());
        assert!(s("/chat/*").specificity() > s("*").specificity());
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in [
            "", "chat", "/a b", "/a?x", "/a#b", "/a\n", "/a/{}", "/a/{b c}", "/a/x{b}", "/a/{b}x",
            "/a/{b", "/a/b}", "/{a}/{a}", "/a/{b/c}",
        ] {
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
