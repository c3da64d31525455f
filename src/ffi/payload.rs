//! Payloads between C and the core: what a message callback is handed, and the `Message` that
//! a send operation makes of `(kind, data, len)`.
//!
//! A send copies the caller's bytes, except when they are the payload that the message callback
//! running on this thread was handed (an echo, a reply, a forward; with inline dispatch, a send
//! on the view the callback was lent). Then it passes on the received message as a Rust handler
//! would, without a copy or an allocation:
//! - a small payload (below [`SHARE_MIN`]) is shown to the callback as a copy in a buffer that
//!   the thread reuses, so that the first send of all of it can take the message itself;
//! - with inline dispatch, a small payload is shown in place, and the first send of all of it
//!   on its own socket's view takes the message into the socket's reply slot, which keeps it
//!   (and so the bytes shown) until the callback returned; other sends of it copy;
//! - a larger one is shown in place, and a send of it, or of part of it, shares it.

use super::callbacks::with_handed;
use super::error::{FfiError, FfiResult};
use super::{wsc_message_kind, FromRaw};
use crate::queue::check_fits;
use crate::{Delivery, Message, Socket};
use std::cell::{Cell, RefCell};

/// The smallest payload shown to a callback in place. Smaller ones come from the core in
/// allocations of their own, which a send could share only by allocating a reference count
/// (freed later by the socket's thread); copying them for the callback costs less.
const SHARE_MIN: usize = 1024;

/// The message a callback was handed, as the sends from that callback see it.
pub(crate) enum Handed {
    /// The callback sees the message's own payload; sends share it.
    InPlace(Message),
    /// The callback sees a copy at `view`; the first send of all of it with its kind takes the
    /// message (the callback keeps its copy).
    Copied {
        view: *const [u8],
        message: Cell<Option<Message>>,
    },
    /// Inline dispatch: the callback sees the message's own bytes at `view`; the first send of
    /// all of them with its kind on the message's socket takes the message into the reply
    /// slot (see [`send`]); any other send copies.
    Lent {
        view: *const [u8],
        message: Cell<Option<Message>>,
    },
}

/// Runs `f` with `message` in its handed form and the bytes to show the callback, which stay
/// valid until `f` returns. `scratch` is the thread's buffer for copies of small payloads;
/// none with inline dispatch, where `f` runs in the message's socket's own inline handler
/// (the reply slot is open) and small payloads are lent instead.
#[inline(always)]
pub(crate) fn hand<R>(
    message: Message,
    scratch: Option<&RefCell<Vec<u8>>>,
    f: impl FnOnce(&Handed, &[u8]) -> R,
) -> R {
    // Dispatch does not nest on a thread; if it ever did, the inner call shows in place.
    let mut copy = scratch
        .filter(|_| message.len() < SHARE_MIN)
        .and_then(|scratch| scratch.try_borrow_mut().ok());
    let handed = if let Some(copy) = &mut copy {
        copy.clear();
        copy.extend_from_slice(message.as_bytes());
        Handed::Copied {
            view: &copy[..] as *const [u8],
            message: Cell::new(Some(message)),
        }
    } else if scratch.is_none() && message.len() < SHARE_MIN && !holds_bytes_within(&message) {
        // The bytes stay where they are while the message moves into the cell (and maybe on
        // into the reply slot).
        Handed::Lent {
            view: message.as_bytes() as *const [u8],
            message: Cell::new(Some(message)),
        }
    } else {
        // A large payload; or one whose bytes would move with the message (into the reply
        // slot) while the callback may still read them: shown where the handed message
        // stays, and a send clones it.
        Handed::InPlace(message)
    };
    // One call of `f`, so that it is inlined here.
    f(&handed, handed.shown())
}

/// Whether `message` keeps its bytes within its own value (a representation that holds small
/// payloads in place): they move whenever the message does, so it cannot be lent.
fn holds_bytes_within(message: &Message) -> bool {
    let at = message as *const Message as usize;
    let bytes = message.as_bytes().as_ptr() as usize;
    (at..at + std::mem::size_of::<Message>()).contains(&bytes)
}

/// The message a send makes of `(kind, data, len)`. `len` is checked against the send queue's
/// byte bound `max_bytes` before `data` is read, so a wrong, huge length is refused
/// (WSC_LIMIT_EXCEEDED) rather than read past.
///
/// # Safety
/// When `len` is within `max_bytes`, `data` must be NULL with `len` 0, or point at `len`
/// readable bytes.
pub(crate) unsafe fn from_c(
    kind: u32,
    data: *const u8,
    len: usize,
    max_bytes: usize,
    handed: Option<&Handed>,
) -> FfiResult<Message> {
    check_fits(len, max_bytes)?;
    // SAFETY: `len` fits, so the caller vouches for it.
    message(
        kind,
        unsafe { super::macros::bytes(data, len, "data") }?,
        handed,
    )
}

