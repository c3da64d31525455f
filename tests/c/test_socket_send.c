/* wsc_socket_send(): replies from callbacks on the socket view they were handed (the whole
 * payload, part of it, twice, as the other kind; small payloads and large ones, which the
 * library passes on differently), next to wsc_connector_send() and wsc_connector_broadcast()
 * of the handed payload; its argument errors; sends on a socket from a lookup, from pull-mode
 * events and from a list; and sends on a closed socket (from its closed callback, after a close,
 * after the connector was freed), which fail with an error code. The peer is the raw client. */
#include "testing.h"

#define LARGE 3000 /* above the size from which payloads are shown to callbacks in place */

typedef struct {
    monitor m;
    int connections, messages, closed;
    char id[WSC_SOCKET_ID_SIZE];
    wsc_result send_when_closed;
} server_state;

static int starts_with(wsc_bytes payload, const char *prefix) {
    size_t len = strlen(prefix);
    return payload.len >= len && memcmp(payload.data, prefix, len) == 0;
}

/* wsc_socket_send() that must queue. */
static void reply(const wsc_socket *socket, uint32_t kind, const uint8_t *data, size_t len) {
    wsc_delivery delivery = 0;
    size_t dropped = 99;
    OK(wsc_socket_send(socket, kind, data, len, &delivery, &dropped));
    CHECK(delivery == WSC_DELIVERY_QUEUED && dropped == 0);
}

/* The argument errors, from inside a callback (the handed payload is binary, not UTF-8). */
static void check_errors(const wsc_socket *socket, wsc_bytes payload) {
    EXPECT(WSC_NULL_POINTER, wsc_socket_send(NULL, WSC_TEXT, payload.data, payload.len, NULL, NULL));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_send(socket, 7, payload.data, payload.len, NULL, NULL));
    EXPECT(WSC_NULL_POINTER, wsc_socket_send(socket, WSC_TEXT, NULL, 3, NULL, NULL));
    const uint8_t bad[1] = {0xff};
    EXPECT(WSC_INVALID_UTF8, wsc_socket_send(socket, WSC_TEXT, bad, 1, NULL, NULL));
    CHECK(last_error_contains("UTF-8"));
    /* The handed payload itself, whole and in part, is checked the same way. */
    EXPECT(WSC_INVALID_UTF8, wsc_socket_send(socket, WSC_TEXT, payload.data, payload.len, NULL, NULL));
    EXPECT(WSC_INVALID_UTF8, wsc_socket_send(socket, WSC_TEXT, payload.data + 3, 1, NULL, NULL));
    /* A wrong, huge length is refused before anything is read (ASan would see the read). */
    EXPECT(WSC_LIMIT_EXCEEDED, wsc_socket_send(socket, WSC_BINARY, payload.data, SIZE_MAX, NULL, NULL));
    EXPECT(WSC_LIMIT_EXCEEDED, wsc_socket_send(socket, WSC_BINARY, bad, (size_t)1 << 40, NULL, NULL));
    /* Nothing was queued by the failures; the message still goes out as binary. */
    reply(socket, WSC_BINARY, payload.data, 3);
}

static void on_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    server_state *s = userdata;
    (void)conn;
    wsc_str id;
    OK(wsc_socket_id(socket, &id));
    reply(socket, WSC_TEXT, (const uint8_t *)"hello", 5);
    UNDER_LOCK(&s->m, (s->connections++, str_copy(id, s->id, sizeof s->id)));
}

/* The first word of a message says how to reply. Afterwards the handed payload must be intact:
 * a send that passed the message on left the callback's view alone. */
static void on_message(void *userdata, wsc_connector *conn, const wsc_socket *socket, wsc_message_kind kind,
                       wsc_bytes payload) {
    server_state *s = userdata;
    static uint8_t before[LARGE + 64];
    CHECK(payload.len <= sizeof before);
    memcpy(before, payload.data, payload.len);
    if (starts_with(payload, "echo")) {
        reply(socket, kind, payload.data, payload.len);
    } else if (starts_with(payload, "tail:")) {
        reply(socket, kind, payload.data + 5, payload.len - 5);
    } else if (starts_with(payload, "twice")) {
        reply(socket, kind, payload.data, payload.len);
        reply(socket, kind, payload.data, payload.len);
    } else if (starts_with(payload, "binary")) {
        reply(socket, WSC_BINARY, payload.data, payload.len);
    } else if (starts_with(payload, "by-id")) {
        char id[WSC_SOCKET_ID_SIZE];
        wsc_str view;
        OK(wsc_socket_id(socket, &view));
        str_copy(view, id, sizeof id);
        OK(wsc_connector_send(conn, id, kind, payload.data, payload.len, NULL, NULL));
    } else if (starts_with(payload, "to-all")) {
        OK(wsc_connector_broadcast(conn, NULL, kind, payload.data, payload.len, NULL));
    } else if (starts_with(payload, "bad")) {
        check_errors(socket, payload);
    } else {
        CHECK(!"an unexpected message");
    }
    CHECK(memcmp(payload.data, before, payload.len) == 0);
    UNDER_LOCK(&s->m, s->messages++);
}

static void on_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket, uint16_t code,
                      wsc_str reason) {
    server_state *s = userdata;
    (void)conn, (void)code, (void)reason;
    wsc_result r = wsc_socket_send(socket, WSC_TEXT, (const uint8_t *)"late", 4, NULL, NULL);
    UNDER_LOCK(&s->m, (s->closed++, s->send_when_closed = r));
}

