/* Error paths: NULL pointers, invalid UTF-8, unknown enum values, a too-small buffer, unknown
 * socket IDs, a stopped connector, bad settings, TLS files that do not exist, a refused
 * handshake's HTTP status; result names, the last error, versions. None may crash. */
#include "testing.h"

static const char bad_utf8[] = {'a', (char)0xff, 'b', 0};

static void versions(void) {
    CHECK(strcmp(wsc_version(), WSC_VERSION) == 0);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", WSC_VERSION_MAJOR, WSC_VERSION_MINOR, WSC_VERSION_PATCH);
    CHECK(strcmp(wsc_version(), want) == 0);
    CHECK(wsc_abi_version() == WSC_ABI_VERSION);
}

static void result_names(void) {
    CHECK(strcmp(wsc_result_name(WSC_OK), "ok") == 0);
    CHECK(strcmp(wsc_result_name(WSC_NO_SUCH_SOCKET), "no_such_socket") == 0);
    CHECK(strcmp(wsc_result_name(WSC_INTERNAL), "internal") == 0);
    CHECK(strcmp(wsc_result_name(WSC_NULL_POINTER), "null_pointer") == 0);
    CHECK(strcmp(wsc_result_name(WSC_INVALID_UTF8), "invalid_utf8") == 0);
    CHECK(strcmp(wsc_result_name(WSC_BUFFER_TOO_SMALL), "buffer_too_small") == 0);
    CHECK(strcmp(wsc_result_name(WSC_PANIC), "panic") == 0);
    CHECK(strcmp(wsc_result_name(WSC_RETRY_EXHAUSTED), "retry_exhausted") == 0);
    CHECK(strcmp(wsc_result_name(WSC_BASIC_AUTHENTICATION), "basic_authentication") == 0);
    CHECK(strcmp(wsc_result_name(WSC_RECONNECTING), "reconnecting") == 0);
    CHECK(strcmp(wsc_result_name(20), "unknown") == 0);
    CHECK(strcmp(wsc_result_name(0xffffffffu), "unknown") == 0);
}

/* The last error: copied whole, reported with its length when the buffer is too small, and
 * never replaced by wsc_last_error's own failure. */
static void last_error(void) {
    EXPECT(WSC_NULL_POINTER, wsc_config_new(NULL));
    size_t len = 0;
    EXPECT(WSC_BUFFER_TOO_SMALL, wsc_last_error(NULL, 0, &len));
    CHECK(len == strlen("config_out is NULL"));
    char small[4];
    EXPECT(WSC_BUFFER_TOO_SMALL, wsc_last_error(small, sizeof small, &len));
    CHECK(len == strlen("config_out is NULL"));
    char buf[64];
    EXPECT(WSC_NULL_POINTER, wsc_last_error(buf, sizeof buf, NULL));
    OK(wsc_last_error(buf, sizeof buf, &len));
    CHECK(strcmp(buf, "config_out is NULL") == 0 && len == strlen(buf));
    CHECK(wsc_last_error_http_status() == 0);
}

static void null_handles(void) {
    wsc_str s;
    size_t n;
    EXPECT(WSC_NULL_POINTER, wsc_connector_start(NULL, NULL));
    EXPECT(WSC_NULL_POINTER, wsc_connector_stop(NULL));
    EXPECT(WSC_NULL_POINTER, wsc_connector_send(NULL, "x", WSC_TEXT, NULL, 0, NULL, NULL));
    EXPECT(WSC_NULL_POINTER, wsc_connector_socket_count(NULL, &n));
    EXPECT(WSC_NULL_POINTER, wsc_socket_id(NULL, &s));
    EXPECT(WSC_NULL_POINTER, wsc_socket_header(NULL, "a", &s));
    EXPECT(WSC_NULL_POINTER, wsc_socket_list_len(NULL, &n));
    EXPECT(WSC_NULL_POINTER, wsc_event_trigger(NULL, &(wsc_trigger){0}));
    EXPECT(WSC_NULL_POINTER, wsc_broadcast_result_delivered(NULL, &n));
    EXPECT(WSC_NULL_POINTER, wsc_auth_request_path(NULL, &s));
    EXPECT(WSC_NULL_POINTER, wsc_auth_decision_reject(NULL, 403, NULL));
    EXPECT(WSC_NULL_POINTER, wsc_filter_add_group(NULL, "g"));
    EXPECT(WSC_NULL_POINTER, wsc_outbound_options_add_group(NULL, "g"));
    EXPECT(WSC_NULL_POINTER, wsc_config_set_max_message_size(NULL, 1));
    CHECK(last_error_contains("config is NULL"));
    /* Freeing NULL is a no-op. */
    wsc_config_free(NULL);
    OK(wsc_connector_free(NULL));
    wsc_socket_free(NULL);
    wsc_socket_list_free(NULL);
    wsc_event_free(NULL);
    wsc_filter_free(NULL);
    wsc_outbound_options_free(NULL);
    wsc_broadcast_result_free(NULL);
}

