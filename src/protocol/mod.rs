//! The WebSocket protocol's own rules and formats, with no I/O: close codes, frames, messages,
//! text checked as it arrives, and the HTTP of the opening handshake that both sides share.

pub(crate) mod close;
pub(crate) mod frame;
pub(crate) mod handshake;
pub(crate) mod message;
pub(crate) mod utf8;