/* Receives one frame, which must have `opcode` and the `len` bytes at `want`. */
static void expect_frame(raw_ws *ws, int opcode, const char *want, size_t len) {
    static char buf[LARGE + 64];
    int got = raw_ws_recv(ws, buf, sizeof buf);
    if (got != opcode || strlen(buf) != len || memcmp(buf, want, len) != 0) {
        fprintf(stderr, "got opcode %d with %zu bytes \"%.40s\", expected %d with %zu bytes \"%.40s\"\n", got,
                strlen(buf), buf, opcode, len, want);
        exit(1);
    }
}

static void expect_text(raw_ws *ws, const char *want) { expect_frame(ws, 1, want, strlen(want)); }

/* Sends `text` and expects it back, from offset `skip` on, `times` times. */
static void round_trip(raw_ws *ws, const char *text, size_t skip, int times) {
    raw_ws_send(ws, 1, text, strlen(text));
    for (int i = 0; i < times; i++) expect_text(ws, text + skip);
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
    raw_ws ws = raw_ws_open(port_of(server), "/send");
    CHECK(ws.status == 101);
    expect_text(&ws, "hello");
    WAIT_UNTIL(&s.m, s.connections == 1);

    static char large[LARGE + 1];
    const char *prefixes[] = {"echo ", "tail:", "twice", "by-id", "to-all"};
    for (size_t p = 0; p < sizeof prefixes / sizeof *prefixes; p++) {
        size_t skip = strcmp(prefixes[p], "tail:") == 0 ? 5 : 0;
        int times = strcmp(prefixes[p], "twice") == 0 ? 2 : 1;
        char small[64];
        snprintf(small, sizeof small, "%s small", prefixes[p]);
        round_trip(&ws, small, skip, times);
        memset(large, 'a' + (int)p, LARGE);
        memcpy(large, prefixes[p], strlen(prefixes[p]));
        large[LARGE] = 0;
        round_trip(&ws, large, skip, times);
    }
    raw_ws_send(&ws, 1, "binary", 6);
    expect_frame(&ws, 2, "binary", 6);
    const char bad[] = {'b', 'a', 'd', (char)0xff};
    raw_ws_send(&ws, 2, bad, sizeof bad);
    expect_frame(&ws, 2, "bad", 3);
    WAIT_UNTIL(&s.m, s.messages == 12);

    /* An owned socket from a lookup, from this thread. */
    wsc_socket *socket = NULL;
    OK(wsc_connector_socket(server, s.id, &socket));
    OK(wsc_socket_send(socket, WSC_TEXT, (const uint8_t *)"looked up", 9, NULL, NULL));
    expect_text(&ws, "looked up");
    OK(wsc_socket_send(socket, WSC_TEXT, NULL, 0, NULL, NULL));
    expect_text(&ws, "");

    /* Closed: the closed callback's send failed, and so does one on the owned handle. */
    OK(wsc_connector_close(server, s.id, 4000, "bye"));
    static char frame[256];
    CHECK(raw_ws_recv(&ws, frame, sizeof frame) == 8);
    raw_ws_send(&ws, 8, frame, 2); /* the close handshake's answer, with the code */
    WAIT_UNTIL(&s.m, s.closed == 1);
    CHECK(s.send_when_closed == WSC_NO_SUCH_SOCKET);
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_socket_send(socket, WSC_TEXT, (const uint8_t *)"x", 1, NULL, NULL));
    bool open = true;
    OK(wsc_socket_is_open(socket, &open));
    CHECK(!open);
    raw_ws_close(&ws);

    /* The owned handle outlives its connector; sends on it still fail cleanly. */
    OK(wsc_connector_free(server));
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_socket_send(socket, WSC_BINARY, (const uint8_t *)"x", 1, NULL, NULL));
    wsc_socket_free(socket);
    monitor_destroy(&s.m);
}

/* Pull mode: the socket of an event, and one of a list. */
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
    OK(wsc_socket_send(socket, WSC_TEXT, (const uint8_t *)"welcome", 7, NULL, NULL));
    expect_text(&ws, "welcome");
    wsc_event_free(event);

    raw_ws_send(&ws, 1, "ping", 4);
    OK(wsc_connector_next_event(server, WAIT_SECONDS * 1000, &event));
    CHECK(event != NULL);
    wsc_message_kind kind;
    wsc_bytes payload;
    OK(wsc_event_message(event, &kind, &payload));
    OK(wsc_event_socket(event, &socket));
    OK(wsc_socket_send(socket, kind, payload.data, payload.len, NULL, NULL));
    wsc_event_free(event);
    expect_text(&ws, "ping");

    wsc_socket_list *list = NULL;
    OK(wsc_connector_sockets(server, NULL, &list));
    OK(wsc_socket_list_get(list, 0, &socket));
    OK(wsc_socket_send(socket, WSC_TEXT, (const uint8_t *)"listed", 6, NULL, NULL));
    expect_text(&ws, "listed");
    OK(wsc_connector_stop(server));
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_socket_send(socket, WSC_TEXT, (const uint8_t *)"x", 1, NULL, NULL));
    wsc_socket_list_free(list);
    raw_ws_close(&ws);
    OK(wsc_connector_free(server));
}

int main(void) {
    with_callbacks();
    pulled();
    printf("test_socket_send: ok\n");
    return 0;
}
