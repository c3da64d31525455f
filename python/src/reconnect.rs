//! Reconnects: `Reconnect`, the policy of an outbound socket that reconnects (the `reconnect=`
//! setting, and `open_outbound(reconnect=...)`), and the header refresher that calls the
//! application's `refresh_headers` hook.

use crate::args::pairs;
use crate::errors::{invalid, OrRaise};
use crate::logging::log_exception;
use crate::socket::PySocket;
use pyo3::prelude::*;
use pyo3::types::PyBool;
use std::ops::RangeInclusive;
use wsconnector::{
    duration_from_secs, Error, ErrorKind, HeaderRefresher, Reconnect, ReconnectOption,
    ReconnectSendPolicy, Socket,
};

/// How an outbound socket reconnects once its connection ends: exponential backoff with full
/// jitter (before attempt n, a random delay up to
/// `min(max_delay, initial_delay * multiplier ** (n - 1))` seconds), at most `max_attempts`
/// attempts (`None`: forever) before it closes with `RetryExhaustedError` as its
/// `last_error`. `lazy=True` is Mule's lazy mode: it reconnects when a message is next sent to
/// it, not at once. `send_policy` says what sends do meanwhile: `"buffer"` (they wait in the
/// send queue and leave, in order, after the reconnect) or `"fail"` (`ReconnectingError`).
/// `final_close_codes` are the server's close codes that end the socket instead (codes or
/// `(first, last)` ranges; default 1000). The socket keeps its ID, groups and attributes.
#[pyclass(module = "wsconnector", name = "Reconnect", frozen)]
pub(crate) struct PyReconnect(pub(crate) Reconnect);

#[pymethods]
impl PyReconnect {
    #[new]
    #[pyo3(signature = (
        *,
        initial_delay=0.5,
        max_delay=30.0,
        multiplier=2.0,
        max_attempts=None,
        lazy=false,
        send_policy="buffer",
        final_close_codes=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        initial_delay: f64,
        max_delay: f64,
        multiplier: f64,
        max_attempts: Option<u32>,
        lazy: bool,
        send_policy: &str,
        final_close_codes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let seconds = |name: &str, secs: f64| duration_from_secs(name, secs).or_raise(py);
        let mut policy = Reconnect::new()
            .delays(
                seconds("initial_delay", initial_delay)?,
                seconds("max_delay", max_delay)?,
                multiplier,
            )
            .max_attempts(max_attempts)
            .lazy(lazy)
            .send_policy(match send_policy {
                "buffer" => ReconnectSendPolicy::Buffer,
                "fail" => ReconnectSendPolicy::Fail,
                other => {
                    return Err(invalid(
                        py,
                        format!("send_policy must be 'buffer' or 'fail', not {other:?}"),
                    ))
                }
            });
        if let Some(codes) = final_close_codes {
            policy = policy.final_close_codes(close_code_ranges(codes)?);
        }
        policy.validate().or_raise(py)?;
        Ok(PyReconnect(policy))
    }

    /// The first delay's bound, in seconds.
    #[getter]
    fn initial_delay(&self) -> f64 {
        self.0.initial_delay.as_secs_f64()
    }

    /// The largest bound of any delay, in seconds.
    #[getter]
    fn max_delay(&self) -> f64 {
        self.0.max_delay.as_secs_f64()
    }

    /// How much the bound grows from one attempt to the next.
    #[getter]
    fn multiplier(&self) -> f64 {
        self.0.multiplier
    }

    /// The most attempts, or `None`: forever.
    #[getter]
    fn max_attempts(&self) -> Option<u32> {
        self.0.max_attempts
    }

    /// Whether it reconnects only when a message is next sent (Mule's lazy mode).
    #[getter]
    fn lazy(&self) -> bool {
        self.0.lazy
    }

    /// `"buffer"` or `"fail"`.
    #[getter]
    fn send_policy(&self) -> &'static str {
        self.0.send_policy.name()
    }

    /// The server's close codes that end the socket, as `(first, last)` ranges.
    #[getter]
    fn final_close_codes(&self) -> Vec<(u16, u16)> {
        self.0
            .final_close_codes
            .iter()
            .map(|codes| (*codes.start(), *codes.end()))
            .collect()
    }

    /// The bound of the delay before attempt `attempt` (from 1), in seconds.
    fn delay_bound(&self, attempt: u32) -> f64 {
        self.0.delay_bound(attempt).as_secs_f64()
    }

    fn __repr__(&self) -> String {
        let p = &self.0;
        format!(
            "Reconnect(initial_delay={}, max_delay={}, multiplier={}, max_attempts={}, lazy={}, send_policy={:?}, final_close_codes={:?})",
            p.initial_delay.as_secs_f64(),
            p.max_delay.as_secs_f64(),
            p.multiplier,
            p.max_attempts.map_or("None".to_owned(), |n| n.to_string()),
            if p.lazy { "True" } else { "False" },
            p.send_policy.name(),
            self.final_close_codes()
        )
    }
}

