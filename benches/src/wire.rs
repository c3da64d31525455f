//! The client side of the WebSocket wire format, only as much as the load client needs: the
//! upgrade request and its answer, pre-encoded client frames, and a streaming frame reader that
//! keeps no payload but its first eight bytes. Written by hand so that the client's own cost
//! per message stays small next to the server's.

/// The Sec-WebSocket-Key of every connection (RFC 6455's sample nonce); a server accepts any
/// well-formed key, and the client does not check the answer's accept hash.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Longest upgrade answer the client reads before giving up.
const MAX_RESPONSE_HEAD: usize = 8192;

/// Opcode of a text data frame.
pub const OP_TEXT: u8 = 0x1;
/// Opcode of a binary data frame.
pub const OP_BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Opcode of a ping frame.
pub const OP_PING: u8 = 0x9;
/// Opcode of a pong frame.
pub const OP_PONG: u8 = 0xA;

/// The permessage-deflate offer of a compressing client: it compresses each message on its
/// own with a 4 KiB window (so its frames can be made once and sent many times); the server
/// chooses its own side.
pub const DEFLATE_OFFER: &str =
    "permessage-deflate; client_no_context_takeover; client_max_window_bits=12";

/// The HTTP upgrade request for `path` on `127.0.0.1:port`, offering permessage-deflate when
/// `deflate`.
pub fn upgrade_request(port: u16, path: &str, deflate: bool) -> String {
    let offer = if deflate {
        format!("Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n")
    } else {
        String::new()
    };
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    )
}

/// Reads the server's answer to the upgrade from the bytes received so far: the length of its
/// head once complete and a 101, `None` while incomplete, an error for anything else.
pub fn upgrade_response_len(received: &[u8]) -> Result<Option<usize>, String> {
    match received.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => {
            let head = &received[..end];
            if head.starts_with(b"HTTP/1.1 101") {
                Ok(Some(end + 4))
            } else {
                let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
                Err(format!(
                    "upgrade refused: {}",
                    String::from_utf8_lossy(line).trim()
                ))
            }
        }
        None if received.len() > MAX_RESPONSE_HEAD => {
            Err("upgrade answer has no end of headers".into())
        }
        None => Ok(None),
    }
}

/// One complete client frame (FIN set) carrying `payload`. It is masked, as RFC 6455 requires
/// of a client, with the all-zero key: the bytes on the wire are the payload itself, so frames
/// can be encoded once and sent many times, while the server still does its full unmasking.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut frame = Vec::with_capacity(len + 14);
    frame.push(0x80 | opcode);
    match len {
        0..=125 => frame.push(0x80 | len as u8),
        126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(payload);
    frame
}

/// One complete client frame of a compressed message (RSV1 set), as [`client_frame`] makes.
pub fn client_frame_compressed(opcode: u8, compressed: &[u8]) -> Vec<u8> {
    let mut frame = client_frame(opcode, compressed);
    frame[0] |= 0x40;
    frame
}

