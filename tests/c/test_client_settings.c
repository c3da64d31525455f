/* The client settings through the C API's generic setters: a client base with URI parameters,
 * a redirect (from a raw HTTP server written here), an HTTP CONNECT proxy (written here, with
 * basic credentials), basic authentication on the handshake (checked by the server's
 * authorization hook), and the outbound connection limit. */
#include "testing.h"

#include <poll.h>

#define BASIC_ALICE "Basic YWxpY2U6czNjcjN0" /* alice:s3cr3t */

typedef struct {
    monitor m;
    char path[256];
    char authorization[128];
    int connections;
} server_seen;

static void on_connection(void *u, wsc_connector *c, const wsc_socket *socket) {
    server_seen *s = u;
    (void)c;
    wsc_str path;
    OK(wsc_socket_path(socket, &path));
    UNDER_LOCK(&s->m, {
        str_copy(path, s->path, sizeof s->path);
        s->connections++;
    });
}

/* Accepts only the basic credentials of alice; 401 otherwise. */
static void authorize(void *u, const wsc_auth_request *request, wsc_auth_decision *decision) {
    (void)u;
    wsc_str authorization;
    OK(wsc_auth_request_header(request, "Authorization", &authorization));
    if (str_is(authorization, BASIC_ALICE)) {
        OK(wsc_auth_decision_accept(decision, NULL, 0));
    } else {
        OK(wsc_auth_decision_reject(decision, 401, "who are you?"));
    }
}

static wsc_connector *start_server(server_seen *s, int with_auth) {
    monitor_init(&s->m);
    wsc_config *config = listener_config();
    OK(wsc_config_on_inbound_connection(config, on_connection, s, NULL));
    if (with_auth) OK(wsc_config_set_authorizer(config, authorize, NULL, NULL));
    wsc_connector *server = NULL;
    OK(wsc_connector_start(config, &server));
    return server;
}

static wsc_connector *start_client(wsc_config *config) {
    wsc_connector *client = NULL;
    OK(wsc_connector_start(config, &client));
    return client;
}

/* Reads an HTTP head (up to the blank line) into `buf`. */
static void read_head(int fd, char *buf, size_t cap) {
    size_t len = 0;
    while (len < cap - 1) {
        CHECK(read(fd, buf + len, 1) == 1);
        len++;
        if (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0) break;
    }
    buf[len] = 0;
}

/* ---- a redirector: one request, answered with 307 to `location` ---- */

typedef struct {
    int listener;
    char location[128];
    char request[2048];
} redirector;

static void *redirect_once(void *arg) {
    redirector *r = arg;
    int fd = accept(r->listener, NULL, NULL);
    CHECK(fd >= 0);
    raw_timeouts(fd);
    read_head(fd, r->request, sizeof r->request);
    char answer[256];
    int n = snprintf(answer, sizeof answer,
                     "HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n",
                     r->location);
    CHECK(write(fd, answer, (size_t)n) == n);
    close(fd);
    return NULL;
}

/* ---- a CONNECT proxy: one tunnel, with basic credentials required ---- */

typedef struct {
    int listener;
    char request[2048];
} proxy;

static void *tunnel_once(void *arg) {
    proxy *p = arg;
    int client = accept(p->listener, NULL, NULL);
    CHECK(client >= 0);
    raw_timeouts(client);
    read_head(client, p->request, sizeof p->request);
    unsigned port = 0;
    CHECK(sscanf(p->request, "CONNECT 127.0.0.1:%u HTTP/1.1", &port) == 1);
    if (!strstr(p->request, "Proxy-Authorization: " BASIC_ALICE "\r\n")) {
        const char *refused = "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n";
        CHECK(write(client, refused, strlen(refused)) == (ssize_t)strlen(refused));
        close(client);
        return NULL;
    }
    int upstream = raw_tcp((uint16_t)port);
    const char *established = "HTTP/1.1 200 Connection established\r\n\r\n";
    CHECK(write(client, established, strlen(established)) == (ssize_t)strlen(established));
    struct pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    char buf[4096];
    for (;;) {
        if (poll(fds, 2, WAIT_SECONDS * 1000) <= 0) break;
        int from = (fds[0].revents & (POLLIN | POLLHUP)) ? 0 : 1;
        ssize_t n = read(fds[from].fd, buf, sizeof buf);
        if (n <= 0 || write(fds[1 - from].fd, buf, (size_t)n) != n) break;
    }
    close(client);
    close(upstream);
    return NULL;
}

