/* The dispatcher pool from C: a connection callback that blocks delays no other socket; each
 * socket's callbacks run in order while many sockets come and go on several threads; a
 * refusable connection callback refuses its socket (its code or 1011) and the message that
 * waited is dropped; the closed callback sees the groups the socket had. */
#include "testing.h"

#include <sched.h>

/* ---- a blocked connection callback, another socket's message ---- */

typedef struct {
    monitor m;
    int x_waiting, y_ran, x_result; /* x_result: 1 saw y, -1 timed out */
} blocking;

static void blocking_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    blocking *b = userdata;
    (void)conn;
    wsc_str path;
    OK(wsc_socket_path(socket, &path));
    if (!str_is(path, "/x")) return;
    UNDER_LOCK(&b->m, b->x_waiting = 1);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_SECONDS;
    pthread_mutex_lock(&b->m.lock);
    while (!b->y_ran && pthread_cond_timedwait(&b->m.changed, &b->m.lock, &deadline) != ETIMEDOUT) {
    }
    b->x_result = b->y_ran ? 1 : -1;
    pthread_cond_broadcast(&b->m.changed);
    pthread_mutex_unlock(&b->m.lock);
}

static void blocking_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                             wsc_message_kind kind, wsc_bytes payload) {
    blocking *b = userdata;
    (void)conn, (void)kind, (void)payload;
    wsc_str path;
    OK(wsc_socket_path(socket, &path));
    if (str_is(path, "/y")) UNDER_LOCK(&b->m, b->y_ran = 1);
}

static void a_blocked_callback_delays_no_other_socket(void) {
    blocking b = {0};
    monitor_init(&b.m);
    wsc_config *config = listener_config();
    OK(wsc_config_set_int(config, "dispatcher_threads", 2));
    OK(wsc_config_on_inbound_connection(config, blocking_connection, &b, NULL));
    OK(wsc_config_on_inbound_message(config, blocking_message, &b, NULL));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    raw_ws x = raw_ws_open(port_of(conn), "/x");
    WAIT_UNTIL(&b.m, b.x_waiting);
    raw_ws y = raw_ws_open(port_of(conn), "/y");
    raw_ws_send(&y, 1, "hello", 5);
    WAIT_UNTIL(&b.m, b.x_result != 0);
    CHECK(b.x_result == 1);
    raw_ws_close(&x);
    raw_ws_close(&y);
    OK(wsc_connector_free(conn));
    monitor_destroy(&b.m);
}

/* ---- order per socket under churn ---- */

#define CHURN_SOCKETS 2000
#define CHURN_AT_ONCE 20
#define CHURN_MESSAGES 5

typedef struct {
    monitor m;
    int connected[CHURN_SOCKETS], next[CHURN_SOCKETS], closed[CHURN_SOCKETS];
    int total_closed, wrong;
} churn;

/* The socket's number, from its path "/N". */
static int socket_number(const wsc_socket *socket) {
    wsc_str path;
    OK(wsc_socket_path(socket, &path));
    char text[32];
    str_copy(path, text, sizeof text);
    int n = atoi(text + 1);
    CHECK(n >= 0 && n < CHURN_SOCKETS);
    return n;
}

static void churn_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    churn *c = userdata;
    (void)conn;
    int n = socket_number(socket);
    UNDER_LOCK(&c->m, c->wrong += c->connected[n]++ != 0 || c->next[n] != 0 || c->closed[n]);
}

static void churn_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                          wsc_message_kind kind, wsc_bytes payload) {
    churn *c = userdata;
    (void)conn, (void)kind;
    int n = socket_number(socket);
    char text[16];
    str_copy((wsc_str){(const char *)payload.data, payload.len}, text, sizeof text);
    int m = atoi(text);
    if (m == 0) sched_yield(); /* lets another thread try to overtake this socket */
    UNDER_LOCK(&c->m, c->wrong += !c->connected[n] || c->closed[n] || c->next[n]++ != m);
}

static void churn_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                         uint16_t code, wsc_str reason) {
    churn *c = userdata;
    (void)conn, (void)code, (void)reason;
    int n = socket_number(socket);
    UNDER_LOCK(&c->m, {
        c->wrong += !c->connected[n] || c->next[n] != CHURN_MESSAGES || c->closed[n]++ != 0;
        c->total_closed++;
    });
}

static void order_per_socket_holds_under_churn(void) {
    static churn c; /* large: not on the stack */
    monitor_init(&c.m);
    wsc_config *config = listener_config();
    OK(wsc_config_set_int(config, "dispatcher_threads", 4));
    OK(wsc_config_on_inbound_connection(config, churn_connection, &c, NULL));
    OK(wsc_config_on_inbound_message(config, churn_message, &c, NULL));
    OK(wsc_config_on_socket_closed(config, churn_closed, &c, NULL));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    uint16_t port = port_of(conn);
    for (int first = 0; first < CHURN_SOCKETS; first += CHURN_AT_ONCE) {
        raw_ws ws[CHURN_AT_ONCE];
        for (int i = 0; i < CHURN_AT_ONCE; i++) {
            char path[16];
            snprintf(path, sizeof path, "/%d", first + i);
            ws[i] = raw_ws_open(port, path);
            CHECK(ws[i].status == 101);
        }
        for (int m = 0; m < CHURN_MESSAGES; m++) {
            for (int i = 0; i < CHURN_AT_ONCE; i++) {
                char text[16];
                int len = snprintf(text, sizeof text, "%d", m);
                raw_ws_send(&ws[i], 1, text, (size_t)len);
            }
        }
        for (int i = 0; i < CHURN_AT_ONCE; i++) {
            const unsigned char normal[2] = {0x03, 0xe8};
            raw_ws_send(&ws[i], 8, normal, 2);
            raw_ws_close(&ws[i]);
        }
    }
    WAIT_UNTIL(&c.m, c.total_closed == CHURN_SOCKETS);
    OK(wsc_connector_free(conn));
    CHECK(c.wrong == 0);
    monitor_destroy(&c.m);
}

