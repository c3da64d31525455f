/* wsc_socket_close(), wsc_socket_subscribe() and wsc_socket_unsubscribe(): callbacks act on the
 * socket view they were handed, without an ID; the argument errors of the connector-level
 * operations; the group index follows (a group broadcast reaches the socket); on a closed
 * socket, from its closed callback, on an owned handle after the connector was freed and on a
 * socket from a pull-mode event, each fails with WSC_NO_SUCH_SOCKET. The peer is the raw client. */
#include "testing.h"

typedef struct {
    monitor m;
    int connections, messages, closed;
    char id[WSC_SOCKET_ID_SIZE];
    wsc_result when_closed[3];
} server_state;

static int is(wsc_bytes payload, const char *text) {
    return payload.len == strlen(text) && memcmp(payload.data, text, payload.len) == 0;
}

/* The socket's groups, read on a fresh lookup, joined with commas into `out`. */
static void groups_of(wsc_connector *conn, const char *id, char *out, size_t cap) {
    wsc_socket *socket = NULL;
    OK(wsc_connector_socket(conn, id, &socket));
    size_t count = 0;
    OK(wsc_socket_group_count(socket, &count));
    out[0] = 0;
    for (size_t i = 0; i < count; i++) {
        wsc_str group;
        OK(wsc_socket_group_at(socket, i, &group));
        size_t at = strlen(out);
        snprintf(out + at, cap - at, "%s%.*s", i ? "," : "", (int)group.len, group.data);
    }
    wsc_socket_free(socket);
}

/* The argument errors, on a live socket; none of them changes anything. */
static void check_errors(const wsc_socket *socket) {
    const char *groups[] = {"g"};
    const char *empty[] = {""};
    const char *bad_utf8[] = {"\xff"};
    EXPECT(WSC_NULL_POINTER, wsc_socket_subscribe(NULL, groups, 1));
    EXPECT(WSC_NULL_POINTER, wsc_socket_unsubscribe(NULL, groups, 1));
    EXPECT(WSC_NULL_POINTER, wsc_socket_close(NULL, 1000, NULL));
    EXPECT(WSC_NULL_POINTER, wsc_socket_subscribe(socket, NULL, 1));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_subscribe(socket, empty, 1));
    CHECK(last_error_contains("group"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_unsubscribe(socket, empty, 1));
    EXPECT(WSC_INVALID_UTF8, wsc_socket_subscribe(socket, bad_utf8, 1));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_close(socket, 1005, NULL));
    CHECK(last_error_contains("1005"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_close(socket, 999, NULL));
    char long_reason[130];
    memset(long_reason, 'r', sizeof long_reason - 1);
    long_reason[sizeof long_reason - 1] = 0;
    EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_close(socket, 1000, long_reason));
    EXPECT(WSC_INVALID_UTF8, wsc_socket_close(socket, 1000, "\xff"));
    OK(wsc_socket_subscribe(socket, NULL, 0)); /* no groups: nothing to do */
}

static void on_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    server_state *s = userdata;
    (void)conn;
    check_errors(socket);
    const char *groups[] = {"room:lobby", "x", "room:lobby"};
    OK(wsc_socket_subscribe(socket, groups, 3));
    /* This view took no group snapshot yet: it sees the new groups. */
    size_t count = 0;
    OK(wsc_socket_group_count(socket, &count));
    CHECK(count == 2);
    wsc_str id;
    OK(wsc_socket_id(socket, &id));
    UNDER_LOCK(&s->m, (s->connections++, str_copy(id, s->id, sizeof s->id)));
}

static void on_message(void *userdata, wsc_connector *conn, const wsc_socket *socket, wsc_message_kind kind,
                       wsc_bytes payload) {
    server_state *s = userdata;
    (void)conn, (void)kind;
    if (is(payload, "leave")) {
        const char *groups[] = {"x", "never-joined"};
        OK(wsc_socket_unsubscribe(socket, groups, 2));
    } else if (is(payload, "close")) {
        OK(wsc_socket_close(socket, 4001, "by the socket view"));
        OK(wsc_socket_close(socket, 4002, "again")); /* already closing: a no-op */
    } else {
        CHECK(!"an unexpected message");
    }
    UNDER_LOCK(&s->m, s->messages++);
}

static void on_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket, uint16_t code,
                      wsc_str reason) {
    server_state *s = userdata;
    (void)conn, (void)code, (void)reason;
    const char *groups[] = {"late"};
    wsc_result subscribed = wsc_socket_subscribe(socket, groups, 1);
    wsc_result unsubscribed = wsc_socket_unsubscribe(socket, groups, 1);
    wsc_result closed = wsc_socket_close(socket, 1000, NULL);
    UNDER_LOCK(&s->m, (s->closed++, s->when_closed[0] = subscribed, s->when_closed[1] = unsubscribed,
                       s->when_closed[2] = closed));
}