static void a_path_on_the_client_base_with_uri_parameters(void) {
    server_seen s = {0};
    wsc_connector *server = start_server(&s, 0);
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_set_string(config, "client_scheme", "ws"));
    OK(wsc_config_set_string(config, "client_host", "127.0.0.1"));
    OK(wsc_config_set_int(config, "client_port", port_of(server)));
    OK(wsc_config_set_string(config, "client_base_path", "/api"));
    wsc_connector *client = start_client(config);
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_add_uri_param(options, "symbol", "BRK B"));
    char id[WSC_SOCKET_ID_SIZE];
    OK(wsc_connector_open_outbound(client, "/quotes/{symbol}", options, id, sizeof id));
    WAIT_UNTIL(&s.m, s.connections == 1);
    CHECK(strcmp(s.path, "/api/quotes/BRK B") == 0); /* the listener decodes the path */
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_open_outbound(client, "/q/{other}", options, id, sizeof id));
    CHECK(last_error_contains("{other}"));
    wsc_outbound_options_free(options);
    OK(wsc_connector_free(client));
    OK(wsc_connector_free(server));
    monitor_destroy(&s.m);
}

static void a_redirect_is_followed(void) {
    server_seen s = {0};
    wsc_connector *server = start_server(&s, 0);
    redirector r = {0};
    uint16_t port = 0;
    r.listener = raw_listener(&port);
    snprintf(r.location, sizeof r.location, "ws://127.0.0.1:%u/moved", port_of(server));
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, redirect_once, &r) == 0);
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    wsc_connector *client = start_client(config);
    char url[128], id[WSC_SOCKET_ID_SIZE];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/old", port);
    OK(wsc_connector_open_outbound(client, url, NULL, id, sizeof id));
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(strncmp(r.request, "GET /old HTTP/1.1\r\n", 19) == 0);
    WAIT_UNTIL(&s.m, s.connections == 1);
    CHECK(strcmp(s.path, "/moved") == 0);
    close(r.listener);
    OK(wsc_connector_free(client));

    /* With follow_redirects off, the 307 is the open's error. */
    r.listener = raw_listener(&port);
    CHECK(pthread_create(&thread, NULL, redirect_once, &r) == 0);
    OK(wsc_config_new(&config));
    OK(wsc_config_set_bool(config, "follow_redirects", false));
    client = start_client(config);
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/old", port);
    EXPECT(WSC_HANDSHAKE, wsc_connector_open_outbound(client, url, NULL, id, sizeof id));
    CHECK(wsc_last_error_http_status() == 307);
    CHECK(pthread_join(thread, NULL) == 0);
    close(r.listener);
    OK(wsc_connector_free(client));
    OK(wsc_connector_free(server));
    monitor_destroy(&s.m);
}

static void a_connect_proxy_with_credentials(void) {
    server_seen s = {0};
    wsc_connector *server = start_server(&s, 0);
    proxy p = {0};
    uint16_t proxy_port = 0;
    p.listener = raw_listener(&proxy_port);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, tunnel_once, &p) == 0);
    char proxy_url[64], url[128], id[WSC_SOCKET_ID_SIZE];
    snprintf(proxy_url, sizeof proxy_url, "http://127.0.0.1:%u", proxy_port);
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_set_string(config, "proxy", proxy_url));
    OK(wsc_config_set_string(config, "proxy_username", "alice"));
    OK(wsc_config_set_string(config, "proxy_password", "s3cr3t"));
    wsc_connector *client = start_client(config);
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/tunnelled", port_of(server));
    OK(wsc_connector_open_outbound(client, url, NULL, id, sizeof id));
    WAIT_UNTIL(&s.m, s.connections == 1);
    CHECK(strcmp(s.path, "/tunnelled") == 0);
    OK(wsc_connector_free(client)); /* its close ends the tunnel */
    CHECK(pthread_join(thread, NULL) == 0);

    /* Without credentials the proxy refuses with 407. */
    CHECK(pthread_create(&thread, NULL, tunnel_once, &p) == 0);
    OK(wsc_config_new(&config));
    OK(wsc_config_set_string(config, "proxy", proxy_url));
    client = start_client(config);
    EXPECT(WSC_CONNECTIVITY, wsc_connector_open_outbound(client, url, NULL, id, sizeof id));
    CHECK(wsc_last_error_http_status() == 407);
    CHECK(last_error_contains("proxy"));
    CHECK(pthread_join(thread, NULL) == 0);
    close(p.listener);
    OK(wsc_connector_free(client));
    OK(wsc_connector_free(server));
    monitor_destroy(&s.m);
}

static void basic_authentication_and_its_refusal(void) {
    server_seen s = {0};
    wsc_connector *server = start_server(&s, 1);
    char url[128], id[WSC_SOCKET_ID_SIZE];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/private", port_of(server));
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_set_string(config, "basic_auth_username", "alice"));
    OK(wsc_config_set_string(config, "basic_auth_password", "s3cr3t"));
    wsc_connector *client = start_client(config);
    OK(wsc_connector_open_outbound(client, url, NULL, id, sizeof id));
    WAIT_UNTIL(&s.m, s.connections == 1);
    OK(wsc_connector_free(client));

    OK(wsc_config_new(&config));
    OK(wsc_config_set_string(config, "basic_auth_username", "alice"));
    OK(wsc_config_set_string(config, "basic_auth_password", "guess"));
    client = start_client(config);
    EXPECT(WSC_BASIC_AUTHENTICATION, wsc_connector_open_outbound(client, url, NULL, id, sizeof id));
    CHECK(wsc_last_error_http_status() == 401);
    CHECK(strcmp(wsc_result_name(WSC_BASIC_AUTHENTICATION), "basic_authentication") == 0);
    OK(wsc_connector_free(client));
    OK(wsc_connector_free(server));
    monitor_destroy(&s.m);
}

