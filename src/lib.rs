//! wsconnector: an embeddable WebSocket connector.
//!
//! One running [`Connector`] holds an inbound listener (a WebSocket server) and outbound
//! sockets (WebSocket clients). Every socket has a unique [`SocketId`]; sockets join string
//! groups; the application broadcasts to the sockets that match a [`SocketFilter`] (path,
//! socket type, groups) and learns what happens through four triggers, the variants of
//! [`Event`]. Operations live on [`ConnectorHandle`] and may be called from any thread,
//! including from inside the event handler.
//!
//! ```no_run
//! use wsconnector::{Config, Connector, Event, SocketFilter};
//!
//! let connector = Connector::builder(Config::with_listener("127.0.0.1", 8080))
//!     .on_event(|conn: &wsconnector::ConnectorHandle, event: Event| {
//!         if let Event::InboundMessage { message, .. } = event {
//!             // Echo every message to every socket.
//!             let _ = conn.broadcast(message, &SocketFilter::all());
//!         }
//!     })
//!     .start()?;
//! # connector.stop()?;
//! # Ok::<(), wsconnector::Error>(())
//! ```

mod config;
mod connector;
mod driver;
mod error;
mod events;
// The C API (`wsc_*`): the C build's layer on this crate, compiled with the `capi` feature only.
#[cfg(feature = "capi")]
pub mod ffi;
mod frame;
mod inbound;
// The process-wide capture of the library's `tracing` records, with the `log-sink` feature only
// (the C API and the Python package turn it on; a Rust application has its own subscriber).
#[cfg(any(feature = "log-sink", test))]
pub mod log;
mod message;
mod origin;
mod outbound;
mod path;
mod queue;
mod registry;
mod settings;
mod socket;
mod tcp;
mod tls;
mod wire;

pub use config::{
    config_fields, duration_from_secs, ClientConfig, Config, Identity, InboundPath, ListenerConfig,
    Pem, ServerTls, SlowConsumerPolicy, SocketConfig, MAX_DURATION, MAX_GROUP_LEN, SETTINGS,
};
pub use connector::{
    close_code, BroadcastFailure, BroadcastResult, Connector, ConnectorBuilder, ConnectorHandle,
    Undelivered, MAX_CLOSE_REASON_LEN,
};
pub use error::{Error, ErrorKind, Result};
pub use events::{prefer_batched_wakeups, Event, EventHandler, Trigger};
pub use inbound::{AuthDecision, AuthRequest, Authorizer};
pub use message::{Message, MessageKind};
pub use outbound::OutboundOptions;
pub use path::PathPattern;
pub use queue::Delivery;
pub use registry::SocketFilter;
pub use settings::{SettingInfo, SettingKind, SettingScope, SettingValue};
pub use socket::{Socket, SocketId, SocketType, MAX_SOCKET_ID_LEN};

/// The library version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The text of a caught panic, for the log.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Entry points for the fuzz targets in `fuzz/` (compiled only with `--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Feeds `chunks` to a frame decoder one after the other, decoding everything it can
    /// after each, until the stream breaks a rule; returns how many items came out.
    pub fn decode(chunks: &[&[u8]], masked: bool, max_message: usize) -> usize {
        let mut decoder = crate::wire::Decoder::new(masked, max_message, &[]);
        let mut items = 0;
        for chunk in chunks {
            decoder.buf.extend_from_slice(chunk);
            loop {
                match decoder.decode() {
                    Ok(Some(_)) => items += 1,
                    Ok(None) => break,
                    Err(_) => return items,
                }
            }
        }
        items
    }
}
