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

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod alloc;
mod allow;
mod broadcast;
mod cluster;
mod config;
mod connector;
mod dispatch;
mod drain;
mod driver;
mod error;
mod events;
mod handle;
mod handlers;
// The C API (`wsc_*`): the C build's layer on this crate, compiled with the `capi` feature only.
#[cfg(feature = "capi")]
pub mod ffi;
mod inbound;
mod io_threads;
mod metrics;
// The process-wide capture of the library's `tracing` records, with the `log-sink` feature only
// (the C API and the Python package turn it on; a Rust application has its own subscriber).
#[cfg(any(feature = "log-sink", test))]
pub mod log;
mod origin;
mod outbound;
mod park;

/// The C library's allocator (feature `c-allocator`, see Cargo.toml): mimalloc, whose pages
/// that parked sockets' tasks and registrations leave empty the library returns at once
/// (feature `mimalloc-purge`, see [`alloc`]).
#[cfg(feature = "c-allocator")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod path;
mod pem;
mod protocol;
mod queue;
mod rate;
mod registry;
mod settings;
mod shared;
mod socket;
mod tcp;
mod timers;
mod tls;
mod wire;

pub use broadcast::{BroadcastFailure, BroadcastResult, RemoteFailure, Undelivered};
pub use cluster::{ClusterConfig, ClusterSocket, MAX_CLUSTER_NAME_LEN};
pub use config::{
    config_fields, duration_from_secs, ClientConfig, ClientScheme, Compression, Config, Identity,
    InboundPath, ListenerConfig, MessageRateLimit, MessageRatePolicy, ServerTls,
    SlowConsumerPolicy, SocketConfig, TrustedRoots, DEFAULT_PARK_IDLE_AFTER, MAX_DURATION,
    MAX_GROUP_LEN, SETTINGS,
};
pub use connector::{Connector, ConnectorBuilder};
pub use dispatch::{prefer_batched_wakeups, EventHandler};
pub use drain::{Drain, DrainOptions, DrainProgress};
pub use error::{Error, ErrorKind, HandshakeResponse, HandshakeStatus, Result};
pub use events::{Event, EventBatch, Trigger};
pub use handle::ConnectorHandle;
pub use handlers::Routes;
pub use inbound::auth::{AuthDecision, AuthRequest, Authorizer};
pub use metrics::{
    Bucket, ByKind, BySocketType, CloseCodeCount, Histogram, MetricsSnapshot, PathFigures,
    RefusalCount, RefusalReason, Sample, PROMETHEUS_CONTENT_TYPE,
};
pub use outbound::{
    HeaderRefresher, OutboundOptions, Reconnect, ReconnectOption, ReconnectSendPolicy,
};
pub use path::PathPattern;
pub use pem::Pem;
pub use protocol::close::{close_code, MAX_CLOSE_REASON_LEN};
pub use protocol::extensions::PerMessageDeflate;
pub use protocol::message::{Message, MessageKind};
pub use queue::Delivery;
pub use registry::SocketFilter;
pub use settings::{SettingInfo, SettingKind, SettingNames, SettingScope, SettingValue};
pub use socket::{Socket, SocketId, SocketState, SocketType, MAX_SOCKET_ID_LEN};

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
    use crate::wire::{Decoder, Incoming};

    /// Feeds `chunks` to a frame decoder one after the other, decoding everything it can
    /// after each, until the stream breaks a rule. Returns what came out, each item as text,
    /// the violation last if there was one: the same bytes cut otherwise must give the same.
    /// With `deflate` (the peer's window bits, 8-15, and whether it keeps its context),
    /// permessage-deflate is negotiated: compressed messages are inflated within the limit.
    pub fn decode(
        chunks: &[&[u8]],
        masked: bool,
        max_message: usize,
        deflate: Option<(u8, bool)>,
    ) -> Vec<String> {
        let mut decoder = Decoder::new(masked, max_message, &[]);
        if let Some((window_bits, takeover)) = deflate {
            decoder.inflate(window_bits, takeover);
        }
        let mut items = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk);
            loop {
                match decoder.decode() {
                    Ok(Some(incoming)) => items.push(describe(incoming, max_message)),
                    Ok(None) => break,
                    Err(violation) => {
                        items.push(format!("{violation:?}"));
                        return items;
                    }
                }
            }
        }
        items
    }

    /// An item as text; checks what the decoder promises about it on the way.
    fn describe(incoming: Incoming, max_message: usize) -> String {
        match incoming {
            Incoming::Message {
                message, retained, ..
            } => {
                assert!(message.len() <= max_message, "a message past the limit");
                assert!(
                    retained >= message.len(),
                    "a message keeps at least its payload"
                );
                format!("{message:?} {:?}", message.as_bytes())
            }
            other => format!("{other:?}"),
        }
    }
}
