use wsconnector::{Config, Connector, ConnectorHandle, Event, Result, Trigger};

/// A chat whose room paths have a message handler of their own.
pub fn start(config: Config) -> Result<Connector> {
    Connector::builder(config)
        .on_trigger_at(Trigger::InboundMessage, "/chat/{room}", on_room_message)
        .on_trigger(Trigger::InboundMessage, on_other_message) // every other path
        .on_event(on_anything_else) // every other event
        .start()
}

fn on_room_message(_: &ConnectorHandle, event: Event) {
    if let Event::InboundMessage { socket, .. } = event {
        let _ = socket.send(format!("{} is a room", socket.path()));
    }
}

fn on_other_message(_: &ConnectorHandle, event: Event) {
    if let Event::InboundMessage { socket, .. } = event {
        let _ = socket.send("not a room");
    }
}

fn on_anything_else(_: &ConnectorHandle, _: Event) {}
