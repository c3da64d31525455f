//! The per-socket limit on the messages a peer sends: a token bucket, kept as the time at
//! which the bucket is full again (GCRA), so that a check is one comparison.

use crate::config::{MessageRateLimit, MessageRatePolicy};
use std::time::Duration;
use tokio::time::Instant;

/// One socket's bucket.
pub(crate) struct RateLimit {
    /// Time one message takes to earn back.
    interval: Duration,
    /// How far ahead of now the bucket may run: `burst - 1` intervals.
    tolerance: Duration,
    /// When the bucket has room for one more message on top of those it allows now.
    theoretical_arrival: Instant,
    policy: MessageRatePolicy,
}

impl RateLimit {
    /// A full bucket at `now`.
    pub(crate) fn new(limit: MessageRateLimit, policy: MessageRatePolicy, now: Instant) -> Self {
        let interval = Duration::from_secs(1) / limit.per_second.max(1);
        RateLimit {
            interval,
            tolerance: interval * limit.burst.max(1).saturating_sub(1),
            theoretical_arrival: now,
            policy,
        }
    }

    /// Whether a message arriving at `now` is within the limit (and counts it if so).
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        let arrival = self.theoretical_arrival.max(now);
        if arrival - now > self.tolerance {
            return false;
        }
        self.theoretical_arrival = arrival + self.interval;
        true
    }

    /// What to do with a message past the limit.
    pub(crate) fn policy(&self) -> MessageRatePolicy {
        self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let start = Instant::now();
        let limit = MessageRateLimit {
            per_second: 10,
            burst: 3,
        };
        let mut rate = RateLimit::new(limit, MessageRatePolicy::Close, start);
        let admitted = |rate: &mut RateLimit, at: Duration, n: usize| {
            (0..n).filter(|_| rate.admit(start + at)).count()
        };
        assert_eq!(admitted(&mut rate, Duration::ZERO, 5), 3, "the burst");
        assert_eq!(admitted(&mut rate, Duration::from_millis(50), 1), 0);
        assert_eq!(admitted(&mut rate, Duration::from_millis(100), 2), 1);
        // Idle for a second: the bucket is full again, never fuller.
        assert_eq!(admitted(&mut rate, Duration::from_secs(2), 10), 3);
    }
}
