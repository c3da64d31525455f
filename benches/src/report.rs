//! The load client's result: one flat JSON object on one line of stdout, which the runner
//! reads. Flat numbers and strings only, so a few lines of code write it.

use crate::histogram::Histogram;
use crate::measure::Span;
use std::fmt::Write;

enum Value {
    Int(u64),
    Float(f64),
    Text(String),
}

/// The figures of one run, in the order they were added.
#[derive(Default)]
pub struct Report {
    fields: Vec<(&'static str, Value)>,
}

impl Report {
    /// Adds a whole number.
    pub fn int(&mut self, name: &'static str, value: u64) -> &mut Self {
        self.fields.push((name, Value::Int(value)));
        self
    }

    /// Adds a number; a non-finite one is written as null.
    pub fn float(&mut self, name: &'static str, value: f64) -> &mut Self {
        self.fields.push((name, Value::Float(value)));
        self
    }

    /// Adds a string.
    pub fn text(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.fields.push((name, Value::Text(value.into())));
        self
    }

    /// Adds what a measured window saw: `count` completions (round trips, deliveries) in
    /// `span`, their rate, the CPU time each cost the server, the CPU load of server, client
    /// and other processes, and the median and 99th-percentile latency.
    /// `received`: the bytes read from the server in the window, which make
    /// `wire_bytes_per_msg`: what one echo or one delivery took on the wire (frame headers
    /// and the odd ping included).
    pub fn window(
        &mut self,
        count: u64,
        received: u64,
        span: &Span,
        latencies: &Histogram,
    ) -> &mut Self {
        let secs = span.elapsed.as_secs_f64();
        let per_message = |cpu: std::time::Duration| cpu.as_secs_f64() * 1e6 / count as f64;
        let micros = |q| {
            latencies
                .quantile(q)
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
        };
        self.int("count", count)
            .float("window_s", secs)
            .float("rate", count as f64 / secs)
            .float("server_cpu_us_per_msg", per_message(span.server_cpu))
            .cpu_load(span)
            .float("p50_us", micros(0.5))
            .float("p99_us", micros(0.99))
            .float("wire_bytes_per_msg", received as f64 / count as f64)
    }

    /// Adds the CPU load of server, client and other processes over `span`, in percent of
    /// one core.
    pub fn cpu_load(&mut self, span: &Span) -> &mut Self {
        let secs = span.elapsed.as_secs_f64();
        let pct = |cpu: std::time::Duration| cpu.as_secs_f64() * 100.0 / secs;
        self.float("server_cpu_pct", pct(span.server_cpu))
            .float("client_cpu_pct", pct(span.client_cpu))
            .float("other_cpu_pct", pct(span.other_cpu))
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (name, value)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "\"{name}\": ");
            match value {
                Value::Int(v) => {
                    let _ = write!(out, "{v}");
                }
                Value::Float(v) if v.is_finite() => {
                    let _ = write!(out, "{v}");
                }
                Value::Float(_) => out.push_str("null"),
                Value::Text(s) => write_string(&mut out, s),
            }
        }
        out.push('}');
        out
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_json() {
        let mut r = Report::default();
        r.text("load", "echo \"x\"\n")
            .int("n", 3)
            .float("rate", 1.5)
            .float("p99_us", f64::NAN);
        assert_eq!(
            r.to_json(),
            r#"{"load": "echo \"x\"\u000a", "n": 3, "rate": 1.5, "p99_us": null}"#
        );
    }
}
