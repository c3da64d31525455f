//! Several connectors acting as one through a real redis-server (each test starts its own on a
//! free loopback port): broadcast and bulk close on every node, operations by socket ID on the
//! node that holds the socket, cluster-wide IDs, a Redis outage, and what the backplane refuses.
//! The clients are tokio-tungstenite's, an independent implementation.

mod common;

use common::backplane::RedisServer;
use common::*;
use wsconnector::{
    ClusterConfig, Connector, ErrorKind, Event, OutboundOptions, SocketFilter, SocketId,
    SocketType, Trigger,
};

/// A node of cluster `cluster` on `redis`, with a listener on a free port.
fn node(redis: &RedisServer, cluster: &str, name: &str) -> (Connector, Events) {
    start_server(|c| {
        c.cluster = Some(
            ClusterConfig::new(redis.url())
                .with_name(cluster)
                .with_node_name(name),
        );
    })
}

/// A client of `node` on `path`, and its socket ID there.
fn client(
    rt: &tokio::runtime::Runtime,
    node: &(Connector, Events),
    path: &str,
) -> (Client, String) {
    let client = rt.block_on(connect(&url(&node.0, path)));
    let id = node
        .1
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .to_string();
    (client, id)
}

/// Every text a client receives up to and including "end".
fn received(rt: &tokio::runtime::Runtime, client: &mut Client) -> Vec<String> {
    let mut texts = Vec::new();
    while texts.last().map(String::as_str) != Some("end") {
        texts.push(rt.block_on(recv_text(client)));
    }
    texts
}

#[test]
fn broadcasts_from_any_node_reach_exactly_the_matching_sockets_once() {
    let redis = RedisServer::start();
    let nodes: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| node(&redis, "t1", n))
        .collect();
    let rt = runtime();
    let a = &nodes[0].0;
    let mut chat = Vec::new();
    let mut feed = Vec::new();
    for node in &nodes {
        chat.push(client(&rt, node, "/chat/room"));
        feed.push(client(&rt, node, "/feed"));
    }
    // Groups set through node a, so on b and c through the nodes that hold the sockets.
    a.subscribe(&chat[0].1, &["red"]).unwrap();
    a.subscribe(&chat[1].1, &["red"]).unwrap();
    a.subscribe(&chat[2].1, &["blue"]).unwrap();
    a.subscribe(&feed[1].1, &["red", "blue"]).unwrap();
    a.subscribe(&chat[2].1, &["green"]).unwrap();

    let by_path = a
        .broadcast("m1", &SocketFilter::all().with_path("/chat/*").unwrap())
        .unwrap();
    assert_eq!((by_path.delivered, by_path.nodes_answered), (3, 3));
    assert!(by_path.complete);
    // Two groups, from node b: feed b is in both and gets it once.
    let both = nodes[1]
        .0
        .broadcast("m2", &SocketFilter::all().with_groups(["red", "blue"]))
        .unwrap();
    assert_eq!((both.delivered, both.nodes_answered), (4, 3));
    // Only the nodes that hold "red" members answer; chat a is left out by ID.
    let excluded = nodes[2]
        .0
        .broadcast(
            "m3",
            &SocketFilter::all()
                .with_groups(["red"])
                .except_socket_ids([SocketId::new(&chat[0].1).unwrap()]),
        )
        .unwrap();
    assert_eq!((excluded.delivered, excluded.nodes_answered), (2, 3));
    // By type: node c's one outbound socket (to node a's listener), from node b.
    let outbound = nodes[2]
        .0
        .open_outbound(&url(a, "/out"), OutboundOptions::new())
        .unwrap();
    nodes[0].1.expect(Trigger::InboundConnection);
    let typed = nodes[1]
        .0
        .broadcast("m4", &SocketFilter::all().with_type(SocketType::Outbound))
        .unwrap();
    assert_eq!(typed.delivered, 1);
    assert_eq!(nodes[0].1.text(Trigger::InboundMessage), "m4");
    // Only the nodes that hold members of a group get it: b, without "green" members, is not
    // asked (a answers for itself, c for its one member).
    let small_room = a
        .broadcast("m5", &SocketFilter::all().with_groups(["green"]))
        .unwrap();
    assert_eq!((small_room.delivered, small_room.nodes_answered), (1, 2));
    // All-of groups, evaluated on the node that holds the socket: only feed b is red and blue.
    let all_of = nodes[2]
        .0
        .broadcast("m6", &SocketFilter::all().with_all_groups(["red", "blue"]))
        .unwrap();
    assert_eq!(all_of.delivered, 1);
    // Red or blue but not green: chat c (blue, green) is left out on node c.
    let but_green = a
        .broadcast(
            "m7",
            &SocketFilter::all()
                .with_groups(["red", "blue"])
                .except_groups(["green"]),
        )
        .unwrap();
    assert_eq!(but_green.delivered, 3);
    let end = a
        .broadcast("end", &SocketFilter::all().with_path("/chat/*").unwrap())
        .unwrap();
    assert_eq!(end.delivered, 3);
    a.broadcast("end", &SocketFilter::all().with_path("/feed").unwrap())
        .unwrap();

    let expected_chat = [
        vec!["m1", "m2", "m7", "end"],
        vec!["m1", "m2", "m3", "m7", "end"],
        vec!["m1", "m2", "m5", "end"],
    ];
    let expected_feed = [
        vec!["end"],
        vec!["m2", "m3", "m6", "m7", "end"],
        vec!["end"],
    ];
    for (i, (client, _)) in chat.iter_mut().enumerate() {
        assert_eq!(
            received(&rt, client),
            expected_chat[i],
            "chat client of node {i}"
        );
    }
    for (i, (client, _)) in feed.iter_mut().enumerate() {
        assert_eq!(
            received(&rt, client),
            expected_feed[i],
            "feed client of node {i}"
        );
    }
    nodes[2].0.close(outbound.as_str(), 1000, "").unwrap();
}

