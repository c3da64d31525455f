/* The log callback: records reach it with their level and target, it can be replaced and
 * removed at any time, and a bad level is an error. The record comes from a TCP connection
 * that sends nothing until the 50 ms handshake timeout ("inbound handshake timed out", debug).
 * A socket's records carry its ID (the fields of its span): from "socket opened" to "socket
 * closed". */
#include "testing.h"

typedef struct {
    monitor m;
    int records;
    int handshake_failures;
    char socket_id[64];        /* the socket's ID, from its connection callback */
    char opened[256], closed[256]; /* the records of the /traced socket's life */
} log_state;

static log_state *current;

static int contains(wsc_str text, const char *needle) {
    if (text.data == NULL) return 0;
    size_t n = strlen(needle);
    for (size_t i = 0; n <= text.len && i <= text.len - n; i++) {
        if (memcmp(text.data + i, needle, n) == 0) return 1;
    }
    return 0;
}

static void on_log(void *userdata, wsc_log_level level, wsc_str target, wsc_str message) {
    log_state *l = userdata;
    CHECK(level >= WSC_LOG_ERROR && level <= WSC_LOG_DEBUG);
    int failure = str_is(target, "wsconnector::inbound") && message.len >= 27 &&
                  memcmp(message.data, "inbound handshake timed out", 27) == 0;
    pthread_mutex_lock(&l->m.lock);
    l->records++;
    l->handshake_failures += failure;
    if (contains(message, "socket_path=/traced")) {
        if (contains(message, "socket opened")) str_copy(message, l->opened, sizeof l->opened);
        if (contains(message, "socket closed")) str_copy(message, l->closed, sizeof l->closed);
    }
    pthread_cond_broadcast(&l->m.changed);
    pthread_mutex_unlock(&l->m.lock);
}

static void on_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    (void)userdata;
    (void)conn;
    wsc_str id;
    OK(wsc_socket_id(socket, &id));
    UNDER_LOCK(&current->m, str_copy(id, current->socket_id, sizeof current->socket_id));
}


int main(void) {
    static log_state first, second;
    monitor_init(&first.m);
    monitor_init(&second.m);
    EXPECT(WSC_INVALID_ARGUMENT, wsc_set_log_callback(on_log, &first, 0));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_set_log_callback(on_log, &first, 6));
    OK(wsc_set_log_callback(on_log, &first, WSC_LOG_DEBUG));

    wsc_connector *server = NULL;
    wsc_config *config = listener_config();
    OK(wsc_config_set_handshake_timeout_ms(config, 50));
    OK(wsc_connector_start(config, &server));
    uint16_t port = port_of(server);
    int silent = raw_tcp(port);
    WAIT_UNTIL(&first.m, first.handshake_failures == 1);
    close(silent);

    OK(wsc_set_log_callback(on_log, &second, WSC_LOG_TRACE));
    silent = raw_tcp(port);
    WAIT_UNTIL(&second.m, second.handshake_failures == 1);
    close(silent);
    CHECK(first.handshake_failures == 1);

    /* A socket's life in the records: its ID on "socket opened" and on "socket closed". */
    current = &second;
    wsc_connector *traced = NULL;
    config = listener_config();
    OK(wsc_config_on_inbound_connection(config, on_connection, NULL, NULL));
    OK(wsc_connector_start(config, &traced));
    raw_ws ws = raw_ws_open(port_of(traced), "/traced");
    CHECK(ws.status == 101);
    const unsigned char normal[2] = {0x03, 0xe8};
    raw_ws_send(&ws, 8, normal, 2);
    char buf[64];
    CHECK(raw_ws_recv(&ws, buf, sizeof buf) == 8);
    WAIT_UNTIL(&second.m, second.closed[0] != 0 && second.socket_id[0] != 0);
    raw_ws_close(&ws);
    OK(wsc_connector_free(traced));
    char field[96];
    snprintf(field, sizeof field, " socket_id=%s socket_type=inbound", second.socket_id);
    CHECK(strstr(second.opened, field) != NULL);
    CHECK(strstr(second.closed, field) != NULL);
    CHECK(strncmp(second.closed, "socket closed code=1000", 23) == 0);

    OK(wsc_set_log_callback(NULL, NULL, WSC_LOG_INFO));
    OK(wsc_connector_free(server));
    monitor_destroy(&first.m);
    monitor_destroy(&second.m);
    printf("test_log: ok\n");
    return 0;
}
