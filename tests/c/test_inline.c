/* Inline dispatch (wsc_config_set_inline_dispatch): callbacks run on the I/O threads, in order
 * for each socket (connection, messages, closed last and once), replies leave from them, every
 * operation that does not wait works from them, the waiting ones fail with WSC_INVALID_STATE
 * instead of blocking the I/O thread, and free delivers the last callbacks before it returns. */
#define _GNU_SOURCE
#include "testing.h"

#define CLIENTS 3
#define MESSAGES 100

typedef struct {
    monitor m;
    int connections, closed, messages;
    int wrong_thread, out_of_order;
    int next[CLIENTS]; /* the message expected next from each client */
    int ops_checked;
    int freed;
    wsc_connector *conn;
} state;

static void check_thread(state *s) {
    char name[32] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    if (strcmp(name, "wsc-io") != 0) s->wrong_thread++;
}

static void on_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    state *s = userdata;
    (void)conn, (void)socket;
    UNDER_LOCK(&s->m, (check_thread(s), s->connections++));
}

/* What an inline callback may and may not do. */
static void check_operations(state *s, wsc_connector *conn, const wsc_socket *socket) {
    char id[WSC_SOCKET_ID_SIZE];
    EXPECT(WSC_INVALID_STATE, wsc_connector_open_outbound(conn, "ws://127.0.0.1:1/", NULL, id, sizeof id));
    CHECK(last_error_contains("inline"));
    EXPECT(WSC_INVALID_STATE, wsc_connector_stop(conn));
    EXPECT(WSC_INVALID_STATE, wsc_connector_free(conn));
    const char *groups[] = {"ops"};
    OK(wsc_socket_subscribe(socket, groups, 1));
    wsc_filter *ops = NULL;
    OK(wsc_filter_new(&ops));
    OK(wsc_filter_add_group(ops, "ops"));
    wsc_broadcast_result *result = NULL;
    OK(wsc_connector_broadcast(conn, ops, WSC_TEXT, (const uint8_t *)"to ops", 6, &result));
    size_t delivered = 0;
    OK(wsc_broadcast_result_delivered(result, &delivered));
    CHECK(delivered == 1);
    wsc_broadcast_result_free(result);
    wsc_filter_free(ops);
    UNDER_LOCK(&s->m, s->ops_checked++);
}

static void on_message(void *userdata, wsc_connector *conn, const wsc_socket *socket, wsc_message_kind kind,
                       wsc_bytes payload) {
    state *s = userdata;
    char text[64];
    str_copy((wsc_str){(const char *)payload.data, payload.len}, text, sizeof text);
    if (strcmp(text, "ops") == 0) {
        check_operations(s, conn, socket);
        return;
    }
    int client = -1, n = -1;
    CHECK(sscanf(text, "%d:%d", &client, &n) == 2 && client >= 0 && client < CLIENTS);
    pthread_mutex_lock(&s->m.lock);
    check_thread(s);
    if (n != s->next[client]) s->out_of_order++;
    s->next[client] = n + 1;
    s->messages++;
    pthread_cond_broadcast(&s->m.changed);
    pthread_mutex_unlock(&s->m.lock);
    /* The echo leaves in the same write as the other replies of this read. */
    OK(wsc_socket_send(socket, kind, payload.data, payload.len, NULL, NULL));
}

static void on_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket, uint16_t code, wsc_str reason) {
    state *s = userdata;
    (void)conn, (void)socket, (void)code, (void)reason;
    UNDER_LOCK(&s->m, (check_thread(s), s->closed++));
}

static void free_state(void *userdata) {
    state *s = userdata;
    UNDER_LOCK(&s->m, s->freed++);
}

int main(void) {
    /* Inline dispatch without a trigger callback is a mistake, not pull mode. */
    wsc_config *pull = listener_config();
    OK(wsc_config_set_inline_dispatch(pull, true));
    wsc_connector *none = NULL;
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_start(pull, &none));
    CHECK(none == NULL && last_error_contains("inline dispatch"));
    EXPECT(WSC_NULL_POINTER, wsc_config_set_inline_dispatch(NULL, true));

    state s = {0};
    monitor_init(&s.m);
    wsc_config *config = listener_config();
    OK(wsc_config_set_inline_dispatch(config, true));
    OK(wsc_config_on_inbound_connection(config, on_connection, &s, NULL));
    OK(wsc_config_on_inbound_message(config, on_message, &s, NULL));
    OK(wsc_config_on_socket_closed(config, on_closed, &s, free_state));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    uint16_t port = port_of(conn);

    raw_ws clients[CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
        clients[c] = raw_ws_open(port, "/inline");
        CHECK(clients[c].status == 101);
    }
    WAIT_UNTIL(&s.m, s.connections == CLIENTS);
    for (int n = 0; n < MESSAGES; n++) {
        for (int c = 0; c < CLIENTS; c++) {
            char text[32];
            int len = snprintf(text, sizeof text, "%d:%d", c, n);
            raw_ws_send(&clients[c], 1, text, (size_t)len);
        }
    }
    for (int c = 0; c < CLIENTS; c++) {
        for (int n = 0; n < MESSAGES; n++) {
            char got[64], want[32];
            CHECK(raw_ws_recv(&clients[c], got, sizeof got) == 1);
            snprintf(want, sizeof want, "%d:%d", c, n);
            CHECK(strcmp(got, want) == 0);
        }
    }
    WAIT_UNTIL(&s.m, s.messages == CLIENTS * MESSAGES);

    raw_ws_send(&clients[0], 1, "ops", 3);
    char got[64];
    CHECK(raw_ws_recv(&clients[0], got, sizeof got) == 1 && strcmp(got, "to ops") == 0);
    WAIT_UNTIL(&s.m, s.ops_checked == 1);

    raw_ws_close(&clients[0]);
    WAIT_UNTIL(&s.m, s.closed == 1);
    /* Free stops: the other sockets' closed callbacks run (inline) before it returns, and the
     * userdata's free after them. */
    OK(wsc_connector_free(conn));
    pthread_mutex_lock(&s.m.lock);
    CHECK(s.closed == CLIENTS);
    CHECK(s.freed == 1);
    CHECK(s.wrong_thread == 0);
    CHECK(s.out_of_order == 0);
    pthread_mutex_unlock(&s.m.lock);
    for (int c = 1; c < CLIENTS; c++) raw_ws_close(&clients[c]);
    monitor_destroy(&s.m);
    printf("test_inline: ok\n");
    return 0;
}
