/* Metrics and drain from C: exact figures after scripted traffic, the sized struct read by an
 * older caller, the samples of a snapshot (labelled figures), the Prometheus text, the health
 * and metrics endpoints, and a drain in batches while a new connection gets 503. */
#include "testing.h"

#include <stddef.h>

typedef struct {
    monitor m;
    int connected, messages, closed;
    uint16_t last_code;
} counts;

static void on_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    (void)conn;
    (void)socket;
    counts *c = userdata;
    UNDER_LOCK(&c->m, c->connected++);
}

static void on_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                       wsc_message_kind kind, wsc_bytes payload) {
    (void)conn;
    counts *c = userdata;
    OK(wsc_socket_send(socket, kind, payload.data, payload.len, NULL, NULL)); /* echo */
    UNDER_LOCK(&c->m, c->messages++);
}

static void on_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                      uint16_t code, wsc_str reason) {
    (void)conn;
    (void)socket;
    (void)reason;
    counts *c = userdata;
    UNDER_LOCK(&c->m, (c->closed++, c->last_code = code));
}

/* The value of the sample `name` whose label `label` is `value` (any labels when NULL). */
static double sample(const wsc_metrics_snapshot *snap, const char *name, const char *label,
                     const char *value) {
    size_t count = wsc_metrics_snapshot_sample_count(snap);
    for (size_t i = 0; i < count; i++) {
        wsc_str sample_name;
        size_t labels = 0;
        double v = 0;
        OK(wsc_metrics_snapshot_sample(snap, i, &sample_name, &labels, &v));
        if (!str_is(sample_name, name)) continue;
        if (label == NULL) return v;
        for (size_t l = 0; l < labels; l++) {
            wsc_str k, val;
            OK(wsc_metrics_snapshot_sample_label(snap, i, l, &k, &val));
            if (str_is(k, label) && str_is(val, value)) return v;
        }
    }
    return -1;
}

/* A plain HTTP GET; the status, and the body copied into `body`. */
static int http_get(uint16_t port, const char *path, char *body, size_t cap) {
    int fd = raw_tcp(port);
    char request[256];
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    CHECK(write(fd, request, (size_t)n) == n);
    static char answer[65536];
    size_t len = 0;
    ssize_t got;
    while ((got = read(fd, answer + len, sizeof answer - 1 - len)) > 0) len += (size_t)got;
    answer[len] = 0;
    close(fd);
    int status = 0;
    CHECK(sscanf(answer, "HTTP/1.1 %d", &status) == 1);
    const char *start = strstr(answer, "\r\n\r\n");
    CHECK(start != NULL);
    snprintf(body, cap, "%s", start + 4);
    return status;
}

/* A connector with a message callback alone hands over no connection or closed event: its
 * figures count only the messages' waits. One dispatcher thread takes the events in order, so
 * once the last message is handled every event queued before it has been handed over. */
static void messages_only(void) {
    static counts only;
    monitor_init(&only.m);
    wsc_config *config = listener_config();
    OK(wsc_config_set_int(config, "dispatcher_threads", 1));
    OK(wsc_config_on_inbound_message(config, on_message, &only, NULL));
    wsc_connector *server = NULL;
    OK(wsc_connector_start(config, &server));
    uint16_t port = port_of(server);
    char buf[64];
    wsc_metrics m = {.struct_size = sizeof m};
    for (int i = 0; i < 3; i++) {
        raw_ws ws = raw_ws_open(port, "/room");
        CHECK(ws.status == 101);
        raw_ws_send(&ws, 1, "hi", 2);
        CHECK(raw_ws_recv(&ws, buf, sizeof buf) == 1);
        raw_ws_close(&ws);
        for (int waited_ms = 0;; waited_ms++) {
            OK(wsc_connector_metrics(server, &m));
            if (m.sockets_open_inbound == 0) break;
            CHECK(waited_ms < WAIT_SECONDS * 1000);
            nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
        }
    }
    raw_ws last = raw_ws_open(port, "/room");
    raw_ws_send(&last, 1, "hi", 2);
    CHECK(raw_ws_recv(&last, buf, sizeof buf) == 1);
    WAIT_UNTIL(&only.m, only.messages == 4);
    OK(wsc_connector_metrics(server, &m));
    CHECK(m.event_wait_count == 4 && only.connected == 0 && only.closed == 0);
    raw_ws_close(&last);
    OK(wsc_connector_free(server));
    monitor_destroy(&only.m);
}