/* ---- a refusing connection callback ---- */

typedef struct {
    monitor m;
    uint16_t answer; /* what the connection callback returns */
    int go, messages, closed;
    uint16_t closed_code;
} refusing;

static uint16_t refusing_connection(void *userdata, wsc_connector *conn,
                                    const wsc_socket *socket) {
    refusing *r = userdata;
    (void)conn, (void)socket;
    WAIT_UNTIL(&r->m, r->go);
    return r->answer;
}

static void refusing_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                             wsc_message_kind kind, wsc_bytes payload) {
    refusing *r = userdata;
    (void)conn, (void)socket, (void)kind, (void)payload;
    UNDER_LOCK(&r->m, r->messages++);
}

static void refusing_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                            uint16_t code, wsc_str reason) {
    refusing *r = userdata;
    (void)conn, (void)socket, (void)reason;
    UNDER_LOCK(&r->m, {
        r->closed++;
        r->closed_code = code;
    });
}

/* The connection callback returns `answer` once the server has read a message (its pong to
 * a ping sent after the message has come back); the client then sees `expected_code`. */
static void refusal_closes_with(uint16_t answer, uint16_t expected_code) {
    refusing r = {.answer = answer};
    monitor_init(&r.m);
    wsc_config *config = listener_config();
    OK(wsc_config_on_inbound_connection_refusable(config, refusing_connection, &r, NULL));
    OK(wsc_config_on_inbound_message(config, refusing_message, &r, NULL));
    OK(wsc_config_on_socket_closed(config, refusing_closed, &r, NULL));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    raw_ws ws = raw_ws_open(port_of(conn), "/");
    raw_ws_send(&ws, 1, "waits for the connection callback", 33);
    raw_ws_send(&ws, 9, "p", 1);
    char frame[256];
    CHECK(raw_ws_recv(&ws, frame, sizeof frame) == 10);
    UNDER_LOCK(&r.m, r.go = 1);
    CHECK(raw_ws_recv(&ws, frame, sizeof frame) == 8);
    uint16_t code = (uint16_t)(((unsigned char)frame[0] << 8) | (unsigned char)frame[1]);
    CHECK(code == expected_code);
    raw_ws_close(&ws);
    WAIT_UNTIL(&r.m, r.closed == 1);
    OK(wsc_connector_free(conn));
    CHECK(r.closed == 1 && r.closed_code == expected_code);
    CHECK(r.messages == 0);
    monitor_destroy(&r.m);
}

/* ---- the groups a closed socket had ---- */

typedef struct {
    monitor m;
    int closed;
    char groups[256];
} closing;

static void closing_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    (void)userdata, (void)conn;
    const char *groups[] = {"room-1", "room-2"};
    OK(wsc_socket_subscribe(socket, groups, 2));
}

static void closing_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                           uint16_t code, wsc_str reason) {
    closing *c = userdata;
    (void)conn, (void)code, (void)reason;
    size_t count = 0;
    OK(wsc_socket_group_count(socket, &count));
    char all[256] = "";
    for (size_t i = 0; i < count; i++) {
        wsc_str group;
        OK(wsc_socket_group_at(socket, i, &group));
        char name[64];
        str_copy(group, name, sizeof name);
        strcat(all, i ? "," : "");
        strcat(all, name);
    }
    UNDER_LOCK(&c->m, {
        strcpy(c->groups, all);
        c->closed++;
    });
}

static void the_closed_callback_sees_the_groups_the_socket_had(void) {
    closing c = {0};
    monitor_init(&c.m);
    wsc_config *config = listener_config();
    OK(wsc_config_on_inbound_connection(config, closing_connection, &c, NULL));
    OK(wsc_config_on_socket_closed(config, closing_closed, &c, NULL));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    raw_ws ws = raw_ws_open(port_of(conn), "/");
    raw_ws_send(&ws, 1, "x", 1); /* delivered after the connection callback has subscribed */
    const unsigned char normal[2] = {0x03, 0xe8};
    raw_ws_send(&ws, 8, normal, 2);
    WAIT_UNTIL(&c.m, c.closed == 1);
    CHECK(strcmp(c.groups, "room-1,room-2") == 0);
    raw_ws_close(&ws);
    OK(wsc_connector_free(conn));
    monitor_destroy(&c.m);
}

int main(void) {
    a_blocked_callback_delays_no_other_socket();
    order_per_socket_holds_under_churn();
    refusal_closes_with(4001, 4001);
    refusal_closes_with(1, 1011);
    the_closed_callback_sees_the_groups_the_socket_had();
    printf("test_pool: ok\n");
    return 0;
}
