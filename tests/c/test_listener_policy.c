/* What the listener lets through, set from C: allowed origins (the listener's and a path's),
 * require-origin, inbound connections (under both names of the limit) and connections per
 * client address; and the handshake headers an outbound socket may not set. Raw sockets are
 * the clients. */
#include "testing.h"

/* Sends an upgrade request for `target` with `extra` header lines (each ending in CRLF) and
 * returns the answer's HTTP status; the connection is closed. */
static int status_of(uint16_t port, const char *target, const char *extra) {
    int fd = raw_tcp(port);
    char request[1024];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     target, port, extra);
    CHECK(n > 0 && (size_t)n < sizeof request);
    CHECK(write(fd, request, (size_t)n) == n);
    char answer[64] = {0};
    size_t len = 0;
    while (len < 12) {
        ssize_t got = read(fd, answer + len, sizeof answer - 1 - len);
        CHECK(got > 0);
        len += (size_t)got;
    }
    close(fd);
    int status = 0;
    CHECK(sscanf(answer, "HTTP/1.1 %d", &status) == 1);
    return status;
}

static wsc_connector *start(wsc_config *config, uint16_t *port) {
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    OK(wsc_connector_local_port(conn, port));
    return conn;
}

static void origins(void) {
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    EXPECT(WSC_INVALID_STATE, wsc_config_add_allowed_origin(config, "https://app.example.com"));
    OK(wsc_config_set_listener(config, "127.0.0.1", 0));
    OK(wsc_config_add_allowed_origin(config, "https://app.example.com"));
    OK(wsc_config_add_allowed_origin(config, "*.example.org"));
    OK(wsc_config_add_path(config, "/chat", NULL, 0));
    OK(wsc_config_add_path(config, "/admin", NULL, 0));
    OK(wsc_config_add_path_allowed_origin(config, "/admin", "https://admin.example.com"));
    EXPECT(WSC_INVALID_STATE, wsc_config_add_path_allowed_origin(config, "/other", "*"));
    CHECK(last_error_contains("/other"));
    uint16_t port = 0;
    wsc_connector *conn = start(config, &port);
    CHECK(status_of(port, "/chat", "Origin: https://app.example.com\r\n") == 101);
    CHECK(status_of(port, "/chat", "Origin: http://a.example.org\r\n") == 101);
    CHECK(status_of(port, "/chat", "") == 101);
    CHECK(status_of(port, "/chat", "Origin: https://evil.example\r\n") == 403);
    CHECK(status_of(port, "/admin", "Origin: https://app.example.com\r\n") == 403);
    CHECK(status_of(port, "/admin", "Origin: https://admin.example.com\r\n") == 101);
    OK(wsc_connector_free(conn));

    OK(wsc_config_new(&config));
    OK(wsc_config_set_listener(config, "127.0.0.1", 0));
    OK(wsc_config_set_require_origin(config, true));
    conn = start(config, &port);
    CHECK(status_of(port, "/", "") == 403);
    CHECK(status_of(port, "/", "Origin: https://any.example\r\n") == 101);
    OK(wsc_connector_free(conn));

    OK(wsc_config_new(&config));
    OK(wsc_config_set_listener(config, "127.0.0.1", 0));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_add_allowed_origin(config, "https://app.example.com/path"));
    CHECK(last_error_contains("allowed_origins")); /* refused as it is added */
    OK(wsc_connector_start(config, &conn));         /* nothing bad was kept */
    OK(wsc_connector_free(conn));
}

/* The status a connection refused at accept is answered with: the answer comes before any
 * request is sent. */
static int refused_at_accept(uint16_t port) {
    int fd = raw_tcp(port);
    char answer[64] = {0};
    size_t len = 0;
    ssize_t got;
    while ((got = read(fd, answer + len, sizeof answer - 1 - len)) > 0) len += (size_t)got;
    close(fd);
    int status = 0;
    CHECK(sscanf(answer, "HTTP/1.1 %d", &status) == 1);
    return status;
}

static void per_address_limit(void) {
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_set_listener(config, "127.0.0.1", 0));
    OK(wsc_config_set_max_connections_per_ip(config, 1));
    uint16_t port = 0;
    wsc_connector *conn = start(config, &port);
    raw_ws held = raw_ws_open(port, "/");
    CHECK(held.status == 101);
    CHECK(refused_at_accept(port) == 429);
    close(held.fd);
    OK(wsc_connector_free(conn));

    OK(wsc_config_new(&config));
    OK(wsc_config_set_listener(config, "127.0.0.1", 0));
    OK(wsc_config_set_max_connections_per_ip(config, 0)); /* no limit */
    conn = start(config, &port);
    raw_ws a = raw_ws_open(port, "/"), b = raw_ws_open(port, "/");
    CHECK(a.status == 101 && b.status == 101);
    close(a.fd);
    close(b.fd);
    OK(wsc_connector_free(conn));
}

