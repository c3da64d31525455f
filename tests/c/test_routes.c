/* Per-path triggers (wsc_config_on_*_at()): the most specific pattern of the event's trigger
 * wins, else the callback registered without a pattern; a bad pattern is an error that keeps
 * nothing. Inbound path templates: "{name}" segments become the socket's URI parameters, beside
 * its query string, method and HTTP version. The peer is the raw client. */
#include "testing.h"

typedef struct {
    monitor m;
    int events;
    char last[64];    /* "route:trigger:path" of the last event */
    char room[32];    /* the "room" URI parameter at the last connection */
    char query[64];   /* the query string at the last connection */
    char request[32]; /* "METHOD VERSION" at the last connection */
    int freed;
} state;

typedef struct {
    state *s;
    const char *name;
} route;

static void record(route *r, const char *trigger, const wsc_socket *socket) {
    wsc_str path;
    OK(wsc_socket_path(socket, &path));
    UNDER_LOCK(&r->s->m, (snprintf(r->s->last, sizeof r->s->last, "%s:%s:%.*s", r->name, trigger,
                                   (int)path.len, path.data),
                          r->s->events++));
}

static void on_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    route *r = userdata;
    (void)conn;
    wsc_str room, query, method, version;
    OK(wsc_socket_uri_param(socket, "room", &room));
    OK(wsc_socket_query_string(socket, &query));
    OK(wsc_socket_method(socket, &method));
    OK(wsc_socket_http_version(socket, &version));
    size_t count = 0;
    OK(wsc_socket_uri_param_count(socket, &count));
    if (count > 0) {
        wsc_str name, value;
        OK(wsc_socket_uri_param_at(socket, 0, &name, &value));
        CHECK(str_is(name, "room") && value.len == room.len);
        EXPECT(WSC_INVALID_ARGUMENT, wsc_socket_uri_param_at(socket, count, &name, &value));
    }
    pthread_mutex_lock(&r->s->m.lock);
    snprintf(r->s->room, sizeof r->s->room, "%.*s", room.data ? (int)room.len : 6,
             room.data ? room.data : "(none)");
    snprintf(r->s->query, sizeof r->s->query, "%.*s", (int)query.len, query.data);
    snprintf(r->s->request, sizeof r->s->request, "%.*s %.*s", (int)method.len, method.data,
             (int)version.len, version.data);
    pthread_mutex_unlock(&r->s->m.lock);
    record(r, "connection", socket);
}

static void on_message(void *userdata, wsc_connector *conn, const wsc_socket *socket, wsc_message_kind kind,
                       wsc_bytes payload) {
    (void)conn, (void)kind, (void)payload;
    record(userdata, "message", socket);
}

static void on_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket, uint16_t code,
                      wsc_str reason) {
    (void)conn, (void)code, (void)reason;
    record(userdata, "closed", socket);
}

static void freed(void *userdata) {
    route *r = userdata;
    UNDER_LOCK(&r->s->m, r->s->freed++);
}

/* Connects on `target`, sends one message, closes; waits for the three events, checking each. */
static void visit(state *s, uint16_t port, const char *target, const char *path, const char *connection,
                  const char *message, const char *closed) {
    char want[64];
    int before = s->events;
    raw_ws ws = raw_ws_open(port, target);
    CHECK(ws.status == 101);
    WAIT_UNTIL(&s->m, s->events == before + 1);
    snprintf(want, sizeof want, "%s:connection:%s", connection, path);
    CHECK(strcmp(s->last, want) == 0);
    raw_ws_send(&ws, 1, "hi", 2);
    WAIT_UNTIL(&s->m, s->events == before + 2);
    snprintf(want, sizeof want, "%s:message:%s", message, path);
    CHECK(strcmp(s->last, want) == 0);
    raw_ws_close(&ws);
    WAIT_UNTIL(&s->m, s->events == before + 3);
    snprintf(want, sizeof want, "%s:closed:%s", closed, path);
    CHECK(strcmp(s->last, want) == 0);
}

int main(void) {
    static state s;
    monitor_init(&s.m);
    static route any = {&s, "any"}, chat = {&s, "chat"}, room = {&s, "room"}, lobby = {&s, "lobby"},
                 vip = {&s, "vip"}, feed = {&s, "feed"}, replaced = {&s, "replaced"};
    wsc_config *config = listener_config();
    OK(wsc_config_set_base_path(config, "/ws"));
    OK(wsc_config_add_path(config, "/chat/{room}", NULL, 0));
    OK(wsc_config_add_path(config, "/chat/vip/*", NULL, 0));
    OK(wsc_config_add_path(config, "/feed", NULL, 0));
    OK(wsc_config_on_inbound_connection(config, on_connection, &any, NULL));
    OK(wsc_config_on_inbound_message(config, on_message, &any, NULL));
    OK(wsc_config_on_socket_closed(config, on_closed, &any, NULL));
    OK(wsc_config_on_inbound_message_at(config, "/ws/chat/*", on_message, &chat, NULL));
    OK(wsc_config_on_inbound_message_at(config, "/ws/chat/{room}", on_message, &room, NULL));
    OK(wsc_config_on_inbound_message_at(config, "/ws/chat/vip/*", on_message, &vip, NULL));
    OK(wsc_config_on_inbound_message_at(config, "/ws/chat/lobby", on_message, &replaced, freed));
    /* The same pattern again replaces the first registration, whose userdata is freed. */
    OK(wsc_config_on_inbound_message_at(config, "/ws/chat/lobby", on_message, &lobby, freed));
    CHECK(s.freed == 1);
    OK(wsc_config_on_inbound_connection_at(config, "/ws/feed", on_connection, &feed, NULL));
    OK(wsc_config_on_socket_closed_at(config, "/ws/feed", on_closed, &feed, freed));
    OK(wsc_config_on_outbound_message_at(config, "/ws/feed", on_message, &feed, NULL));
    /* A bad pattern keeps nothing and frees nothing. */
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_on_inbound_message_at(config, "ws/x", on_message, &any, freed));
    CHECK(last_error_contains("ws/x"));
    EXPECT(WSC_NULL_POINTER, wsc_config_on_socket_closed_at(config, NULL, on_closed, &any, freed));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_on_inbound_connection_at(config, "/a/{b", on_connection, &any, freed));
    CHECK(s.freed == 1);
    wsc_connector *server = NULL;
    OK(wsc_connector_start(config, &server));
    uint16_t port = port_of(server);

    visit(&s, port, "/ws/chat/lobby", "/ws/chat/lobby", "any", "lobby", "any");
    visit(&s, port, "/ws/chat/r%201?since=10&tag=a%26b", "/ws/chat/r 1", "any", "room", "any");
    CHECK(strcmp(s.room, "r 1") == 0);
    CHECK(strcmp(s.query, "since=10&tag=a%26b") == 0);
    CHECK(strcmp(s.request, "GET HTTP/1.1") == 0);
    visit(&s, port, "/ws/chat/vip/a/b", "/ws/chat/vip/a/b", "any", "vip", "any");
    CHECK(strcmp(s.room, "(none)") == 0 && strcmp(s.query, "") == 0);
    visit(&s, port, "/ws/feed", "/ws/feed", "feed", "any", "feed");
    raw_ws missing = raw_ws_open(port, "/ws/chat/a/b"); /* a template is one segment */
    CHECK(missing.status == 404);
    raw_ws_close(&missing);

    OK(wsc_connector_free(server));
    CHECK(s.freed == 3); /* then the two registered ones, once each */
    monitor_destroy(&s.m);
    printf("test_routes: ok\n");
    return 0;
}