/// Sends `(kind, data, len)` on `socket`, from its view; `handed` is the message of the
/// callback the view is lent to, if any. A message shown in place and sent back whole goes as
/// a clone of it, a lent one (inline dispatch) into the reply slot as it is; otherwise as
/// [`from_c`] makes the message.
///
/// # Safety
/// As [`from_c`].
pub(crate) unsafe fn send(
    socket: &Socket,
    kind: u32,
    data: *const u8,
    len: usize,
    handed: Option<&Handed>,
) -> FfiResult<Delivery> {
    // A whole echo of a message shown in place (a small one held within the message value,
    // with inline dispatch, or a large one) sends a clone of it: no checks of bytes the
    // message already holds (its kind, its UTF-8), and the queue checks its length.
    if let Some(Handed::InPlace(shown)) = handed {
        let bytes = shown.as_bytes();
        if std::ptr::eq(data, bytes.as_ptr())
            && len == bytes.len()
            && wsc_message_kind::from(shown.kind()) as u32 == kind
        {
            return Ok(socket.send(shown.clone())?);
        }
    }
    let max_bytes = socket.queue().max_bytes();
    if let Some(Handed::Lent { view, message }) = handed {
        let whole = std::ptr::eq(data, view.cast::<u8>()) && len == view.len();
        if whole && len <= max_bytes {
            if let Some(taken) = message.take() {
                let same_kind = wsc_message_kind::from(taken.kind()) as u32 == kind;
                if same_kind {
                    match socket.offer_reply(taken) {
                        None => return Ok(Delivery::Queued),
                        Some(back) => message.set(Some(back)),
                    }
                } else {
                    message.set(Some(taken));
                }
            }
        }
    }
    // SAFETY: the caller's contract.
    let message = unsafe { from_c(kind, data, len, max_bytes, handed) }?;
    Ok(socket.send(message)?)
}

/// A message of `kind` (a wsc_message_kind) with the bytes of `data`. `handed` is the message
/// of the callback running on this thread when the caller knows it (a send on the callback's
/// own socket view); `None` looks it up.
pub(crate) fn message(kind: u32, data: &[u8], handed: Option<&Handed>) -> FfiResult<Message> {
    let kind = wsc_message_kind::from_raw(kind)?;
    if !data.is_empty() {
        let reused = match handed {
            Some(handed) => handed.reuse(kind, data),
            None => with_handed(|handed| handed.and_then(|h| h.reuse(kind, data))),
        };
        if let Some(message) = reused {
            return message;
        }
    }
    match kind {
        wsc_message_kind::WSC_TEXT => Ok(Message::text(
            std::str::from_utf8(data).map_err(|_| FfiError::utf8("data"))?,
        )),
        wsc_message_kind::WSC_BINARY => Ok(Message::binary(bytes::Bytes::copy_from_slice(data))),
    }
}

impl Handed {
    /// The bytes the callback was shown.
    fn shown(&self) -> &[u8] {
        match self {
            Handed::InPlace(message) => message.as_bytes(),
            // SAFETY: `view` points at the scratch copy, which `hand` keeps alive and
            // unchanged while the callback (and so any send from it) runs; or at a lent
            // message's bytes, which its cell or the reply slot keeps until the callback
            // returned.
            Handed::Copied { view, .. } | Handed::Lent { view, .. } => unsafe { &**view },
        }
    }

    /// The message for `data` made from the handed one, or `None` when `data` is not (all of)
    /// what the callback was shown, or the handed message cannot serve: then `data` is copied.
    fn reuse(&self, kind: wsc_message_kind, data: &[u8]) -> Option<FfiResult<Message>> {
        match self {
            Handed::InPlace(handed) => {
                let whole = handed.as_bytes();
                let start = offset_in(whole, data)?;
                if data.len() == whole.len() && kind == handed.kind().into() {
                    return Some(Ok(handed.clone()));
                }
                let bytes = handed.to_bytes().slice(start..start + data.len());
                Some(match kind {
                    wsc_message_kind::WSC_TEXT => {
                        Message::text_from_bytes(bytes).map_err(|_| FfiError::utf8("data"))
                    }
                    wsc_message_kind::WSC_BINARY => Ok(Message::binary(bytes)),
                })
            }
            Handed::Copied { message, .. } => {
                let view = self.shown();
                if offset_in(view, data)? != 0 || data.len() != view.len() {
                    return None;
                }
                let taken = message.take()?;
                if kind != taken.kind().into() {
                    message.set(Some(taken));
                    return None;
                }
                Some(Ok(taken))
            }
            // Taken only into the reply slot, by `send`.
            Handed::Lent { .. } => None,
        }
    }
}