/* Bad arguments to builders: NULL strings, invalid UTF-8, unknown enum values. */
static void builders(void) {
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    EXPECT(WSC_NULL_POINTER, wsc_config_set_listener(config, NULL, 0));
    CHECK(last_error_contains("host is NULL"));
    EXPECT(WSC_INVALID_UTF8, wsc_config_set_listener(config, bad_utf8, 0));
    CHECK(last_error_contains("host is not valid UTF-8"));
    EXPECT(WSC_INVALID_STATE, wsc_config_set_base_path(config, "/api"));
    EXPECT(WSC_INVALID_STATE, wsc_config_set_server_tls(config, WSC_PEM_FILE, "a", "b"));
    OK(wsc_config_set_listener(config, "127.0.0.1", 0));
    EXPECT(WSC_INVALID_STATE, wsc_config_set_server_client_ca(config, WSC_PEM_FILE, "ca.pem"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_server_tls(config, 7, "a", "b"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_slow_consumer(config, 0));
    const char *groups[] = {"ok", NULL};
    EXPECT(WSC_NULL_POINTER, wsc_config_add_path(config, "/a", groups, 2));
    EXPECT(WSC_NULL_POINTER, wsc_config_add_path(config, "/a", NULL, 1));
    const char *bad_groups[] = {bad_utf8};
    EXPECT(WSC_INVALID_UTF8, wsc_config_add_path(config, "/a", bad_groups, 1));
    OK(wsc_config_add_path(config, "/a", NULL, 0));
    OK(wsc_config_set_client_dangerous_skip_certificate_verification(config, false));
    wsc_config_free(config);

    wsc_filter *filter = NULL;
    OK(wsc_filter_new(&filter));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_filter_set_type(filter, 3));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_filter_set_path(filter, "no-slash"));
    EXPECT(WSC_INVALID_UTF8, wsc_filter_add_group(filter, bad_utf8));
    wsc_filter_free(filter);

    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    EXPECT(WSC_NULL_POINTER, wsc_outbound_options_add_header(options, "a", NULL));
    EXPECT(WSC_INVALID_UTF8, wsc_outbound_options_set_socket_id(options, bad_utf8));
    wsc_outbound_options_free(options);
}

/* Settings are checked at start by the core; a failed start consumes the config and runs its
 * userdata free. */
static int frees;
static void count_free(void *userdata) {
    (void)userdata;
    frees++;
}
static void on_closed(void *u, wsc_connector *c, const wsc_socket *s, uint16_t code, wsc_str r) {
    (void)u, (void)c, (void)s, (void)code, (void)r;
}

static void bad_settings(void) {
    wsc_config *config = listener_config();
    /* A value its setting's own rule refuses, refused as it is set; nothing is kept. */
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_send_queue_messages(config, 0));
    CHECK(last_error_contains("send_queue_messages must be at least 1, not 0"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_event_queue_bytes(config, 0));
    CHECK(last_error_contains("event_queue_bytes"));
    /* A rule across settings, at start: extra_ca_only needs extra_ca. */
    OK(wsc_config_set_string(config, "trusted_roots", "extra_ca_only"));
    OK(wsc_config_on_socket_closed(config, on_closed, NULL, count_free));
    wsc_connector *conn = NULL;
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_start(config, &conn));
    CHECK(last_error_contains("extra_ca"));
    CHECK(conn == NULL && frees == 1);

    /* Durations up to a year: a huge ping interval once panicked in every socket's task. */
    config = listener_config();
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_ping_interval_ms(config, UINT64_MAX));
    CHECK(last_error_contains("ping_interval") && last_error_contains("one year"));
    OK(wsc_config_set_ping_interval_ms(config, WSC_MAX_DURATION_MS));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_stop_timeout_ms(config, WSC_MAX_DURATION_MS + 1));
    CHECK(last_error_contains("stop_timeout"));
    OK(wsc_connector_start(config, &conn));
    OK(wsc_connector_free(conn));

    config = listener_config();
    OK(wsc_config_set_server_tls(config, WSC_PEM_FILE, "/nonexistent/cert.pem", "/nonexistent/key.pem"));
    EXPECT(WSC_TLS, wsc_connector_start(config, &conn));
    CHECK(last_error_contains("/nonexistent/cert.pem"));

    config = listener_config();
    OK(wsc_config_set_server_tls(config, WSC_PEM_INLINE, "not pem", "not pem"));
    EXPECT(WSC_TLS, wsc_connector_start(config, &conn));

    /* Replacing a callback releases the earlier userdata at once. */
    OK(wsc_config_new(&config));
    OK(wsc_config_on_socket_closed(config, on_closed, NULL, count_free));
    OK(wsc_config_on_socket_closed(config, on_closed, NULL, count_free));
    CHECK(frees == 2);
    wsc_config_free(config);
    CHECK(frees == 3);

    /* A start with a NULL out pointer still consumes the config. */
    OK(wsc_config_new(&config));
    OK(wsc_config_on_socket_closed(config, on_closed, NULL, count_free));
    EXPECT(WSC_NULL_POINTER, wsc_connector_start(config, NULL));
    CHECK(frees == 4);
}

