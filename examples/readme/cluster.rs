use wsconnector::{ClusterConfig, Config, Connector, ConnectorHandle, Event, Result, SocketFilter};

/// A chat node listening on `host:port` ("0.0.0.0", 8080), in the cluster "chat" whose
/// backplane is the Redis server at `redis` ("redis://10.0.0.5:6379/0").
pub fn chat_node(host: &str, port: u16, redis: &str) -> Result<Connector> {
    let mut config = Config::with_listener(host, port);
    config.cluster = Some(ClusterConfig::new(redis).with_name("chat"));
    let chat = Connector::builder(config).on_event(on_event).start()?;
    let result = chat.broadcast("hi", &SocketFilter::all().with_groups(["room:x"]))?;
    println!(
        "{} sockets on {} nodes",
        result.delivered, result.nodes_answered
    );
    chat.publish("tick", &SocketFilter::all())?; // fire-and-forget: does not wait for the others
    Ok(chat)
}

fn on_event(_: &ConnectorHandle, _: Event) {}
