//! Outbound sockets: URL, DNS, TCP, TLS and the client handshake, with failures that name
//! their cause.

mod connect;
mod handshake;
mod options;
mod target;

pub use options::OutboundOptions;

use crate::config::{check_duration, validate_groups};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::{validate_client_headers, validate_token};
use crate::shared::Shared;
use crate::socket::SocketId;
use std::sync::Arc;
use target::Target;

/// Opens an outbound socket and starts its task; returns its ID once the handshake is done.
pub(crate) async fn open(
    shared: Arc<Shared>,
    url: String,
    options: OutboundOptions,
) -> Result<SocketId> {
    let id = match &options.socket_id {
        Some(id) => SocketId::new(id)?,
        None => SocketId::generate(),
    };
    if shared.registry.contains(id.as_str()) {
        return Err(Error::new(
            ErrorKind::NonUniqueSocketId,
            format!("socket ID {:?} is already in use", id.as_str()),
        ));
    }
    validate_groups(&options.groups)?;
    validate_client_headers(&options.headers)?;
    for protocol in &options.subprotocols {
        validate_token("subprotocol", protocol)?;
    }
    if let Some(timeout) = options.connect_timeout {
        check_duration("connect_timeout", timeout)?;
    }
    let client = &shared.config.client;
    let query: Vec<_> = client
        .default_query
        .iter()
        .chain(&options.query)
        .cloned()
        .collect();
    let target = Target::parse(&url, &query)?;
    let timeout = options
        .connect_timeout
        .unwrap_or_else(|| client.effective_connect_timeout());
    let connecting = tokio::time::timeout(
        timeout,
        connect::connect(&shared, &target, &options, id.clone()),
    );
    let socket_and_stream = tokio::select! {
        _ = shared.shutdown.cancelled() => return Err(Error::stopped()),
        result = connecting => result.map_err(|_| {
            Error::new(ErrorKind::Timeout, format!("connecting to {url} took longer than {timeout:?}"))
        })??,
    };
    let (socket, ws) = socket_and_stream;
    let mut registration = shared.register(&socket, &options.groups)?;
    registration.announce();
    shared
        .tasks
        .spawn(crate::driver::drive(shared.clone(), registration, ws));
    Ok(id)
}
