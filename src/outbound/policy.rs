//! The reconnect policy of an outbound socket: whether it reconnects when its connection ends,
//! how long it waits before each attempt (exponential backoff with full jitter), how many
//! attempts it makes, which close codes end it instead, and what sends do meanwhile.

use crate::settings::Choice;
use std::ops::RangeInclusive;
use std::time::Duration;

/// What a send to an outbound socket does while it reconnects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReconnectSendPolicy {
    /// The message waits in the socket's send queue (within its bounds, under its slow-consumer
    /// policy) and leaves, in order, once the socket has reconnected.
    #[default]
    Buffer,
    /// The send fails at once with [`crate::ErrorKind::Reconnecting`].
    Fail,
}

impl ReconnectSendPolicy {
    /// The policy's name: "buffer" or "fail".
    pub fn name(self) -> &'static str {
        crate::settings::choice_name(self)
    }
}

impl Choice for ReconnectSendPolicy {
    const NAMES: &'static [&'static str] = &["buffer", "fail"];
    const ALL: &'static [Self] = &[ReconnectSendPolicy::Buffer, ReconnectSendPolicy::Fail];
}

/// How an outbound socket reconnects once its connection ends (dropped, timed out, or closed
/// by the server with a code not in [`final_close_codes`](Self::final_close_codes)). It keeps
/// its ID, groups and attributes; each attempt repeats the open's handshake (URL, headers,
/// query, subprotocols), with the headers the connector's header refresher gives, if any.
///
/// Before attempt `n` (1, 2, ...) it waits a random delay between 0 and
/// `min(max_delay, initial_delay * multiplier^(n-1))` ("full jitter": many clients of one
/// server that went down do not come back at the same instant).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Reconnect {
    /// The bound of the first delay (default 500 ms).
    pub initial_delay: Duration,
    /// The largest bound of any delay (default 30 s).
    pub max_delay: Duration,
    /// How much the bound grows from one attempt to the next (default 2; at least 1).
    pub multiplier: f64,
    /// Most attempts before the socket closes with [`crate::ErrorKind::RetryExhausted`];
    /// `None` (the default) tries forever.
    pub max_attempts: Option<u32>,
    /// Mule's lazy mode: the socket does not reconnect when its connection ends, but when the
    /// next message is sent to it (by ID, on the socket, or by a broadcast that reaches it);
    /// that message waits in its queue and leaves once it has reconnected. Default false.
    pub lazy: bool,
    /// What sends do while the socket reconnects (default: buffer).
    pub send_policy: ReconnectSendPolicy,
    /// Close codes from the server that end the socket instead of reconnecting (default: 1000,
    /// a normal closure). A close the application asked for, an idle timeout or a stop always
    /// ends it.
    pub final_close_codes: Vec<RangeInclusive<u16>>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            multiplier: 2.0,
            max_attempts: None,
            lazy: false,
            send_policy: ReconnectSendPolicy::Buffer,
            final_close_codes: vec![1000..=1000],
        }
    }
}

impl Reconnect {
    /// The default policy: 500 ms doubling up to 30 s, forever, sends buffered, 1000 final.
    pub fn new() -> Self {
        Reconnect::default()
    }

    /// Sets the first delay's bound, the largest bound, and the growth from one to the next.
    pub fn delays(mut self, initial: Duration, max: Duration, multiplier: f64) -> Self {
        self.initial_delay = initial;
        self.max_delay = max;
        self.multiplier = multiplier;
        self
    }

    /// Sets the most attempts (`None`: forever).
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets Mule's lazy mode (see [`lazy`](Self::lazy)).
    pub fn lazy(mut self, lazy: bool) -> Self {
        self.lazy = lazy;
        self
    }

    /// Sets what sends do while the socket reconnects.
    pub fn send_policy(mut self, policy: ReconnectSendPolicy) -> Self {
        self.send_policy = policy;
        self
    }

    /// Sets the close codes that end the socket (replacing the default 1000).
    pub fn final_close_codes(
        mut self,
        codes: impl IntoIterator<Item = RangeInclusive<u16>>,
    ) -> Self {
        self.final_close_codes = codes.into_iter().collect();
        self
    }