#[test]
fn operations_by_id_reach_the_node_that_holds_the_socket() {
    let redis = RedisServer::start();
    let a = node(&redis, "t2", "a");
    let b = node(&redis, "t2", "b");
    let rt = runtime();
    let (mut here, here_id) = client(&rt, &a, "/chat/1");
    let (mut there, there_id) = client(&rt, &b, "/chat/2");

    assert!(a.0.send(&there_id, "hello").unwrap().is_queued());
    assert_eq!(rt.block_on(recv_text(&mut there)), "hello");

    a.0.subscribe(&there_id, &["g"]).unwrap();
    let found = a.0.cluster_socket(&there_id).unwrap();
    assert_eq!(
        (
            found.node.as_str(),
            found.path.as_str(),
            found.groups.clone()
        ),
        ("b", "/chat/2", vec!["g".to_owned()])
    );
    let to_group =
        a.0.broadcast("to g", &SocketFilter::all().with_groups(["g"]))
            .unwrap();
    assert_eq!((to_group.delivered, to_group.nodes_answered), (1, 2));
    assert_eq!(rt.block_on(recv_text(&mut there)), "to g");
    a.0.unsubscribe(&there_id, &["g"]).unwrap();
    assert_eq!(
        a.0.broadcast("nobody", &SocketFilter::all().with_groups(["g"]))
            .unwrap()
            .delivered,
        0
    );

    let everyone = SocketFilter::all();
    assert_eq!(b.0.cluster_socket_count(&everyone).unwrap(), 2);
    let mut listed: Vec<_> =
        b.0.cluster_sockets(&everyone)
            .unwrap()
            .into_iter()
            .map(|s| (s.node, s.id.to_string()))
            .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("a".to_owned(), here_id.clone()),
            ("b".to_owned(), there_id.clone())
        ]
    );

    let missing = a.0.send("no-such-socket", "x").unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NoSuchSocket);
    assert_eq!(
        a.0.cluster_socket("no-such-socket").unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );

    a.0.close(&there_id, 4001, "from a").unwrap();
    assert_eq!(
        rt.block_on(recv_close(&mut there)),
        (4001, "from a".to_owned())
    );
    let (_, code, _) = b.1.closed();
    assert_eq!(code, 4001);
    assert_eq!(
        a.0.send(&there_id, "x").unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );

    // Bulk close: one socket on each node.
    let (mut there, _) = client(&rt, &b, "/chat/3");
    let closed =
        b.0.bulk_close(
            &SocketFilter::all().with_path("/chat/*").unwrap(),
            4002,
            "all",
        )
        .unwrap();
    assert_eq!(closed, 2);
    assert_eq!(rt.block_on(recv_close(&mut here)).0, 4002);
    assert_eq!(rt.block_on(recv_close(&mut there)).0, 4002);
}

#[test]
fn a_caller_chosen_outbound_id_taken_on_one_node_is_refused_on_another() {
    let redis = RedisServer::start();
    let a = node(&redis, "t3", "a");
    let b = node(&redis, "t3", "b");
    let target = url(&a.0, "/feed");
    a.0.open_outbound(&target, OutboundOptions::new().socket_id("feed-1"))
        .unwrap();
    let taken =
        b.0.open_outbound(&target, OutboundOptions::new().socket_id("feed-1"))
            .unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::NonUniqueSocketId, "{taken}");
    assert!(taken.message().contains("\"a\""), "{taken}");
    // Another ID, and the one refused, are both fine on node b.
    b.0.open_outbound(&target, OutboundOptions::new().socket_id("feed-2"))
        .unwrap();
    // b reaches a's socket by its chosen ID.
    assert!(b.0.send("feed-1", "to the feed").unwrap().is_queued());
    let event = loop {
        match a.1.next() {
            Event::InboundMessage { message, .. } => break message,
            _ => continue,
        }
    };
    assert_eq!(event.as_text(), Some("to the feed"));
}

