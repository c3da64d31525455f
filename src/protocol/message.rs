//! A WebSocket data message: text or binary, its payload shared by reference count.

use bytes::Bytes;
use std::fmt;

/// Whether a message is text (UTF-8) or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A text message; its payload is valid UTF-8.
    Text,
    /// A binary message.
    Binary,
}

/// A text or binary message. Cloning shares the payload; it never copies it.
#[derive(Clone, PartialEq, Eq)]
pub struct Message(Inner);

#[derive(Clone, PartialEq, Eq)]
enum Inner {
    Text(Text),
    Binary(Bytes),
}

/// Bytes that are valid UTF-8: checked once, when the text is made, and read as `str` freely.
#[derive(Clone, PartialEq, Eq)]
struct Text(Bytes);

impl Text {
    fn as_str(&self) -> &str {
        // SAFETY: a `Text` is made only from a `String` or from bytes that `from_utf8` accepted
        // (below), and its bytes are never changed.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Text(Bytes::from(text))
    }
}

impl TryFrom<Bytes> for Text {
    type Error = std::str::Utf8Error;

    fn try_from(data: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&data)?;
        Ok(Text(data))
    }
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Message(Inner::Text(Text::from(text.into())))
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message(Inner::Binary(data.into()))
    }

    /// A text message from bytes, if they are valid UTF-8.
    pub fn text_from_bytes(data: impl Into<Bytes>) -> Result<Self, crate::Error> {
        Text::try_from(data.into())
            .map(|t| Message(Inner::Text(t)))
            .map_err(|_| crate::Error::invalid("text message payload is not valid UTF-8"))
    }

    /// Text or binary.
    pub fn kind(&self) -> MessageKind {
        match self.0 {
            Inner::Text(_) => MessageKind::Text,
            Inner::Binary(_) => MessageKind::Binary,
        }
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self.0, Inner::Text(_))
    }

    /// The text of a text message; `None` for binary.
    pub fn as_text(&self) -> Option<&str> {
        match &self.0 {
            Inner::Text(t) => Some(t.as_str()),
            Inner::Binary(_) => None,
        }
    }

    /// The payload bytes (UTF-8 for text).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Inner::Text(t) => &t.0,
            Inner::Binary(b) => b,
        }
    }

    /// The payload as shared `Bytes` (no copy).
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Inner::Text(t) => t.0.clone(),
            Inner::Binary(b) => b.clone(),
        }
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Text(t) if t.0.len() <= 64 => write!(f, "Text({:?})", t.as_str()),
            Inner::Text(t) => write!(f, "Text({} bytes)", t.0.len()),
            Inner::Binary(b) => write!(f, "Binary({} bytes)", b.len()),
        }
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::text(text)
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::text(text)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Message::binary(data)
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Self {
        Message::binary(Bytes::copy_from_slice(data))
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Message::binary(data)
    }
}
