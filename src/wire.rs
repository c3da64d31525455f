//! One socket's byte stream read as WebSocket messages and written as frames.
//!
//! Buffers are sized to the traffic: the read buffer is allocated when data arrives, grows
//! while reads fill it (for a frame past 64 KiB, never past twice what has arrived), and is
//! released as soon as everything in it has been handed out; the write buffer is released
//! once flushed. An idle connection holds no buffer at all. Released buffers go to a spare
//! list of the thread, which the next reads and writes take from (no allocation per message).
//! A received payload that fills most of its read buffer is split off without copying;
//! smaller ones are copied out.
//!
//! With permessage-deflate negotiated, messages are compressed as they are framed and inflated
//! as their frames complete (within the message limit); without it, a socket carries no
//! compression state.

use crate::config::Compression;
use crate::protocol::deflate::{Deflater, Inflater};
use crate::protocol::extensions::PerMessageDeflate;
use crate::protocol::frame::{self, opcode, Violation, RSV1};
use crate::protocol::mask;
use crate::protocol::message::{Message, SMALL};
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
    /// was not copied out of it); when it arrived compressed, its payload's length on the
    /// wire (for the figures).
    Message {
        message: Message,
        retained: usize,
        compressed: Option<usize>,
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

/// Buffers written from where they are, in order, and the bytes they hold.
#[derive(Default)]
struct Chunks {
    queue: VecDeque<Bytes>,
    bytes: usize,
}

impl Chunks {
    fn push(&mut self, chunk: Bytes) {
        self.bytes += chunk.len();
        self.queue.push_back(chunk);
    }

    /// Drops the first `n` bytes, which were written.
    fn consume(&mut self, n: usize) {
        self.bytes -= n;
        let mut left = n;
        while left > 0 {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            if front.len() <= left {
                left -= front.len();
                self.queue.pop_front();
            } else {
                front.advance(left);
                left = 0;
            }
        }
    }
}

/// A fragmented (or compressed) message being put together.
struct Fragments {
    text: bool,
    /// Its frames are compressed: `data` holds what they inflated to.
    compressed: bool,
    data: Vec<u8>,
    /// Compressed payload bytes its frames carried (counted for compressed ones only).
    wire_len: usize,
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
    /// Boxed: most sockets never see a fragmented message, and every byte here is kept by
    /// every connection, idle or not.
    fragments: Option<Box<Fragments>>,
    /// Payload bytes of the incomplete data frame at the front already unmasked (and checked).
    front_done: usize,
    /// The text message being received, checked as its pieces arrive.
    utf8: Utf8Check,
    /// permessage-deflate's inflater, when it was negotiated.
    inflater: Option<Box<Inflater>>,
}

pub(crate) struct Wire {
    io: IoStream,
    role: Role,
    decoder: Decoder,
    /// Size of the next read allocation: doubles while reads fill the buffer (at most
    /// 64 KiB: 32 bits, so that the compressor's pointer below costs a plain socket nothing).
    read_size: u32,
    /// Small frames gathered for the next write.
    write: BytesMut,
    /// Large payloads and shared frames, written from where they are (no copy), in order
    /// before whatever `write` holds when they were queued; allocated while there are any.
    chunks: Option<Box<Chunks>>,
    /// Bytes written to the stream so far.
    written: u64,
    eof: bool,
    /// The read buffer became the write buffer (see [`Wire::write_buffer`]): the next read
    /// asks whether there is anything to read before it takes a buffer (none is taken only to
    /// be given back).
    read_buffer_lent: bool,
    /// permessage-deflate's compressor, when it was negotiated.
    deflater: Option<Box<Deflater>>,
}

impl Wire {
    /// Wraps a stream whose handshake is done; `already_read` holds bytes that arrived with
    /// the handshake.
    pub(crate) fn new(io: IoStream, role: Role, already_read: &[u8], max_message: usize) -> Self {
        Wire {
            io,
            role,
            decoder: Decoder::new(role == Role::Server, max_message, already_read),
            read_size: MIN_READ as u32,
            write: BytesMut::new(),
            chunks: None,
            written: 0,
            eof: false,
            read_buffer_lent: false,
            deflater: None,
        }
    }

    /// The same wire with permessage-deflate, as negotiated: messages from the settings'
    /// threshold on are compressed, and compressed ones are inflated.
    pub(crate) fn with_compression(
        mut self,
        params: &PerMessageDeflate,
        settings: &Compression,
    ) -> Self {
        let (ours, theirs) = match self.role {
            Role::Server => (
                (
                    params.server_window_bits(),
                    params.server_no_context_takeover,
                ),
                (
                    params.client_window_bits(),
                    params.client_no_context_takeover,
                ),
            ),
            Role::Client => (
                (
                    params.client_window_bits(),
                    params.client_no_context_takeover,
                ),
                (
                    params.server_window_bits(),
                    params.server_no_context_takeover,
                ),
            ),
        };
        self.deflater = Some(Box::new(Deflater::new(
            ours.0,
            !ours.1,
            settings.threshold,
            settings.level,
        )));
        self.decoder.inflate(theirs.0, !theirs.1);
        self
    }

    /// The next thing the peer sent; reads as needed.
    ///
    /// Inlined for its first step: with the read buffer lent to a reply (see
    /// [`Wire::write_buffer`]), nothing is left to decode, and most often nothing has come
    /// since, which the readiness tells without the decoding loop's call (about 50
    /// instructions a message).
    #[inline]
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Incoming, WireError>> {
        if self.read_buffer_lent && !self.eof {
            self.read_buffer_lent = false;
            match self.io.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(WireError::Io(e))),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.poll_decoded(cx)
    }

    /// [`Wire::poll_next`] past its first step: decodes what is buffered, reads as needed.
    #[inline(never)]
    fn poll_decoded(&mut self, cx: &mut Context<'_>) -> Poll<Result<Incoming, WireError>> {
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
                        self.read_size = (self.read_size * 2).min(MAX_READ as u32);
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(WireError::Io(e))),
                Poll::Pending => {
                    self.release_read_buffer();
                    return Poll::Pending;
                }
            }
        }
    }

    /// Whether the connection can leave its stream's reactor (see [`crate::park`]): a plain
    /// stream without compression, nothing buffered either way, no frame begun, no end seen.
    pub(crate) fn may_park(&self) -> bool {
        let decoder = &self.decoder;
        self.parks()
            && decoder.buf.is_empty()
            && decoder.fragments.is_none()
            && decoder.front_done == 0
            && self.write.is_empty()
            && self.chunks.is_none()
            && !self.eof
    }

    /// Whether the stream has input not read yet (or its peer hung up), by asking the system
    /// (one `poll`): a stream just registered with the reactor reads nothing until the
    /// reactor has reported it, so that parking it then would resume it at once, again and
    /// again. Only asked of a connection about to park.
    pub(crate) fn input_waiting(&self) -> bool {
        let IoStream::Plain(tcp) = &self.io else {
            return true;
        };
        let mut fd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&tcp.0),
            events: libc::POLLIN | libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd, an open descriptor (the stream's); timeout 0: no wait.
        let ready = unsafe { libc::poll(&mut fd, 1, 0) };
        ready != 0
    }

    /// Whether the connection is of a kind that parks: a plain stream without compression.
    pub(crate) fn parks(&self) -> bool {
        matches!(self.io, IoStream::Plain(_))
            && self.deflater.is_none()
            && self.decoder.inflater.is_none()
    }

    /// The connection's stream out of its reactor, with what makes the wire again (see
    /// [`ParkedWire::resume`]); an error when it may not park (see [`Wire::may_park`]), or
    /// when the reactor would not let the stream go (it is then gone).
    pub(crate) fn park(self) -> io::Result<ParkedWire> {
        if !self.may_park() {
            return Err(io::Error::other("the connection cannot park now"));
        }
        let IoStream::Plain(tcp) = self.io else {
            return Err(io::Error::other("only a plain connection parks"));
        };
        Ok(ParkedWire {
            tcp: tcp.0.into_std()?,
            role: self.role,
            max_message: self.decoder.max_message,
        })
    }

    /// Nothing more to read for now: unless a frame is half-received, the connection holds no
    /// read buffer while it waits.
    fn release_read_buffer(&mut self) {
        let buf = &mut self.decoder.buf;
        if buf.is_empty() && buf.capacity() > 0 {
            buffers::give_back(std::mem::take(buf));
            self.read_size = MIN_READ as u32;
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
        let mut wanted = self.read_size as usize;
        if let Some(total) = decoder.front_len() {
            if total > len + wanted {
                wanted = (total - len).min(len.max(MAX_READ));
            }
        }
        let buf = &mut decoder.buf;
        if buf.capacity() == 0 {
            *buf = buffers::take(wanted);
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
    /// Inlined (a server asks it per message): the client's generator is out of line.
    #[inline]
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Server => None,
            Role::Client => Some(client_mask()),
        }
    }

    /// The buffer that gathers small frames. When there is none: the read buffer, when all it
    /// held was decoded (the reply to what was just read goes out in the buffer it came in: a
    /// buffer taken and given back per message instead of two), else a spare one of the
    /// thread.
    fn write_buffer(&mut self) -> &mut BytesMut {
        if self.write.capacity() == 0 {
            let read = &mut self.decoder.buf;
            if read.is_empty() && read.capacity() >= MIN_READ {
                // Swapped: the empty one is not dropped (a call).
                std::mem::swap(&mut self.write, read);
                self.read_buffer_lent = true;
            } else {
                self.write = buffers::take(MIN_READ);
            }
        }
        &mut self.write
    }

    /// Appends a data message as one frame, compressed when permessage-deflate says so (then
    /// returns the compressed payload's length, for the figures). Server frames keep large
    /// payloads where they are; client frames are masked, so they are copied.
    pub(crate) fn buffer_message(&mut self, message: &Message) -> Option<usize> {
        let code = frame::message_opcode(message);
        let payload = message.as_bytes();
        let compressed = self
            .deflater
            .as_mut()
            .and_then(|deflater| deflater.compress(payload));
        if let Some(compressed) = compressed {
            let len = compressed.len();
            match self.next_mask() {
                None if len >= ZERO_COPY_MIN => {
                    frame::put_header(self.write_buffer(), code | RSV1, len, None);
                    self.push_chunk(Bytes::from(compressed));
                }
                mask => frame::put_frame(self.write_buffer(), code | RSV1, &compressed, mask),
            }
            return Some(len);
        }
        match self.next_mask() {
            None if payload.len() >= ZERO_COPY_MIN => {
                frame::put_header(self.write_buffer(), code, payload.len(), None);
                self.push_chunk(message.to_bytes());
            }
            mask => frame::put_frame(self.write_buffer(), code, payload, mask),
        }
        None
    }

    /// Appends a frame encoded once for many server-side sockets (unmasked).
    pub(crate) fn buffer_encoded(&mut self, frame: Bytes) {
        debug_assert_eq!(self.role, Role::Server);
        if frame.len() >= ZERO_COPY_MIN {
            self.push_chunk(frame);
        } else {
            self.write_buffer().extend_from_slice(&frame);
        }
    }

    /// Queues `chunk` after everything buffered so far.
    fn push_chunk(&mut self, chunk: Bytes) {
        let chunks = self.chunks.get_or_insert_with(Box::default);
        if !self.write.is_empty() {
            chunks.push(self.write.split().freeze());
        }
        chunks.push(chunk);
    }

    /// Appends a ping, pong or close frame.
    pub(crate) fn buffer_control(&mut self, code: u8, payload: &[u8]) {
        let mask = self.next_mask();
        frame::put_frame(self.write_buffer(), code, payload, mask);
    }

    /// Whether frames from this end must be pre-encoded per socket (masked client frames).
    pub(crate) fn role(&self) -> Role {
        self.role
    }

    /// Bytes waiting to be written.
    pub(crate) fn buffered(&self) -> usize {
        self.write.len() + self.chunks.as_ref().map_or(0, |chunks| chunks.bytes)
    }

    /// Bytes written to the stream so far; with [`Wire::buffered`], tells whether something
    /// buffered earlier has left.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Writes everything buffered and flushes the stream (TLS included).
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(chunks) = &mut self.chunks {
            if !self.write.is_empty() {
                chunks.push(self.write.split().freeze());
            }
            while !chunks.queue.is_empty() {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let count = chunks.queue.len().min(MAX_SLICES);
                for (slice, chunk) in slices.iter_mut().zip(&chunks.queue) {
                    *slice = IoSlice::new(chunk);
                }
                let n = match Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                };
                self.written += n as u64;
                chunks.consume(n);
            }
        }
        while !self.write.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.write) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.written += n as u64;
                    if n == self.write.len() {
                        // All of it: emptied where it starts, its room kept whole for reuse.
                        self.write.clear();
                    } else {
                        self.write.advance(n);
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Written out: give the allocations back.
        if self.write.capacity() > 0 {
            buffers::give_back(std::mem::take(&mut self.write));
        }
        // Dropped only when there are some: dropping a `None` here is a call per message.
        if self.chunks.is_some() {
            self.chunks = None;
        }
        // A plain stream has nothing to flush (tokio's is a no-op): not asked, two calls less.
        if matches!(self.io, IoStream::Plain(_)) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Shuts the write side down (TLS close_notify, then TCP FIN).
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A parked connection's stream, out of any reactor, and what its wire is made of.
pub(crate) struct ParkedWire {
    pub(crate) tcp: std::net::TcpStream,
    role: Role,
    max_message: usize,
}

impl ParkedWire {
    /// The wire again, its stream registered with the calling thread's reactor. A parked
    /// wire held nothing but the stream, so a fresh one is the same wire.
    pub(crate) fn resume(self) -> io::Result<Wire> {
        let tcp = tokio::net::TcpStream::from_std(self.tcp)?;
        Ok(Wire::new(
            IoStream::Plain(crate::tcp::Tcp(tcp)),
            self.role,
            &[],
            self.max_message,
        ))
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
            inflater: None,
        }
    }

    /// Inflates compressed messages from now on (permessage-deflate was negotiated): the peer
    /// compresses with a window of `window_bits`, keeping its context when `takeover`.
    pub(crate) fn inflate(&mut self, window_bits: u8, takeover: bool) {
        self.inflater = Some(Box::new(Inflater::new(window_bits, takeover)));
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
        match frame::parse_header(&self.buf, self.masked, usize::MAX, true) {
            Ok(Some(header)) => Some(header.header_len.saturating_add(header.payload_len)),
            _ => None,
        }
    }

    /// Takes the next complete message, control frame or close from the buffer. The part of a
    /// data frame that has arrived is unmasked and, for text, checked as it comes, so invalid
    /// text fails before the rest of its frame or message is waited for; a compressed frame is
    /// inflated (and its text checked) once it is whole.
    #[inline]
    pub(crate) fn decode(&mut self) -> Result<Option<Incoming>, Violation> {
        let deflate = self.inflater.is_some();
        let Some(header) = frame::parse_header(&self.buf, self.masked, self.max_message, deflate)?
        else {
            return Ok(None);
        };
        // The common case at its shortest: a whole message of one small frame, nothing begun
        // before it, unmasked as it is copied into the message (the buffer is not unmasked in
        // place); anything else takes the general path, out of line (a smaller function to
        // enter for the common case).
        if header.fin
            && header.payload_len <= SMALL
            && !header.compressed
            && matches!(header.opcode, opcode::TEXT | opcode::BINARY)
            && self.fragments.is_none()
            && self.front_done == 0
        {
            let total = header.header_len + header.payload_len;
            if self.buf.len() >= total {
                let message = Message::small_unmasked(
                    header.opcode == opcode::TEXT,
                    &self.buf[header.header_len..total],
                    header.mask,
                )
                .map_err(|_| Violation::InvalidUtf8)?;
                self.consume(total);
                return Ok(Some(Incoming::Message {
                    message,
                    retained: header.payload_len,
                    compressed: None,
                }));
            }
        }
        self.decode_frames()
    }

    /// [`Decoder::decode`]'s general path: frames as they come, in pieces, fragmented,
    /// compressed, control frames.
    #[inline(never)]
    fn decode_frames(&mut self) -> Result<Option<Incoming>, Violation> {
        loop {
            let deflate = self.inflater.is_some();
            let Some(header) =
                frame::parse_header(&self.buf, self.masked, self.max_message, deflate)?
            else {
                return Ok(None);
            };
            let data = header.opcode <= opcode::BINARY;
            let (text, compressed) = match (header.opcode, &self.fragments) {
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
                    // A compressed message's size is known as it inflates.
                    if !fragments.compressed
                        && fragments.data.len() + header.payload_len > self.max_message
                    {
                        return Err(Violation::TooBig);
                    }
                    (fragments.text, fragments.compressed)
                }
                (code, _) => (code == opcode::TEXT, header.compressed),
            };
            let total = header.header_len + header.payload_len;
            let arrived = self.buf.len().min(total) - header.header_len;
            // A final text frame that arrived whole, alone, is checked once it is a message;
            // anything else is checked piece by piece (compressed text as it inflates).
            let piecewise = text
                && !compressed
                && (!header.fin
                    || self.fragments.is_some()
                    || arrived < header.payload_len
                    || self.front_done > 0);
            if data && arrived > self.front_done {
                let part =
                    &mut self.buf[header.header_len + self.front_done..header.header_len + arrived];
                if let Some(mask) = header.mask {
                    mask::apply_mask(part, mask, self.front_done);
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
                    mask::apply_mask(&mut self.buf[header.header_len..total], mask, 0);
                }
                let payload = Bytes::copy_from_slice(&self.buf[header.header_len..total]);
                self.consume(total);
                return match header.opcode {
                    opcode::PING => Ok(Some(Incoming::Ping(payload))),
                    opcode::PONG => Ok(Some(Incoming::Pong)),
                    _ => frame::parse_close(&payload).map(|close| Some(Incoming::Close(close))),
                };
            }
            if compressed {
                if let Some(incoming) =
                    self.inflate_front(text, header.fin, header.header_len, total)?
                {
                    return Ok(Some(incoming));
                }
                continue;
            }
            if piecewise && header.fin {
                self.utf8.finish().map_err(|_| Violation::InvalidUtf8)?;
            }
            match (self.fragments.take(), header.fin) {
                (None, true) => {
                    let (message, retained) = self.take_message(text, header.header_len, total)?;
                    return Ok(Some(Incoming::Message {
                        message,
                        retained,
                        compressed: None,
                    }));
                }
                (fragments, fin) => {
                    let mut fragments = fragments.unwrap_or_else(|| {
                        Box::new(Fragments {
                            text,
                            compressed: false,
                            data: Vec::new(),
                            wire_len: 0,
                        })
                    });
                    fragments
                        .data
                        .extend_from_slice(&self.buf[header.header_len..total]);
                    self.consume(total);
                    if fin {
                        return Ok(Some(whole(*fragments)?));
                    }
                    self.fragments = Some(fragments);
                }
            }
        }
    }

    /// Drops the first `n` bytes, decoded. All of them: the buffer is emptied where it starts,
    /// its room kept whole (it goes back to the thread's spares as it is).
    fn consume(&mut self, n: usize) {
        if n == self.buf.len() {
            self.buf.clear();
        } else {
            self.buf.advance(n);
        }
    }

    /// Inflates the complete compressed frame at the front onto its message (a text one checked
    /// as it inflates); the message once this was its last frame.
    fn inflate_front(
        &mut self,
        text: bool,
        fin: bool,
        header_len: usize,
        total: usize,
    ) -> Result<Option<Incoming>, Violation> {
        let first = self.fragments.is_none();
        let mut fragments = self.fragments.take().unwrap_or_else(|| {
            Box::new(Fragments {
                text,
                compressed: true,
                data: Vec::new(),
                wire_len: 0,
            })
        });
        let inflater = self.inflater.as_mut().ok_or(Violation::Protocol(
            "reserved bits set without an extension",
        ))?;
        let before = fragments.data.len();
        inflater.inflate(
            &self.buf[header_len..total],
            fin,
            &mut fragments.data,
            self.max_message,
        )?;
        fragments.wire_len += total - header_len;
        self.consume(total);
        // A message of one frame is checked whole, as it becomes a message.
        if text && !(first && fin) {
            self.utf8
                .feed(&fragments.data[before..])
                .map_err(|_| Violation::InvalidUtf8)?;
            if fin {
                self.utf8.finish().map_err(|_| Violation::InvalidUtf8)?;
            }
        }
        if fin {
            return whole(*fragments).map(Some);
        }
        self.fragments = Some(fragments);
        Ok(None)
    }

    /// The message of the complete frame at the front, and the memory it keeps. Its payload
    /// stays where it is (no copy) only when it fills most of its read allocation, which it
    /// then keeps alive; a smaller one is copied out (a small one into the message itself), so
    /// that no payload pins a buffer much larger than itself (an application may keep messages
    /// long after).
    fn take_message(
        &mut self,
        text: bool,
        header_len: usize,
        total: usize,
    ) -> Result<(Message, usize), Violation> {
        let len = total - header_len;
        if len >= ZERO_COPY_MIN && 2 * len > self.alloc {
            let mut frame = self.buf.split_to(total);
            frame.advance(header_len);
            Ok((message(text, frame.freeze())?, self.alloc))
        } else {
            let message = Message::copied(text, &self.buf[header_len..total])
                .map_err(|_| Violation::InvalidUtf8)?;
            self.consume(total);
            Ok((message, len))
        }
    }
}

