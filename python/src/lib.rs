//! `wsconnector._native`: the Python binding of the wsconnector core, built with PyO3 on the
//! core's Rust API. The pure-Python package `wsconnector` re-exports it and adds the asyncio
//! front.
//!
//! Threads and the GIL: the core's I/O threads never take the GIL. These threads do, each only
//! to call Python: the core's dispatcher threads (trigger callbacks, each socket's in order),
//! the asyncio bridge (completions of awaited operations) and the logging thread (records to
//! `logging`); the core also calls the authorization hook and the header refresher on
//! blocking-pool threads. Every call from Python that waits for Rust work releases the GIL.

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod args;
mod asyncio;
mod auth;
mod broadcast;
mod config;
mod connector;
mod errors;
mod events;
mod logging;
mod metrics;
mod payload;
mod reconnect;
mod socket;

use pyo3::prelude::*;

/// The Rust core of the wsconnector package; import `wsconnector` instead.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(module)?;
    module.add_class::<connector::PyConnector>()?;
    module.add_class::<socket::PySocket>()?;
    module.add_class::<auth::PyAuthRequest>()?;
    module.add_class::<auth::Reject>()?;
    module.add_class::<events::InboundConnection>()?;
    module.add_class::<events::InboundMessage>()?;
    module.add_class::<events::OutboundMessage>()?;
    module.add_class::<events::SocketClosed>()?;
    module.add_class::<events::OutboundReconnecting>()?;
    module.add_class::<events::OutboundReconnected>()?;
    module.add_class::<events::PyRoutes>()?;
    module.add_class::<reconnect::PyReconnect>()?;
    module.add_class::<broadcast::BroadcastResult>()?;
    module.add_class::<broadcast::BroadcastFailure>()?;
    module.add_class::<broadcast::ClusterSocket>()?;
    module.add_class::<asyncio::Pending>()?;
    module.add_class::<metrics::Metrics>()?;
    module.add_class::<metrics::DrainProgress>()?;
    module.add_function(wrap_pyfunction!(connector::_stop_all, module)?)?;
    config::register(module)?;
    module.add("VERSION", wsconnector::VERSION)?;
    Ok(())
}

/// Rust's allocations in the extension (payloads, queues, buffers) come from mimalloc. Many
/// are made on one thread and freed on another (a received payload: read on an I/O thread,
/// dropped on the dispatcher; a sent one the other way), a pattern under which glibc's malloc
/// trims and regrows its per-thread heaps: one to three page faults per 16 KiB message.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
