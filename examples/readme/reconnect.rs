use std::time::Duration;
use wsconnector::{
    ConnectorHandle, OutboundOptions, Reconnect, ReconnectSendPolicy, Result, SocketId,
};

/// An outbound socket to a feed (`wss://quotes.example.com/stream`) that comes back when the
/// feed goes away, with the same ID and groups.
pub fn open_feed(connector: &ConnectorHandle, url: &str) -> Result<SocketId> {
    connector.open_outbound(
        url,
        OutboundOptions::new()
            .socket_id("quotes")
            .group("feeds")
            .reconnect(
            Reconnect::new() // or .reconnect(true): the defaults
                .delays(Duration::from_millis(500), Duration::from_secs(30), 2.0)
                .max_attempts(None) // forever (the default)
                .send_policy(ReconnectSendPolicy::Buffer) // or Fail
                .final_close_codes([1000..=1000, 4000..=4999]), // these end it instead
        ),
    )
}
