/* Every trigger and the authorization hook through C callbacks, the socket view's accessors,
 * operations from inside callbacks, lookups and listings, close and bulk close, and the
 * lifecycle rules: stop/free from a callback fail, userdata frees run once after the last
 * callback, no callback after free. The clients are outbound sockets of a second connector. */
#include "testing.h"

typedef struct {
    monitor m;
    wsc_connector *conn; /* for the authorization hook's forbidden free */
    int freed;           /* set by the userdata free; any callback afterwards is a failure */
    int userdata_frees;
    int auth_calls, connections, messages, closed;
    wsc_result stop_in_callback, free_in_callback, free_in_auth;
    char socket_id[WSC_SOCKET_ID_SIZE];
    uint16_t close_code;
    char close_reason[128];
} server_state;

typedef struct {
    monitor m;
    int freed, userdata_frees;
    int messages, closed;
    char last_message[256];
    wsc_message_kind last_kind;
    uint16_t close_code;
    char close_reason[128];
} client_state;

static void server_free(void *userdata) {
    server_state *s = userdata;
    UNDER_LOCK(&s->m, (s->userdata_frees++, s->freed = 1));
}

static void client_free(void *userdata) {
    client_state *c = userdata;
    UNDER_LOCK(&c->m, (c->userdata_frees++, c->freed = 1));
}