/// Four bytes of a client frame's mask (see [`Wire::next_mask`]).
#[inline(never)]
fn client_mask() -> [u8; 4] {
    rand::rng().next_u32().to_ne_bytes()
}

/// Buffers of this thread that connections gave back while they wait: reading and writing
/// sockets borrow one instead of allocating, and waiting ones hold none.
mod buffers {
    use bytes::BytesMut;
    use std::cell::RefCell;

    /// Most buffers kept per thread, and the largest kept.
    const KEPT: usize = 32;
    const LARGEST_KEPT: usize = 16 * 1024;

    thread_local! {
        static KEPT_BUFFERS: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
    }

    /// An empty buffer with room for at least `wanted` bytes: a kept one when one is large
    /// enough, else a new one of exactly that size. Always inlined (into the read's and the
    /// write's buffer, about 40 instructions a call otherwise).
    #[inline(always)]
    pub(super) fn take(wanted: usize) -> BytesMut {
        let kept = KEPT_BUFFERS.try_with(|kept| {
            let mut kept = kept.borrow_mut();
            match kept.last() {
                Some(buf) if buf.capacity() >= wanted => kept.pop(),
                _ => None,
            }
        });
        kept.ok()
            .flatten()
            .unwrap_or_else(|| BytesMut::with_capacity(wanted))
    }