/* Operations with bad arguments, unknown IDs, a refused handshake, and after stop. */
static void operations(void) {
    wsc_config *config = listener_config();
    OK(wsc_config_add_path(config, "/only", NULL, 0));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    uint16_t port = port_of(conn);
    char addr[64];
    size_t len = 0;
    EXPECT(WSC_BUFFER_TOO_SMALL, wsc_connector_local_addr(conn, addr, 4, &len));
    CHECK(len > 10);
    EXPECT(WSC_NULL_POINTER, wsc_connector_local_addr(conn, NULL, 64, &len));
    OK(wsc_connector_local_addr(conn, addr, sizeof addr, &len));
    CHECK(strncmp(addr, "127.0.0.1:", 10) == 0 && len == strlen(addr));

    EXPECT(WSC_NO_SUCH_SOCKET, wsc_connector_send(conn, "nobody", WSC_TEXT, (const uint8_t *)"x", 1, NULL, NULL));
    CHECK(last_error_contains("nobody"));
    EXPECT(WSC_INVALID_UTF8, wsc_connector_send(conn, "nobody", WSC_TEXT, (const uint8_t *)bad_utf8, 3, NULL, NULL));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_send(conn, "nobody", 9, (const uint8_t *)"x", 1, NULL, NULL));
    EXPECT(WSC_NULL_POINTER, wsc_connector_send(conn, "nobody", WSC_BINARY, NULL, 5, NULL, NULL));
    EXPECT(WSC_INVALID_UTF8, wsc_connector_send(conn, bad_utf8, WSC_TEXT, NULL, 0, NULL, NULL));
    /* Lengths larger than the send queue (16 MiB by default) are refused before `data` is read. */
    const uint8_t one[1] = {'x'};
    EXPECT(WSC_LIMIT_EXCEEDED, wsc_connector_send(conn, "nobody", WSC_BINARY, one, SIZE_MAX, NULL, NULL));
    CHECK(last_error_contains("larger than the send queue"));
    EXPECT(WSC_LIMIT_EXCEEDED, wsc_connector_send(conn, "nobody", WSC_TEXT, one, ((size_t)16 << 20) + 1, NULL, NULL));
    EXPECT(WSC_LIMIT_EXCEEDED, wsc_connector_broadcast(conn, NULL, WSC_BINARY, one, SIZE_MAX, NULL));
    const char *groups[] = {"g"};
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_connector_subscribe(conn, "nobody", groups, 1));
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_connector_unsubscribe(conn, "nobody", groups, 1));
    const char *empty[] = {""};
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_unsubscribe(conn, "nobody", empty, 1));
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_connector_close(conn, "nobody", 1000, NULL));
    wsc_socket *socket = NULL;
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_connector_socket(conn, "nobody", &socket));
    CHECK(socket == NULL);
    wsc_broadcast_result *result = NULL;
    OK(wsc_connector_broadcast(conn, NULL, WSC_TEXT, (const uint8_t *)"x", 1, &result));
    size_t n = 1;
    OK(wsc_broadcast_result_delivered(result, &n));
    CHECK(n == 0);
    wsc_broadcast_result_free(result);
    OK(wsc_connector_broadcast(conn, NULL, WSC_BINARY, NULL, 0, NULL));
    OK(wsc_connector_bulk_close(conn, NULL, 1000, NULL, NULL));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_bulk_close(conn, NULL, 999, NULL, NULL));
    char reason[200];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = 0;
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_bulk_close(conn, NULL, 1000, reason, NULL));

    /* Pull-mode calls on a connector: a poll returns no event. */
    wsc_event *event = (wsc_event *)1;
    OK(wsc_connector_next_event(conn, 0, &event));
    CHECK(event == NULL);

    /* Outbound failures: bad URL, refused handshake (404 for a path not served), bad ID. */
    char url[128];
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_open_outbound(conn, "http://x", NULL, NULL, 0));
    /* A port outside 1-65535 is refused, naming the URL, not replaced by 80. */
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_open_outbound(conn, "ws://127.0.0.1:99999/", NULL, NULL, 0));
    CHECK(last_error_contains("ws://127.0.0.1:99999/") && last_error_contains("1-65535"));
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/elsewhere", port);
    EXPECT(WSC_HANDSHAKE, wsc_connector_open_outbound(conn, url, NULL, NULL, 0));
    CHECK(wsc_last_error_http_status() == 404);
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_set_socket_id(options, "   "));
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/only", port);
    EXPECT(WSC_INVALID_SOCKET_ID, wsc_connector_open_outbound(conn, url, options, NULL, 0));
    CHECK(wsc_last_error_http_status() == 0);
    wsc_outbound_options_free(options);

    /* After stop: every operation says so. */
    OK(wsc_connector_stop(conn));
    OK(wsc_connector_stop(conn));
    EXPECT(WSC_STOPPED, wsc_connector_send(conn, "nobody", WSC_TEXT, NULL, 0, NULL, NULL));
    EXPECT(WSC_STOPPED, wsc_connector_broadcast(conn, NULL, WSC_TEXT, NULL, 0, NULL));
    EXPECT(WSC_STOPPED, wsc_connector_subscribe(conn, "nobody", groups, 1));
    EXPECT(WSC_STOPPED, wsc_connector_close(conn, "nobody", 1000, NULL));
    EXPECT(WSC_STOPPED, wsc_connector_bulk_close(conn, NULL, 1000, NULL, NULL));
    EXPECT(WSC_STOPPED, wsc_connector_open_outbound(conn, url, NULL, NULL, 0));
    EXPECT(WSC_STOPPED, wsc_connector_next_event(conn, 0, &event));
    CHECK(last_error_contains("stopped"));
    OK(wsc_connector_free(conn));
}

