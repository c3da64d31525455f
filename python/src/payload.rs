//! Message payloads between Python and the core: `str` is a text message, `bytes`-like data
//! a binary one, and received messages come back the same way.
//!
//! A `bytes` or `str` of at least `SHARE_MIN` bytes is not copied: the message holds the
//! Python object until the frame is written (`Bytes::from_owner`). The I/O thread that drops
//! it does not take the GIL; PyO3 defers the release, and the next thread of ours that calls
//! Python (the dispatcher at its next batch, any operation) releases it.

use crate::errors::OrRaise;
use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString};
use wsconnector::Message;

/// Shortest payload sent from the Python object itself rather than from a copy: below it, a
/// copy costs less than holding the object and releasing it later.
const SHARE_MIN: usize = 1024;

/// A message to send, owning its payload so that it can outlive the call: `str` becomes text;
/// `bytes`, `bytearray` and `memoryview` become binary.
pub(crate) fn from_py(data: &Bound<'_, PyAny>) -> PyResult<Message> {
    if let Ok(bytes) = data.cast::<PyBytes>() {
        return Ok(Message::binary(share_bytes(bytes)));
    }
    if let Ok(text) = data.cast::<PyString>() {
        return text_message(text);
    }
    if data.is_instance_of::<PyByteArray>() || data.is_instance_of::<PyMemoryView>() {
        // A mutable buffer can change after the call: send a snapshot.
        let bytes = data.py().get_type::<PyBytes>().call1((data,))?;
        return Ok(Message::binary(share_bytes(bytes.cast::<PyBytes>()?)));
    }
    Err(PyTypeError::new_err(format!(
        "a message must be str (text) or bytes, bytearray or memoryview (binary), not {}",
        data.get_type().name()?
    )))
}

/// The payload of a `bytes` object: a copy when short, else the object itself.
fn share_bytes(bytes: &Bound<'_, PyBytes>) -> Bytes {
    let data = bytes.as_bytes();
    if data.len() < SHARE_MIN {
        return Bytes::copy_from_slice(data);
    }
    Bytes::from_owner(PyBackedBytes::from(bytes.clone()))
}

/// A text message: a copy of the UTF-8 when short, else the UTF-8 held by Python.
fn text_message(text: &Bound<'_, PyString>) -> PyResult<Message> {
    let py = text.py();
    let text = PyBackedStr::try_from(text.clone())?;
    if text.len() < SHARE_MIN {
        return Ok(Message::text(&*text));
    }
    Message::text_from_bytes(Bytes::from_owner(text)).or_raise(py)
}

/// A received message as Python sees it: `str` for text, `bytes` for binary.
pub(crate) fn to_py<'py>(py: Python<'py>, message: &Message) -> Bound<'py, PyAny> {
    match message.as_text() {
        Some(text) => PyString::new(py, text).into_any(),
        None => PyBytes::new(py, message.as_bytes()).into_any(),
    }
}
