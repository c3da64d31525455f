/* What the listener lets through, set from C: allowed origins (the listener's and a path's),
 * require-origin, connections per client address; and the handshake headers an outbound
 * socket may not set. Raw sockets are the clients. */
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
    OK(wsc_config_add_allowed_origin(config, "https://app.example.com/path"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_start(config, &conn));
    CHECK(last_error_contains("allowed_origins"));
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
    /* Refused at accept: the answer comes before any request is sent. */
    int fd = raw_tcp(port);
    char answer[64] = {0};
    size_t len = 0;
    ssize_t got;
    while ((got = read(fd, answer + len, sizeof answer - 1 - len)) > 0) len += (size_t)got;
    CHECK(strncmp(answer, "HTTP/1.1 429 ", 13) == 0);
    close(fd);
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

static void reserved_headers(void) {
    wsc_config *config = NULL;
    wsc_connector *conn = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_add_client_header(config, "Upgrade", "h2c"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_start(config, &conn));
    CHECK(last_error_contains("default_headers") && last_error_contains("Upgrade"));

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
    reserved_headers();
    printf("test_listener_policy: ok\n");
    return 0;
}