/* With no bound on the send queue, a length no buffer can have is still refused unread. */
static void unbounded_lengths(void) {
    wsc_config *config = listener_config();
    OK(wsc_config_set_send_queue_bytes(config, SIZE_MAX));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    const uint8_t one[1] = {'x'};
    size_t huge = (size_t)PTRDIFF_MAX + 1;
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_send(conn, "nobody", WSC_BINARY, one, huge, NULL, NULL));
    CHECK(last_error_contains("larger than any buffer"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_broadcast(conn, NULL, WSC_BINARY, one, SIZE_MAX, NULL));
    OK(wsc_connector_free(conn));
}

/* Network failures: a port already taken, a refused connection, a peer that never answers. */
static void network(void) {
    wsc_connector *first = NULL, *second = NULL, *client = NULL;
    OK(wsc_connector_start(listener_config(), &first));
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_set_listener(config, "127.0.0.1", port_of(first)));
    EXPECT(WSC_CONNECTIVITY, wsc_connector_start(config, &second));
    OK(wsc_connector_free(first));

    OK(wsc_config_new(&config));
    OK(wsc_connector_start(config, &client));
    uint16_t port = 0;
    int fd = raw_listener(&port);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port);
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_set_connect_timeout_ms(options, 200));
    EXPECT(WSC_TIMEOUT, wsc_connector_open_outbound(client, url, options, NULL, 0));
    close(fd); /* now nothing listens there */
    EXPECT(WSC_CONNECTIVITY, wsc_connector_open_outbound(client, url, options, NULL, 0));
    OK(wsc_outbound_options_set_connect_timeout_ms(options, WSC_MAX_DURATION_MS + 1));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_open_outbound(client, url, options, NULL, 0));
    CHECK(last_error_contains("connect_timeout"));
    wsc_outbound_options_free(options);
    OK(wsc_connector_free(client));
}

int main(void) {
    versions();
    result_names();
    last_error();
    null_handles();
    builders();
    bad_settings();
    operations();
    unbounded_lengths();
    network();
    printf("test_errors: ok\n");
    return 0;
}
