use std::process::ExitCode;
use wsconnector::{
    AuthDecision, AuthRequest, Config, Connector, ConnectorHandle, Event, InboundPath,
    ListenerConfig, OutboundOptions, Pem, ServerTls, SocketFilter,
};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}"); // Display: what failed and, for TLS and settings, what to do
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    // cargo run --example readme [PORT [FEED_URL]]: 8443 (0: a free one), the quotes example
    let mut args = std::env::args().skip(1);
    let port = args.next().map_or(Ok(8443), |port| port.parse())?;
    let feed_url = args.next();
    let mut listener = ListenerConfig::new("127.0.0.1", port);
    listener.base_path = "/ws".into(); // full paths: /ws/chat/...
    listener
        .paths
        .push(InboundPath::with_groups("/chat/*", ["lobby"])); // others get 404
    listener.tls = Some(ServerTls::new(
        Pem::File("cert.pem".into()),
        Pem::File("key.pem".into()),
    ));
    let mut config = Config::default();
    config.listener = Some(listener);

    let connector = Connector::builder(config)
        .authorizer(|req: &AuthRequest| match req.header("authorization") {
            Some("Bearer secret") => AuthDecision::accept_with_groups(["members"]),
            _ => AuthDecision::reject(401, "log in first"),
        })
        .on_event(|conn: &ConnectorHandle, event: Event| match event {
            Event::InboundMessage { socket, message } => {
                // The socket type defaults to all, as in Mule: a broadcast without `with_type`
                // also reaches outbound sockets (the upstream feeds). Not back to the sender.
                let room = SocketFilter::all()
                    .with_groups(socket.groups())
                    .except_socket_ids([socket.id().clone()]);
                if let Err(e) = conn.broadcast(message, &room) {
                    eprintln!("broadcast: {e}");
                }
            }
            Event::OutboundMessage { message, .. } => println!("feed: {:?}", message.as_text()),
            Event::SocketClosed {
                socket,
                code,
                reason,
            } => println!("{} closed: {code} {reason}", socket.id()),
            _ => {}
        })
        .start()?;
    let port = connector
        .local_addr()
        .map_or(port, |address| address.port());
    println!("listening on wss://127.0.0.1:{port}/ws/chat/ROOM (Authorization: Bearer secret)");

    // The quotes example (`cargo run --example quotes`) as a feed: one outbound socket.
    let feed = connector.open_outbound(
        feed_url.as_deref().unwrap_or("ws://127.0.0.1:8081/quotes"),
        OutboundOptions::new()
            .header("Authorization", "Bearer t")
            .group("sources")
            .socket_id("quotes"),
    )?;
    connector.send(feed.as_str(), "/sub ACME")?;

    tokio::runtime::Runtime::new()?.block_on(tokio::signal::ctrl_c())?; // serve until Ctrl-C
    connector.stop()?; // closes every socket with 1001, delivers every closed event
    Ok(())
}
