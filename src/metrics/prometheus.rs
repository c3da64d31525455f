//! A snapshot as Prometheus text (exposition format 0.0.4), written by the `prometheus-client`
//! crate's encoder: the snapshot is a collector that describes each family once per render.

use super::snapshot::{ByKind, BySocketType, Histogram, MetricsSnapshot};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`MetricsSnapshot::to_prometheus`]'s text.
pub const PROMETHEUS_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Every family name starts with this (and `_`).
const PREFIX: &str = "wsconnector";

impl MetricsSnapshot {
    /// The snapshot as Prometheus text (exposition format 0.0.4, [`PROMETHEUS_CONTENT_TYPE`]),
    /// for an application that serves it on an HTTP endpoint of its own. Every family is named
    /// `wsconnector_...`; labels have bounded values (socket type, message kind, close code
    /// or "other", served path pattern, refusal reason and status).
    pub fn to_prometheus(&self) -> String {
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register_collector(Box::new(Families(self.clone())));
        let mut text = String::new();
        // Writing to a String cannot fail, and the collector below returns only its errors.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
        text
    }
}

/// A snapshot as the families the encoder asks for.
#[derive(Debug)]
struct Families(MetricsSnapshot);

type Result = std::result::Result<(), std::fmt::Error>;

/// Writes one family after another into a descriptor encoder.
struct Writer<'a, 'b>(&'a mut DescriptorEncoder<'b>);

impl Writer<'_, '_> {
    fn counter(&mut self, name: &str, help: &str, value: u64) -> Result {
        self.0
            .encode_descriptor(name, help, None, MetricType::Counter)?
            .encode_counter::<NoLabelSet, _, u64>(&value, None)
    }

    fn gauge(&mut self, name: &str, help: &str, value: u64) -> Result {
        self.0
            .encode_descriptor(name, help, None, MetricType::Gauge)?
            .encode_gauge(&value)
    }

    /// A family of one metric per label set.
    fn labelled<L: EncodeLabelSet>(
        &mut self,
        name: &str,
        help: &str,
        metric_type: MetricType,
        series: impl IntoIterator<Item = (L, u64)>,
    ) -> Result {
        let mut family = self.0.encode_descriptor(name, help, None, metric_type)?;
        for (labels, value) in series {
            let mut metric = family.encode_family(&labels)?;
            match metric_type {
                MetricType::Counter => metric.encode_counter::<NoLabelSet, _, u64>(&value, None)?,
                _ => metric.encode_gauge(&value)?,
            }
        }
        Ok(())
    }

    fn by_type(&mut self, name: &str, help: &str, kind: MetricType, v: BySocketType) -> Result {
        self.labelled(
            name,
            help,
            kind,
            [
                ([("type", "inbound")], v.inbound),
                ([("type", "outbound")], v.outbound),
            ],
        )
    }

    fn by_kind(&mut self, name: &str, help: &str, v: ByKind) -> Result {
        self.labelled(
            name,
            help,
            MetricType::Counter,
            [
                ([("kind", "text")], v.text),
                ([("kind", "binary")], v.binary),
            ],
        )
    }