/// Close codes given as codes or `(first, last)` ranges.
fn close_code_ranges(value: &Bound<'_, PyAny>) -> PyResult<Vec<RangeInclusive<u16>>> {
    let wrong = || {
        invalid(
            value.py(),
            "final_close_codes must be close codes or (first, last) ranges of them",
        )
    };
    let mut ranges = Vec::new();
    for item in value.try_iter().map_err(|_| wrong())? {
        let item = item?;
        let range = match item.extract::<u16>() {
            Ok(code) => code..=code,
            Err(_) => {
                let (first, last): (u16, u16) = item.extract().map_err(|_| wrong())?;
                first..=last
            }
        };
        ranges.push(range);
    }
    Ok(ranges)
}

/// The `reconnect=` setting: `True` (the default policy), `False` or `None` (none), or a
/// `Reconnect`.
pub(crate) fn client_policy(value: &Bound<'_, PyAny>) -> PyResult<Option<Reconnect>> {
    Ok(match option(value)? {
        ReconnectOption::Default | ReconnectOption::Off => None,
        ReconnectOption::On => Some(Reconnect::new()),
        ReconnectOption::With(policy) => Some(policy),
    })
}

/// `open_outbound(reconnect=...)`: `None` (the connector's `reconnect=` setting decides),
/// `True` (its policy, or the default one), `False` (never), or a `Reconnect`.
pub(crate) fn option(value: &Bound<'_, PyAny>) -> PyResult<ReconnectOption> {
    if value.is_none() {
        return Ok(ReconnectOption::Default);
    }
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(ReconnectOption::from(flag.is_true()));
    }
    if let Ok(policy) = value.cast::<PyReconnect>() {
        return Ok(ReconnectOption::With(policy.get().0.clone()));
    }
    Err(invalid(
        value.py(),
        "reconnect must be True, False, None or a wsconnector.Reconnect",
    ))
}

/// The core's header refresher, calling the Python hook `refresh_headers(socket, attempt)`,
/// which returns the headers (a mapping or pairs) that replace the socket's own of those names.
/// The core runs it on a blocking-pool thread, never on an I/O thread.
pub(crate) struct PyHeaderRefresher(pub(crate) Py<PyAny>);

impl HeaderRefresher for PyHeaderRefresher {
    fn refresh(&self, socket: &Socket, attempt: u32) -> wsconnector::Result<Vec<(String, String)>> {
        let refreshed = Python::try_attach(|py| {
            let answer = Py::new(py, PySocket::new(socket.clone()))
                .and_then(|socket| self.0.call1(py, (socket, attempt)))
                .and_then(|answer| {
                    pairs("the refresh_headers hook's answer", Some(answer.bind(py)))
                });
            answer.map_err(|error| {
                log_exception(
                    py,
                    "the refresh_headers hook failed; the attempt fails",
                    &error,
                );
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("the refresh_headers hook raised: {error}"),
                )
            })
        });
        refreshed.unwrap_or_else(|| {
            Err(Error::new(
                ErrorKind::Stopped,
                "the interpreter is shutting down",
            ))
        })
    }
}