    /// Whether a close with `code` from the server ends the socket.
    pub(crate) fn is_final(&self, code: u16) -> bool {
        self.final_close_codes
            .iter()
            .any(|codes| codes.contains(&code))
    }

    /// Whether attempt `attempt` (1-based) is past the maximum.
    pub(crate) fn exhausted(&self, attempt: u32) -> bool {
        self.max_attempts.is_some_and(|max| attempt > max)
    }

    /// The bound of the delay before attempt `attempt` (1-based):
    /// `min(max_delay, initial_delay * multiplier^(attempt-1))`.
    pub fn delay_bound(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let bound = self.initial_delay.as_secs_f64() * self.multiplier.powi(exponent);
        if bound.is_finite() && bound < self.max_delay.as_secs_f64() {
            Duration::from_secs_f64(bound)
        } else {
            self.max_delay
        }
    }

    /// The delay before attempt `attempt`: uniform between 0 and its bound (full jitter).
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        self.delay_bound(attempt).mul_f64(rand::random::<f64>())
    }
}

/// Whether and how an outbound socket reconnects: what its open chooses.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ReconnectOption {
    /// As the client settings say: [`ClientConfig::reconnect`](crate::ClientConfig::reconnect)
    /// (none: it does not reconnect).
    #[default]
    Default,
    /// It does not reconnect: it closes when its connection ends.
    Off,
    /// With the client settings' policy, or the default policy when they have none.
    On,
    /// With this policy.
    With(Reconnect),
}

impl ReconnectOption {
    /// The policy in force given the client's one, if the socket reconnects.
    pub(crate) fn resolve(&self, client: Option<&Reconnect>) -> Option<Reconnect> {
        match self {
            ReconnectOption::Default => client.cloned(),
            ReconnectOption::Off => None,
            ReconnectOption::On => Some(client.cloned().unwrap_or_default()),
            ReconnectOption::With(policy) => Some(policy.clone()),
        }
    }
}

impl From<bool> for ReconnectOption {
    fn from(on: bool) -> Self {
        if on {
            ReconnectOption::On
        } else {
            ReconnectOption::Off
        }
    }
}

impl From<Reconnect> for ReconnectOption {
    fn from(policy: Reconnect) -> Self {
        ReconnectOption::With(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_bounds_grow_by_the_multiplier_up_to_the_maximum() {
        let policy =
            Reconnect::new().delays(Duration::from_millis(100), Duration::from_millis(1000), 3.0);
        let bounds: Vec<_> = (1..=5).map(|n| policy.delay_bound(n).as_millis()).collect();
        assert_eq!(bounds, [100, 300, 900, 1000, 1000]);
        assert_eq!(policy.delay_bound(u32::MAX), Duration::from_millis(1000));
        for attempt in 1..=50 {
            assert!(policy.delay(attempt) <= policy.delay_bound(attempt));
        }
    }

    #[test]
    fn bad_policies_are_refused_by_field() {
        let cases = [
            (Reconnect::new().max_attempts(Some(0)), "max_attempts"),
            (
                Reconnect::new().delays(Duration::from_secs(2), Duration::from_secs(1), 2.0),
                "max_delay",
            ),
            (
                Reconnect::new().delays(Duration::ZERO, Duration::from_secs(1), 2.0),
                "initial_delay",
            ),
            (
                Reconnect::new().delays(Duration::from_secs(1), Duration::from_secs(1), 0.5),
                "multiplier",
            ),
            (
                Reconnect::new().delays(Duration::from_secs(1), Duration::from_secs(1), f64::NAN),
                "multiplier",
            ),
            (
                Reconnect::new().final_close_codes([RangeInclusive::new(4999, 4000)]),
                "final_close_codes",
            ),
            (
                Reconnect::new().final_close_codes([999..=1000]),
                "final_close_codes",
            ),
        ];
        for (policy, field) in cases {
            let e = policy.validate().unwrap_err();
            assert!(e.message().contains(field), "{field}: {e}");
        }
        Reconnect::new().validate().unwrap();
        assert!(Reconnect::new().is_final(1000));
        assert!(!Reconnect::new().is_final(1001));
    }
}
