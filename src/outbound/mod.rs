//! Outbound sockets: the URL (or a path on the client base), DNS, TCP (direct or through a
//! proxy), TLS, the client handshake (redirects, basic authentication), failures that name
//! their cause, and reconnects.
//!
//! An open makes a [`handshake::Request`] once; the socket's first connection and every
//! reconnect (see `reconnect.rs`) establish a connection from it (`connect.rs`).

mod connect;
mod handshake;
mod options;
pub(crate) mod policy;
pub(crate) mod proxy;
mod reconnect;
pub(crate) mod refresh;
mod target;

pub use options::OutboundOptions;
pub use policy::{Reconnect, ReconnectOption, ReconnectSendPolicy};
pub use refresh::HeaderRefresher;

use crate::config::{check_duration, validate_groups};
use crate::driver::in_socket_span;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::{validate_client_headers, validate_token, HeaderLines};
use crate::shared::{Claim, Shared};
use crate::socket::{Attributes, Socket, SocketId, SocketType};
use connect::{establish_within, Connection, Slot};
use handshake::Request;
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
    validate_groups(&options.groups).map_err(|e| e.context("the outbound socket's groups"))?;
    validate_client_headers(&options.headers)?;
    for protocol in &options.subprotocols {
        validate_token("subprotocol", protocol)?;
    }
    if let Some(timeout) = options.connect_timeout {
        check_duration("connect_timeout", timeout)?;
    }
    let client = &shared.config.client;
    let policy = options.reconnect.resolve(client.reconnect.as_ref());
    if let Some(policy) = &policy {
        policy.validate()?;
    }
    let query: Vec<_> = client
        .default_query
        .iter()
        .chain(&options.query)
        .cloned()
        .collect();
    let url = target::resolve(&url, client, &options.uri_params)?;
    let target = Target::parse(&url, &query)?;
    let compression = &shared.config.compression;
    let request = Request::new(client, target, &options.headers, options.subprotocols)
        .offering_compression(
            options
                .compression
                .unwrap_or(compression.outbound)
                .then_some(compression.preferred),
        );
    let timeout = options
        .connect_timeout
        .unwrap_or_else(|| client.effective_connect_timeout());
    let slot = Slot::take(&shared)?;
    // A caller-chosen ID is claimed in the whole cluster first (generated ones are UUIDs).
    let claim = match (&shared.directory, &options.socket_id) {
        (Some(directory), Some(_)) => Some(Claim::new(directory, &id).await?),
        _ => None,
    };
    let connection = establish_within(&shared, &request, timeout).await?;
    let Connection {
        wire,
        target,
        headers,
        subprotocol,
        link,
    } = connection;
    let uri = target.uri.to_string();
    let attrs = Attributes {
        id: id.clone(),
        socket_type: SocketType::Outbound,
        path: target.uri.path().to_owned(),
        query_at: uri.find('?').map(|at| at + 1),
        uri,
        secure: target.secure,
        headers: HeaderLines::from_pairs(&headers),
        uri_params: options.uri_params.clone(),
        subprotocol,
    };
    let socket = Socket::new(attrs, link, shared.send_queue());
    let mut registration = shared.register(&socket, &options.groups, None).await?;
    if let Some(claim) = claim {
        claim.keep();
    }
    registration.announce();
    match policy {
        // The slot is released before the closed event, as the reconnecting path does.
        None => drop(
            shared
                .tasks
                .spawn(crate::driver::drive(registration, wire, slot)),
        ),
        Some(policy) => {
            let reconnecting = reconnect::Reconnecting {
                shared: shared.clone(),
                request,
                policy,
                timeout,
                slot,
            };
            let life = reconnecting.run(registration, wire);
            shared.tasks.spawn(in_socket_span(&socket, life));
        }
    }
    Ok(id)
}
