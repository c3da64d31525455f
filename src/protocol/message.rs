//! A WebSocket data message: text or binary, its payload shared by reference count (or, when
//! small, held in place).

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

/// A text or binary message. Cloning shares the payload; it never copies it (but for a small
/// one, which the message holds in place).
#[derive(Clone)]
pub struct Message(Inner);

#[derive(Clone)]
enum Inner {
    Text(Text),
    Binary(Bytes),
    Small(Small),
}

/// Payloads up to this many bytes are held in the message itself, when it is made from a
/// copy: no allocation to make it, nothing to free (a small received message cost about 150
/// instructions of `malloc` and `free`). 37 bytes fit beside the tag and the kind: a message is
/// no larger than one holding `Bytes` (40 bytes, checked below).
pub(crate) const SMALL: usize = 37;

const _: () = assert!(std::mem::size_of::<Message>() == 40);

/// A payload of at most [`SMALL`] bytes, in place; valid UTF-8 when `text`.
#[derive(Clone, Copy)]
struct Small {
    text: bool,
    len: u8,
    data: [u8; SMALL],
}

impl Small {
    /// `payload` (its first [`SMALL`] bytes), unmasked with `mask` as it is copied (one pass
    /// over it instead of two); the caller checks the text.
    #[inline(always)]
    fn unmasked(text: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Self {
        let len = payload.len().min(SMALL);
        let mut data = [0; SMALL];
        data[..len].copy_from_slice(&payload[..len]);
        if let Some(mask) = mask {
            crate::protocol::mask::apply_mask(&mut data[..len], mask, 0);
        }
        Small {
            text,
            len: len as u8,
            data,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.data[..usize::from(self.len)]
    }
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

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.is_text() == other.is_text() && self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Message {}

impl Message {
    /// A message with a copy of `payload`, held in place when it is small; text only when
    /// it is valid UTF-8.
    pub(crate) fn copied(text: bool, payload: &[u8]) -> Result<Self, std::str::Utf8Error> {
        if text {
            std::str::from_utf8(payload)?;
        }
        Ok(Message::copy_of(text, payload))
    }

    /// A message holding a received payload of at most [`SMALL`] bytes in place, unmasked with
    /// `mask` as it is copied (one pass over it instead of two); text only when it is valid
    /// UTF-8.
    pub(crate) fn small_unmasked(
        text: bool,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) -> Result<Self, std::str::Utf8Error> {
        let small = Small::unmasked(text, payload, mask);
        if text {
            std::str::from_utf8(small.as_bytes())?;
        }
        Ok(Message(Inner::Small(small)))
    }

    /// A message with a copy of `payload` (valid UTF-8 when `text`), held in place when it is
    /// small.
    fn copy_of(text: bool, payload: &[u8]) -> Self {
        if payload.len() <= SMALL {
            return Message(Inner::Small(Small::unmasked(text, payload, None)));
        }
        let bytes = Bytes::copy_from_slice(payload);
        Message(if text {
            Inner::Text(Text(bytes))
        } else {
            Inner::Binary(bytes)
        })
    }

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
            Inner::Small(Small { text: true, .. }) => MessageKind::Text,
            Inner::Small(Small { text: false, .. }) => MessageKind::Binary,
        }
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(
            self.0,
            Inner::Text(_) | Inner::Small(Small { text: true, .. })
        )
    }

    /// The text of a text message; `None` for binary.
    pub fn as_text(&self) -> Option<&str> {
        match &self.0 {
            Inner::Text(t) => Some(t.as_str()),
            Inner::Binary(_) | Inner::Small(Small { text: false, .. }) => None,
            // SAFETY: a small text is made only from a `str` or from bytes that `from_utf8`
            // accepted (`Message::copied`), and its bytes are never changed.
            Inner::Small(small) => Some(unsafe { std::str::from_utf8_unchecked(small.as_bytes()) }),
        }
    }

    /// The payload bytes (UTF-8 for text).
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Inner::Text(t) => &t.0,
            Inner::Binary(b) => b,
            Inner::Small(small) => small.as_bytes(),
        }
    }

    /// The payload as shared `Bytes` (no copy, but for a small payload, which is copied).
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Inner::Text(t) => t.0.clone(),
            Inner::Binary(b) => b.clone(),
            Inner::Small(small) => Bytes::copy_from_slice(small.as_bytes()),
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
        match self.as_text() {
            Some(text) if text.len() <= 64 => write!(f, "Text({text:?})"),
            Some(text) => write!(f, "Text({} bytes)", text.len()),
            None => write!(f, "Binary({} bytes)", self.len()),
        }
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::copy_of(true, text.as_bytes())
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
        Message::copy_of(false, data)
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Message::binary(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Up to 37 bytes a copied payload is held in place, past that it is shared: either way
    /// the message reads the same, compares by kind and bytes, and gives its bytes out.
    #[test]
    fn small_and_shared_payloads_read_and_compare_alike() {
        for len in [0, 1, SMALL, SMALL + 1, 1000] {
            let text: String = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let bytes: Vec<u8> = (0..len).map(|b| b as u8).collect();
            let copied_text = Message::copied(true, text.as_bytes()).unwrap();
            let copied_binary = Message::copied(false, &bytes).unwrap();
            assert_eq!(
                matches!(copied_text.0, Inner::Small(_)),
                text.len() <= SMALL,
                "{len}"
            );
            assert_eq!(copied_text, Message::text(text.clone()));
            assert_eq!(Message::from(text.as_str()), Message::text(text.clone()));
            assert_eq!(copied_binary, Message::binary(bytes.clone()));
            assert_eq!(Message::from(&bytes[..]), Message::binary(bytes.clone()));
            assert_ne!(copied_binary, Message::text(text.clone()), "kinds differ");
            assert_eq!(copied_text.as_text(), Some(text.as_str()));
            assert_eq!(copied_text.kind(), MessageKind::Text);
            assert!(copied_text.is_text());
            assert_eq!(copied_binary.as_text(), None);
            assert_eq!(copied_binary.kind(), MessageKind::Binary);
            assert_eq!(copied_binary.as_bytes(), &bytes[..]);
            assert_eq!(copied_binary.to_bytes(), Bytes::from(bytes.clone()));
            assert_eq!(copied_binary.len(), len);
            assert_eq!(copied_binary.clone(), copied_binary);
            assert_eq!(
                format!("{copied_text:?}"),
                format!("{:?}", Message::text(text.clone()))
            );
        }
        assert!(Message::copied(true, b"\xff").is_err(), "text is checked");
        assert!(Message::copied(false, b"\xff").is_ok(), "binary is not");
    }
}
