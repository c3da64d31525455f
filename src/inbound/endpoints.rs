//! The listener's plain HTTP endpoints, answered before any upgrade check: the health path
//! (200 while the connector runs, 503 once it drains; open to every client) and the metrics
//! path (the connector's figures as Prometheus text, to the allowed client addresses only).

use crate::allow::AddressList;
use crate::config::ListenerConfig;
use crate::error::Result;
use crate::metrics::PROMETHEUS_CONTENT_TYPE;
use crate::protocol::handshake::status_text;
use crate::shared::Shared;
use crate::tls::IoStream;
use std::net::IpAddr;
use tokio::io::AsyncWriteExt;

/// The configured endpoints, fixed at start.
pub(super) struct Endpoints {
    metrics: Option<String>,
    health: Option<String>,
    metrics_allowed: AddressList,
}

/// One endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Metrics,
    Health,
}

impl Endpoints {
    /// The listener's endpoints (validated with the configuration).
    pub(super) fn new(config: &ListenerConfig) -> Result<Self> {
        let path = |p: &String| (!p.is_empty()).then(|| p.clone());
        Ok(Endpoints {
            metrics: path(&config.metrics_path),
            health: path(&config.health_path),
            metrics_allowed: AddressList::parse(
                "metrics_allowed_addresses",
                &config.metrics_allowed_addresses,
            )?,
        })
    }

    /// The endpoint at `path` (the decoded request path), if any: an exact match.
    pub(super) fn at(&self, path: &str) -> Option<Endpoint> {
        if self.health.as_deref() == Some(path) {
            Some(Endpoint::Health)
        } else if self.metrics.as_deref() == Some(path) {
            Some(Endpoint::Metrics)
        } else {
            None
        }
    }

    /// Answers a request for `endpoint` (GET or HEAD, from a client at `client`) and closes
    /// the connection.
    pub(super) async fn serve(
        &self,
        shared: &Shared,
        mut stream: IoStream,
        endpoint: Endpoint,
        method: &str,
        client: IpAddr,
    ) {
        let (status, content_type, body, extra) = if method != "GET" && method != "HEAD" {
            (
                405,
                "text/plain; charset=utf-8",
                "use GET or HEAD\n".to_owned(),
                "Allow: GET, HEAD\r\n",
            )
        } else {
            match endpoint {
                Endpoint::Health if shared.is_draining() => (
                    503,
                    "text/plain; charset=utf-8",
                    "draining\n".to_owned(),
                    "",
                ),
                Endpoint::Health => (200, "text/plain; charset=utf-8", "ok\n".to_owned(), ""),
                Endpoint::Metrics if !self.metrics_allowed.allows(client) => (
                    403,
                    "text/plain; charset=utf-8",
                    "not an allowed address\n".to_owned(),
                    "",
                ),
                Endpoint::Metrics => (
                    200,
                    PROMETHEUS_CONTENT_TYPE,
                    shared.metrics().to_prometheus(),
                    "",
                ),
            }
        };
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n{extra}\r\n",
            status_text(status),
            body.len(),
        );
        let mut response = head.into_bytes();
        if method != "HEAD" {
            response.extend_from_slice(body.as_bytes());
        }
        let _ = stream.write_all(&response).await;
        let _ = stream.shutdown().await;
    }
}
