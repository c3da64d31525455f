//! wsconnector's benchmark harness: the load client (`load`) and the servers it measures
//! (`raw-server`, the tokio-tungstenite baseline; `fws-server`, the fastwebsockets one;
//! `wsc-server`, wsconnector's Rust API). The C
//! and Python servers beside this crate, and the runner `benches/run.py`, speak the same small
//! protocol, fixed by the constants below:
//!
//! - a message on any other path is echoed to its sender;
//! - a socket on [`FANOUT_RECV_PATH`] is in group [`FANOUT_GROUP`];
//! - a message on [`FANOUT_TRIGGER_PATH`] is broadcast to that group;
//! - a server prints its port on stdout once it accepts connections.
//!
//! Figures, not verdicts: nothing here passes or fails on speed.

pub mod args;
pub mod connect;
pub mod histogram;
pub mod load;
pub mod measure;
pub mod payload;
pub mod procfs;
pub mod report;
pub mod wire;

/// Path of the echo sockets (any path but the two fan-out ones echoes).
pub const ECHO_PATH: &str = "/echo";
/// Path of the fan-out receivers; their sockets join [`FANOUT_GROUP`].
pub const FANOUT_RECV_PATH: &str = "/fanout/recv";
/// Path of the fan-out trigger socket; each of its messages is broadcast to [`FANOUT_GROUP`].
pub const FANOUT_TRIGGER_PATH: &str = "/fanout/trigger";
/// The group of the fan-out receivers.
pub const FANOUT_GROUP: &str = "fan";