static void on_auth(void *userdata, const wsc_auth_request *request, wsc_auth_decision *decision) {
    server_state *s = userdata;
    CHECK(!s->freed);
    wsc_str path, uri, value, name;
    OK(wsc_auth_request_path(request, &path));
    CHECK(str_is(path, "/api/chat/room1"));
    OK(wsc_auth_request_uri(request, &uri));
    CHECK(uri.len > 0 && memchr(uri.data, '?', uri.len));
    OK(wsc_auth_request_header(request, "x-token", &value));
    CHECK(str_is(value, "t1"));
    OK(wsc_auth_request_header(request, "X-Absent", &value));
    CHECK(value.data == NULL);
    size_t count = 0;
    OK(wsc_auth_request_header_count(request, &count));
    CHECK(count >= 5);
    int saw_default = 0;
    for (size_t i = 0; i < count; i++) {
        OK(wsc_auth_request_header_at(request, i, &name, &value));
        if (str_is_ci(name, "X-Default") && str_is(value, "d")) saw_default = 1;
    }
    CHECK(saw_default);
    EXPECT(WSC_INVALID_ARGUMENT, wsc_auth_request_header_at(request, count, &name, &value));
    OK(wsc_auth_request_query_count(request, &count));
    CHECK(count == 2);
    OK(wsc_auth_request_query_at(request, 0, &name, &value));
    CHECK(str_is(name, "from") && str_is(value, "cfg")); /* the config's query comes first */
    OK(wsc_auth_request_subprotocol_count(request, &count));
    CHECK(count == 1);
    OK(wsc_auth_request_subprotocol_at(request, 0, &value));
    CHECK(str_is(value, "chat.v2"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_auth_request_subprotocol_at(request, 1, &value));
    char addr[64];
    size_t addr_len = 0;
    EXPECT(WSC_BUFFER_TOO_SMALL, wsc_auth_request_remote_addr(request, addr, 3, &addr_len));
    CHECK(addr_len > 3);
    OK(wsc_auth_request_remote_addr(request, addr, sizeof addr, &addr_len));
    CHECK(strncmp(addr, "127.0.0.1:", 10) == 0 && strlen(addr) == addr_len);
    wsc_result free_result = wsc_connector_free(s->conn);
    OK(wsc_auth_request_query(request, "user", &value));
    if (str_is(value, "eve")) {
        OK(wsc_auth_decision_reject(decision, 401, "go away"));
    } else {
        const char *groups[] = {"vip"};
        OK(wsc_auth_decision_accept(decision, groups, 1));
    }
    UNDER_LOCK(&s->m, (s->auth_calls++, s->free_in_auth = free_result));
}

/* Checks every accessor of the new inbound socket, then acts on it from inside the callback. */
static void on_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    server_state *s = userdata;
    CHECK(!s->freed);
    wsc_str id, text, name, value;
    wsc_socket_type type;
    OK(wsc_socket_id(socket, &id));
    OK(wsc_socket_get_type(socket, &type));
    CHECK(type == WSC_INBOUND);
    OK(wsc_socket_path(socket, &text));
    CHECK(str_is(text, "/api/chat/room1"));
    OK(wsc_socket_uri(socket, &text));
    CHECK(text.len > 5 && memcmp(text.data, "ws://", 5) == 0);
    OK(wsc_socket_scheme(socket, &text));
    CHECK(str_is(text, "ws"));
    OK(wsc_socket_header(socket, "X-TOKEN", &text));
    CHECK(str_is(text, "t1"));
    size_t count = 0;
    OK(wsc_socket_header_count(socket, &count));
    CHECK(count >= 5);
    OK(wsc_socket_header_at(socket, 0, &name, &value));
    CHECK(name.data != NULL);
    EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_header_at(socket, count, &name, &value));
    OK(wsc_socket_query(socket, "user", &text));
    CHECK(str_is(text, "ann"));
    OK(wsc_socket_query(socket, "absent", &text));
    CHECK(text.data == NULL);
    OK(wsc_socket_query_count(socket, &count));
    CHECK(count == 2);
    int saw_from = 0;
    for (size_t i = 0; i < count; i++) {
        OK(wsc_socket_query_at(socket, i, &name, &value));
        if (str_is(name, "from") && str_is(value, "cfg")) saw_from = 1;
    }
    CHECK(saw_from);
    EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_query_at(socket, 2, &name, &value));
    OK(wsc_socket_subprotocol(socket, &text));
    CHECK(str_is(text, "chat.v2"));
    OK(wsc_socket_peer_certificate_subject(socket, &text));
    CHECK(text.data == NULL);
    wsc_bytes certificate;
    OK(wsc_socket_peer_certificate(socket, &certificate));
    CHECK(certificate.data == NULL && certificate.len == 0);
    char addr[64];
    size_t len = 0;
    OK(wsc_socket_local_addr(socket, addr, sizeof addr, &len));
    CHECK(strncmp(addr, "127.0.0.1:", 10) == 0);
    EXPECT(WSC_BUFFER_TOO_SMALL, wsc_socket_remote_addr(socket, NULL, 0, &len));
    CHECK(len > 10);
    /* Default groups of the path plus the hook's. */
    OK(wsc_socket_group_count(socket, &count));
    CHECK(count == 3);
    const char *want[] = {"everyone", "lobby", "vip"};
    for (size_t i = 0; i < count; i++) {
        OK(wsc_socket_group_at(socket, i, &text));
        CHECK(str_is(text, want[i]));
    }
    EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_group_at(socket, 3, &text));
    bool open = false;
    OK(wsc_socket_is_open(socket, &open));
    CHECK(open);

    /* Operations from inside a callback. */
    char sid[WSC_SOCKET_ID_SIZE];
    str_copy(id, sid, sizeof sid);
    const char *joined[] = {"joined"};
    OK(wsc_connector_subscribe(conn, sid, joined, 1));
    char welcome[300];
    int n = snprintf(welcome, sizeof welcome, "welcome %s", sid);
    wsc_delivery delivery;
    OK(wsc_connector_send(conn, sid, WSC_TEXT, (const uint8_t *)welcome, (size_t)n, &delivery, NULL));
    CHECK(delivery == WSC_DELIVERY_QUEUED);
    wsc_result stop_result = wsc_connector_stop(conn);
    wsc_result free_result = wsc_connector_free(conn);
    UNDER_LOCK(&s->m, (s->connections++, strcpy(s->socket_id, sid), s->stop_in_callback = stop_result,
                       s->free_in_callback = free_result));
}