    /// Keeps an emptied buffer for the next reader, unless payloads still share it or the
    /// thread keeps enough already.
    #[inline]
    pub(super) fn give_back(mut buf: BytesMut) {
        if buf.capacity() > LARGEST_KEPT || !buf.try_reclaim(super::MIN_READ) {
            return;
        }
        let _ = KEPT_BUFFERS.try_with(|kept| {
            let mut kept = kept.borrow_mut();
            if kept.len() < KEPT {
                kept.push(buf);
            }
        });
    }
}

/// The message a fragmented (or compressed) one put together makes, and the memory it keeps.
fn whole(fragments: Fragments) -> Result<Incoming, Violation> {
    let retained = fragments.data.capacity();
    let compressed = fragments.compressed.then_some(fragments.wire_len);
    message(fragments.text, Bytes::from(fragments.data)).map(|message| Incoming::Message {
        message,
        retained,
        compressed,
    })
}

/// A complete received message, its text checked for UTF-8.
fn message(text: bool, payload: Bytes) -> Result<Message, Violation> {
    if text {
        Message::text_from_bytes(payload).map_err(|_| Violation::InvalidUtf8)
    } else {
        Ok(Message::binary(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's decoder (unmasked frames) with permessage-deflate, context kept.
    fn deflating(max_message: usize) -> Decoder {
        let mut decoder = Decoder::new(false, max_message, &[]);
        decoder.inflate(15, true);
        decoder
    }

    /// Everything `bytes` decode to, the violation last if there is one.
    fn decode_all(decoder: &mut Decoder, bytes: &[u8]) -> Vec<Result<String, Violation>> {
        decoder.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            match decoder.decode() {
                Ok(Some(Incoming::Message { message, .. })) => {
                    out.push(Ok(match message.as_text() {
                        Some(text) => text.to_owned(),
                        None => format!("binary {:?}", message.as_bytes()),
                    }))
                }
                Ok(Some(other)) => out.push(Ok(format!("{other:?}"))),
                Ok(None) => return out,
                Err(violation) => {
                    out.push(Err(violation));
                    return out;
                }
            }
        }
    }

    fn texts(items: &[&str]) -> Vec<Result<String, Violation>> {
        items.iter().map(|t| Ok((*t).to_owned())).collect()
    }

    /// The frames of RFC 7692 section 7.2.3, byte for byte.
    #[test]
    fn the_rfc_frames_decode() {
        let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let fragmented = [
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ];
        let second = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
        let stored = [
            0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        let bfinal = [0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        let two_blocks = [
            0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07,
            0x00,
        ];
        let empty = [0xc1, 0x01, 0x00];
        let plain = [0x81, 0x05, b'H', b'e', b'l', b'l', b'o'];
        let mut decoder = deflating(1000);
        let stream = [
            &hello[..],
            &fragmented,
            &second,
            &stored,
            &two_blocks,
            &empty,
            &plain,
            &bfinal,
        ]
        .concat();
        assert_eq!(
            decode_all(&mut decoder, &stream),
            texts(&["Hello", "Hello", "Hello", "Hello", "Hello", "", "Hello", "Hello"])
        );
        // The same bytes one at a time.
        let mut decoder = deflating(1000);
        let mut got = Vec::new();
        for byte in &stream {
            got.extend(decode_all(&mut decoder, &[*byte]));
        }
        assert_eq!(
            got,
            texts(&["Hello", "Hello", "Hello", "Hello", "Hello", "", "Hello", "Hello"])
        );
    }

    /// Masked messages around the size held in the message itself (unmasked as they are
    /// copied there) decode to what was sent, whole or a byte at a time, and invalid small
    /// text is a violation.
    #[test]
    fn small_masked_messages_decode() {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..=SMALL + 2 {
            let text: String = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let binary: Vec<u8> = (0..len).map(|b| b as u8).collect();
            let mut stream = BytesMut::new();
            frame::put_frame(&mut stream, opcode::TEXT, text.as_bytes(), Some(mask));
            frame::put_frame(&mut stream, opcode::BINARY, &binary, Some(mask));
            let expected = vec![Ok(text.clone()), Ok(format!("binary {binary:?}"))];
            let mut decoder = Decoder::new(true, 1000, &[]);
            assert_eq!(decode_all(&mut decoder, &stream), expected, "{len}");
            let mut decoder = Decoder::new(true, 1000, &[]);
            let mut got = Vec::new();
            for byte in stream.iter() {
                got.extend(decode_all(&mut decoder, &[*byte]));
            }
            assert_eq!(got, expected, "{len} byte by byte");
        }
        let mut bad = BytesMut::new();
        frame::put_frame(&mut bad, opcode::TEXT, b"ok \xc3(", Some(mask));
        let mut decoder = Decoder::new(true, 1000, &[]);
        assert!(matches!(
            decode_all(&mut decoder, &bad)[..],
            [Err(Violation::InvalidUtf8)]
        ));
    }

    #[test]
    fn control_frames_may_come_between_compressed_fragments() {
        let frames = [
            &[0x41, 0x03, 0xf2, 0x48, 0xcd][..],
            &[0x89, 0x01, b'p'],
            &[0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00],
        ]
        .concat();
        let got = decode_all(&mut deflating(1000), &frames);
        assert_eq!(got, [Ok("Ping(b\"p\")".to_owned()), Ok("Hello".to_owned())]);
    }

    #[test]
    fn rsv1_is_only_for_the_first_frame_of_a_message() {
        let protocol = |why| vec![Err(Violation::Protocol(why))];
        let rsv1_on_continuation = [
            0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00,
        ];
        assert_eq!(
            decode_all(&mut deflating(1000), &rsv1_on_continuation),
            protocol("RSV1 set on a continuation frame")
        );
        assert_eq!(
            decode_all(&mut deflating(1000), &[0xc9, 0x00]),
            protocol("RSV1 set on a control frame")
        );
        // Not negotiated: a compressed message is a protocol error (1002).
        let hello = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let got = decode_all(&mut Decoder::new(false, 1000, &[]), &hello);
        assert_eq!(got, protocol("reserved bits set without an extension"));
        assert_eq!(Violation::Protocol("").close_code(), 1002);
    }

    #[test]
    fn compressed_text_is_checked_once_inflated() {
        let mut deflater = Deflater::new(15, false, 0, 2);
        let bad = deflater.compress(b"ok \xff not utf-8").unwrap();
        let mut frame = BytesMut::new();
        frame::put_frame(&mut frame, opcode::TEXT | RSV1, &bad, None);
        assert_eq!(
            decode_all(&mut deflating(1000), &frame),
            [Err(Violation::InvalidUtf8)]
        );
        // Fragmented, it fails at the fragment that shows it, before the message ends.
        let mut first = BytesMut::new();
        frame::put_frame(&mut first, opcode::TEXT | RSV1, &bad, None);
        first[0] &= 0x7f;
        assert_eq!(
            decode_all(&mut deflating(1000), &first),
            [Err(Violation::InvalidUtf8)]
        );
        // Binary is not checked.
        let mut binary = BytesMut::new();
        frame::put_frame(&mut binary, opcode::BINARY | RSV1, &bad, None);
        assert_eq!(decode_all(&mut deflating(1000), &binary).len(), 1);
    }

    /// The limit applies to the inflated size, also across fragments.
    #[test]
    fn the_message_limit_applies_once_inflated() {
        let zeros = vec![0u8; 64 * 1024];
        let mut deflater = Deflater::new(15, true, 0, 9);
        let compressed = deflater.compress(&zeros).unwrap();
        assert!(compressed.len() < 1024, "{}", compressed.len());
        let mut frame = BytesMut::new();
        frame::put_frame(&mut frame, opcode::BINARY | RSV1, &compressed, None);
        assert_eq!(
            decode_all(&mut deflating(64 * 1024 - 1), &frame),
            [Err(Violation::TooBig)]
        );
        assert_eq!(decode_all(&mut deflating(64 * 1024), &frame).len(), 1);
        // Fragments each within the limit, the message past it.
        let more = Deflater::new(15, false, 0, 9)
            .compress(&[0u8; 80 * 1024])
            .unwrap();
        let (head, tail) = more.split_at(more.len() / 2);
        let mut first = BytesMut::new();
        frame::put_frame(&mut first, opcode::BINARY | RSV1, head, None);
        first[0] &= 0x7f;
        let mut decoder = deflating(64 * 1024);
        assert!(decode_all(&mut decoder, &first).is_empty());
        let mut last = BytesMut::new();
        frame::put_frame(&mut last, opcode::CONTINUATION, tail, None);
        assert_eq!(decode_all(&mut decoder, &last), [Err(Violation::TooBig)]);
    }
}
