//! Message payloads between Python and the core: `str` is a text message, `bytes`-like data
//! a binary one, and received messages come back the same way.
//!
//! A payload to send is copied into the message, even a long one: holding the Python object
//! instead would leave its release to the dispatcher's next batch (the I/O thread that writes
//! it cannot take the GIL), and those late frees, many at once, make glibc trim and regrow the
//! dispatcher's heap: page faults that cost more than the copy (measured at 16 KiB).

use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString};
use wsconnector::Message;

/// A message to send, owning a copy of its payload so that it can outlive the call: `str`
/// becomes text; `bytes`, `bytearray` and `memoryview` become binary.
pub(crate) fn from_py(data: &Bound<'_, PyAny>) -> PyResult<Message> {
    if let Ok(bytes) = data.cast::<PyBytes>() {
        return Ok(Message::binary(Bytes::copy_from_slice(bytes.as_bytes())));
    }
    if let Ok(text) = data.cast::<PyString>() {
        return Ok(Message::text(text.to_cow()?.into_owned()));
    }
    if let Ok(array) = data.cast::<PyByteArray>() {
        return Ok(Message::binary(array.to_vec()));
    }
    if data.is_instance_of::<PyMemoryView>() {
        let bytes = data.py().get_type::<PyBytes>().call1((data,))?;
        return Ok(Message::binary(Bytes::copy_from_slice(
            bytes.cast::<PyBytes>()?.as_bytes(),
        )));
    }
    Err(PyTypeError::new_err(format!(
        "a message must be str (text) or bytes, bytearray or memoryview (binary), not {}",
        data.get_type().name()?
    )))
}

/// A received message as Python sees it: `str` for text, `bytes` for binary.
pub(crate) fn to_py<'py>(py: Python<'py>, message: &Message) -> Bound<'py, PyAny> {
    match message.as_text() {
        Some(text) => PyString::new(py, text).into_any(),
        None => PyBytes::new(py, message.as_bytes()).into_any(),
    }
}
