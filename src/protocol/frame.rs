//! WebSocket frames (RFC 6455 section 5): parsing headers, unmasking, encoding, and close
//! payloads. Pure functions over bytes, so the rules are tested (and fuzzed) apart from I/O.

use super::mask::apply_mask;
use bytes::BytesMut;

/// Frame opcodes.
pub(crate) mod opcode {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// The longest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of mask.
pub(crate) const MAX_HEADER_LEN: usize = 14;

/// The first byte's RSV1 bit, which permessage-deflate sets on a compressed message's first
/// frame (RFC 7692 section 6); added to an opcode given to [`put_header`] or [`put_frame`].
pub(crate) const RSV1: u8 = 0x40;

/// A way the peer broke the protocol, with the close code it earns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Violation {
    /// 1002: a malformed or forbidden frame.
    Protocol(&'static str),
    /// 1007: text that is not UTF-8.
    InvalidUtf8,
    /// 1009: a frame or message larger than the limit (a compressed one's once inflated).
    TooBig,
    /// 1007: a compressed message whose data is not DEFLATE.
    BadCompression,
}

impl Violation {
    /// The close code to answer with.
    pub(crate) fn close_code(self) -> u16 {
        match self {
            Violation::Protocol(_) => crate::protocol::close::close_code::PROTOCOL_ERROR,
            Violation::InvalidUtf8 => crate::protocol::close::close_code::INVALID_PAYLOAD,
            Violation::TooBig => crate::protocol::close::close_code::MESSAGE_TOO_BIG,
            Violation::BadCompression => crate::protocol::close::close_code::INVALID_PAYLOAD,
        }
    }

    /// Words for the close reason and the log.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Violation::Protocol(why) => why,
            Violation::InvalidUtf8 => "text message is not valid UTF-8",
            Violation::TooBig => "message too big",
            Violation::BadCompression => "compressed message is not valid DEFLATE data",
        }
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub fin: bool,
    /// RSV1: the first frame of a compressed message (permessage-deflate).
    pub compressed: bool,
    pub opcode: u8,
    pub mask: Option<[u8; 4]>,
    pub payload_len: usize,
    /// Bytes the header itself takes.
    pub header_len: usize,
}

/// Parses a frame header from the start of `buf`. `Ok(None)` when more bytes are needed.
/// `masked` says whether frames from this peer must be masked (true for a server reading
/// client frames), `max_payload` bounds the payload length, and `deflate` says whether
/// permessage-deflate was negotiated: then RSV1 marks a message's first frame as compressed
/// (and is a violation on any other frame, RFC 7692 section 6.1).
pub(crate) fn parse_header(
    buf: &[u8],
    masked: bool,
    max_payload: usize,
    deflate: bool,
) -> Result<Option<Header>, Violation> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    let compressed = b0 & RSV1 != 0;
    if b0 & 0x30 != 0 || (compressed && !deflate) {
        return Err(Violation::Protocol(
            "reserved bits set without an extension",
        ));
    }
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0f;
    match opcode {
        opcode::TEXT | opcode::BINARY => {}
        opcode::CONTINUATION if compressed => {
            return Err(Violation::Protocol("RSV1 set on a continuation frame"))
        }
        opcode::CONTINUATION => {}
        opcode::CLOSE | opcode::PING | opcode::PONG => {
            if compressed {
                return Err(Violation::Protocol("RSV1 set on a control frame"));
            }
            if !fin {
                return Err(Violation::Protocol("fragmented control frame"));
            }
            if b1 & 0x7f > 125 {
                return Err(Violation::Protocol("control frame longer than 125 bytes"));
            }
        }
        _ => return Err(Violation::Protocol("reserved opcode")),
    }
    let has_mask = b1 & 0x80 != 0;
    if has_mask != masked {
        return Err(Violation::Protocol(if masked {
            "client frame is not masked"
        } else {
            "server frame is masked"
        }));
    }
    let (payload_len, mut at) = match b1 & 0x7f {
        126 => {
            let Some(bytes) = buf.get(2..4) else {
                return Ok(None);
            };
            let len = u16::from_be_bytes([bytes[0], bytes[1]]) as usize;
            if len < 126 {
                return Err(Violation::Protocol("payload length not minimally encoded"));
            }
            (len, 4)
        }
        127 => {
            let Some(bytes) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut raw = [0u8; 8];
            raw.copy_from_slice(bytes);
            let len = u64::from_be_bytes(raw);
            if len >> 63 != 0 {
                return Err(Violation::Protocol("payload length has its top bit set"));
            }
            if len <= 0xffff {
                return Err(Violation::Protocol("payload length not minimally encoded"));
            }
            (usize::try_from(len).unwrap_or(usize::MAX), 10)
        }
        len => (usize::from(len), 2),
    };
    if payload_len > max_payload {
        return Err(Violation::TooBig);
    }
    let mask = if has_mask {
        let Some(bytes) = buf.get(at..at + 4) else {
            return Ok(None);
        };
        at += 4;
        Some([bytes[0], bytes[1], bytes[2], bytes[3]])
    } else {
        None
    };
    Ok(Some(Header {
        fin,
        compressed,
        opcode,
        mask,
        payload_len,
        header_len: at,
    }))
}

