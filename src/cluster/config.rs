//! The cluster's settings: where the backplane is, which cluster and node this is, and how long
//! a node waits for the others.

use crate::error::{Error, Result};
use std::time::Duration;

/// Several connector processes acting as one through a Redis backplane (pub/sub): broadcast and
/// bulk close reach every node's sockets, and operations by socket ID reach the node that holds
/// the socket. See the README's "Scale-out" section.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// The backplane: `redis://[user:password@]host:port/db`, or `rediss://` for TLS (the
    /// server's certificate is checked against the system's roots).
    pub url: String,
    /// The Redis password, when it is not in the URL (empty: none).
    pub password: String,
    /// The cluster's name: the prefix of its Redis keys and channels, so that several clusters
    /// can share one Redis (default `"wsconnector"`).
    pub name: String,
    /// This node's name, unique in the cluster; empty (the default) generates one.
    pub node_name: String,
    /// How long an operation waits for the other nodes (their counts, a remote socket's
    /// outcome) and for Redis itself (default 2 s).
    pub timeout: Duration,
    /// How long a node's socket IDs keep resolving after it stops answering (it died): its
    /// liveness key expires then; it refreshes it every third of this time (default 10 s).
    pub node_expiry: Duration,
}

/// Longest cluster or node name, in bytes.
pub const MAX_CLUSTER_NAME_LEN: usize = 64;

impl ClusterConfig {
    /// A cluster on the Redis at `url`, every other setting at its default.
    pub fn new(url: impl Into<String>) -> Self {
        ClusterConfig {
            url: url.into(),
            password: String::new(),
            name: "wsconnector".into(),
            node_name: String::new(),
            timeout: Duration::from_secs(2),
            node_expiry: Duration::from_secs(10),
        }
    }

    /// The same cluster with another name (the prefix of its keys and channels).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The same cluster with this node's name.
    pub fn with_node_name(mut self, name: impl Into<String>) -> Self {
        self.node_name = name.into();
        self
    }

    /// Checks the cluster's own rules (`Config::validate` checks its durations like every
    /// other); the error names the setting that is wrong.
    pub(crate) fn validate(&self) -> Result<()> {
        self.connection_info()?;
        check_name("cluster_name", &self.name)?;
        if !self.node_name.is_empty() {
            check_name("node_name", &self.node_name)?;
        }
        if self.node_expiry < Duration::from_millis(300) {
            return Err(Error::invalid(
                "cluster_node_expiry must be at least 0.3 seconds (a heartbeat every third of it)",
            ));
        }
        Ok(())
    }

    /// The URL with the password setting applied.
    pub(crate) fn connection_info(&self) -> Result<redis::ConnectionInfo> {
        let bad = |why: String| Error::invalid(format!("cluster URL: {why}"));
        if self.url.is_empty() {
            return Err(bad(
                "missing: the cluster settings need the backplane's redis:// URL (cluster)".into(),
            ));
        }
        if !(self.url.starts_with("redis://") || self.url.starts_with("rediss://")) {
            return Err(bad(format!(
                "{:?} must start with redis:// or rediss://",
                redacted(&self.url)
            )));
        }
        let mut info: redis::ConnectionInfo = self
            .url
            .parse()
            .map_err(|e: redis::RedisError| bad(e.to_string()))?;
        if !self.password.is_empty() {
            info.redis.password = Some(self.password.clone());
        }
        Ok(info)
    }
}

/// A cluster or node name: it goes into Redis keys and channel names after a `:`, so only
/// letters, digits, `-`, `_` and `.`.
fn check_name(setting: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CLUSTER_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{setting} {name:?} must be 1 to {MAX_CLUSTER_NAME_LEN} letters, digits, '-', '_' or '.'"
        )))
    }
}

/// The URL without its password, for messages and the log.
pub(crate) fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_by_name() {
        ClusterConfig::new("redis://127.0.0.1:6379/0")
            .validate()
            .unwrap();
        ClusterConfig::new("rediss://h:1/2").validate().unwrap();
        for (config, names) in [
            (ClusterConfig::new("http://h/"), "redis://"),
            (ClusterConfig::new("redis://h/x"), "cluster URL"),
            (
                ClusterConfig::new("redis://h/").with_name("a:b"),
                "cluster_name",
            ),
            (
                ClusterConfig::new("redis://h/").with_name(""),
                "cluster_name",
            ),
            (
                ClusterConfig::new("redis://h/").with_node_name("n 1"),
                "node_name",
            ),
            (
                ClusterConfig {
                    node_expiry: Duration::from_millis(10),
                    ..ClusterConfig::new("redis://h/")
                },
                "cluster_node_expiry",
            ),
        ] {
            let e = config.validate().unwrap_err();
            assert!(e.message().contains(names), "{names}: {e}");
        }
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redacted("redis://u:secret@h:1/0"), "redis://***@h:1/0");
        assert_eq!(redacted("redis://h:1/0"), "redis://h:1/0");
        let e = ClusterConfig::new("redi://u:secret@h/")
            .validate()
            .unwrap_err();
        assert!(!e.message().contains("secret"), "{e}");
    }
}
