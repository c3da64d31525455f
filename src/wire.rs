//! One socket's byte stream read as WebSocket messages and written as frames.
//!
//! Buffers are sized to the traffic: the read buffer is allocated when data arrives, grows
//! while reads fill it (for a frame past 64 KiB, never past twice what has arrived), and is
//! released as soon as everything in it has been handed out; the write buffer is released
//! once flushed. An idle connection holds no buffer at all. A received payload that fills
//! most of its read buffer is split off without copying; smaller ones are copied out.

use crate::protocol::frame::{self, opcode, Violation};
use crate::protocol::message::Message;
use crate::protocol::utf8::Utf8Check;
use crate::tls::IoStream;
use bytes::{Buf, Bytes, BytesMut};
use rand::Rng;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;

/// Which end of the connection we are: servers read masked frames, clients write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Server,
    Client,
}

/// What the peer sent.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A data message, and the bytes of memory its payload keeps (its read buffer's, when it
    /// was not copied out of it).
    Message {
        message: Message,
        retained: usize,
    },
    Ping(Bytes),
    Pong,
    /// A close frame, with its code and reason when it had one.
    Close(Option<(u16, String)>),
}

/// Why reading or writing stopped.
#[derive(Debug)]
pub(crate) enum WireError {
    /// The peer broke the protocol.
    Violation(Violation),
    /// The connection failed.
    Io(io::Error),
    /// The peer closed the connection.
    Eof,
}

/// Payloads from this size on are written from where they are instead of being copied, and
/// received ones may stay in their read buffer.
const ZERO_COPY_MIN: usize = 1024;
/// Most chunks handed to one vectored write.
const MAX_SLICES: usize = 32;

/// First read allocation, and the largest a read allocation grows to while reads fill it.
const MIN_READ: usize = 2048;
const MAX_READ: usize = 64 * 1024;

/// A fragmented message being put together.
struct Fragments {
    text: bool,
    data: BytesMut,
}

/// Turns received bytes into messages: frame parsing, unmasking, reassembly, limits. Kept
/// apart from the I/O so that it can be fuzzed on its own.
pub(crate) struct Decoder {
    /// Received bytes not decoded yet; the frame at the front starts at its first byte.
    pub(crate) buf: BytesMut,
    /// Size of the allocation `buf` lives in: what a payload left in it keeps alive.
    alloc: usize,
    /// Whether frames must be masked (we are the server).
    masked: bool,
    max_message: usize,
    fragments: Option<Fragments>,
    /// Payload bytes of the incomplete data frame at the front already unmasked (and checked).
    front_done: usize,
    /// The text message being received, checked as its pieces arrive.
    utf8: Utf8Check,
}

pub(crate) struct Wire {
    io: IoStream,
    role: Role,
    decoder: Decoder,
    /// Size of the next read allocation: doubles while reads fill the buffer.
    read_size: usize,
    /// Small frames gathered for the next write.
    write: BytesMut,
    /// Large payloads and shared frames, written from where they are (no copy), in order
    /// before whatever `write` holds when they were queued.
    chunks: VecDeque<Bytes>,
    chunk_bytes: usize,
    /// Bytes written to the stream so far.
    written: u64,
    eof: bool,
}

impl Wire {
    /// Wraps a stream whose handshake is done; `already_read` holds bytes that arrived with
    /// the handshake.
    pub(crate) fn new(io: IoStream, role: Role, already_read: &[u8], max_message: usize) -> Self {
        Wire {
            io,
            role,
            decoder: Decoder::new(role == Role::Server, max_message, already_read),
            read_size: MIN_READ,
            write: BytesMut::new(),
            chunks: VecDeque::new(),
            chunk_bytes: 0,
            written: 0,
            eof: false,
        }
    }