    fn histogram(&mut self, name: &str, help: &str, h: &Histogram) -> Result {
        let mut below = 0;
        let buckets: Vec<(f64, u64)> = h
            .buckets
            .iter()
            .map(|b| {
                let own = b.count - below;
                below = b.count;
                (b.le.map_or(f64::INFINITY, |le| le.as_secs_f64()), own)
            })
            .collect();
        self.0
            .encode_descriptor(name, help, None, MetricType::Histogram)?
            .encode_histogram::<NoLabelSet>(h.sum.as_secs_f64(), h.count, &buckets, None)
    }
}

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result {
        let m = &self.0;
        let mut w = Writer(&mut encoder);
        w.by_type(
            "sockets_open",
            "Sockets open now.",
            MetricType::Gauge,
            m.sockets_open,
        )?;
        w.by_type(
            "sockets_opened",
            "Sockets opened (handshake done) since start.",
            MetricType::Counter,
            m.sockets_opened,
        )?;
        w.labelled(
            "path_sockets_open",
            "Inbound sockets open now, by served path pattern.",
            MetricType::Gauge,
            m.paths
                .iter()
                .map(|p| ([("path", p.pattern.as_str())], p.open)),
        )?;
        w.labelled(
            "path_sockets_opened",
            "Inbound sockets opened since start, by served path pattern.",
            MetricType::Counter,
            m.paths
                .iter()
                .map(|p| ([("path", p.pattern.as_str())], p.opened)),
        )?;
        w.labelled(
            "sockets_closed",
            "Sockets closed since start, by close code (\"other\": codes without a label).",
            MetricType::Counter,
            m.sockets_closed.iter().map(|c| {
                let code = c.code.map_or_else(|| "other".to_owned(), |c| c.to_string());
                ([("code", code)], c.count)
            }),
        )?;
        w.labelled(
            "handshakes_refused",
            "Handshakes refused, by reason and HTTP status (\"none\": no answer was sent).",
            MetricType::Counter,
            m.handshakes_refused.iter().map(|r| {
                let status = r
                    .status
                    .map_or_else(|| "none".to_owned(), |s| s.to_string());
                (
                    [("reason", r.reason.as_str().to_owned()), ("status", status)],
                    r.count,
                )
            }),
        )?;
        w.by_kind(
            "messages_received",
            "Messages received from peers.",
            m.messages_in,
        )?;
        w.by_kind(
            "received_bytes",
            "Payload bytes received from peers.",
            m.bytes_in,
        )?;
        w.by_kind(
            "messages_sent",
            "Messages written to peers.",
            m.messages_out,
        )?;
        w.by_kind("sent_bytes", "Payload bytes written to peers.", m.bytes_out)?;
        w.counter(
            "compressed_messages_received",
            "Messages received compressed (permessage-deflate).",
            m.compressed_messages_in,
        )?;
        w.counter(
            "compressed_received_bytes",
            "Payload bytes on the wire of the messages received compressed.",
            m.compressed_bytes_in,
        )?;
        w.counter(
            "compressed_messages_sent",
            "Messages written compressed (permessage-deflate).",
            m.compressed_messages_out,
        )?;
        w.counter(
            "compressed_sent_bytes",
            "Payload bytes on the wire of the messages written compressed.",
            m.compressed_bytes_out,
        )?;
        w.gauge(
            "send_queue_messages",
            "Messages waiting in the sockets' send queues.",
            m.send_queue_messages,
        )?;
        w.gauge(
            "send_queue_bytes",
            "Payload bytes waiting in the sockets' send queues.",
            m.send_queue_bytes,
        )?;
        w.gauge(
            "send_queue_largest_messages",
            "Messages waiting in the fullest send queue.",
            m.send_queue_largest,
        )?;
        w.counter(
            "slow_consumer_dropped_messages",
            "Messages dropped by the slow-consumer policy.",
            m.slow_consumer_dropped,
        )?;
        w.counter(
            "slow_consumer_closed_sockets",
            "Sockets closed by the slow-consumer policy.",
            m.slow_consumer_closed,
        )?;
        w.counter("broadcasts", "Broadcasts.", m.broadcasts)?;
        w.counter(
            "broadcast_deliveries",
            "Sockets broadcasts queued their message for.",
            m.broadcast_deliveries,
        )?;
        w.gauge(
            "events_waiting",
            "Events waiting for the application or held by it.",
            m.events_waiting,
        )?;
        w.gauge(
            "events_waiting_bytes",
            "Memory kept by the events waiting for the application or held by it.",
            m.event_bytes_waiting,
        )?;
        w.counter(
            "backpressure_episodes",
            "Times the event queue filled up and sockets stopped reading.",
            m.backpressure_episodes,
        )?;
        w.counter("pings_sent", "Keepalive pings sent.", m.pings_sent)?;
        w.counter(
            "pong_timeouts",
            "Sockets dropped for not answering a ping in time.",
            m.pong_timeouts,
        )?;
        w.counter(
            "reconnect_attempts",
            "Reconnect attempts of outbound sockets.",
            m.reconnect_attempts,
        )?;
        w.counter(
            "reconnects",
            "Reconnect attempts that connected again.",
            m.reconnects,
        )?;
        w.counter(
            "reconnects_exhausted",
            "Outbound sockets closed because their reconnect attempts ran out.",
            m.reconnects_exhausted,
        )?;
        w.histogram(
            "event_wait_seconds",
            "Time from when a socket read an event to when it was taken from the event queue for the application.",
            &m.event_wait,
        )?;
        w.histogram(
            "broadcast_fanout_seconds",
            "Time a broadcast took to queue its message for every matching socket.",
            &m.broadcast_fanout,
        )?;
        w.gauge(
            "draining",
            "1 while the connector drains, else 0.",
            u64::from(m.draining),
        )?;
        w.gauge(
            "sockets_parked",
            "Sockets parked now: idle, out of the scheduler until needed.",
            m.sockets_parked,
        )?;
        w.counter(
            "memory_purges",
            "Times the memory parked sockets freed was given back to the system.",
            m.memory_purges,
        )
    }
}

/// One sample of the Prometheus text: a name (`wsconnector_sockets_closed_total`), its labels
/// and its value. A histogram is its `_bucket` (with label `le`), `_sum` and `_count` samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name, with its `wsconnector_` prefix and its suffix.
    pub name: String,
    /// Its labels, in order, values unescaped.
    pub labels: Vec<(String, String)>,
    /// Its value (a count, a gauge, or seconds for a histogram's sum).
    pub value: f64,
}

impl MetricsSnapshot {
    /// The samples of [`MetricsSnapshot::to_prometheus`] one by one, as a consumer that wants
    /// every figure without reading text gets them (the C API iterates over them): the same
    /// names, labels and values, read back from the text.
    pub fn samples(&self) -> Vec<Sample> {
        self.to_prometheus()
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(sample)
            .collect()
    }
}

/// A sample line: `name{a="x",b="y"} value` or `name value`.
fn sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}')?)?),
        None => (series, Vec::new()),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"` with the text format's escapes (`\\`, `\"`, `\n`) undone.
fn parse_labels(mut text: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    while !text.is_empty() {
        let (name, rest) = text.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((name.to_owned(), value));
        text = rest[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_read_back_names_labels_and_values() {
        let line = r#"wsconnector_path_sockets_open{path="/a\"b\\c",x="1"} 3"#;
        let s = sample(line).unwrap();
        assert_eq!(s.name, "wsconnector_path_sockets_open");
        assert_eq!(
            s.labels,
            [("path".into(), "/a\"b\\c".into()), ("x".into(), "1".into())]
        );
        assert_eq!(s.value, 3.0);
        let s = sample("wsconnector_draining 0").unwrap();
        assert!(s.labels.is_empty() && s.value == 0.0);
        let snapshot = MetricsSnapshot::default();
        let samples = snapshot.samples();
        assert!(samples
            .iter()
            .any(|s| s.name == "wsconnector_event_wait_seconds_count" && s.value == 0.0));
    }
}
