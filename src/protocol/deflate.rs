//! permessage-deflate's codec (RFC 7692 section 7.2): a message is compressed as raw DEFLATE
//! ending in a sync flush, whose last four bytes (`00 00 ff ff`) are left out, and inflated
//! with them put back, within a size limit checked while inflating: a compression bomb fails
//! at the limit and never allocates past it.
//!
//! State: with context takeover, a direction's compressor (or inflater) belongs to its socket
//! from its first compressed message on; without, each message borrows one from this thread's
//! pool and gives it back reset, so a socket holds none between messages.
//!
//! The backend is zlib-rs (through flate2): a pure Rust zlib, as fast as zlib-ng, that takes a
//! window size. Like zlib, it cannot make a raw stream with a window of 8 bits (it would use 9,
//! which a peer limited to 8 could not read): a side limited to 8 sends its messages
//! uncompressed, which RFC 7692 allows for any message, and still inflates the peer's.

use crate::protocol::frame::Violation;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::cell::RefCell;

/// What a sync flush ends with, left out of every compressed message (section 7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The smallest window zlib makes raw streams with; 8 bits is read with 9.
const MIN_ZLIB_BITS: u8 = 9;

/// Compressors and inflaters kept per thread for messages without context takeover.
const POOLED: usize = 4;

/// First room given to an inflated message, relative to its compressed size.
const FIRST_GROWTH: usize = 4;

/// Compresses the messages one side sends.
pub(crate) struct Deflater {
    window_bits: u8,
    takeover: bool,
    /// Shorter messages are sent as they are.
    threshold: usize,
    /// zlib's compression level, 1-9.
    level: u8,
    /// With context takeover: the compressor, from the first message on.
    own: Option<Compress>,
}

impl Deflater {
    /// A compressor with a window of `window_bits` (8-15) that keeps its context between
    /// messages when `takeover`, for messages from `threshold` bytes on, at zlib's `level`.
    pub(crate) fn new(window_bits: u8, takeover: bool, threshold: usize, level: u8) -> Self {
        Deflater {
            window_bits,
            takeover,
            threshold,
            level,
            own: None,
        }
    }

    /// `payload` compressed as one message's data; `None` when it is sent as it is: shorter
    /// than the threshold, or a window of 8 bits (which zlib cannot keep to).
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        if self.window_bits < MIN_ZLIB_BITS || payload.len() < self.threshold {
            return None;
        }
        if !self.takeover {
            return compress_once(self.window_bits, payload, self.level);
        }
        let compress = self
            .own
            .get_or_insert_with(|| new_compress(self.window_bits, self.level));
        let compressed = deflate(compress, payload);
        if compressed.is_none() {
            // A compressor in error is dropped; a new one starts a new stream, which the peer's
            // inflater reads on from a block boundary.
            self.own = None;
        }
        compressed
    }
}

/// `payload` compressed as one message without context takeover at zlib's `level` (a
/// broadcast compresses it once for every socket with these parameters); `None` for a window
/// of 8 bits.
pub(crate) fn compress_once(window_bits: u8, payload: &[u8], level: u8) -> Option<Vec<u8>> {
    if window_bits < MIN_ZLIB_BITS {
        return None;
    }
    let kind = (window_bits, level);
    let mut compress = POOL
        .with(|pool| pool.borrow_mut().take_compress(kind))
        .unwrap_or_else(|| new_compress(window_bits, level));
    let compressed = deflate(&mut compress, payload);
    if compressed.is_some() {
        compress.reset();
        POOL.with(|pool| pool.borrow_mut().give_compress(kind, compress));
    }
    compressed
}

fn new_compress(window_bits: u8, level: u8) -> Compress {
    Compress::new_with_window_bits(Compression::new(u32::from(level)), false, window_bits)
}