/// Where `part` starts within `whole`, if it lies entirely within it.
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    (start <= whole.len() && part.len() <= whole.len() - start).then_some(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wsc_message_kind::{WSC_BINARY, WSC_TEXT};

    #[test]
    fn outside_a_callback_the_bytes_are_copied_and_checked() {
        let data = b"hello".to_vec();
        let m = message(WSC_BINARY as u32, &data, None).unwrap();
        assert_eq!(m.as_bytes(), b"hello");
        assert_ne!(m.as_bytes().as_ptr(), data.as_ptr());
        assert!(message(WSC_TEXT as u32, &data, None).unwrap().is_text());
        assert!(message(WSC_TEXT as u32, &[0xff], None).is_err());
        assert!(message(7, &data, None).is_err());
        assert!(message(WSC_TEXT as u32, &[], None).unwrap().is_empty());
    }

    #[test]
    fn a_large_payload_is_shown_in_place_and_shared() {
        let text = format!("é{}", "x".repeat(SHARE_MIN));
        let received = Message::text(text.as_str());
        let at = received.as_bytes().as_ptr();
        hand(
            received.clone(),
            Some(&RefCell::default()),
            |handed, shown| {
                assert_eq!(shown.as_ptr(), at);
                let same = handed.reuse(WSC_TEXT, shown).unwrap().unwrap();
                assert_eq!(same.as_bytes().as_ptr(), at);
                let again = handed.reuse(WSC_TEXT, shown).unwrap().unwrap();
                assert_eq!(again, received);
                let binary = handed.reuse(WSC_BINARY, shown).unwrap().unwrap();
                assert!(!binary.is_text() && binary.as_bytes().as_ptr() == at);
                let tail = handed.reuse(WSC_TEXT, &shown[2..]).unwrap().unwrap();
                assert_eq!(tail.as_bytes().as_ptr(), shown[2..].as_ptr());
                // "é" is two bytes: a slice that splits it is no text, but it is binary.
                assert!(handed.reuse(WSC_TEXT, &shown[1..]).unwrap().is_err());
                assert!(handed.reuse(WSC_BINARY, &shown[1..]).is_some());
                assert!(handed.reuse(WSC_BINARY, text.as_bytes()).is_none());
                assert!(handed.reuse(WSC_BINARY, &text.as_bytes()[..4]).is_none());
            },
        );
    }

    #[test]
    fn a_small_payload_is_shown_as_a_copy_and_taken_once() {
        let received = Message::binary(b"ping".to_vec());
        let at = received.as_bytes().as_ptr();
        hand(received, Some(&RefCell::default()), |handed, shown| {
            assert_ne!(shown.as_ptr(), at);
            assert_eq!(shown, b"ping");
            assert!(handed.reuse(WSC_BINARY, &shown[1..]).is_none());
            assert!(handed.reuse(WSC_TEXT, shown).is_none());
            let taken = handed.reuse(WSC_BINARY, shown).unwrap().unwrap();
            assert_eq!(taken.as_bytes().as_ptr(), at);
            assert!(handed.reuse(WSC_BINARY, shown).is_none());
            assert_eq!(shown, b"ping");
        });
    }

    /// Inline, a payload held within the message value is shown in place (it would move with
    /// the message into the reply slot), one held outside is lent.
    #[test]
    fn only_a_payload_held_outside_the_message_is_lent() {
        let within = Message::copied(false, b"ping").unwrap();
        assert!(holds_bytes_within(&within));
        hand(within, None, |handed, shown| {
            assert!(matches!(handed, Handed::InPlace(_)));
            assert_eq!(shown, b"ping");
            let echoed = handed.reuse(WSC_BINARY, shown).unwrap().unwrap();
            assert_eq!(echoed.as_bytes(), b"ping");
        });
        let outside = Message::binary(b"ping".to_vec());
        let at = outside.as_bytes().as_ptr();
        assert!(!holds_bytes_within(&outside));
        hand(outside, None, |handed, shown| {
            assert!(matches!(handed, Handed::Lent { .. }));
            assert_eq!(shown.as_ptr(), at);
            assert!(handed.reuse(WSC_BINARY, shown).is_none());
        });
    }

    #[test]
    fn offsets() {
        let whole = [0u8; 8];
        assert_eq!(offset_in(&whole, &whole[3..5]), Some(3));
        assert_eq!(offset_in(&whole, &whole[8..]), Some(8));
        assert_eq!(offset_in(&whole[..4], &whole[2..6]), None);
        assert_eq!(offset_in(&whole[4..], &whole[2..6]), None);
    }
}
