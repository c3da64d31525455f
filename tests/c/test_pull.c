/* Pull mode: two connectors without callbacks take their events with
 * wsc_connector_next_event(); the event accessors; timeouts; draining after stop; a thread
 * blocked in next_event wakes with WSC_STOPPED; next_event is refused with callbacks. */
#include "testing.h"

static void *wait_forever(void *arg) {
    wsc_event *event = NULL;
    wsc_result *result = arg;
    *result = wsc_connector_next_event(NULL, -1, &event); /* NULL first: an error, not a wait */
    return NULL;
}

typedef struct {
    wsc_connector *conn;
    wsc_result result;
} blocked_taker;

static void *take_until_stopped(void *arg) {
    blocked_taker *t = arg;
    wsc_event *event = NULL;
    do {
        wsc_event_free(event);
        event = NULL;
        t->result = wsc_connector_next_event(t->conn, -1, &event);
    } while (t->result == WSC_OK);
    return NULL;
}

static void on_message(void *u, wsc_connector *c, const wsc_socket *s, wsc_message_kind k, wsc_bytes p) {
    (void)u, (void)c, (void)s, (void)k, (void)p;
}

int main(void) {
    wsc_connector *server = NULL, *client = NULL;
    OK(wsc_connector_start(listener_config(), &server));
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_connector_start(config, &client));

    wsc_event *event = (wsc_event *)1;
    OK(wsc_connector_next_event(server, 10, &event));
    CHECK(event == NULL);

    char url[128], id[WSC_SOCKET_ID_SIZE];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/pull", port_of(server));
    OK(wsc_connector_open_outbound(client, url, NULL, id, sizeof id));

    event = expect_event(server, WSC_TRIGGER_INBOUND_CONNECTION);
    const wsc_socket *socket = NULL;
    OK(wsc_event_socket(event, &socket));
    wsc_socket_type type;
    OK(wsc_socket_get_type(socket, &type));
    CHECK(type == WSC_INBOUND);
    wsc_str text;
    OK(wsc_socket_path(socket, &text));
    CHECK(str_is(text, "/pull"));
    char server_id[WSC_SOCKET_ID_SIZE];
    OK(wsc_socket_id(socket, &text));
    str_copy(text, server_id, sizeof server_id);
    wsc_message_kind kind;
    wsc_bytes payload;
    uint16_t code;
    EXPECT(WSC_INVALID_ARGUMENT, wsc_event_message(event, &kind, &payload));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_event_close(event, &code, &text));
    wsc_event_free(event);

    OK(wsc_connector_send(server, server_id, WSC_TEXT, (const uint8_t *)"hi", 2, NULL, NULL));
    event = expect_event(client, WSC_TRIGGER_OUTBOUND_MESSAGE);
    OK(wsc_event_message(event, &kind, &payload));
    CHECK(kind == WSC_TEXT && payload.len == 2 && memcmp(payload.data, "hi", 2) == 0);
    OK(wsc_event_socket(event, &socket));
    OK(wsc_socket_id(socket, &text));
    CHECK(str_is(text, id));
    wsc_event_free(event);

    const uint8_t bytes[3] = {9, 8, 7};
    OK(wsc_connector_send(client, id, WSC_BINARY, bytes, 3, NULL, NULL));
    event = expect_event(server, WSC_TRIGGER_INBOUND_MESSAGE);
    OK(wsc_event_message(event, &kind, &payload));
    CHECK(kind == WSC_BINARY && payload.len == 3 && payload.data[2] == 7);
    wsc_event_free(event);

    OK(wsc_connector_close(server, server_id, 4001, "done"));
    event = expect_event(client, WSC_TRIGGER_SOCKET_CLOSED);
    OK(wsc_event_close(event, &code, &text));
    CHECK(code == 4001 && str_is(text, "done"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_event_message(event, &kind, &payload));
    wsc_event_free(event);
    event = expect_event(server, WSC_TRIGGER_SOCKET_CLOSED);
    wsc_event_free(event);

    /* Events still queued at stop are delivered, then WSC_STOPPED. */
    OK(wsc_connector_open_outbound(client, url, NULL, id, sizeof id));
    OK(wsc_connector_stop(server));
    event = expect_event(server, WSC_TRIGGER_INBOUND_CONNECTION);
    wsc_event_free(event);
    event = expect_event(server, WSC_TRIGGER_SOCKET_CLOSED);
    OK(wsc_event_close(event, &code, &text));
    CHECK(code == 1001);
    wsc_event_free(event);
    EXPECT(WSC_STOPPED, wsc_connector_next_event(server, 0, &event));
    OK(wsc_connector_free(server));

    /* A thread waiting without a time limit wakes when the connector stops. */
    blocked_taker taker = {client, WSC_OK};
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, take_until_stopped, &taker) == 0);
    OK(wsc_connector_stop(client));
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(taker.result == WSC_STOPPED);
    OK(wsc_connector_free(client));

    wsc_result null_result = WSC_OK;
    CHECK(pthread_create(&thread, NULL, wait_forever, &null_result) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(null_result == WSC_NULL_POINTER);

    /* With a trigger callback, next_event is refused. */
    config = listener_config();
    OK(wsc_config_on_inbound_message(config, on_message, NULL, NULL));
    OK(wsc_connector_start(config, &server));
    EXPECT(WSC_INVALID_STATE, wsc_connector_next_event(server, 0, &event));
    OK(wsc_connector_free(server));
    printf("test_pull: ok\n");
    return 0;
}
