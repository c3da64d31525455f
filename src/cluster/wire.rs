//! What nodes say to each other on the backplane: a versioned binary envelope, bounded in size,
//! that decoding checks field by field (a foreign or malformed message is an error, never a
//! panic).
//!
//! Layout: the magic `WSCB`, the version byte, the origin node's name, a sequence number, a
//! flag byte (bit 0: the origin waits for replies), then the body: a tag byte and its fields.
//! Integers are little-endian; strings and payloads are a `u32` length and the bytes; lists are
//! a `u32` count and the items.

use crate::error::{Error, ErrorKind, Result};
use crate::path::PathPattern;
use crate::protocol::message::Message;
use crate::registry::SocketFilter;
use crate::socket::{SocketId, SocketType};
use bytes::Bytes;

const MAGIC: &[u8; 4] = b"WSCB";
/// The version of the format; a node ignores (and logs) any other.
pub(crate) const VERSION: u8 = 2;
/// Bytes an envelope may add to the largest message: names, filter, failures.
pub(crate) const ENVELOPE_ALLOWANCE: usize = 256 * 1024;
/// Most failures one node reports back for one broadcast; the rest are only counted.
pub(crate) const MAX_REPORTED_FAILURES: usize = 100;
/// Most sockets one node lists in one reply.
pub(crate) const MAX_LISTED_SOCKETS: usize = 10_000;

/// One message between nodes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Envelope {
    /// The node that sent it.
    pub origin: String,
    /// The origin's sequence number; a reply carries the request's.
    pub seq: u64,
    /// The origin waits for replies.
    pub wants_reply: bool,
    pub body: Body,
}

/// A request, or a reply to one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// Deliver to the matching local sockets.
    Broadcast {
        filter: SocketFilter,
        message: Message,
    },
    /// Close the matching local sockets.
    BulkClose {
        filter: SocketFilter,
        code: u16,
        reason: String,
    },
    /// Count the matching local sockets.
    Count { filter: SocketFilter },
    /// List the matching local sockets.
    List { filter: SocketFilter },
    /// An operation on one socket, sent to the node that holds it.
    Direct { socket_id: String, op: DirectOp },
    /// The answer to the request with the envelope's `seq`.
    Reply(Reply),
}

/// An operation on one socket by its ID.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DirectOp {
    Send(Message),
    Close { code: u16, reason: String },
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
    Lookup,
}

/// A node's answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// Broadcast, bulk close or count: how many sockets, and (broadcast) which failed.
    Counts {
        count: u64,
        dropped_oldest: u64,
        failures: Vec<WireFailure>,
        /// Failures left out of `failures` (past [`MAX_REPORTED_FAILURES`]).
        failures_omitted: u64,
    },
    /// This node already answered the same request (it came on another group's channel).
    Duplicate,
    /// A send's outcome: the `Delivery` as a code, and for drop-oldest how many were dropped.
    Delivered { code: u8, dropped: u64 },
    /// Close, subscribe or unsubscribe done.
    Done,
    /// The sockets a list or a lookup found (a lookup finds one).
    Sockets {
        sockets: Vec<WireSocket>,
        truncated: bool,
    },
    /// The operation failed on that node.
    Failed { kind: u8, message: String },
}

/// A socket a remote broadcast did not reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireFailure {
    pub socket_id: String,
    /// 1 dropped, 2 closed, 3 failed (with `kind` and `message`).
    pub what: u8,
    pub kind: u8,
    pub message: String,
}

/// A socket as another node describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireSocket {
    pub id: String,
    pub inbound: bool,
    pub path: String,
    pub groups: Vec<String>,
}

const BROADCAST: u8 = 1;
const BULK_CLOSE: u8 = 2;
const COUNT: u8 = 3;
const LIST: u8 = 4;
const DIRECT: u8 = 5;
const REPLY: u8 = 6;

const OP_SEND: u8 = 1;
const OP_CLOSE: u8 = 2;
const OP_SUBSCRIBE: u8 = 3;
const OP_UNSUBSCRIBE: u8 = 4;
const OP_LOOKUP: u8 = 5;

const R_COUNTS: u8 = 1;
const R_DUPLICATE: u8 = 2;
const R_DELIVERED: u8 = 3;
const R_DONE: u8 = 4;
const R_SOCKETS: u8 = 5;
const R_FAILED: u8 = 6;