static void the_outbound_limit(void) {
    server_seen s = {0};
    wsc_connector *server = start_server(&s, 0);
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_set_int(config, "max_outbound_connections", 1));
    wsc_connector *client = start_client(config);
    char url[128], id[WSC_SOCKET_ID_SIZE], second[WSC_SOCKET_ID_SIZE];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port_of(server));
    OK(wsc_connector_open_outbound(client, url, NULL, id, sizeof id));
    EXPECT(WSC_LIMIT_EXCEEDED, wsc_connector_open_outbound(client, url, NULL, second, sizeof second));
    CHECK(last_error_contains("max_outbound_connections"));
    OK(wsc_connector_free(client));
    OK(wsc_connector_free(server));
    monitor_destroy(&s.m);
}

/* ---- a refuser: one request, answered with `status`, a header and a long body ---- */

typedef struct {
    int listener;
    int status;
} refuser;

static void *refuse_once(void *arg) {
    refuser *r = arg;
    int fd = accept(r->listener, NULL, NULL);
    CHECK(fd >= 0);
    raw_timeouts(fd);
    char request[2048];
    read_head(fd, request, sizeof request);
    static char answer[4096];
    char body[2100];
    int body_len = snprintf(body, sizeof body, "refused %d ", r->status);
    memset(body + body_len, 'x', 2000);
    body_len += 2000;
    int n = snprintf(answer, sizeof answer,
                     "HTTP/1.1 %d X\r\nRetry-After: 7\r\nContent-Length: %d\r\n\r\n", r->status, body_len);
    memcpy(answer + n, body, (size_t)body_len);
    CHECK(write(fd, answer, (size_t)(n + body_len)) == n + body_len);
    close(fd);
    return NULL;
}

/* A refused handshake: its status named as Mule names it, the start of the body (bounded) and
   the headers, from the last error. */
static void handshake_refusals_are_named(void) {
    struct {
        int status;
        const char *name;
    } cases[] = {{401, "unauthorized"},          {403, "forbidden"},           {404, "not_found"},
                 {500, "internal_server_error"}, {503, "service_unavailable"}, {418, "client_error"},
                 {502, "server_error"}};
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    wsc_connector *client = start_client(config);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        refuser r = {0};
        uint16_t port = 0;
        r.listener = raw_listener(&port);
        r.status = cases[i].status;
        pthread_t thread;
        CHECK(pthread_create(&thread, NULL, refuse_once, &r) == 0);
        char url[64], id[WSC_SOCKET_ID_SIZE];
        snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port);
        EXPECT(WSC_HANDSHAKE, wsc_connector_open_outbound(client, url, NULL, id, sizeof id));
        CHECK(pthread_join(thread, NULL) == 0);
        close(r.listener);
        CHECK(wsc_last_error_http_status() == cases[i].status);
        CHECK(strcmp(wsc_http_status_name(wsc_last_error_http_status()), cases[i].name) == 0);
        size_t len = 0;
        EXPECT(WSC_BUFFER_TOO_SMALL, wsc_last_error_response_body(NULL, 0, &len));
        CHECK(len == 1024);
        static uint8_t body[1024];
        OK(wsc_last_error_response_body(body, sizeof body, &len));
        char start[32];
        int start_len = snprintf(start, sizeof start, "refused %d x", cases[i].status);
        CHECK(len == 1024 && memcmp(body, start, (size_t)start_len) == 0);
        char value[8];
        OK(wsc_last_error_response_header("retry-after", value, sizeof value, &len));
        CHECK(len == 1 && strcmp(value, "7") == 0);
        EXPECT(WSC_INVALID_ARGUMENT, wsc_last_error_response_header("x-none", value, sizeof value, &len));
        CHECK(wsc_last_error_http_status() == cases[i].status); /* the last error stays */
    }
    CHECK(strcmp(wsc_http_status_name(200), "other") == 0);
    OK(wsc_connector_free(client));
}

int main(void) {
    a_path_on_the_client_base_with_uri_parameters();
    a_redirect_is_followed();
    a_connect_proxy_with_credentials();
    basic_authentication_and_its_refusal();
    the_outbound_limit();
    handshake_refusals_are_named();
    printf("test_client_settings: ok\n");
    return 0;
}
