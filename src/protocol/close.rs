//! Close codes and the rules of closing: which codes an application may send, how long a
//! reason may be, and cutting one to fit (RFC 6455 sections 5.5.1 and 7.4).

use crate::error::{Error, Result};

/// Close codes with names (RFC 6455 section 7.4); any code from 3000 to 4999 is the
/// application's own.
pub mod close_code {
    /// The purpose of the connection was fulfilled.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away (server stopping, page left, idle timeout).
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// The peer sent a kind of data this endpoint cannot accept.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Reported (never sent) when a close frame carried no code.
    pub const NO_STATUS: u16 = 1005;
    /// Reported (never sent) when the connection ended without a close handshake.
    pub const ABNORMAL: u16 = 1006;
    /// A text message was not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A message broke the endpoint's policy.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A message was larger than the endpoint accepts.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// Sent by a client whose handshake did not negotiate an extension as it needs (here: a
    /// permessage-deflate answer that RFC 7692 says to refuse).
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// The server hit an unexpected condition.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// The server is restarting.
    pub const SERVICE_RESTART: u16 = 1012;
    /// Overloaded (here: a slow consumer's queue was full); try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;

    /// Whether an application may send `code` in a close frame.
    pub fn is_sendable(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

/// Longest close reason in bytes (a close frame's payload is at most 125 bytes).
pub const MAX_CLOSE_REASON_LEN: usize = 123;

/// Checks a close code and reason the application wants to send.
pub(crate) fn validate_close(code: u16, reason: &str) -> Result<()> {
    if !close_code::is_sendable(code) {
        return Err(Error::invalid(format!(
            "close code {code} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999"
        )));
    }
    if reason.len() > MAX_CLOSE_REASON_LEN {
        return Err(Error::invalid(format!(
            "close reason is {} bytes; at most {MAX_CLOSE_REASON_LEN} fit in a close frame",
            reason.len()
        )));
    }
    Ok(())
}

/// Cuts a close reason to what fits a close frame, at a character boundary.
pub(crate) fn truncate_reason(mut reason: String) -> String {
    if reason.len() > MAX_CLOSE_REASON_LEN {
        let mut end = MAX_CLOSE_REASON_LEN;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}
