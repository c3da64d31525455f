//! UTF-8 checked piece by piece, as a text message arrives: a sequence that can no longer
//! become valid fails at the byte that shows it, not at the end of the message (RFC 6455
//! section 8.1: fail the connection as soon as invalid text is seen).

/// The state between pieces: a character cut at the end of the last piece.
#[derive(Debug, Default)]
pub(crate) struct Utf8Check {
    carry: [u8; 4],
    carry_len: usize,
}

/// The error: the text cannot be valid UTF-8 whatever follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

impl Utf8Check {
    /// Checks the next piece of the text.
    pub(crate) fn feed(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        if self.carry_len > 0 {
            // Complete the cut character first: its first byte says how long it is.
            let width = char_width(self.carry[0]);
            let take = (width - self.carry_len).min(piece.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&piece[..take]);
            self.carry_len += take;
            piece = &piece[take..];
            match std::str::from_utf8(&self.carry[..self.carry_len]) {
                Ok(_) => self.carry_len = 0,
                Err(e) if e.error_len().is_none() => return Ok(()), // still cut
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                // A character cut at the end: keep its bytes for the next piece.
                let cut = &piece[e.valid_up_to()..];
                self.carry[..cut.len()].copy_from_slice(cut);
                self.carry_len = cut.len();
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the text: valid only if no character is left cut. Ready for the next text.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let cut = self.carry_len > 0;
        self.carry_len = 0;
        if cut {
            Err(InvalidUtf8)
        } else {
            Ok(())
        }
    }
}

/// The length of the character a valid first byte begins (only first bytes that can begin a
/// character are ever carried).
fn char_width(first: u8) -> usize {
    match first {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `text` cut at every split point into two and three pieces.
    fn pieces_agree_with_std(bytes: &[u8]) {
        let whole = std::str::from_utf8(bytes).is_ok();
        for a in 0..=bytes.len() {
            for b in a..=bytes.len() {
                let mut check = Utf8Check::default();
                let result = check
                    .feed(&bytes[..a])
                    .and_then(|()| check.feed(&bytes[a..b]))
                    .and_then(|()| check.feed(&bytes[b..]))
                    .and_then(|()| check.finish());
                assert_eq!(result.is_ok(), whole, "{bytes:x?} cut at {a} and {b}");
            }
        }
    }

    #[test]
    fn agrees_with_std_wherever_the_text_is_cut() {
        for text in [
            &b"plain"[..],
            "κόσμε é€𝄞".as_bytes(),
            &[0xf4, 0x8f, 0xbf, 0xbf],
            &[0xf4, 0x90, 0x80, 0x80],
            &[0xed, 0xa0, 0x80],
            &[0xc0, 0xaf],
            &[b'a', 0xe2, 0x82],
            &[0xff],
            &[0xe2, 0x82, 0xac, 0xe2],
        ] {
            pieces_agree_with_std(text);
        }
    }

    #[test]
    fn fails_at_the_byte_that_shows_it() {
        let mut check = Utf8Check::default();
        check.feed("κόσμε".as_bytes()).unwrap();
        check.feed(&[0xf4]).unwrap();
        assert_eq!(check.feed(&[0x90]), Err(InvalidUtf8));
        let mut check = Utf8Check::default();
        assert_eq!(check.feed(&[0xff]), Err(InvalidUtf8));
    }
}