    /// The next thing the peer sent; reads as needed.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Incoming, WireError>> {
        loop {
            match self.decoder.decode() {
                Ok(Some(incoming)) => return Poll::Ready(Ok(incoming)),
                Ok(None) => {}
                Err(violation) => return Poll::Ready(Err(WireError::Violation(violation))),
            }
            if self.eof {
                return Poll::Ready(Err(WireError::Eof));
            }
            self.make_room();
            let buf = &mut self.decoder.buf;
            let spare = buf.capacity() - buf.len();
            match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, buf) {
                Poll::Ready(Ok(0)) => self.eof = true,
                Poll::Ready(Ok(n)) => {
                    if n == spare {
                        self.read_size = (self.read_size * 2).min(MAX_READ);
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(WireError::Io(e))),
                Poll::Pending => {
                    if buf.is_empty() {
                        // Nothing more to read: the connection holds no buffer while it waits.
                        read_buffers::give_back(std::mem::take(buf));
                        self.read_size = MIN_READ;
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Room in the read buffer for the next read: a read's worth, or for a frame larger than
    /// that, the rest of it, but past the largest read buffer (64 KiB) never more than has
    /// arrived so far (the buffer at most doubles per step), so memory follows the bytes
    /// received, not a header's promise. A frame gets a buffer of exactly its size once it
    /// can: at once up to 64 KiB (one copy of what arrived with its header), then as it comes.
    fn make_room(&mut self) {
        let decoder = &mut self.decoder;
        let len = decoder.buf.len();
        let mut wanted = self.read_size;
        if let Some(total) = decoder.front_len() {
            if total > len + wanted {
                wanted = (total - len).min(len.max(MAX_READ));
            }
        }
        let buf = &mut decoder.buf;
        if buf.capacity() == 0 {
            *buf = read_buffers::take(wanted);
            decoder.alloc = buf.capacity();
        } else if buf.capacity() - len < wanted && !buf.try_reclaim(wanted) {
            let mut grown = BytesMut::with_capacity(len + wanted);
            grown.extend_from_slice(buf);
            *buf = grown;
            decoder.alloc = buf.capacity();
        }
    }

    /// The mask for the next frame we write: none as a server; as a client, four bytes from a
    /// cryptographically secure generator (RFC 6455 section 5.3: the peer's intermediaries
    /// must not be able to predict it).
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Server => None,
            Role::Client => Some(rand::rng().next_u32().to_ne_bytes()),
        }
    }

    /// Appends a data message as one frame. Server frames keep large payloads where they
    /// are; client frames are masked, so they are copied.
    pub(crate) fn buffer_message(&mut self, message: &Message) {
        let code = if message.is_text() {
            opcode::TEXT
        } else {
            opcode::BINARY
        };
        let payload = message.as_bytes();
        match self.next_mask() {
            None if payload.len() >= ZERO_COPY_MIN => {
                frame::put_header(&mut self.write, code, payload.len(), None);
                self.push_chunk(message.to_bytes());
            }
            mask => frame::put_frame(&mut self.write, code, payload, mask),
        }
    }

    /// Appends a frame encoded once for many server-side sockets (unmasked).
    pub(crate) fn buffer_encoded(&mut self, frame: Bytes) {
        debug_assert_eq!(self.role, Role::Server);
        if frame.len() >= ZERO_COPY_MIN {
            self.push_chunk(frame);
        } else {
            self.write.extend_from_slice(&frame);
        }
    }

    /// Queues `chunk` after everything buffered so far.
    fn push_chunk(&mut self, chunk: Bytes) {
        if !self.write.is_empty() {
            let gathered = self.write.split().freeze();
            self.chunk_bytes += gathered.len();
            self.chunks.push_back(gathered);
        }
        self.chunk_bytes += chunk.len();
        self.chunks.push_back(chunk);
    }

    /// Appends a ping, pong or close frame.
    pub(crate) fn buffer_control(&mut self, code: u8, payload: &[u8]) {
        let mask = self.next_mask();
        frame::put_frame(&mut self.write, code, payload, mask);
    }

    /// Whether frames from this end must be pre-encoded per socket (masked client frames).
    pub(crate) fn role(&self) -> Role {
        self.role
    }

    /// Bytes waiting to be written.
    pub(crate) fn buffered(&self) -> usize {
        self.write.len() + self.chunk_bytes
    }

    /// Bytes written to the stream so far; with [`Wire::buffered`], tells whether something
    /// buffered earlier has left.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Writes everything buffered and flushes the stream (TLS included).
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.chunks.is_empty() && !self.write.is_empty() {
            let gathered = self.write.split().freeze();
            self.chunk_bytes += gathered.len();
            self.chunks.push_back(gathered);
        }
        while !self.chunks.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let count = self.chunks.len().min(MAX_SLICES);
            for (slice, chunk) in slices.iter_mut().zip(&self.chunks) {
                *slice = IoSlice::new(chunk);
            }
            let n = match Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            self.chunk_bytes -= n;
            self.written += n as u64;
            let mut left = n;
            while left > 0 {
                let Some(front) = self.chunks.front_mut() else {
                    break;
                };
                if front.len() <= left {
                    left -= front.len();
                    self.chunks.pop_front();
                } else {
                    front.advance(left);
                    left = 0;
                }
            }
        }
        while !self.write.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.write) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.write.advance(n);
                    self.written += n as u64;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Written out: give the allocations back.
        self.write = BytesMut::new();
        self.chunks = VecDeque::new();
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Shuts the write side down (TLS close_notify, then TCP FIN).
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl Decoder {
    pub(crate) fn new(masked: bool, max_message: usize, already_read: &[u8]) -> Self {
        let buf = BytesMut::from(already_read);
        Decoder {
            alloc: buf.capacity(),
            buf,
            masked,
            max_message,
            fragments: None,
            front_done: 0,
            utf8: Utf8Check::default(),
        }
    }

    /// Appends received bytes as a read would (for the fuzz targets, which have no stream):
    /// a buffer that had to grow is a new allocation, which payloads left in it keep alive.
    #[cfg(fuzzing)]
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let capacity = self.buf.capacity();
        self.buf.extend_from_slice(bytes);
        if self.buf.capacity() != capacity {
            self.alloc = self.buf.capacity();
        }
    }