impl Envelope {
    /// The envelope as bytes; `LimitExceeded` when they would pass `max_len`, so that nothing
    /// larger than a node accepts is ever published.
    pub(crate) fn encode(&self, max_len: usize) -> Result<Vec<u8>> {
        let mut w = Writer(Vec::with_capacity(64 + self.payload_len()));
        w.0.extend_from_slice(MAGIC);
        w.u8(VERSION);
        w.str(&self.origin);
        w.u64(self.seq);
        w.u8(u8::from(self.wants_reply));
        match &self.body {
            Body::Broadcast { filter, message } => {
                w.u8(BROADCAST);
                w.filter(filter);
                w.message(message);
            }
            Body::BulkClose {
                filter,
                code,
                reason,
            } => {
                w.u8(BULK_CLOSE);
                w.filter(filter);
                w.u16(*code);
                w.str(reason);
            }
            Body::Count { filter } => {
                w.u8(COUNT);
                w.filter(filter);
            }
            Body::List { filter } => {
                w.u8(LIST);
                w.filter(filter);
            }
            Body::Direct { socket_id, op } => {
                w.u8(DIRECT);
                w.str(socket_id);
                match op {
                    DirectOp::Send(message) => {
                        w.u8(OP_SEND);
                        w.message(message);
                    }
                    DirectOp::Close { code, reason } => {
                        w.u8(OP_CLOSE);
                        w.u16(*code);
                        w.str(reason);
                    }
                    DirectOp::Subscribe(groups) => {
                        w.u8(OP_SUBSCRIBE);
                        w.strs(groups);
                    }
                    DirectOp::Unsubscribe(groups) => {
                        w.u8(OP_UNSUBSCRIBE);
                        w.strs(groups);
                    }
                    DirectOp::Lookup => w.u8(OP_LOOKUP),
                }
            }
            Body::Reply(reply) => {
                w.u8(REPLY);
                w.reply(reply);
            }
        }
        if w.0.len() > max_len {
            return Err(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "the backplane message would be {} bytes; nodes accept at most {max_len}",
                    w.0.len()
                ),
            ));
        }
        Ok(w.0)
    }

    fn payload_len(&self) -> usize {
        match &self.body {
            Body::Broadcast { message, .. }
            | Body::Direct {
                op: DirectOp::Send(message),
                ..
            } => message.len(),
            _ => 0,
        }
    }

    /// Reads an envelope; an error says what is wrong with the bytes.
    pub(crate) fn decode(bytes: &Bytes, max_len: usize) -> std::result::Result<Self, String> {
        if bytes.len() > max_len {
            return Err(format!("{} bytes, more than {max_len}", bytes.len()));
        }
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err("not a wsconnector backplane message".into());
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(format!(
                "format version {version}; this node speaks {VERSION}"
            ));
        }
        let origin = r.string()?;
        let seq = r.u64()?;
        let wants_reply = r.u8()? & 1 == 1;
        let body = match r.u8()? {
            BROADCAST => Body::Broadcast {
                filter: r.filter()?,
                message: r.message()?,
            },
            BULK_CLOSE => Body::BulkClose {
                filter: r.filter()?,
                code: r.u16()?,
                reason: r.string()?,
            },
            COUNT => Body::Count {
                filter: r.filter()?,
            },
            LIST => Body::List {
                filter: r.filter()?,
            },
            DIRECT => {
                let socket_id = r.string()?;
                let op = match r.u8()? {
                    OP_SEND => DirectOp::Send(r.message()?),
                    OP_CLOSE => DirectOp::Close {
                        code: r.u16()?,
                        reason: r.string()?,
                    },
                    OP_SUBSCRIBE => DirectOp::Subscribe(r.strings()?),
                    OP_UNSUBSCRIBE => DirectOp::Unsubscribe(r.strings()?),
                    OP_LOOKUP => DirectOp::Lookup,
                    other => return Err(format!("unknown operation {other}")),
                };
                Body::Direct { socket_id, op }
            }
            REPLY => Body::Reply(r.reply()?),
            other => return Err(format!("unknown message type {other}")),
        };
        if r.at != bytes.len() {
            return Err(format!("{} bytes left over", bytes.len() - r.at));
        }
        Ok(Envelope {
            origin,
            seq,
            wants_reply,
            body,
        })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: usize) {
        // Every length written here is bounded far below 4 GiB by the callers' limits.
        self.0
            .extend_from_slice(&u32::try_from(v).unwrap_or(u32::MAX).to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len());
        self.0.extend_from_slice(v);
    }
    fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    fn strs<S: AsRef<str>>(&mut self, v: &[S]) {
        self.u32(v.len());
        for s in v {
            self.str(s.as_ref());
        }
    }
    fn message(&mut self, message: &Message) {
        self.u8(u8::from(message.is_text()));
        self.bytes(message.as_bytes());
    }
    fn filter(&mut self, filter: &SocketFilter) {
        self.str(filter.path.as_ref().map_or("", PathPattern::as_str));
        self.u8(match filter.socket_type {
            None => 0,
            Some(SocketType::Inbound) => 1,
            Some(SocketType::Outbound) => 2,
        });
        self.strs(&filter.groups);
        self.strs(&filter.except_socket_ids);
        self.strs(&filter.all_groups);
        self.strs(&filter.except_groups);
    }
    fn reply(&mut self, reply: &Reply) {
        match reply {
            Reply::Counts {
                count,
                dropped_oldest,
                failures,
                failures_omitted,
            } => {
                self.u8(R_COUNTS);
                self.u64(*count);
                self.u64(*dropped_oldest);
                self.u32(failures.len());
                for f in failures {
                    self.str(&f.socket_id);
                    self.u8(f.what);
                    self.u8(f.kind);
                    self.str(&f.message);
                }
                self.u64(*failures_omitted);
            }
            Reply::Duplicate => self.u8(R_DUPLICATE),
            Reply::Delivered { code, dropped } => {
                self.u8(R_DELIVERED);
                self.u8(*code);
                self.u64(*dropped);
            }
            Reply::Done => self.u8(R_DONE),
            Reply::Sockets { sockets, truncated } => {
                self.u8(R_SOCKETS);
                self.u32(sockets.len());
                for s in sockets {
                    self.str(&s.id);
                    self.u8(u8::from(s.inbound));
                    self.str(&s.path);
                    self.strs(&s.groups);
                }
                self.u8(u8::from(*truncated));
            }
            Reply::Failed { kind, message } => {
                self.u8(R_FAILED);
                self.u8(*kind);
                self.str(message);
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a Bytes,
    at: usize,
}

type Read<T> = std::result::Result<T, String>;

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Read<&[u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("cut short at byte {}", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Read<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Read<u8> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Read<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn len(&mut self) -> Read<usize> {
        let n = u32::from_le_bytes(self.array()?) as usize;
        // Every item takes at least one byte: a count past what is left is a lie.
        if n > self.bytes.len() - self.at {
            return Err(format!("a length of {n} past the end"));
        }
        Ok(n)
    }
    fn u64(&mut self) -> Read<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn payload(&mut self) -> Read<Bytes> {
        let n = self.len()?;
        let start = self.at;
        self.take(n)?;
        Ok(self.bytes.slice(start..start + n))
    }
    fn string(&mut self) -> Read<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a string is not UTF-8".into())
    }
    fn strings(&mut self) -> Read<Vec<String>> {
        let n = self.len()?;
        (0..n).map(|_| self.string()).collect()
    }
    fn message(&mut self) -> Read<Message> {
        let text = self.u8()? == 1;
        let payload = self.payload()?;
        if text {
            Message::text_from_bytes(payload).map_err(|e| e.message().to_owned())
        } else {
            Ok(Message::binary(payload))
        }
    }
    fn filter(&mut self) -> Read<SocketFilter> {
        let path = self.string()?;
        let path = if path.is_empty() {
            None
        } else {
            Some(PathPattern::new(&path).map_err(|e| e.message().to_owned())?)
        };
        let socket_type = match self.u8()? {
            0 => None,
            1 => Some(SocketType::Inbound),
            2 => Some(SocketType::Outbound),
            other => return Err(format!("unknown socket type {other}")),
        };
        let groups = self.strings()?;
        let except_socket_ids = self
            .strings()?
            .iter()
            .map(|id| SocketId::new(id).map_err(|e| e.message().to_owned()))
            .collect::<Read<Vec<_>>>()?;
        Ok(SocketFilter {
            path,
            socket_type,
            groups,
            except_socket_ids,
            all_groups: self.strings()?,
            except_groups: self.strings()?,
        })
    }
    fn reply(&mut self) -> Read<Reply> {
        Ok(match self.u8()? {
            R_COUNTS => {
                let count = self.u64()?;
                let dropped_oldest = self.u64()?;
                let n = self.len()?;
                let failures = (0..n)
                    .map(|_| {
                        Ok(WireFailure {
                            socket_id: self.string()?,
                            what: self.u8()?,
                            kind: self.u8()?,
                            message: self.string()?,
                        })
                    })
                    .collect::<Read<_>>()?;
                Reply::Counts {
                    count,
                    dropped_oldest,
                    failures,
                    failures_omitted: self.u64()?,
                }
            }
            R_DUPLICATE => Reply::Duplicate,
            R_DELIVERED => Reply::Delivered {
                code: self.u8()?,
                dropped: self.u64()?,
            },
            R_DONE => Reply::Done,
            R_SOCKETS => {
                let n = self.len()?;
                let sockets = (0..n)
                    .map(|_| {
                        Ok(WireSocket {
                            id: self.string()?,
                            inbound: self.u8()? == 1,
                            path: self.string()?,
                            groups: self.strings()?,
                        })
                    })
                    .collect::<Read<_>>()?;
                Reply::Sockets {
                    sockets,
                    truncated: self.u8()? == 1,
                }
            }
            R_FAILED => Reply::Failed {
                kind: self.u8()?,
                message: self.string()?,
            },
            other => return Err(format!("unknown reply type {other}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelopes() -> Vec<Envelope> {
        let filter = SocketFilter::all()
            .with_path("/chat/*")
            .unwrap()
            .with_type(SocketType::Inbound)
            .with_groups(["a", "b"])
            .with_all_groups(["c"])
            .except_socket_ids([SocketId::new("me").unwrap()])
            .except_groups(["muted"]);
        let bodies = vec![
            Body::Broadcast {
                filter: filter.clone(),
                message: Message::text("héllo"),
            },
            Body::Broadcast {
                filter: SocketFilter::all(),
                message: Message::binary(vec![0u8, 1, 2]),
            },
            Body::BulkClose {
                filter: filter.clone(),
                code: 4000,
                reason: "bye".into(),
            },
            Body::Count {
                filter: filter.clone(),
            },
            Body::List { filter },
            Body::Direct {
                socket_id: "x".into(),
                op: DirectOp::Send(Message::text("t")),
            },
            Body::Direct {
                socket_id: "x".into(),
                op: DirectOp::Close {
                    code: 1000,
                    reason: String::new(),
                },
            },
            Body::Direct {
                socket_id: "x".into(),
                op: DirectOp::Subscribe(vec!["g".into()]),
            },
            Body::Direct {
                socket_id: "x".into(),
                op: DirectOp::Unsubscribe(vec!["g".into(), "h".into()]),
            },
            Body::Direct {
                socket_id: "x".into(),
                op: DirectOp::Lookup,
            },
            Body::Reply(Reply::Counts {
                count: 7,
                dropped_oldest: 1,
                failures: vec![WireFailure {
                    socket_id: "s".into(),
                    what: 3,
                    kind: 12,
                    message: "full".into(),
                }],
                failures_omitted: 4,
            }),
            Body::Reply(Reply::Duplicate),
            Body::Reply(Reply::Delivered {
                code: 2,
                dropped: 3,
            }),
            Body::Reply(Reply::Done),
            Body::Reply(Reply::Sockets {
                sockets: vec![WireSocket {
                    id: "s".into(),
                    inbound: true,
                    path: "/p".into(),
                    groups: vec!["g".into()],
                }],
                truncated: true,
            }),
            Body::Reply(Reply::Failed {
                kind: 2,
                message: "gone".into(),
            }),
        ];
        bodies
            .into_iter()
            .enumerate()
            .map(|(seq, body)| Envelope {
                origin: "node-a".into(),
                seq: seq as u64,
                wants_reply: seq % 2 == 0,
                body,
            })
            .collect()
    }

    #[test]
    fn every_envelope_reads_back_as_written() {
        for envelope in envelopes() {
            let bytes = Bytes::from(envelope.encode(1 << 20).unwrap());
            assert_eq!(Envelope::decode(&bytes, 1 << 20).unwrap(), envelope);
        }
    }

    /// Every prefix of a valid envelope, and every single-byte corruption of one, is refused
    /// or read without a panic; a cut one is always refused.
    #[test]
    fn cut_or_corrupted_envelopes_are_refused_without_a_panic() {
        for envelope in envelopes() {
            let bytes = envelope.encode(1 << 20).unwrap();
            for cut in 0..bytes.len() {
                assert!(Envelope::decode(&Bytes::copy_from_slice(&bytes[..cut]), 1 << 20).is_err());
            }
            for at in 0..bytes.len() {
                let mut bad = bytes.clone();
                bad[at] ^= 0xff;
                let _ = Envelope::decode(&Bytes::from(bad), 1 << 20);
            }
        }
    }

    #[test]
    fn foreign_versions_and_sizes_are_refused() {
        let envelope = &envelopes()[0];
        let mut bytes = envelope.encode(1 << 20).unwrap();
        bytes[4] = VERSION + 1;
        let e = Envelope::decode(&Bytes::from(bytes), 1 << 20).unwrap_err();
        assert!(e.contains("version"), "{e}");
        assert!(Envelope::decode(&Bytes::from_static(b"{\"json\": 1}"), 1 << 20).is_err());
        let e = envelope.encode(10).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LimitExceeded);
        let bytes = Bytes::from(envelope.encode(1 << 20).unwrap());
        assert!(Envelope::decode(&bytes, 10).is_err());
    }
}