/// Compresses `input` and sync-flushes, without the flush's tail; `None` if zlib fails.
fn deflate(compress: &mut Compress, mut input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    loop {
        let before = compress.total_in();
        compress
            .compress_vec(input, &mut out, FlushCompress::Sync)
            .ok()?;
        let consumed = usize::try_from(compress.total_in() - before).ok()?;
        input = input.get(consumed..)?;
        // Everything is in and the output had room left: the flush is complete.
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    } else if out.is_empty() {
        // Nothing to flush (an empty message after another): zlib wrote no empty block, so
        // the message is one (section 7.2.3.6), whose length the left-out tail holds.
        out.push(0x00);
    } else {
        return None;
    }
    Some(out)
}

/// Inflates the messages the peer sends.
pub(crate) struct Inflater {
    window_bits: u8,
    takeover: bool,
    /// With context takeover: the inflater, from the first message on; without: the pooled
    /// one a message borrowed, until its last frame.
    own: Option<Decompress>,
}

impl Inflater {
    /// An inflater for a peer compressing with at most `window_bits` (8-15), keeping its context
    /// between messages when `takeover`.
    pub(crate) fn new(window_bits: u8, takeover: bool) -> Self {
        Inflater {
            window_bits: window_bits.max(MIN_ZLIB_BITS),
            takeover,
            own: None,
        }
    }

    /// Inflates one frame's payload of a compressed message onto `out`; the message's last
    /// frame (`fin`) has the tail put back. Past `limit` bytes in `out` it fails with
    /// [`Violation::TooBig`], having grown `out` to at most one byte more; data that is not
    /// DEFLATE fails with [`Violation::BadCompression`].
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), Violation> {
        let decompress = match &mut self.own {
            Some(decompress) => decompress,
            own => {
                let pooled = if self.takeover {
                    None
                } else {
                    POOL.with(|pool| pool.borrow_mut().inflaters.pop())
                };
                own.insert(pooled.unwrap_or_else(|| {
                    // Pooled inflaters read every window (a larger window reads a smaller one's
                    // stream); a socket's own one has just its peer's.
                    let bits = if self.takeover { self.window_bits } else { 15 };
                    Decompress::new_with_window_bits(false, bits)
                }))
            }
        };
        let mut ended = inflate_into(decompress, input, out, limit)?;
        if fin {
            if !ended {
                ended = inflate_into(decompress, &TAIL, out, limit)?;
            }
            if ended {
                // The peer ended its stream (a final block, section 7.2.3.4): the next message
                // starts a new one.
                decompress.reset(false);
            }
            if !self.takeover {
                if let Some(mut decompress) = self.own.take() {
                    if !ended {
                        decompress.reset(false);
                    }
                    POOL.with(|pool| {
                        let mut pool = pool.borrow_mut();
                        if pool.inflaters.len() < POOLED {
                            pool.inflaters.push(decompress);
                        }
                    });
                }
            }
        }
        Ok(())
    }
}