int main(void) {
    static counts c;
    monitor_init(&c.m);
    wsc_config *config = listener_config();
    OK(wsc_config_set_metrics_path(config, "/metrics"));
    OK(wsc_config_set_health_path(config, "/health"));
    OK(wsc_config_on_inbound_connection(config, on_connection, &c, NULL));
    OK(wsc_config_on_inbound_message(config, on_message, &c, NULL));
    OK(wsc_config_on_socket_closed(config, on_closed, &c, NULL));
    wsc_connector *server = NULL;
    OK(wsc_connector_start(config, &server));
    uint16_t port = port_of(server);

    /* Three sockets; each sends "hello" and reads its echo; one closes with 1000. */
    raw_ws ws[3];
    char buf[256];
    for (int i = 0; i < 3; i++) {
        ws[i] = raw_ws_open(port, "/room");
        CHECK(ws[i].status == 101);
        raw_ws_send(&ws[i], 1, "hello", 5);
        CHECK(raw_ws_recv(&ws[i], buf, sizeof buf) == 1 && strcmp(buf, "hello") == 0);
    }
    const unsigned char normal[2] = {0x03, 0xe8};
    raw_ws_send(&ws[0], 8, normal, 2);
    CHECK(raw_ws_recv(&ws[0], buf, sizeof buf) == 8);
    raw_ws_close(&ws[0]);
    WAIT_UNTIL(&c.m, c.closed == 1);

    wsc_metrics m = {.struct_size = sizeof m};
    OK(wsc_connector_metrics(server, &m));
    CHECK(m.struct_size == sizeof m);
    CHECK(m.sockets_open_inbound == 2 && m.sockets_opened_inbound == 3);
    CHECK(m.messages_in_text == 3 && m.bytes_in_text == 15);
    CHECK(m.messages_out_text == 3 && m.bytes_out_text == 15);
    CHECK(m.sockets_closed == 1 && m.handshakes_refused == 0 && m.draining == 0);
    CHECK(m.sockets_parked == 0); /* parking after the default 10 s */
    CHECK(m.compressed_messages_in == 0 && m.compressed_bytes_out == 0 && m.reconnect_attempts == 0);

    /* A caller built against an older, shorter wsc_metrics gets the fields it knows only. */
    wsc_metrics old;
    memset(&old, 0xab, sizeof old);
    old.struct_size = offsetof(wsc_metrics, sockets_opened_inbound);
    OK(wsc_connector_metrics(server, &old));
    CHECK(old.struct_size == offsetof(wsc_metrics, sockets_opened_inbound));
    CHECK(old.sockets_open_inbound == 2 && old.sockets_open_outbound == 0);
    CHECK(old.sockets_opened_inbound == 0xababababababababULL);
    wsc_metrics tiny = {.struct_size = 1};
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_metrics(server, &tiny));

    /* Labelled figures through the samples of a snapshot. */
    wsc_metrics_snapshot *snap = NULL;
    OK(wsc_connector_metrics_snapshot(server, &snap));
    CHECK(sample(snap, "wsconnector_sockets_closed_total", "code", "1000") == 1);
    CHECK(sample(snap, "wsconnector_sockets_closed_total", "code", "other") == 0);
    CHECK(sample(snap, "wsconnector_path_sockets_open", "path", "*") == 2);
    CHECK(sample(snap, "wsconnector_messages_received_total", "kind", "text") == 3);
    CHECK(sample(snap, "wsconnector_event_wait_seconds_bucket", "le", "+Inf") >= 4);
    wsc_str name;
    EXPECT(WSC_INVALID_ARGUMENT,
           wsc_metrics_snapshot_sample(snap, wsc_metrics_snapshot_sample_count(snap), &name,
                                       NULL, NULL));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_metrics_snapshot_sample_label(snap, 0, 99, NULL, NULL));
    size_t len = 0;
    EXPECT(WSC_BUFFER_TOO_SMALL, wsc_metrics_snapshot_prometheus(snap, buf, 8, &len));
    char *text = malloc(len + 1);
    OK(wsc_metrics_snapshot_prometheus(snap, text, len + 1, &len));
    CHECK(strstr(text, "wsconnector_sockets_open{type=\"inbound\"} 2\n") != NULL);
    free(text);
    wsc_metrics_snapshot_free(snap);
    wsc_metrics_snapshot_free(NULL);
    static char big[65536];
    OK(wsc_connector_metrics_prometheus(server, big, sizeof big, &len));
    CHECK(strstr(big, "# TYPE wsconnector_sockets_closed_total counter") != NULL);

    /* The endpoints on the listener. */
    CHECK(http_get(port, "/health", big, sizeof big) == 200 && strcmp(big, "ok\n") == 0);
    CHECK(http_get(port, "/metrics", big, sizeof big) == 200);
    CHECK(strstr(big, "wsconnector_sockets_opened_total{type=\"inbound\"} 3\n") != NULL);

    /* A drain of the two left, one at a time, with 1012: two batches; a new socket gets 503. */
    wsc_drain_options *options = NULL;
    OK(wsc_drain_options_new(&options));
    OK(wsc_drain_options_set_batches(options, 1, 20));
    OK(wsc_drain_options_set_close(options, 1012, "restart"));
    OK(wsc_drain_options_set_retry_after_ms(options, 3000));
    wsc_drain *drain = NULL;
    OK(wsc_connector_drain(server, options, &drain));
    wsc_drain_options_free(options);
    raw_ws late = raw_ws_open(port, "/room");
    CHECK(late.status == 503);
    raw_ws_close(&late);
    CHECK(http_get(port, "/health", big, sizeof big) == 503);
    for (int i = 1; i < 3; i++) {
        CHECK(raw_ws_recv(&ws[i], buf, sizeof buf) == 8);
        CHECK(((unsigned char)buf[0] << 8 | (unsigned char)buf[1]) == 1012);
        raw_ws_send(&ws[i], 8, buf, 2);
    }
    wsc_drain_progress progress = {.struct_size = sizeof progress};
    OK(wsc_drain_wait(drain, WAIT_SECONDS * 1000, &progress));
    CHECK(progress.finished == 1 && progress.matched == 2 && progress.closed == 2);
    CHECK(progress.batches == 2 && progress.requested == 2);
    OK(wsc_drain_progress_get(drain, &progress));
    CHECK(progress.finished == 1);
    wsc_drain_free(drain);
    for (int i = 1; i < 3; i++) raw_ws_close(&ws[i]);
    WAIT_UNTIL(&c.m, c.closed == 3);
    CHECK(c.last_code == 1012);

    OK(wsc_connector_metrics(server, &m));
    CHECK(m.draining == 1 && m.handshakes_refused == 1 && m.sockets_open_inbound == 0);
    OK(wsc_connector_drain_and_stop(server, NULL, 1000, NULL));
    wsc_drain *after = NULL;
    EXPECT(WSC_STOPPED, wsc_connector_drain(server, NULL, &after));
    OK(wsc_connector_free(server));
    monitor_destroy(&c.m);
    messages_only();
    printf("test_metrics: ok\n");
    return 0;
}
