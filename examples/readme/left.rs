use wsconnector::{ConnectorHandle, Event, SocketFilter};

/// Tells each room a socket was in that it left: the closed event carries its groups.
pub fn on_event(conn: &ConnectorHandle, event: Event) {
    if let Event::SocketClosed { socket, .. } = event {
        for room in socket.groups() {
            // C: wsc_socket_group_at(); Python: socket.groups
            let left = format!("{} left", socket.id());
            let _ = conn.broadcast(left, &SocketFilter::all().with_groups([room]));
        }
    }
}