/* Echoes a binary message's length to the socket's "vip" group, as text, by broadcast. */
static void on_inbound_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                               wsc_message_kind kind, wsc_bytes payload) {
    server_state *s = userdata;
    CHECK(!s->freed);
    (void)socket;
    CHECK(kind == WSC_BINARY && payload.len == 4 && payload.data[3] == 255);
    wsc_filter *filter = NULL;
    OK(wsc_filter_new(&filter));
    OK(wsc_filter_set_path(filter, "/api/chat/*"));
    OK(wsc_filter_set_type(filter, WSC_INBOUND));
    OK(wsc_filter_add_group(filter, "vip"));
    wsc_broadcast_result *result = NULL;
    OK(wsc_connector_broadcast(conn, filter, WSC_TEXT, (const uint8_t *)"echo:4", 6, &result));
    size_t delivered = 0, failures = 1, dropped = 1;
    OK(wsc_broadcast_result_delivered(result, &delivered));
    OK(wsc_broadcast_result_failure_count(result, &failures));
    OK(wsc_broadcast_result_dropped_oldest(result, &dropped));
    CHECK(delivered == 1 && failures == 0 && dropped == 0);
    wsc_str id;
    wsc_undelivered what;
    EXPECT(WSC_INVALID_ARGUMENT, wsc_broadcast_result_failure_at(result, 0, &id, &what, NULL));
    wsc_broadcast_result_free(result);
    wsc_filter_free(filter);
    UNDER_LOCK(&s->m, s->messages++);
}

static void on_server_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                             uint16_t code, wsc_str reason) {
    server_state *s = userdata;
    (void)conn;
    CHECK(!s->freed);
    bool open = true;
    OK(wsc_socket_is_open(socket, &open));
    CHECK(!open);
    UNDER_LOCK(&s->m, (s->closed++, s->close_code = code, str_copy(reason, s->close_reason, 128)));
}

static void on_outbound_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                                wsc_message_kind kind, wsc_bytes payload) {
    client_state *c = userdata;
    (void)conn;
    CHECK(!c->freed);
    wsc_socket_type type;
    OK(wsc_socket_get_type(socket, &type));
    CHECK(type == WSC_OUTBOUND);
    UNDER_LOCK(&c->m, (c->messages++, c->last_kind = kind,
                       str_copy((wsc_str){(const char *)payload.data, payload.len}, c->last_message, 256)));
}

static void on_client_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                             uint16_t code, wsc_str reason) {
    client_state *c = userdata;
    (void)conn;
    (void)socket;
    CHECK(!c->freed);
    UNDER_LOCK(&c->m, (c->closed++, c->close_code = code, str_copy(reason, c->close_reason, 128)));
}

static wsc_connector *start_server(server_state *s) {
    wsc_config *config = listener_config();
    OK(wsc_config_set_base_path(config, "/api"));
    const char *groups[] = {"lobby", "everyone"};
    OK(wsc_config_add_path(config, "/chat/*", groups, 2));
    OK(wsc_config_add_subprotocol(config, "chat.v2"));
    OK(wsc_config_set_max_inbound_connections(config, 100));
    OK(wsc_config_set_handshake_timeout_ms(config, 5000));
    OK(wsc_config_set_listener_idle_timeout_ms(config, 60000));
    OK(wsc_config_set_max_handshake_bytes(config, 8192));
    OK(wsc_config_set_max_message_size(config, 1 << 20));
    OK(wsc_config_set_send_queue_messages(config, 64));
    OK(wsc_config_set_send_queue_bytes(config, 1 << 20));
    OK(wsc_config_set_slow_consumer(config, WSC_SLOW_CONSUMER_FAIL));
    OK(wsc_config_set_ping_interval_ms(config, 1000));
    OK(wsc_config_set_pong_timeout_ms(config, 5000));
    OK(wsc_config_set_close_timeout_ms(config, 2000));
    OK(wsc_config_set_stop_timeout_ms(config, 3000));
    OK(wsc_config_set_event_queue_capacity(config, 1024));
    OK(wsc_config_set_event_queue_bytes(config, 1 << 20));
    OK(wsc_config_set_authorizer(config, on_auth, s, NULL));
    OK(wsc_config_on_inbound_connection(config, on_connection, s, server_free));
    OK(wsc_config_on_inbound_message(config, on_inbound_message, s, NULL));
    /* Registered, then removed: an outbound-message callback the server never needs. */
    OK(wsc_config_on_outbound_message(config, on_outbound_message, s, NULL));
    OK(wsc_config_on_outbound_message(config, NULL, NULL, NULL));
    OK(wsc_config_on_socket_closed(config, on_server_closed, s, NULL));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    s->conn = conn;
    return conn;
}