static void with_callbacks(void) {
    static server_state s;
    monitor_init(&s.m);
    wsc_config *config = listener_config();
    OK(wsc_config_on_inbound_connection(config, on_connection, &s, NULL));
    OK(wsc_config_on_inbound_message(config, on_message, &s, NULL));
    OK(wsc_config_on_socket_closed(config, on_closed, &s, NULL));
    wsc_connector *server = NULL;
    OK(wsc_connector_start(config, &server));
    raw_ws ws = raw_ws_open(port_of(server), "/ops");
    CHECK(ws.status == 101);
    WAIT_UNTIL(&s.m, s.connections == 1);

    char groups[256];
    groups_of(server, s.id, groups, sizeof groups);
    CHECK(strcmp(groups, "room:lobby,x") == 0);
    /* The group index moved with the socket: a group broadcast reaches it. */
    wsc_filter *in_x = NULL;
    OK(wsc_filter_new(&in_x));
    OK(wsc_filter_add_group(in_x, "x"));
    OK(wsc_connector_broadcast(server, in_x, WSC_TEXT, (const uint8_t *)"to x", 4, NULL));
    static char frame[256];
    CHECK(raw_ws_recv(&ws, frame, sizeof frame) == 1 && strcmp(frame, "to x") == 0);

    raw_ws_send(&ws, 1, "leave", 5);
    WAIT_UNTIL(&s.m, s.messages == 1);
    groups_of(server, s.id, groups, sizeof groups);
    CHECK(strcmp(groups, "room:lobby") == 0);
    wsc_socket_list *list = NULL;
    OK(wsc_connector_sockets(server, in_x, &list));
    size_t members = 1;
    OK(wsc_socket_list_len(list, &members));
    CHECK(members == 0);
    wsc_socket_list_free(list);
    wsc_filter_free(in_x);

    wsc_socket *owned = NULL;
    OK(wsc_connector_socket(server, s.id, &owned));
    raw_ws_send(&ws, 1, "close", 5);
    CHECK(raw_ws_recv(&ws, frame, sizeof frame) == 8);
    CHECK(((unsigned char)frame[0] << 8 | (unsigned char)frame[1]) == 4001);
    CHECK(strcmp(frame + 2, "by the socket view") == 0);
    /* The socket stays open until the handshake's answer: the callback's second close meets a
       closing socket, never a closed one. */
    WAIT_UNTIL(&s.m, s.messages == 2);
    raw_ws_send(&ws, 8, frame, 2); /* the close handshake's answer, with the code */
    WAIT_UNTIL(&s.m, s.closed == 1);
    for (int i = 0; i < 3; i++) CHECK(s.when_closed[i] == WSC_NO_SUCH_SOCKET);
    const char *one[] = {"x"};
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_socket_subscribe(owned, one, 1));
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_socket_close(owned, 1000, "bye"));
    raw_ws_close(&ws);

    /* The owned handle outlives its connector; operations on it still fail cleanly. */
    OK(wsc_connector_free(server));
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_socket_unsubscribe(owned, one, 1));
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_socket_close(owned, 1000, NULL));
    wsc_socket_free(owned);
    monitor_destroy(&s.m);
}

/* Pull mode: the socket of an event subscribes and closes itself; after stop, it fails. */
static void pulled(void) {
    wsc_connector *server = NULL;
    OK(wsc_connector_start(listener_config(), &server));
    raw_ws ws = raw_ws_open(port_of(server), "/pull");
    CHECK(ws.status == 101);
    wsc_event *event = NULL;
    OK(wsc_connector_next_event(server, WAIT_SECONDS * 1000, &event));
    CHECK(event != NULL);
    const wsc_socket *socket = NULL;
    OK(wsc_event_socket(event, &socket));
    const char *groups[] = {"pulled"};
    OK(wsc_socket_subscribe(socket, groups, 1));
    wsc_str id;
    OK(wsc_socket_id(socket, &id));
    char id_copy[WSC_SOCKET_ID_SIZE], joined[64];
    str_copy(id, id_copy, sizeof id_copy);
    groups_of(server, id_copy, joined, sizeof joined);
    CHECK(strcmp(joined, "pulled") == 0);
    OK(wsc_socket_close(socket, 4003, NULL));
    static char frame[256];
    CHECK(raw_ws_recv(&ws, frame, sizeof frame) == 8);
    CHECK(((unsigned char)frame[0] << 8 | (unsigned char)frame[1]) == 4003);
    raw_ws_send(&ws, 8, frame, 2);
    wsc_event *closed = NULL;
    OK(wsc_connector_next_event(server, WAIT_SECONDS * 1000, &closed));
    CHECK(closed != NULL);
    wsc_trigger trigger;
    OK(wsc_event_trigger(closed, &trigger));
    CHECK(trigger == WSC_TRIGGER_SOCKET_CLOSED);
    wsc_event_free(closed);
    OK(wsc_connector_stop(server));
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_socket_subscribe(socket, groups, 1));
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_socket_close(socket, 1000, NULL));
    wsc_event_free(event);
    raw_ws_close(&ws);
    OK(wsc_connector_free(server));
}

int main(void) {
    with_callbacks();
    pulled();
    printf("test_socket_ops: ok\n");
    return 0;
}
