//! The payloads of the loads: filler bytes, or JSON-like text (a price feed's quotes, each
//! message different) that compresses as chat and feed messages do; and that text compressed
//! as a client sends it under permessage-deflate (each message on its own, a 4 KiB window:
//! what the client offers, see [`crate::wire::DEFLATE_OFFER`]).

use flate2::{Compress, Compression, FlushCompress};

/// The client's compression window, as offered (`client_max_window_bits=12`).
const CLIENT_WINDOW_BITS: u8 = 12;

/// What a message's payload is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// JSON-like text (else filler bytes).
    pub json: bool,
    /// Sent compressed (permessage-deflate negotiated).
    pub deflate: bool,
}

/// JSON-like text of exactly `len` bytes; `variant` makes messages differ.
pub fn json_like(len: usize, variant: u64) -> Vec<u8> {
    let mut text = String::with_capacity(len + 128);
    let mut i = variant.wrapping_mul(7919);
    while text.len() < len {
        text.push_str(&format!(
            "{{\"symbol\":\"S{:03}\",\"bid\":{}.{:02},\"ask\":{}.{:02},\"volume\":{},\"ts\":{}}},",
            i % 500,
            100 + i % 900,
            i % 100,
            101 + i % 900,
            (i * 7) % 100,
            (i * 131) % 1_000_000,
            1_700_000_000_000u64 + i * 37
        ));
        i += 1;
    }
    let mut bytes = text.into_bytes();
    bytes.truncate(len);
    bytes
}

/// `payload` compressed as one message (raw DEFLATE, sync flush, its tail left out).
pub fn deflate(payload: &[u8]) -> Vec<u8> {
    let mut compress =
        Compress::new_with_window_bits(Compression::default(), false, CLIENT_WINDOW_BITS);
    let mut out = Vec::with_capacity(payload.len() + 64);
    loop {
        let before = compress.total_in() as usize;
        compress
            .compress_vec(&payload[before..], &mut out, FlushCompress::Sync)
            .expect("deflate");
        if compress.total_in() as usize == payload.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity());
    }
    out.truncate(out.len().saturating_sub(4));
    out
}

/// `count` different client frames of `len`-byte messages of `kind` (text for JSON).
pub fn client_frames(len: usize, kind: Kind, count: usize) -> Vec<Vec<u8>> {
    if !kind.json {
        return vec![crate::wire::client_frame(
            crate::wire::OP_BINARY,
            &vec![0xAB; len],
        )];
    }
    (0..count as u64)
        .map(|variant| {
            let text = json_like(len, variant);
            if kind.deflate {
                crate::wire::client_frame_compressed(crate::wire::OP_TEXT, &deflate(&text))
            } else {
                crate::wire::client_frame(crate::wire::OP_TEXT, &text)
            }
        })
        .collect()
}