static wsc_connector *start_client(client_state *c) {
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_add_client_header(config, "X-Default", "d"));
    OK(wsc_config_add_client_query(config, "from", "cfg"));
    OK(wsc_config_set_client_connect_timeout_ms(config, 5000));
    OK(wsc_config_set_client_idle_timeout_ms(config, 60000));
    OK(wsc_config_on_outbound_message(config, on_outbound_message, c, client_free));
    OK(wsc_config_on_socket_closed(config, on_client_closed, c, NULL));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    EXPECT(WSC_INVALID_STATE, wsc_connector_local_port(conn, &(uint16_t){0}));
    return conn;
}

int main(void) {
    static server_state s;
    static client_state c;
    monitor_init(&s.m);
    monitor_init(&c.m);
    wsc_connector *server = start_server(&s);
    wsc_connector *client = start_client(&c);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/api/chat/room1", port_of(server));

    /* The hook refuses eve with 401. */
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_add_header(options, "X-Token", "t1"));
    OK(wsc_outbound_options_add_subprotocol(options, "chat.v2"));
    OK(wsc_outbound_options_add_query(options, "user", "eve"));
    EXPECT(WSC_HANDSHAKE, wsc_connector_open_outbound(client, url, options, NULL, 0));
    CHECK(wsc_last_error_http_status() == 401);
    wsc_outbound_options_free(options);

    /* ann gets in, with every option. */
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_add_header(options, "X-Token", "t1"));
    OK(wsc_outbound_options_add_subprotocol(options, "chat.v2"));
    OK(wsc_outbound_options_add_query(options, "user", "ann"));
    OK(wsc_outbound_options_add_group(options, "outgoing"));
    OK(wsc_outbound_options_set_socket_id(options, "client-1"));
    OK(wsc_outbound_options_set_connect_timeout_ms(options, 5000));
    char id[WSC_SOCKET_ID_SIZE];
    EXPECT(WSC_BUFFER_TOO_SMALL, wsc_connector_open_outbound(client, url, options, id, 8));
    OK(wsc_connector_open_outbound(client, url, options, id, sizeof id));
    CHECK(strcmp(id, "client-1") == 0);
    EXPECT(WSC_NON_UNIQUE_SOCKET_ID, wsc_connector_open_outbound(client, url, options, NULL, 0));

    WAIT_UNTIL(&s.m, s.connections == 1 && s.auth_calls == 2); /* the taken ID is refused before connecting */
    CHECK(s.stop_in_callback == WSC_INVALID_STATE);
    CHECK(s.free_in_callback == WSC_INVALID_STATE);
    CHECK(s.free_in_auth == WSC_INVALID_STATE);
    WAIT_UNTIL(&c.m, c.messages == 1);
    char want[300];
    snprintf(want, sizeof want, "welcome %s", s.socket_id);
    CHECK(strcmp(c.last_message, want) == 0 && c.last_kind == WSC_TEXT);

    /* Binary in, broadcast text out. */
    const uint8_t bytes[4] = {0, 1, 2, 255};
    OK(wsc_connector_send(client, "client-1", WSC_BINARY, bytes, sizeof bytes, NULL, NULL));
    WAIT_UNTIL(&c.m, c.messages == 2);
    CHECK(strcmp(c.last_message, "echo:4") == 0);
    WAIT_UNTIL(&s.m, s.messages == 1);

    /* Lookups on both sides. */
    wsc_socket *socket = NULL;
    OK(wsc_connector_socket(server, s.socket_id, &socket));
    size_t count = 0;
    OK(wsc_socket_group_count(socket, &count));
    CHECK(count == 4); /* everyone, joined, lobby, vip */
    wsc_socket_free(socket);
    OK(wsc_connector_socket(client, "client-1", &socket));
    wsc_str text;
    OK(wsc_socket_path(socket, &text));
    CHECK(str_is(text, "/api/chat/room1"));
    OK(wsc_socket_header(socket, "x-default", &text));
    CHECK(str_is(text, "d"));
    OK(wsc_socket_group_at(socket, 0, &text));
    CHECK(str_is(text, "outgoing"));
    wsc_socket_free(socket);
    wsc_filter *vip = NULL;
    OK(wsc_filter_new(&vip));
    OK(wsc_filter_add_group(vip, "vip"));
    wsc_socket_list *list = NULL;
    OK(wsc_connector_sockets(server, vip, &list));
    OK(wsc_socket_list_len(list, &count));
    CHECK(count == 1);
    const wsc_socket *listed = NULL;
    OK(wsc_socket_list_get(list, 0, &listed));
    OK(wsc_socket_id(listed, &text));
    CHECK(str_is(text, s.socket_id));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_list_get(list, 1, &listed));
    wsc_socket_list_free(list);
    OK(wsc_connector_sockets(server, NULL, &list));
    OK(wsc_socket_list_len(list, &count));
    CHECK(count == 1);
    wsc_socket_list_free(list);
    OK(wsc_connector_socket_count(server, &count));
    CHECK(count == 1);
    OK(wsc_connector_group_count(server, &count));
    CHECK(count == 4);
    const char *drop[] = {"vip", "never-joined"};
    OK(wsc_connector_unsubscribe(server, s.socket_id, drop, 2));
    OK(wsc_connector_group_count(server, &count));
    CHECK(count == 3);
    OK(wsc_connector_sockets(server, vip, &list));
    OK(wsc_socket_list_len(list, &count));
    CHECK(count == 0);
    wsc_socket_list_free(list);
    wsc_filter_free(vip);
    bool running = false;
    OK(wsc_connector_is_running(server, &running));
    CHECK(running);

    /* Close from the server: both sides see 4000 "bye". */
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_close(server, s.socket_id, 1005, NULL));
    OK(wsc_connector_close(server, s.socket_id, 4000, "bye"));
    WAIT_UNTIL(&c.m, c.closed == 1);
    WAIT_UNTIL(&s.m, s.closed == 1);
    CHECK(c.close_code == 4000 && strcmp(c.close_reason, "bye") == 0);
    CHECK(s.close_code == 4000 && strcmp(s.close_reason, "bye") == 0);
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_connector_send(server, s.socket_id, WSC_TEXT, NULL, 0, NULL, NULL));

    /* Bulk close by path. */
    OK(wsc_outbound_options_set_socket_id(options, NULL));
    OK(wsc_connector_open_outbound(client, url, options, id, sizeof id));
    CHECK(strlen(id) == 36); /* a generated UUID */
    WAIT_UNTIL(&s.m, s.connections == 2);
    wsc_filter *chat = NULL;
    OK(wsc_filter_new(&chat));
    OK(wsc_filter_set_path(chat, "/api/chat/*"));
    size_t closed = 0;
    OK(wsc_connector_bulk_close(server, chat, 1001, "all", &closed));
    CHECK(closed == 1);
    WAIT_UNTIL(&c.m, c.closed == 2);
    CHECK(c.close_code == 1001 && strcmp(c.close_reason, "all") == 0);
    wsc_filter_free(chat);
    wsc_outbound_options_free(options);

    /* Free: stops, then releases the userdata exactly once; no callback afterwards. */
    CHECK(s.userdata_frees == 0);
    OK(wsc_connector_free(server));
    CHECK(s.userdata_frees == 1);
    OK(wsc_connector_stop(client));
    EXPECT(WSC_STOPPED, wsc_connector_open_outbound(client, url, NULL, NULL, 0));
    OK(wsc_connector_is_running(client, &running));
    CHECK(!running);
    CHECK(c.userdata_frees == 0);
    OK(wsc_connector_free(client));
    CHECK(c.userdata_frees == 1);
    monitor_destroy(&s.m);
    monitor_destroy(&c.m);
    printf("test_triggers: ok\n");
    return 0;
}
