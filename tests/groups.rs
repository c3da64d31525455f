//! Groups, broadcast and bulk close: every filter dimension and their combination.

mod common;

use common::*;
use std::collections::BTreeSet;
use wsconnector::{
    Connector, ErrorKind, InboundPath, OutboundOptions, SocketFilter, SocketId, SocketType,
    Trigger, Undelivered, MAX_GROUP_LEN,
};

/// A listener serving `/chat/*` (default group `chat`) and `/feed`, plus a client-side
/// connector of the same process holding outbound sockets to it, so one registry holds
/// inbound and outbound sockets with various paths and groups.
struct World {
    // Fields drop in order: the clients hang up before the hub stops.
    clients: Vec<(String, Client)>,
    hub: Connector,
    hub_events: Events,
    rt: tokio::runtime::Runtime,
}

impl World {
    fn new() -> Self {
        let (hub, hub_events) = start_server(|c| {
            let l = c.listener.as_mut().unwrap();
            l.paths.push(InboundPath::with_groups("/chat/*", ["chat"]));
            l.paths.push(InboundPath::new("/feed"));
        });
        World {
            clients: Vec::new(),
            hub,
            hub_events,
            rt: runtime(),
        }
    }

    /// Connects an independent client on `path`; returns its inbound socket's ID.
    fn inbound(&mut self, path: &str) -> String {
        let client = self.rt.block_on(connect(&url(&self.hub, path)));
        let id = self
            .hub_events
            .expect(Trigger::InboundConnection)
            .socket()
            .id()
            .to_string();
        self.clients.push((id.clone(), client));
        id
    }

    /// Opens an outbound socket from the hub to its own listener on `path`: returns the
    /// outbound ID (the inbound twin also exists).
    fn outbound(&mut self, path: &str, id: &str) -> String {
        let id = self
            .hub
            .open_outbound(&url(&self.hub, path), OutboundOptions::new().socket_id(id))
            .unwrap();
        self.hub_events.expect(Trigger::InboundConnection);
        id.to_string()
    }

