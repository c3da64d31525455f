//! The shapes Python arguments come in, shared by the settings and the operations: one string or
//! several, name/value pairs from a mapping or a sequence, seconds as a number. Every error
//! names the argument it is about.

use crate::errors::{invalid, OrRaise};
use pyo3::prelude::*;
use pyo3::types::{PyMapping, PyString};
use std::time::Duration;

/// A string or an iterable of strings (`"lobby"` is one group, not five letters).
pub(crate) fn strings(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(one) = value.cast::<PyString>() {
        return Ok(vec![one.to_cow()?.into_owned()]);
    }
    let py = value.py();
    let not_strings = || invalid(py, format!("{name} must be a string or a list of strings"));
    let mut out = Vec::new();
    for item in value.try_iter().map_err(|_| not_strings())? {
        out.push(item?.extract::<String>().map_err(|_| not_strings())?);
    }
    Ok(out)
}

/// `strings` for an optional argument; `None` is empty.
pub(crate) fn opt_strings(name: &str, value: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    match value {
        Some(value) if !value.is_none() => strings(name, value),
        _ => Ok(Vec::new()),
    }
}

/// Name/value pairs from a mapping (`{"a": "1"}`) or a sequence of pairs (`[("a", "1")]`),
/// in order; `None` is empty.
pub(crate) fn pairs(
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<(String, String)>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(Vec::new());
    };
    let py = value.py();
    let items = match value.cast::<PyMapping>() {
        Ok(mapping) => mapping.items()?.into_any(),
        Err(_) => value.clone(),
    };
    let not_pairs = || {
        invalid(
            py,
            format!("{name} must be a mapping of str to str or a list of (str, str) pairs"),
        )
    };
    let mut out = Vec::new();
    for item in items.try_iter().map_err(|_| not_pairs())? {
        out.push(
            item?
                .extract::<(String, String)>()
                .map_err(|_| not_pairs())?,
        );
    }
    Ok(out)
}

/// A duration in seconds (int or float): not NaN, not negative, at most a year (the core's
/// `MAX_DURATION`; infinity is more).
pub(crate) fn seconds(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let py = value.py();
    let secs: f64 = value
        .extract()
        .map_err(|_| invalid(py, format!("{name} must be a number of seconds")))?;
    wsconnector::duration_from_secs(name, secs).or_raise(py)
}

/// `seconds` for an optional argument; `None` stays `None`.
pub(crate) fn opt_seconds(
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<Duration>> {
    match value {
        Some(value) if !value.is_none() => seconds(name, value).map(Some),
        _ => Ok(None),
    }
}
