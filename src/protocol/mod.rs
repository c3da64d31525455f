//! The WebSocket protocol's own rules and formats, with no I/O: close codes, frames, messages,
//! text checked as it arrives, the HTTP of the opening handshake that both sides share, and
//! permessage-deflate (RFC 7692): its negotiation and its codec.

pub(crate) mod close;
pub(crate) mod deflate;
pub(crate) mod extensions;
pub(crate) mod frame;
pub(crate) mod handshake;
pub(crate) mod mask;
pub(crate) mod message;
pub(crate) mod utf8;