#[test]
fn a_redis_outage_stops_only_the_cluster_operations() {
    let mut redis = RedisServer::start();
    let a = node(&redis, "t4", "a");
    let b = node(&redis, "t4", "b");
    let rt = runtime();
    let (mut here, here_id) = client(&rt, &a, "/chat");
    let (mut there, there_id) = client(&rt, &b, "/chat");
    a.0.subscribe(&here_id, &["g"]).unwrap();
    b.0.subscribe(&there_id, &["g"]).unwrap();

    redis.stop();
    // Local operations go on; cluster ones fail at once.
    assert!(a.0.send(&here_id, "local").unwrap().is_queued());
    assert_eq!(rt.block_on(recv_text(&mut here)), "local");
    let group = SocketFilter::all().with_groups(["g"]);
    assert_eq!(
        a.0.broadcast("x", &group).unwrap_err().kind(),
        ErrorKind::Connectivity
    );
    assert_eq!(
        a.0.send(&there_id, "x").unwrap_err().kind(),
        ErrorKind::Connectivity
    );
    assert_eq!(
        a.0.cluster_socket_count(&group).unwrap_err().kind(),
        ErrorKind::Connectivity
    );
    // A socket that opens during the outage is reachable once Redis is back.
    let (mut late, late_id) = client(&rt, &b, "/late");

    redis.restart();
    a.0.wait_for_cluster(WAIT).unwrap();
    b.0.wait_for_cluster(WAIT).unwrap();
    // Subscriptions and the directory are back (Redis restarted empty).
    let again = a.0.broadcast("back", &group).unwrap();
    assert_eq!((again.delivered, again.nodes_answered), (2, 2));
    assert_eq!(rt.block_on(recv_text(&mut here)), "back");
    assert_eq!(rt.block_on(recv_text(&mut there)), "back");
    assert!(a.0.send(&there_id, "by id").unwrap().is_queued());
    assert_eq!(rt.block_on(recv_text(&mut there)), "by id");
    assert!(a.0.send(&late_id, "late").unwrap().is_queued());
    assert_eq!(rt.block_on(recv_text(&mut late)), "late");

    // Stopped nodes leave nothing behind: no key (each removed its part of the directory
    // before its stop returned), and, once Redis has seen them go, no connection but ours.
    drop((here, there, late));
    a.0.stop().unwrap();
    b.0.stop().unwrap();
    assert_eq!(redis.command(&[b"DBSIZE"]), ":0");
    let deadline = std::time::Instant::now() + WAIT;
    while redis.command(&[b"CLIENT", b"LIST"]).lines().count() != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the nodes' connections stay open"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn malformed_foreign_and_oversized_backplane_messages_are_refused() {
    let redis = RedisServer::start();
    let mut config = wsconnector::Config::with_listener("127.0.0.1", 0);
    config.socket.max_message_size = 1024;
    config.cluster = Some(
        ClusterConfig::new(redis.url())
            .with_name("t5")
            .with_node_name("a"),
    );
    let a = start_builder(Connector::builder(config.clone()));
    config.cluster = Some(
        ClusterConfig::new(redis.url())
            .with_name("t5")
            .with_node_name("b"),
    );
    let b = start_builder(Connector::builder(config));
    let rt = runtime();
    let (mut there, _) = client(&rt, &b, "/x");

    for channel in ["t5:all", "t5:node:b"] {
        for junk in [&b"not ours"[..], b"WSCB\x07future", b"WSCB\x01", b""] {
            assert!(redis
                .command(&[b"PUBLISH", channel.as_bytes(), junk])
                .starts_with(':'));
        }
    }
    let big = "x".repeat(1025);
    let refused =
        a.0.broadcast(big.as_str(), &SocketFilter::all())
            .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::LimitExceeded, "{refused}");
    let fine = a.0.broadcast("fine", &SocketFilter::all()).unwrap();
    assert_eq!((fine.delivered, fine.nodes_answered), (1, 2));
    assert_eq!(rt.block_on(recv_text(&mut there)), "fine");
}

#[test]
fn publish_returns_without_waiting_and_reaches_every_node() {
    let redis = RedisServer::start();
    let a = node(&redis, "t6", "a");
    let b = node(&redis, "t6", "b");
    let rt = runtime();
    let (mut there, _) = client(&rt, &b, "/x");
    let result = a.0.publish("fire", &SocketFilter::all()).unwrap();
    assert_eq!((result.delivered, result.nodes_answered), (0, 1));
    assert!(!result.complete);
    assert_eq!(rt.block_on(recv_text(&mut there)), "fire");
}