    fn matching(&self, filter: &SocketFilter) -> BTreeSet<String> {
        self.hub
            .sockets(filter)
            .unwrap()
            .iter()
            .map(|s| s.id().to_string())
            .collect()
    }
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn subscribe_and_unsubscribe_are_additive_and_ignore_repeats_and_unknowns() {
    let mut w = World::new();
    let a = w.inbound("/chat/1");
    assert_eq!(w.hub.socket(&a).unwrap().groups(), ["chat"]);
    w.hub.subscribe(&a, &["x", "y", "x"]).unwrap();
    w.hub.subscribe(&a, &["y", "z"]).unwrap();
    assert_eq!(w.hub.socket(&a).unwrap().groups(), ["chat", "x", "y", "z"]);
    w.hub.unsubscribe(&a, &["y", "never-joined"]).unwrap();
    w.hub.unsubscribe(&a, &["y"]).unwrap();
    assert_eq!(w.hub.socket(&a).unwrap().groups(), ["chat", "x", "z"]);
    assert_eq!(w.hub.group_count(), 3);

    assert_eq!(
        w.hub.subscribe(&a, &[""]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        w.hub.subscribe("nobody", &["x"]).unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );
    assert_eq!(
        w.hub.unsubscribe("nobody", &["x"]).unwrap_err().kind(),
        ErrorKind::NoSuchSocket
    );
}

#[test]
fn broadcast_filters_by_path_type_and_groups_and_their_combination() {
    let mut w = World::new();
    let chat1 = w.inbound("/chat/1");
    let chat2 = w.inbound("/chat/2");
    let feed = w.inbound("/feed");
    let out_chat = w.outbound("/chat/9", "out-chat");
    let out_feed = w.outbound("/feed", "out-feed");
    w.hub.subscribe(&feed, &["vip"]).unwrap();
    w.hub.subscribe(&out_chat, &["vip"]).unwrap();
    w.hub.subscribe(&chat2, &["quiet"]).unwrap();
    // Each outbound socket has an inbound twin (same path, ID unknown here).
    let twin = |path: &str| -> String {
        w.hub
            .sockets(
                &SocketFilter::all()
                    .with_type(SocketType::Inbound)
                    .with_path(path)
                    .unwrap(),
            )
            .unwrap()
            .iter()
            .map(|s| s.id().to_string())
            .find(|id| ![&chat1, &chat2, &feed].contains(&id))
            .unwrap()
    };
    let twin_chat = twin("/chat/9");
    let twin_feed = twin("/feed");

    let all = SocketFilter::all();
    assert_eq!(w.matching(&all).len(), 7);
    let by_path = all.clone().with_path("/chat/*").unwrap();
    assert_eq!(
        w.matching(&by_path),
        set(&[&chat1, &chat2, &out_chat, &twin_chat])
    );
    let exact = all.clone().with_path("/feed").unwrap();
    assert_eq!(w.matching(&exact), set(&[&feed, &out_feed, &twin_feed]));
    let outbound = all.clone().with_type(SocketType::Outbound);
    assert_eq!(w.matching(&outbound), set(&[&out_chat, &out_feed]));
    let inbound = all.clone().with_type(SocketType::Inbound);
    assert_eq!(w.matching(&inbound).len(), 5);
    let vip_or_quiet = all.clone().with_groups(["vip", "quiet"]);
    assert_eq!(w.matching(&vip_or_quiet), set(&[&feed, &out_chat, &chat2]));
    let chat_group = all.clone().with_groups(["chat"]);
    assert_eq!(
        w.matching(&chat_group),
        set(&[&chat1, &chat2, &twin_chat]),
        "default groups apply to inbound sockets only"
    );
    let combined = SocketFilter::all()
        .with_path("/chat/*")
        .unwrap()
        .with_type(SocketType::Inbound)
        .with_groups(["vip", "quiet"]);
    assert_eq!(w.matching(&combined), set(&[&chat2]));
    let nothing = SocketFilter::all().with_groups(["no-such-group"]);
    assert!(w.matching(&nothing).is_empty());

    // Broadcast reaches exactly the filtered sockets.
    let result = w
        .hub
        .broadcast(
            "to chat inbound",
            &SocketFilter::all()
                .with_path("/chat/*")
                .unwrap()
                .with_type(SocketType::Inbound),
        )
        .unwrap();
    assert_eq!(result.delivered, 3);
    assert!(result.failures.is_empty());
    let rt = &w.rt;
    for (id, client) in w.clients.iter_mut() {
        if *id == chat1 || *id == chat2 {
            assert_eq!(rt.block_on(recv_text(client)), "to chat inbound");
        }
    }
    // The twin of the outbound chat socket got it too, so the outbound socket receives it.
    assert_eq!(
        w.hub_events.text(Trigger::OutboundMessage),
        "to chat inbound"
    );
    // The feed client got nothing: the next thing it sees is a later broadcast meant for it.
    let result = w.hub.broadcast("vip only", &vip_or_quiet).unwrap();
    assert_eq!(result.delivered, 3);
    for (id, client) in w.clients.iter_mut() {
        if *id == feed || *id == chat2 {
            assert_eq!(rt.block_on(recv_text(client)), "vip only");
        }
    }
    // Sent on the outbound socket out-chat, it arrives at that socket's inbound twin.
    assert_eq!(w.hub_events.text(Trigger::InboundMessage), "vip only");
}

/// Exclusions leave sockets out whatever else they match ("everyone in the room but the
/// sender"), with one group, several groups, or none.
#[test]
fn broadcast_and_bulk_close_leave_out_excluded_sockets() {
    let mut w = World::new();
    let a = w.inbound("/chat/1");
    let b = w.inbound("/chat/2");
    let c = w.inbound("/feed");
    w.hub.subscribe(&c, &["chat", "other"]).unwrap();
    let id = |s: &String| SocketId::new(s).unwrap();
    for filter in [
        SocketFilter::all(),
        SocketFilter::all().with_groups(["chat"]),
        SocketFilter::all().with_groups(["chat", "other"]),
    ] {
        let but_a = filter.clone().except_socket_ids([id(&a)]);
        assert_eq!(w.matching(&but_a), set(&[&b, &c]));
        assert_eq!(w.hub.broadcast("not a", &but_a).unwrap().delivered, 2);
        let neither = filter.except_socket_ids([id(&a), id(&c)]);
        assert_eq!(w.matching(&neither), set(&[&b]));
    }
    let closed = w
        .hub
        .bulk_close(&SocketFilter::all().except_socket_ids([id(&b)]), 4000, "")
        .unwrap();
    assert_eq!(closed, 2);
    assert!(w.hub.socket(&b).unwrap().is_open());
}

/// All-of groups keep only the sockets in every one; except-groups leave out the sockets in
/// any one, whatever else they match; both combine with any-of groups and with the ID
/// exclusions, in broadcast, bulk close and the listing alike.
#[test]
fn all_of_groups_and_excepted_groups_select_like_the_filter_says() {
    let mut w = World::new();
    let a = w.inbound("/chat/1");
    let b = w.inbound("/chat/2");
    let c = w.inbound("/feed");
    w.hub.subscribe(&a, &["red", "blue"]).unwrap();
    w.hub.subscribe(&b, &["red"]).unwrap();
    w.hub.subscribe(&c, &["blue", "muted"]).unwrap();
    let id = |s: &String| SocketId::new(s).unwrap();
    let cases = [
        (
            SocketFilter::all().with_all_groups(["red", "blue"]),
            set(&[&a]),
        ),
        (
            SocketFilter::all().with_all_groups(["blue"]),
            set(&[&a, &c]),
        ),
        (
            SocketFilter::all().with_all_groups(["red", "nobody"]),
            set(&[]),
        ),
        (
            SocketFilter::all()
                .with_groups(["red", "muted"])
                .with_all_groups(["blue"]),
            set(&[&a, &c]),
        ),
        (SocketFilter::all().except_groups(["muted"]), set(&[&a, &b])),
        (
            SocketFilter::all()
                .with_groups(["blue"])
                .except_groups(["muted", "nobody"]),
            set(&[&a]),
        ),
        (
            SocketFilter::all()
                .with_path("/chat/*")
                .unwrap()
                .except_groups(["blue"])
                .except_socket_ids([id(&c)]),
            set(&[&b]),
        ),
    ];
    for (filter, expected) in &cases {
        assert_eq!(&w.matching(filter), expected, "{filter:?}");
        let result = w.hub.broadcast("x", filter).unwrap();
        assert_eq!(result.delivered, expected.len(), "{filter:?}");
    }
    let closed = w
        .hub
        .bulk_close(&SocketFilter::all().except_groups(["red"]), 4000, "")
        .unwrap();
    assert_eq!(closed, 1);
    assert!(w.hub.socket(&a).unwrap().is_open());
    assert!(w.hub.socket(&b).unwrap().is_open());
    let e = w
        .hub
        .broadcast("x", &SocketFilter::all().except_groups([""]))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = w
        .hub
        .sockets(&SocketFilter::all().with_all_groups(["x".repeat(MAX_GROUP_LEN + 1)]))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn broadcast_to_nobody_is_zero_and_bad_filters_are_errors() {
    let w = World::new();
    let result = w.hub.broadcast("x", &SocketFilter::all()).unwrap();
    assert_eq!((result.delivered, result.failures.len()), (0, 0));
    assert_eq!(
        SocketFilter::all()
            .with_path("no-slash")
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    let e = w
        .hub
        .broadcast("x", &SocketFilter::all().with_groups([""]))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn bulk_close_closes_exactly_the_matching_sockets() {
    let mut w = World::new();
    let chat1 = w.inbound("/chat/1");
    let chat2 = w.inbound("/chat/2");
    let feed = w.inbound("/feed");
    w.hub.subscribe(&feed, &["vip"]).unwrap();
    let closed = w
        .hub
        .bulk_close(
            &SocketFilter::all().with_path("/chat/*").unwrap(),
            4100,
            "room closed",
        )
        .unwrap();
    assert_eq!(closed, 2);
    let rt = &w.rt;
    for (id, client) in w.clients.iter_mut() {
        if *id == chat1 || *id == chat2 {
            assert_eq!(
                rt.block_on(recv_close(client)),
                (4100, "room closed".to_owned())
            );
        }
    }
    let mut reported = BTreeSet::new();
    for _ in 0..2 {
        let (socket, code, _) = w.hub_events.closed();
        assert_eq!(code, 4100);
        reported.insert(socket.id().to_string());
    }
    assert_eq!(reported, set(&[&chat1, &chat2]));
    assert_eq!(w.hub.socket_count(), 1);
    assert_eq!(
        w.hub.group_count(),
        1,
        "the chat group disappeared with its last member"
    );
    assert_eq!(
        w.hub
            .bulk_close(&SocketFilter::all().with_groups(["vip"]), 1000, "")
            .unwrap(),
        1
    );
    let (_, feed_client) = w.clients.iter_mut().find(|(id, _)| *id == feed).unwrap();
    assert_eq!(w.rt.block_on(recv_close(feed_client)).0, 1000);
    w.hub_events.closed();
    assert_eq!((w.hub.socket_count(), w.hub.group_count()), (0, 0));
}

#[test]
fn a_socket_that_closes_leaves_every_group() {
    let mut w = World::new();
    let a = w.inbound("/chat/1");
    w.hub.subscribe(&a, &["g1", "g2"]).unwrap();
    let b = w.inbound("/chat/2");
    w.hub.subscribe(&b, &["g1"]).unwrap();
    w.clients.retain(|(id, _)| *id != a);
    w.hub_events.closed();
    assert_eq!(
        w.matching(&SocketFilter::all().with_groups(["g1", "g2"])),
        set(&[&b])
    );
    assert_eq!(w.hub.group_count(), 2, "chat and g1 remain; g2 emptied");
    let result = w
        .hub
        .broadcast("hi", &SocketFilter::all().with_groups(["g2"]))
        .unwrap();
    assert_eq!(result.delivered, 0);
}

#[test]
fn broadcast_reports_sockets_whose_queue_is_full() {
    let (hub, events) = start_server(|c| {
        c.socket.send_queue_messages = 2;
        c.socket.ping_interval = None;
    });
    let rt = runtime();
    // This client never reads: its TCP window fills, then its queue.
    let _stuck = rt.block_on(connect(&url(&hub, "/")));
    let stuck_id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .to_string();
    let payload = "x".repeat(64 * 1024);
    let mut failures = Vec::new();
    for _ in 0..2000 {
        let result = hub
            .broadcast(payload.as_str(), &SocketFilter::all())
            .unwrap();
        if !result.failures.is_empty() {
            failures = result.failures;
            break;
        }
    }
    assert_eq!(
        failures.len(),
        1,
        "the queue filled within 2000 sends of 64 KiB"
    );
    assert_eq!(failures[0].socket_id.as_str(), stuck_id);
    match &failures[0].what {
        Undelivered::Failed(e) => assert_eq!(e.kind(), ErrorKind::QueueFull),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bulk_close_by_type_and_by_combined_filter() {
    let mut w = World::new();
    let chat1 = w.inbound("/chat/1");
    let out_chat = w.outbound("/chat/2", "out-chat");
    let out_feed = w.outbound("/feed", "out-feed");
    w.hub.subscribe(&out_feed, &["vip"]).unwrap();
    w.hub.subscribe(&chat1, &["vip"]).unwrap();
    // Outbound, on a chat path, in vip: nobody.
    let none = SocketFilter::all()
        .with_type(SocketType::Outbound)
        .with_path("/chat/*")
        .unwrap()
        .with_groups(["vip"]);
    assert_eq!(w.hub.bulk_close(&none, 1000, "").unwrap(), 0);
    // Outbound in vip: out-feed only.
    let one = SocketFilter::all()
        .with_type(SocketType::Outbound)
        .with_groups(["vip"]);
    assert_eq!(w.hub.bulk_close(&one, 4001, "combined").unwrap(), 1);
    let mut closed = BTreeSet::new();
    for _ in 0..2 {
        // out-feed, and its inbound twin seeing the same close.
        let (socket, code, _) = w.hub_events.closed();
        assert_eq!(code, 4001);
        closed.insert(socket.socket_type().as_str());
    }
    assert_eq!(closed.len(), 2);
    // Every remaining outbound socket: out-chat.
    let outbound = SocketFilter::all().with_type(SocketType::Outbound);
    assert_eq!(w.hub.bulk_close(&outbound, 4002, "outbound").unwrap(), 1);
    let (socket, code, _) = w.hub_events.closed();
    assert_eq!(code, 4002);
    let (twin, _, _) = w.hub_events.closed();
    assert!(socket.id().as_str() == out_chat || twin.id().as_str() == out_chat);
    assert_eq!(w.matching(&SocketFilter::all()), set(&[&chat1]));
}

#[test]
fn a_socket_at_hand_subscribes_unsubscribes_and_closes_itself() {
    let mut w = World::new();
    let a = w.inbound("/chat/1");
    let socket = w.hub.socket(&a).unwrap();
    socket.subscribe(&["x", "y", "x"]).unwrap();
    socket.unsubscribe(&["y", "never-joined"]).unwrap();
    assert_eq!(socket.groups(), ["chat", "x"]);
    // The registry's index moved with it: filters find the socket by its new group.
    let in_x = SocketFilter::all().with_groups(["x"]);
    assert_eq!(w.matching(&in_x), set(&[&a]));
    assert_eq!(w.hub.group_count(), 2);

    // The connector-level operations' argument errors, with nothing changed.
    assert_eq!(
        socket.subscribe(&[""]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        socket
            .unsubscribe(&["x".repeat(MAX_GROUP_LEN + 1)])
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    for (code, reason) in [
        (1005, String::new()),
        (999, String::new()),
        (1000, "x".repeat(124)),
    ] {
        let e = socket.close(code, &reason).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::InvalidArgument,
            "{code} {}",
            reason.len()
        );
    }
    assert_eq!(socket.groups(), ["chat", "x"]);

    socket.close(4001, "by the socket").unwrap();
    socket.close(4002, "again").unwrap(); // already closing: a no-op
    let client = &mut w.clients[0].1;
    assert_eq!(
        w.rt.block_on(recv_close(client)),
        (4001, "by the socket".to_owned())
    );
    let (closed, code, _) = w.hub_events.closed();
    assert_eq!((closed.id().as_str(), code), (a.as_str(), 4001));
    assert_eq!(w.hub.group_count(), 0);
    // Closed: each operation fails as its connector-level twin does with the ID.
    for e in [
        socket.subscribe(&["x"]).unwrap_err(),
        socket.unsubscribe(&["x"]).unwrap_err(),
        socket.close(1000, "").unwrap_err(),
        w.hub.subscribe(&a, &["x"]).unwrap_err(),
        w.hub.close(&a, 1000, "").unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::NoSuchSocket, "{e}");
    }
    assert_eq!(w.hub.group_count(), 0);
}

#[test]
fn a_socket_kept_after_its_connector_is_gone_fails_cleanly() {
    let mut w = World::new();
    let a = w.inbound("/chat/1");
    let socket = w.hub.socket(&a).unwrap();
    let World { clients, hub, .. } = w;
    drop(clients);
    drop(hub);
    for e in [
        socket.subscribe(&["x"]).unwrap_err(),
        socket.unsubscribe(&["chat"]).unwrap_err(),
        socket.close(1000, "").unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::NoSuchSocket, "{e}");
    }
    assert_eq!(socket.id().as_str(), a, "its attributes stay readable");
}
