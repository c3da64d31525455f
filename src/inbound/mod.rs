//! Inbound sockets: the listener and its connection limits, the upgrade of each connection, and
//! the authorization hook's types.

pub(crate) mod auth;
mod endpoints;
pub(crate) mod listener;
mod upgrade;

/// The log target of the whole inbound side, whichever file logs: `wsconnector::inbound`, as
/// when it was one file (the C log callback and Python's `logging` show it; applications
/// filter on it).
const LOG_TARGET: &str = "wsconnector::inbound";