/// Appends a final frame's header to `out` (`opcode` may carry [`RSV1`]); the payload follows
/// separately.
pub(crate) fn put_header(
    out: &mut BytesMut,
    opcode: u8,
    payload_len: usize,
    mask: Option<[u8; 4]>,
) {
    let mut header = [0; MAX_HEADER_LEN];
    let len = encode_header(&mut header, opcode, payload_len, mask);
    out.extend_from_slice(&header[..len]);
}

/// Writes a final frame's header into `header`; returns its length. Built on the stack and
/// appended at once: one bounds check on the buffer instead of one per field.
#[inline(always)]
fn encode_header(
    header: &mut [u8; MAX_HEADER_LEN],
    opcode: u8,
    payload_len: usize,
    mask: Option<[u8; 4]>,
) -> usize {
    header[0] = 0x80 | opcode;
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut len = 2;
    if payload_len < 126 {
        header[1] = mask_bit | payload_len as u8;
    } else if payload_len <= 0xffff {
        header[1] = mask_bit | 126;
        header[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
        len = 4;
    } else {
        header[1] = mask_bit | 127;
        header[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
        len = 10;
    }
    if let Some(mask) = mask {
        header[len..len + 4].copy_from_slice(&mask);
        len += 4;
    }
    len
}

/// Appends a whole final frame to `out`, masked when `mask` is given (`opcode` may carry
/// [`RSV1`]).
///
/// Written straight into the reserved room, the header as its whole array (a fixed-size copy,
/// no call): a small frame costs one `memcpy` (its payload's) and one capacity check, where
/// two `extend_from_slice` cost about 50 instructions more.
pub(crate) fn put_frame(out: &mut BytesMut, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    let mut header = [0; MAX_HEADER_LEN];
    let header_len = encode_header(&mut header, opcode, payload.len(), mask);
    let start = out.len() + header_len;
    out.reserve(MAX_HEADER_LEN + payload.len());
    // SAFETY: `reserve` made room for MAX_HEADER_LEN + payload.len() bytes past the length:
    // the whole header array and then the payload, from `header_len` (at most MAX_HEADER_LEN)
    // on, fit; the bytes up to the new length are all written; the sources are a local array
    // and a slice that cannot overlap the buffer we hold mutably.
    unsafe {
        let end = out.as_mut_ptr().add(out.len());
        std::ptr::copy_nonoverlapping(header.as_ptr(), end, MAX_HEADER_LEN);
        std::ptr::copy_nonoverlapping(payload.as_ptr(), end.add(header_len), payload.len());
        out.set_len(start + payload.len());
    }
    if let Some(mask) = mask {
        apply_mask(&mut out[start..], mask, 0);
    }
}

/// The opcode of a message's (first) frame.
pub(crate) fn message_opcode(message: &crate::Message) -> u8 {
    if message.is_text() {
        opcode::TEXT
    } else {
        opcode::BINARY
    }
}

/// A whole unmasked (server) frame for `message`, encoded once to be shared by many sockets;
/// with `compressed`, the message's payload compressed by permessage-deflate (RSV1 set).
pub(crate) fn encode_server_frame(
    message: &crate::Message,
    compressed: Option<&[u8]>,
) -> bytes::Bytes {
    let code = message_opcode(message);
    let mut out = BytesMut::new();
    match compressed {
        Some(payload) => put_frame(&mut out, code | RSV1, payload, None),
        None => put_frame(&mut out, code, message.as_bytes(), None),
    }
    out.freeze()
}

/// The payload length of a frame made by [`encode_server_frame`] (its length on the wire,
/// compressed when it is), from its header: for the figures of a compressed broadcast.
pub(crate) fn server_frame_payload_len(frame: &[u8]) -> usize {
    let header = match frame.get(1).map(|second| second & 0x7f) {
        Some(126) => 4,
        Some(127) => 10,
        _ => 2,
    };
    frame.len().saturating_sub(header)
}

/// The payload of a close frame with `code` and `reason`.
pub(crate) fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = Vec::with_capacity(2 + reason.len());
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// Reads a received close frame's payload: `None` when it carries no code.
pub(crate) fn parse_close(payload: &[u8]) -> Result<Option<(u16, String)>, Violation> {
    match payload {
        [] => Ok(None),
        [_] => Err(Violation::Protocol("close frame with a one-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !crate::protocol::close::close_code::is_sendable(code) {
                return Err(Violation::Protocol(
                    "close frame with a code that may not be sent",
                ));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| Violation::InvalidUtf8)?;
            Ok(Some((code, reason.to_owned())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> BytesMut {
        let mut out = BytesMut::new();
        put_frame(&mut out, opcode, payload, mask);
        out
    }

    #[test]
    fn a_server_frame_tells_its_payload_length() {
        for len in [0, 125, 126, 65_535, 65_536] {
            let text = encode_server_frame(&crate::Message::text("a".repeat(len)), None);
            assert_eq!(server_frame_payload_len(&text), len);
            let squeezed = vec![1u8; len / 3];
            let message = crate::Message::text("a".repeat(len));
            let compressed = encode_server_frame(&message, Some(&squeezed));
            assert_eq!(server_frame_payload_len(&compressed), len / 3);
        }
        assert_eq!(server_frame_payload_len(&[]), 0);
    }

    #[test]
    fn round_trips_every_length_form() {
        for len in [0usize, 1, 125, 126, 127, 0xffff, 0x10000, 100_000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut bytes = frame(opcode::BINARY, &payload, mask);
                let header = parse_header(&bytes, mask.is_some(), usize::MAX, false)
                    .unwrap()
                    .unwrap();
                assert_eq!(
                    (header.fin, header.opcode, header.payload_len),
                    (true, opcode::BINARY, len)
                );
                assert_eq!(header.mask, mask);
                let body = &mut bytes[header.header_len..];
                if let Some(mask) = header.mask {
                    apply_mask(body, mask, 0);
                }
                assert_eq!(body, &payload[..]);
                // Every prefix of a header is "need more".
                for cut in 0..header.header_len {
                    assert_eq!(
                        parse_header(&bytes[..cut], mask.is_some(), usize::MAX, false),
                        Ok(None)
                    );
                }
            }
        }
    }

    #[test]
    fn masking_in_pieces_equals_masking_at_once() {
        let data: Vec<u8> = (0..37).collect();
        let mask = [9, 8, 7, 6];
        let mut whole = data.clone();
        apply_mask(&mut whole, mask, 0);
        let mut pieces = data.clone();
        let (a, b) = pieces.split_at_mut(11);
        apply_mask(a, mask, 0);
        apply_mask(b, mask, 11);
        assert_eq!(whole, pieces);
    }

    #[test]
    fn rejects_what_the_rfc_forbids() {
        let bad =
            |bytes: &[u8], masked: bool| parse_header(bytes, masked, 1000, false).unwrap_err();
        assert_eq!(
            bad(&[0xc1, 0x80, 0, 0, 0, 0], true),
            Violation::Protocol("reserved bits set without an extension")
        );
        assert_eq!(
            bad(&[0x83, 0x80, 0, 0, 0, 0], true),
            Violation::Protocol("reserved opcode")
        );
        assert_eq!(
            bad(&[0x8b, 0x80, 0, 0, 0, 0], true),
            Violation::Protocol("reserved opcode")
        );
        assert_eq!(
            bad(&[0x09, 0x80, 0, 0, 0, 0], true),
            Violation::Protocol("fragmented control frame")
        );
        assert_eq!(
            bad(&[0x89, 0xfe, 0, 126], true),
            Violation::Protocol("control frame longer than 125 bytes")
        );
        assert_eq!(
            bad(&[0x81, 0x01, b'x'], true),
            Violation::Protocol("client frame is not masked")
        );
        assert_eq!(
            bad(&[0x81, 0x81, 0, 0, 0, 0, b'x'], false),
            Violation::Protocol("server frame is masked")
        );
        assert_eq!(bad(&[0x82, 0xfe, 0x03, 0xe9], true), Violation::TooBig);
        assert_eq!(
            bad(&[0x82, 0x7e, 0x00, 0x05], false),
            Violation::Protocol("payload length not minimally encoded")
        );
        assert_eq!(
            bad(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0], false),
            Violation::Protocol("payload length has its top bit set")
        );
    }

    #[test]
    fn rsv1_marks_a_compressed_first_frame_once_deflate_is_negotiated() {
        let parse = |bytes: &[u8], deflate: bool| parse_header(bytes, false, 1000, deflate);
        let compressed = parse(&[0xc1, 0x01, 0], true).unwrap().unwrap();
        assert!(compressed.compressed && compressed.fin);
        assert!(!parse(&[0x81, 0x01, 0], true).unwrap().unwrap().compressed);
        assert!(parse(&[0x41, 0x01, 0], true).unwrap().unwrap().compressed);
        let violation = |bytes: &[u8], deflate: bool| parse(bytes, deflate).unwrap_err();
        assert_eq!(
            violation(&[0xc1, 0x01, 0], false),
            Violation::Protocol("reserved bits set without an extension")
        );
        for rsv2_or_3 in [0xa1, 0x91] {
            assert_eq!(
                violation(&[rsv2_or_3, 0x01, 0], true),
                Violation::Protocol("reserved bits set without an extension")
            );
        }
        assert_eq!(
            violation(&[0xc0, 0x01, 0], true),
            Violation::Protocol("RSV1 set on a continuation frame")
        );
        for control in [0xc8, 0xc9, 0xca] {
            assert_eq!(
                violation(&[control, 0x00], true),
                Violation::Protocol("RSV1 set on a control frame")
            );
        }
    }

    #[test]
    fn close_payloads() {
        assert_eq!(parse_close(&[]), Ok(None));
        assert_eq!(
            parse_close(&close_payload(4000, "bye")),
            Ok(Some((4000, "bye".into())))
        );
        assert!(parse_close(&[3]).is_err());
        assert!(parse_close(&close_payload(1005, "")).is_err());
        assert!(parse_close(&close_payload(999, "")).is_err());
        assert_eq!(
            parse_close(&[0x03, 0xe8, 0xff]),
            Err(Violation::InvalidUtf8)
        );
    }
}