/// What the reader found in the server's byte stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete data message; `head` is its first eight payload bytes, little-endian,
    /// zero-padded (the load client puts sequence numbers there).
    Data {
        /// The first payload bytes as a number.
        head: u64,
    },
    /// A ping, to be answered with a pong carrying the same payload.
    Ping(&'a [u8]),
    /// A close frame: the server is ending the connection.
    Close,
    /// A compressed data message, whole (only from a reader made with
    /// [`FrameReader::keeping_compressed`]; otherwise such a message is `Data`).
    Compressed(&'a [u8]),
}

/// A streaming reader of server frames: feed it bytes as they arrive, in any chunks.
#[derive(Default)]
pub struct FrameReader {
    header: [u8; 14],
    header_len: usize,
    in_payload: bool,
    fin: bool,
    opcode: u8,
    remaining: u64,
    head: [u8; 8],
    head_len: usize,
    /// The head of a fragmented message, kept until its final frame.
    message_head: Option<u64>,
    control: Vec<u8>,
    /// Compressed messages are kept whole and handed out as [`Frame::Compressed`].
    keep_compressed: bool,
    /// The message being read is compressed (RSV1 on its first frame).
    compressed: bool,
    /// A kept compressed message so far.
    message: Vec<u8>,
}

impl FrameReader {
    /// A reader that hands out compressed messages whole, for the client to inflate.
    pub fn keeping_compressed() -> Self {
        FrameReader {
            keep_compressed: true,
            ..FrameReader::default()
        }
    }

    /// Reads `input`, calling `on_frame` for each complete message and control frame. Fails on
    /// a masked server frame or an oversized control frame (a broken server).
    pub fn feed(
        &mut self,
        mut input: &[u8],
        mut on_frame: impl FnMut(Frame<'_>),
    ) -> Result<(), String> {
        loop {
            if !self.in_payload {
                let need = header_len_needed(&self.header[..self.header_len]);
                if self.header_len < need {
                    if input.is_empty() {
                        return Ok(());
                    }
                    let take = (need - self.header_len).min(input.len());
                    self.header[self.header_len..self.header_len + take]
                        .copy_from_slice(&input[..take]);
                    self.header_len += take;
                    input = &input[take..];
                    continue;
                }
                self.start_payload()?;
            } else if self.remaining > 0 {
                if input.is_empty() {
                    return Ok(());
                }
                let take = self.remaining.min(input.len() as u64) as usize;
                let chunk = &input[..take];
                if self.opcode & 0x8 != 0 {
                    self.control.extend_from_slice(chunk);
                } else if self.compressed && self.keep_compressed {
                    self.message.extend_from_slice(chunk);
                } else if self.head_len < self.head.len() {
                    let n = (self.head.len() - self.head_len).min(take);
                    self.head[self.head_len..self.head_len + n].copy_from_slice(&chunk[..n]);
                    self.head_len += n;
                }
                self.remaining -= take as u64;
                input = &input[take..];
            }
            if self.in_payload && self.remaining == 0 {
                self.finish_frame(&mut on_frame);
            }
        }
    }

    fn start_payload(&mut self) -> Result<(), String> {
        let h = &self.header;
        if h[1] & 0x80 != 0 {
            return Err("the server sent a masked frame".into());
        }
        self.fin = h[0] & 0x80 != 0;
        self.opcode = h[0] & 0x0F;
        if matches!(self.opcode, 0x1 | 0x2) {
            self.compressed = h[0] & 0x40 != 0;
            self.message.clear();
        }
        self.remaining = match h[1] & 0x7F {
            126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
            127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
            short => u64::from(short),
        };
        if self.opcode & 0x8 != 0 && self.remaining > 125 {
            return Err("the server sent a control frame longer than 125 bytes".into());
        }
        self.in_payload = true;
        self.head = [0; 8];
        self.head_len = 0;
        self.control.clear();
        Ok(())
    }

    fn finish_frame(&mut self, on_frame: &mut impl FnMut(Frame<'_>)) {
        self.in_payload = false;
        self.header_len = 0;
        let head = u64::from_le_bytes(self.head);
        if self.compressed && self.keep_compressed && self.opcode & 0x8 == 0 {
            if self.fin {
                on_frame(Frame::Compressed(&self.message));
            }
            return;
        }
        match self.opcode {
            0x1 | 0x2 if self.fin => on_frame(Frame::Data { head }),
            0x1 | 0x2 => self.message_head = Some(head),
            0x0 if self.fin => on_frame(Frame::Data {
                head: self.message_head.take().unwrap_or(head),
            }),
            OP_PING => on_frame(Frame::Ping(&self.control)),
            OP_CLOSE => on_frame(Frame::Close),
            _ => {}
        }
    }
}

/// How long the header being read is, judging from its first bytes.
fn header_len_needed(header: &[u8]) -> usize {
    if header.len() < 2 {
        return 2;
    }
    let extended = match header[1] & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if header[1] & 0x80 != 0 { 4 } else { 0 };
    2 + extended + mask
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server frame: unmasked.
    fn server_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = client_frame(first & 0x0F, payload);
        frame[0] = first;
        frame[1] &= 0x7F;
        let mask_at = frame.len() - payload.len() - 4;
        frame.drain(mask_at..mask_at + 4);
        frame
    }

    fn stream() -> (Vec<u8>, Vec<String>) {
        let big: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        let mut bytes = Vec::new();
        bytes.extend(server_frame(0x82, &7u64.to_le_bytes()));
        bytes.extend(server_frame(0x82, &[]));
        bytes.extend(server_frame(0x89, b"hi"));
        bytes.extend(server_frame(0x82, &big[..300]));
        bytes.extend(server_frame(0x82, &big));
        bytes.extend(server_frame(0x02, &[9, 0, 0]));
        bytes.extend(server_frame(0x80, b"rest"));
        bytes.extend(server_frame(0x88, &[3, 232]));
        let head = |b: &[u8]| {
            let mut h = [0u8; 8];
            h.copy_from_slice(&b[..8]);
            u64::from_le_bytes(h)
        };
        let expected = vec![
            "data 7".to_string(),
            "data 0".into(),
            "ping [104, 105]".into(),
            format!("data {}", head(&big)),
            format!("data {}", head(&big)),
            "data 9".into(),
            "close".into(),
        ];
        (bytes, expected)
    }

    fn describe(frame: Frame<'_>) -> String {
        match frame {
            Frame::Data { head } => format!("data {head}"),
            Frame::Ping(p) => format!("ping {p:?}"),
            Frame::Close => "close".into(),
            Frame::Compressed(m) => format!("compressed {m:?}"),
        }
    }

    #[test]
    fn reads_frames_split_at_every_point() {
        let (bytes, expected) = stream();
        for chunk in [1, 2, 3, 7, 13, 126, 4096, bytes.len()] {
            let mut reader = FrameReader::default();
            let mut seen = Vec::new();
            for piece in bytes.chunks(chunk) {
                reader.feed(piece, |f| seen.push(describe(f))).unwrap();
            }
            assert_eq!(seen, expected, "chunks of {chunk}");
        }
    }

    #[test]
    fn compressed_messages_are_kept_whole_when_asked() {
        let mut bytes = server_frame(0xc1, &[1, 2, 3]);
        bytes.extend(server_frame(0x89, b"p"));
        bytes.extend(server_frame(0x82, &5u64.to_le_bytes()));
        for (mut reader, first) in [
            (FrameReader::keeping_compressed(), "compressed [1, 2, 3]"),
            (FrameReader::default(), "data 197121"),
        ] {
            let mut seen = Vec::new();
            for piece in bytes.chunks(2) {
                reader.feed(piece, |f| seen.push(describe(f))).unwrap();
            }
            assert_eq!(seen, [first, "ping [112]", "data 5"]);
        }
    }

    #[test]
    fn refuses_masked_server_frames() {
        let mut reader = FrameReader::default();
        let frame = client_frame(OP_BINARY, b"x");
        assert!(reader.feed(&frame, |_| {}).is_err());
    }

    #[test]
    fn client_frames_have_the_right_lengths() {
        assert_eq!(client_frame(OP_BINARY, &[1; 32]).len(), 2 + 4 + 32);
        assert_eq!(client_frame(OP_BINARY, &[1; 16384]).len(), 4 + 4 + 16384);
        assert_eq!(client_frame(OP_BINARY, &[1; 70_000]).len(), 10 + 4 + 70_000);
    }

    #[test]
    fn upgrade_answers() {
        assert_eq!(upgrade_response_len(b"HTTP/1.1 101 Switching"), Ok(None));
        assert_eq!(
            upgrade_response_len(b"HTTP/1.1 101 Switching Protocols\r\nA: b\r\n\r\nxy"),
            Ok(Some(42))
        );
        let refused = upgrade_response_len(b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
        assert_eq!(
            refused,
            Err("upgrade refused: HTTP/1.1 503 Service Unavailable".into())
        );
    }
}