static wsc_result inbound_named(wsc_config *config, size_t max) {
    return wsc_config_set_max_inbound_connections(config, max);
}
static wsc_result inbound_deprecated(wsc_config *config, size_t max) {
    return wsc_config_set_max_connections(config, max);
}
static wsc_result inbound_by_name(wsc_config *config, size_t max) {
    return wsc_config_set_int(config, "max_inbound_connections", max);
}
static wsc_result inbound_by_alias(wsc_config *config, size_t max) {
    return wsc_config_set_int(config, "max_connections", max);
}

/* max_inbound_connections and its deprecated alias max_connections, by the named setters and
 * by the generic one, set the one limit; given under both names, the second is refused with
 * an error naming both (and the first stays). */
static void inbound_limit_under_either_name(void) {
    wsc_result (*const setters[])(wsc_config *, size_t) = {
        inbound_named, inbound_deprecated, inbound_by_name, inbound_by_alias};
    const int alias[] = {0, 1, 0, 1};
    for (size_t i = 0; i < sizeof setters / sizeof setters[0]; i++) {
        wsc_config *config = NULL;
        OK(wsc_config_new(&config));
        OK(wsc_config_set_listener(config, "127.0.0.1", 0));
        OK(setters[i](config, 5));
        OK(setters[i](config, 1)); /* the same name again: the later value */
        for (size_t j = 0; j < sizeof setters / sizeof setters[0]; j++) {
            if (alias[j] == alias[i]) continue;
            EXPECT(WSC_INVALID_ARGUMENT, setters[j](config, 7));
            CHECK(last_error_contains("max_inbound_connections") &&
                  last_error_contains("max_connections"));
        }
        uint16_t port = 0;
        wsc_connector *conn = start(config, &port);
        raw_ws held = raw_ws_open(port, "/");
        CHECK(held.status == 101);
        CHECK(refused_at_accept(port) == 503);
        close(held.fd);
        OK(wsc_connector_free(conn));
    }
    /* The setting's one row lists the old name as its alias. */
    for (size_t index = 0, count = wsc_config_setting_count(); index < count; index++) {
        wsc_str name, old;
        OK(wsc_config_setting(index, &name, NULL, NULL, NULL));
        if (name.len == 23 && memcmp(name.data, "max_inbound_connections", 23) == 0) {
            OK(wsc_config_setting_alias(index, 0, &old));
            CHECK(old.len == 15 && memcmp(old.data, "max_connections", 15) == 0);
            EXPECT(WSC_INVALID_ARGUMENT, wsc_config_setting_alias(index, 1, &old));
        } else {
            CHECK(!(name.len == 15 && memcmp(name.data, "max_connections", 15) == 0));
        }
    }
}

static void reserved_headers(void) {
    wsc_config *config = NULL;
    wsc_connector *conn = NULL;
    OK(wsc_config_new(&config));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_add_client_header(config, "Upgrade", "h2c"));
    CHECK(last_error_contains("default_headers") && last_error_contains("Upgrade"));
    wsc_config_free(config);

    OK(wsc_config_new(&config));
    OK(wsc_config_set_listener(config, "127.0.0.1", 0));
    OK(wsc_config_add_client_header(config, "x-token", "default"));
    uint16_t port = 0;
    conn = start(config, &port);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port);
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_add_header(options, "Sec-WebSocket-Key", "x"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_open_outbound(conn, url, options, NULL, 0));
    CHECK(last_error_contains("Sec-WebSocket-Key"));
    wsc_outbound_options_free(options);
    /* A Host of the caller's replaces the URL's: the listener sees one, and upgrades. */
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_add_header(options, "Host", "chat.example"));
    /* The open's header replaces the default one of the same name, whatever its case. */
    OK(wsc_outbound_options_add_header(options, "X-Token", "mine"));
    char id[WSC_SOCKET_ID_SIZE];
    OK(wsc_connector_open_outbound(conn, url, options, id, sizeof id));
    wsc_outbound_options_free(options);
    wsc_event *event = NULL;
    OK(wsc_connector_next_event(conn, WAIT_SECONDS * 1000, &event));
    CHECK(event != NULL);
    const wsc_socket *inbound = NULL;
    OK(wsc_event_socket(event, &inbound));
    size_t count = 0, tokens = 0;
    OK(wsc_socket_header_count(inbound, &count));
    for (size_t i = 0; i < count; i++) {
        wsc_str name, value;
        OK(wsc_socket_header_at(inbound, i, &name, &value));
        if (name.len == 7 && strncasecmp((const char *)name.data, "x-token", 7) == 0) {
            tokens++;
            CHECK(value.len == 4 && memcmp(value.data, "mine", 4) == 0);
        }
    }
    CHECK(tokens == 1);
    wsc_event_free(event);
    OK(wsc_connector_free(conn));
}

int main(void) {
    origins();
    per_address_limit();
    inbound_limit_under_either_name();
    reserved_headers();
    printf("test_listener_policy: ok\n");
    return 0;
}