    /// The whole length (header and payload) of the frame at the front, once its header has
    /// arrived.
    fn front_len(&self) -> Option<usize> {
        match frame::parse_header(&self.buf, self.masked, usize::MAX) {
            Ok(Some(header)) => Some(header.header_len.saturating_add(header.payload_len)),
            _ => None,
        }
    }

    /// Takes the next complete message, control frame or close from the buffer. The part of a
    /// data frame that has arrived is unmasked and, for text, checked as it comes, so invalid
    /// text fails before the rest of its frame or message is waited for.
    pub(crate) fn decode(&mut self) -> Result<Option<Incoming>, Violation> {
        loop {
            let Some(header) = frame::parse_header(&self.buf, self.masked, self.max_message)?
            else {
                return Ok(None);
            };
            let data = header.opcode <= opcode::BINARY;
            let text = match (header.opcode, &self.fragments) {
                (opcode::TEXT | opcode::BINARY, Some(_)) => {
                    return Err(Violation::Protocol(
                        "a new message began before the fragmented one ended",
                    ))
                }
                (opcode::CONTINUATION, None) => {
                    return Err(Violation::Protocol(
                        "continuation frame without a message to continue",
                    ))
                }
                (opcode::CONTINUATION, Some(fragments)) => {
                    if fragments.data.len() + header.payload_len > self.max_message {
                        return Err(Violation::TooBig);
                    }
                    fragments.text
                }
                (code, _) => code == opcode::TEXT,
            };
            let total = header.header_len + header.payload_len;
            let arrived = self.buf.len().min(total) - header.header_len;
            // A final text frame that arrived whole, alone, is checked once it is a message;
            // anything else is checked piece by piece.
            let piecewise = text
                && (!header.fin
                    || self.fragments.is_some()
                    || arrived < header.payload_len
                    || self.front_done > 0);
            if data && arrived > self.front_done {
                let part =
                    &mut self.buf[header.header_len + self.front_done..header.header_len + arrived];
                if let Some(mask) = header.mask {
                    frame::apply_mask(part, mask, self.front_done);
                }
                if piecewise {
                    self.utf8.feed(part).map_err(|_| Violation::InvalidUtf8)?;
                }
                self.front_done = arrived;
            }
            if self.buf.len() < total {
                return Ok(None);
            }
            self.front_done = 0;
            if !data {
                if let Some(mask) = header.mask {
                    frame::apply_mask(&mut self.buf[header.header_len..total], mask, 0);
                }
                let payload = Bytes::copy_from_slice(&self.buf[header.header_len..total]);
                self.buf.advance(total);
                return match header.opcode {
                    opcode::PING => Ok(Some(Incoming::Ping(payload))),
                    opcode::PONG => Ok(Some(Incoming::Pong)),
                    _ => frame::parse_close(&payload).map(|close| Some(Incoming::Close(close))),
                };
            }
            if piecewise && header.fin {
                self.utf8.finish().map_err(|_| Violation::InvalidUtf8)?;
            }
            match (self.fragments.take(), header.fin) {
                (None, true) => {
                    let (payload, retained) = self.take_payload(header.header_len, total);
                    return message(text, payload)
                        .map(|message| Some(Incoming::Message { message, retained }));
                }
                (fragments, fin) => {
                    let mut fragments = fragments.unwrap_or(Fragments {
                        text,
                        data: BytesMut::new(),
                    });
                    fragments
                        .data
                        .extend_from_slice(&self.buf[header.header_len..total]);
                    self.buf.advance(total);
                    if fin {
                        let retained = fragments.data.capacity();
                        return message(text, fragments.data.freeze())
                            .map(|message| Some(Incoming::Message { message, retained }));
                    }
                    self.fragments = Some(fragments);
                }
            }
        }
    }

