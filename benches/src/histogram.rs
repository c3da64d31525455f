//! A latency histogram with constant memory and about 1.6 % precision: buckets are linear
//! within each power of two (64 per octave), so recording is a shift and an increment, cheap
//! enough for every message of a run.

use std::time::Duration;

/// Bits of sub-bucket precision within an octave.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for any `u64` nanosecond count.
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) << SUB_BITS;

/// Counts of latencies in nanoseconds.
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl Histogram {
    /// Adds one latency.
    pub fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[index(nanos)] += 1;
        self.total += 1;
    }

    /// How many latencies were recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The latency at quantile `q` (0.5 for the median), at the middle of its bucket; `None`
    /// when empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = bucket(i);
                return Some(Duration::from_nanos(low + width / 2));
            }
        }
        None
    }
}

fn index(nanos: u64) -> usize {
    if nanos < SUB {
        return nanos as usize;
    }
    let shift = 63 - nanos.leading_zeros() - SUB_BITS;
    (((shift + 1) as u64) << SUB_BITS) as usize + ((nanos >> shift) - SUB) as usize
}

/// The lowest value of bucket `i` and its width.
fn bucket(i: usize) -> (u64, u64) {
    let group = (i >> SUB_BITS) as u32;
    let sub = (i as u64) & (SUB - 1);
    if group == 0 {
        (sub, 1)
    } else {
        let shift = group - 1;
        ((SUB + sub) << shift, 1 << shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_values() {
        for v in (0..5000).chain([1 << 20, 123_456_789, u64::MAX / 3, u64::MAX]) {
            let (low, width) = bucket(index(v));
            assert!(low <= v && v - low < width, "{v} in [{low}, +{width})");
        }
    }

    #[test]
    fn quantiles_are_within_precision() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5).unwrap().as_secs_f64() * 1e6;
        let p99 = h.quantile(0.99).unwrap().as_secs_f64() * 1e6;
        assert!((p50 - 500.0).abs() / 500.0 < 0.02, "{p50}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.02, "{p99}");
        assert_eq!(h.len(), 1000);
    }
}