/// Inflates `input` onto `out` within `limit`; true when the stream ended (a final block), after
/// which the rest of the input is ignored.
fn inflate_into(
    decompress: &mut Decompress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, Violation> {
    loop {
        if out.len() == out.capacity() {
            // Room to grow into, never past one byte beyond the limit (which shows it passed).
            let ceiling = limit.saturating_add(1);
            let wanted = if out.is_empty() {
                input.len().saturating_mul(FIRST_GROWTH).max(256)
            } else {
                out.len()
            };
            let room = wanted.min(ceiling.saturating_sub(out.len()));
            if room == 0 {
                return Err(Violation::TooBig);
            }
            out.reserve_exact(room);
        }
        let before = decompress.total_in();
        let status = decompress
            .decompress_vec(input, out, FlushDecompress::Sync)
            .map_err(|_| Violation::BadCompression)?;
        if out.len() > limit {
            return Err(Violation::TooBig);
        }
        let consumed = usize::try_from(decompress.total_in() - before).unwrap_or(usize::MAX);
        input = input.get(consumed..).unwrap_or_default();
        match status {
            Status::StreamEnd => return Ok(true),
            // Everything is in and the output had room left: all of it came out.
            _ if input.is_empty() && out.len() < out.capacity() => return Ok(false),
            // No progress with room in the output: zlib wants what it cannot have.
            Status::BufError if out.len() < out.capacity() => {
                return Err(Violation::BadCompression)
            }
            _ => {}
        }
    }
}

/// This thread's compressors and inflaters for messages without context takeover.
#[derive(Default)]
struct Pool {
    /// By window size and level.
    compressors: Vec<((u8, u8), Compress)>,
    inflaters: Vec<Decompress>,
}

impl Pool {
    fn take_compress(&mut self, kind: (u8, u8)) -> Option<Compress> {
        let at = self.compressors.iter().rposition(|(of, _)| *of == kind)?;
        Some(self.compressors.swap_remove(at).1)
    }

    fn give_compress(&mut self, kind: (u8, u8), compress: Compress) {
        if self.compressors.len() >= POOLED {
            self.compressors.remove(0);
        }
        self.compressors.push((kind, compress));
    }
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::default();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "Hello" compressed, as in RFC 7692 section 7.2.3.1.
    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    fn inflate_all(
        inflater: &mut Inflater,
        frames: &[&[u8]],
        limit: usize,
    ) -> Result<Vec<u8>, Violation> {
        let mut out = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            inflater.inflate(frame, i + 1 == frames.len(), &mut out, limit)?;
        }
        Ok(out)
    }

    #[test]
    fn the_rfc_examples_inflate() {
        let hello = |frames: &[&[u8]]| inflate_all(&mut Inflater::new(15, true), frames, 100);
        // 7.2.3.1: one frame, and the same data in two fragments.
        assert_eq!(hello(&[&HELLO]).unwrap(), b"Hello");
        assert_eq!(hello(&[&HELLO[..3], &HELLO[3..]]).unwrap(), b"Hello");
        // 7.2.3.3: a block with no compression.
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(hello(&[&stored]).unwrap(), b"Hello");
        // 7.2.3.4: a block with BFINAL set.
        let last = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        assert_eq!(hello(&[&last]).unwrap(), b"Hello");
        // 7.2.3.5: two blocks in one message.
        let two = [
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(hello(&[&two]).unwrap(), b"Hello");
        // 7.2.3.6: an empty message.
        assert_eq!(hello(&[&[0x00]]).unwrap(), b"");
    }

    /// 7.2.3.2: with context takeover, a second "Hello" refers to the first.
    #[test]
    fn a_shared_window_carries_over_to_the_next_message() {
        let second = [0xf2, 0x00, 0x11, 0x00, 0x00];
        let mut inflater = Inflater::new(15, true);
        assert_eq!(
            inflate_all(&mut inflater, &[&HELLO], 100).unwrap(),
            b"Hello"
        );
        assert_eq!(
            inflate_all(&mut inflater, &[&second], 100).unwrap(),
            b"Hello"
        );
        // Without takeover, the reference has nothing to point to.
        let mut fresh = Inflater::new(15, false);
        assert_eq!(inflate_all(&mut fresh, &[&HELLO], 100).unwrap(), b"Hello");
        assert_eq!(
            inflate_all(&mut fresh, &[&second], 100),
            Err(Violation::BadCompression)
        );

        let mut deflater = Deflater::new(15, true, 0, 2);
        assert_eq!(deflater.compress(b"Hello").unwrap(), HELLO);
        assert_eq!(deflater.compress(b"Hello").unwrap(), second);
        let mut each_alone = Deflater::new(15, false, 0, 2);
        assert_eq!(each_alone.compress(b"Hello").unwrap(), HELLO);
        assert_eq!(each_alone.compress(b"Hello").unwrap(), HELLO);
    }

    #[test]
    fn messages_round_trip_at_every_window_and_size() {
        let text: Vec<u8> = (0..70_000u32)
            .flat_map(|i| format!("{{\"id\":{i},\"price\":{}.{}}},", i % 997, i % 89).into_bytes())
            .take(300_000)
            .collect();
        for bits in 8..=15 {
            for takeover in [true, false] {
                let mut deflater = Deflater::new(bits, takeover, 0, 2);
                let mut inflater = Inflater::new(bits, takeover);
                for len in [0, 1, 100, 2048, 16 * 1024, 300_000] {
                    let payload = &text[..len];
                    match deflater.compress(payload) {
                        Some(compressed) => {
                            assert!(bits >= 9, "a window of 8 bits is never compressed");
                            if len >= 2048 {
                                assert!(compressed.len() * 3 < len, "{bits} {len}");
                            }
                            let out = inflate_all(&mut inflater, &[&compressed], len).unwrap();
                            assert_eq!(out, payload, "{bits} {takeover} {len}");
                        }
                        None => assert_eq!(bits, 8),
                    }
                }
            }
        }
    }

    /// zlib writes nothing for an empty message after another (nothing to flush): it is sent
    /// as one empty block (section 7.2.3.6), and the shared window carries on.
    #[test]
    fn empty_messages_in_a_row_keep_the_stream_whole() {
        let mut deflater = Deflater::new(15, true, 0, 2);
        let mut inflater = Inflater::new(15, true);
        for payload in [&b""[..], b"", b"Hello", b"", b"", b"Hello"] {
            let compressed = deflater.compress(payload).unwrap();
            assert!(!compressed.is_empty());
            assert_eq!(
                inflate_all(&mut inflater, &[&compressed], 100).unwrap(),
                payload
            );
        }
    }

    #[test]
    fn short_messages_are_not_compressed() {
        let mut deflater = Deflater::new(15, true, 64, 2);
        assert_eq!(deflater.compress(&[b'a'; 63]), None);
        assert!(deflater.compress(&[b'a'; 64]).is_some());
    }

    /// Inflating stops at the limit: the output never grows past one byte more.
    #[test]
    fn a_bomb_fails_at_the_limit_without_allocating_past_it() {
        let zeros = vec![0u8; 1 << 20];
        let bomb = compress_once(15, &zeros, 9).unwrap();
        assert!(bomb.len() < 2048, "{}", bomb.len());
        for limit in [0, 1, 1000, 64 * 1024, (1 << 20) - 1] {
            let mut out = Vec::new();
            let failed = Inflater::new(15, false).inflate(&bomb, true, &mut out, limit);
            assert_eq!(failed, Err(Violation::TooBig), "{limit}");
            assert!(out.capacity() <= limit + 1, "{limit}: {}", out.capacity());
        }
        let mut out = Vec::new();
        Inflater::new(15, false)
            .inflate(&bomb, true, &mut out, 1 << 20)
            .unwrap();
        assert_eq!(out, zeros);
    }

    #[test]
    fn data_that_is_not_deflate_fails() {
        let mut out = Vec::new();
        let garbage = [0xff; 16];
        assert_eq!(
            Inflater::new(15, true).inflate(&garbage, true, &mut out, 1000),
            Err(Violation::BadCompression)
        );
    }

    /// Without context takeover, a socket keeps no state between messages: the pool does.
    #[test]
    fn without_takeover_a_socket_holds_nothing_between_messages() {
        let mut deflater = Deflater::new(12, false, 0, 2);
        let mut inflater = Inflater::new(12, false);
        let compressed = deflater.compress(b"Hello, Hello, Hello").unwrap();
        assert!(deflater.own.is_none());
        let mut out = Vec::new();
        inflater
            .inflate(&compressed[..4], false, &mut out, 100)
            .unwrap();
        assert!(
            inflater.own.is_some(),
            "held while the message is under way"
        );
        inflater
            .inflate(&compressed[4..], true, &mut out, 100)
            .unwrap();
        assert!(inflater.own.is_none());
        assert_eq!(out, b"Hello, Hello, Hello");
    }
}