    /// The payload of the complete frame at the front, and the memory it keeps. It stays
    /// where it is (no copy) only when it fills most of its read allocation, which it then
    /// keeps alive; a smaller one is copied out, so that no payload pins a buffer much larger
    /// than itself (an application may keep messages long after).
    fn take_payload(&mut self, header_len: usize, total: usize) -> (Bytes, usize) {
        let len = total - header_len;
        if len >= ZERO_COPY_MIN && 2 * len > self.alloc {
            let mut frame = self.buf.split_to(total);
            frame.advance(header_len);
            (frame.freeze(), self.alloc)
        } else {
            let payload = Bytes::copy_from_slice(&self.buf[header_len..total]);
            self.buf.advance(total);
            (payload, len)
        }
    }
}

/// Read buffers of this thread that connections gave back while they wait: reading sockets
/// borrow one instead of allocating, and waiting ones hold none.
mod read_buffers {
    use bytes::BytesMut;
    use std::cell::RefCell;

    /// Most buffers kept per thread, and the largest kept.
    const KEPT: usize = 32;
    const LARGEST_KEPT: usize = 16 * 1024;

    thread_local! {
        static KEPT_BUFFERS: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    }

    /// An empty buffer with room for at least `wanted` bytes: a kept one when one is large
    /// enough, else a new one of exactly that size.
    pub(super) fn take(wanted: usize) -> BytesMut {
        let kept = KEPT_BUFFERS.with(|kept| {
            let mut kept = kept.borrow_mut();
            match kept.last() {
                Some(buf) if buf.capacity() >= wanted => kept.pop(),
                _ => None,
            }
        });
        kept.unwrap_or_else(|| BytesMut::with_capacity(wanted))
    }

    /// Keeps an emptied buffer for the next reader, unless payloads still share it or the
    /// thread keeps enough already.
    pub(super) fn give_back(mut buf: BytesMut) {
        if buf.capacity() > LARGEST_KEPT || !buf.try_reclaim(super::MIN_READ) {
            return;
        }
        KEPT_BUFFERS.with(|kept| {
            let mut kept = kept.borrow_mut();
            if kept.len() < KEPT {
                kept.push(buf);
            }
        });
    }
}

/// A complete received message, its text checked for UTF-8.
fn message(text: bool, payload: Bytes) -> Result<Message, Violation> {
    if text {
        Message::text_from_bytes(payload).map_err(|_| Violation::InvalidUtf8)
    } else {
        Ok(Message::binary(payload))
    }
}
