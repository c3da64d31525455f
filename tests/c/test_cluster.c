/* The cluster through the C API: two connectors, nodes of one cluster on a redis-server this
 * test starts on a free loopback port (and kills at the end); broadcast, publish, exclusions,
 * send by ID, the cluster-wide count and list from node A reach the raw client of node B; the
 * broadcast result's cluster accessors; the cluster settings' errors. */
#include "testing.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

typedef struct {
    monitor m;
    int connections;
    char id[WSC_SOCKET_ID_SIZE];
} node_state;

static void on_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    (void)conn;
    node_state *s = userdata;
    wsc_str id;
    OK(wsc_socket_id(socket, &id));
    UNDER_LOCK(&s->m, (str_copy(id, s->id, sizeof s->id), s->connections++));
}

/* Starts redis-server on a free loopback port; its pid, and the port in `*port`. */
static pid_t start_redis(uint16_t *port, char *dir) {
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    CHECK(bind(probe, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(getsockname(probe, (struct sockaddr *)&addr, &len) == 0);
    *port = ntohs(addr.sin_port);
    close(probe);
    CHECK(mkdtemp(dir) != NULL);
    int out[2];
    CHECK(pipe(out) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char port_text[8];
        snprintf(port_text, sizeof port_text, "%u", *port);
        dup2(out[1], STDOUT_FILENO);
        execlp("redis-server", "redis-server", "--port", port_text, "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", dir, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    /* Ready once it says so; its later log goes to a pipe nobody reads, which is fine for
     * a few lines. */
    static char seen[8192];
    size_t have = 0;
    while (!strstr(seen, "Ready to accept connections")) {
        struct pollfd p = {.fd = out[0], .events = POLLIN};
        CHECK(poll(&p, 1, WAIT_SECONDS * 1000) == 1);
        ssize_t n = read(out[0], seen + have, sizeof seen - 1 - have);
        CHECK(n > 0);
        have += (size_t)n;
        seen[have] = 0;
    }
    close(out[0]);
    return pid;
}

static wsc_connector *node(const char *url, const char *name, node_state *s) {
    wsc_config *config = listener_config();
    OK(wsc_config_set_cluster(config, url));
    OK(wsc_config_set_cluster_name(config, "c-test"));
    OK(wsc_config_set_node_name(config, name));
    OK(wsc_config_set_cluster_timeout_ms(config, 2000));
    OK(wsc_config_set_cluster_node_expiry_ms(config, 3000));
    OK(wsc_config_on_inbound_connection(config, on_connection, s, NULL));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    OK(wsc_connector_wait_for_cluster(conn, WAIT_SECONDS * 1000));
    return conn;
}

static void settings_errors(void) {
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    EXPECT(WSC_INVALID_STATE, wsc_config_set_cluster_name(config, "x"));
    CHECK(last_error_contains("wsc_config_set_cluster"));
    wsc_connector *conn = NULL;
    EXPECT(WSC_NULL_POINTER, wsc_config_set_cluster(config, NULL));
    EXPECT(WSC_INVALID_UTF8, wsc_config_set_cluster(config, "\xff"));
    OK(wsc_config_set_cluster(config, "http://127.0.0.1/"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_start(config, &conn));
    CHECK(last_error_contains("cluster URL"));
    OK(wsc_config_new(&config));
    OK(wsc_config_set_cluster(config, "redis://127.0.0.1:1/0"));
    OK(wsc_config_set_node_name(config, "no spaces"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_start(config, &conn));
    CHECK(last_error_contains("node_name"));
}

static bool str_eq(wsc_str s, const char *want) {
    return s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}

/* Node A lists node B's socket (and its own outbound one), with node, ID, type, path and
 * groups; a filter narrows the list; indexes past the end are errors. */
static void cluster_sockets_are_listed(wsc_connector *a, wsc_connector *b, node_state *bs) {
    char b_id[WSC_SOCKET_ID_SIZE];
    UNDER_LOCK(&bs->m, memcpy(b_id, bs->id, sizeof b_id));
    OK(wsc_connector_subscribe(b, b_id, (const char *[]){"room"}, 1));
    char a_id[WSC_SOCKET_ID_SIZE], url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/out", port_of(b));
    OK(wsc_connector_open_outbound(a, url, NULL, a_id, sizeof a_id));
    WAIT_UNTIL(&bs->m, bs->connections == 2);

    wsc_cluster_socket_list *list = NULL;
    OK(wsc_connector_cluster_sockets(a, NULL, &list));
    size_t len = 0;
    OK(wsc_cluster_socket_list_len(list, &len));
    /* A's outbound socket and its peer on B, and B's raw client. */
    CHECK(len == 3);
    bool saw_b = false, saw_a = false;
    for (size_t i = 0; i < len; i++) {
        wsc_str node, id, path;
        wsc_socket_type type;
        OK(wsc_cluster_socket_list_get(list, i, &node, &id, &type, &path));
        size_t groups = 0;
        OK(wsc_cluster_socket_list_group_count(list, i, &groups));
        if (str_eq(id, b_id)) {
            saw_b = true;
            CHECK(str_eq(node, "b") && type == WSC_INBOUND && str_eq(path, "/c") && groups == 1);
            wsc_str group;
            OK(wsc_cluster_socket_list_group(list, i, 0, &group));
            CHECK(str_eq(group, "room"));
            EXPECT(WSC_INVALID_ARGUMENT, wsc_cluster_socket_list_group(list, i, 1, &group));
        } else if (str_eq(id, a_id)) {
            saw_a = true;
            CHECK(str_eq(node, "a") && type == WSC_OUTBOUND && groups == 0);
        } else {
            CHECK(str_eq(node, "b") && type == WSC_INBOUND && str_eq(path, "/out"));
        }
    }
    CHECK(saw_a && saw_b);
    OK(wsc_cluster_socket_list_get(list, 0, NULL, NULL, NULL, NULL));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_cluster_socket_list_get(list, len, NULL, NULL, NULL, NULL));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_cluster_socket_list_group_count(list, len, &len));
    wsc_cluster_socket_list_free(list);
    wsc_cluster_socket_list_free(NULL);

    wsc_filter *room = NULL;
    OK(wsc_filter_new(&room));
    OK(wsc_filter_add_group(room, "room"));
    OK(wsc_connector_cluster_sockets(a, room, &list));
    OK(wsc_cluster_socket_list_len(list, &len));
    wsc_str id;
    OK(wsc_cluster_socket_list_get(list, 0, NULL, &id, NULL, NULL));
    CHECK(len == 1 && str_eq(id, b_id));
    wsc_cluster_socket_list_free(list);
    OK(wsc_filter_add_group(room, ""));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_cluster_sockets(a, room, &list));
    wsc_filter_free(room);
    EXPECT(WSC_NULL_POINTER, wsc_connector_cluster_sockets(a, NULL, NULL));
}

int main(void) {
    settings_errors();
    char dir[] = "/tmp/wsc-c-redis-XXXXXX";
    uint16_t redis_port = 0;
    pid_t redis = start_redis(&redis_port, dir);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%u/0", redis_port);

    static node_state a_state, b_state;
    monitor_init(&a_state.m);
    monitor_init(&b_state.m);
    wsc_connector *a = node(url, "a", &a_state);
    wsc_connector *b = node(url, "b", &b_state);
    char name[16];
    size_t name_len = 0;
    OK(wsc_connector_node_name(a, name, sizeof name, &name_len));
    CHECK(strcmp(name, "a") == 0 && name_len == 1);

    raw_ws ws = raw_ws_open(port_of(b), "/c");
    CHECK(ws.status == 101);
    WAIT_UNTIL(&b_state.m, b_state.connections == 1);
    static char frame[256];

    wsc_broadcast_result *result = NULL;
    OK(wsc_connector_broadcast(a, NULL, WSC_TEXT, (const uint8_t *)"hello", 5, &result));
    size_t delivered = 0, nodes = 0, remote_failures = 1;
    bool complete = false;
    OK(wsc_broadcast_result_delivered(result, &delivered));
    OK(wsc_broadcast_result_nodes_answered(result, &nodes));
    OK(wsc_broadcast_result_complete(result, &complete));
    OK(wsc_broadcast_result_remote_failure_count(result, &remote_failures));
    CHECK(delivered == 1 && nodes == 2 && complete && remote_failures == 0);
    wsc_str node_name, socket_id;
    wsc_undelivered what;
    EXPECT(WSC_INVALID_ARGUMENT,
           wsc_broadcast_result_remote_failure_at(result, 0, &node_name, &socket_id, &what, NULL));
    wsc_broadcast_result_free(result);
    CHECK(raw_ws_recv(&ws, frame, sizeof frame) == 1 && strcmp(frame, "hello") == 0);

    size_t count = 0;
    OK(wsc_connector_cluster_socket_count(a, NULL, &count));
    CHECK(count == 1);
    OK(wsc_connector_send(a, b_state.id, WSC_TEXT, (const uint8_t *)"by id", 5, NULL, NULL));
    CHECK(raw_ws_recv(&ws, frame, sizeof frame) == 1 && strcmp(frame, "by id") == 0);

    wsc_filter *but_b = NULL;
    OK(wsc_filter_new(&but_b));
    OK(wsc_filter_except_socket_id(but_b, b_state.id));
    EXPECT(WSC_INVALID_SOCKET_ID, wsc_filter_except_socket_id(but_b, ""));
    EXPECT(WSC_INVALID_SOCKET_ID, wsc_filter_exclude(but_b, "")); /* the former name */
    OK(wsc_connector_broadcast(a, but_b, WSC_TEXT, (const uint8_t *)"not you", 7, &result));
    OK(wsc_broadcast_result_delivered(result, &delivered));
    OK(wsc_broadcast_result_nodes_answered(result, &nodes));
    CHECK(delivered == 0 && nodes == 2);
    wsc_broadcast_result_free(result);
    wsc_filter_free(but_b);

    /* All-of groups and excepted groups, evaluated on node b, which holds the socket. */
    const char *both[] = {"g1", "g2"};
    OK(wsc_connector_subscribe(a, b_state.id, both, 2));
    wsc_filter *in_both = NULL, *g1_not_g2 = NULL;
    OK(wsc_filter_new(&in_both));
    OK(wsc_filter_require_group(in_both, "g1"));
    OK(wsc_filter_require_group(in_both, "g2"));
    OK(wsc_connector_broadcast(a, in_both, WSC_TEXT, (const uint8_t *)"both", 4, &result));
    OK(wsc_broadcast_result_delivered(result, &delivered));
    CHECK(delivered == 1);
    wsc_broadcast_result_free(result);
    CHECK(raw_ws_recv(&ws, frame, sizeof frame) == 1 && strcmp(frame, "both") == 0);
    OK(wsc_filter_new(&g1_not_g2));
    OK(wsc_filter_add_group(g1_not_g2, "g1"));
    OK(wsc_filter_except_group(g1_not_g2, "g2"));
    OK(wsc_connector_broadcast(a, g1_not_g2, WSC_TEXT, (const uint8_t *)"not g2", 6, &result));
    OK(wsc_broadcast_result_delivered(result, &delivered));
    CHECK(delivered == 0);
    wsc_broadcast_result_free(result);
    OK(wsc_filter_except_group(g1_not_g2, ""));
    EXPECT(WSC_INVALID_ARGUMENT,
           wsc_connector_broadcast(a, g1_not_g2, WSC_TEXT, (const uint8_t *)"x", 1, &result));
    EXPECT(WSC_NULL_POINTER, wsc_filter_require_group(NULL, "g"));
    EXPECT(WSC_INVALID_UTF8, wsc_filter_except_group(in_both, "\xff"));
    wsc_filter_free(in_both);
    wsc_filter_free(g1_not_g2);
    OK(wsc_connector_unsubscribe(a, b_state.id, both, 2));

    OK(wsc_connector_publish(a, NULL, WSC_TEXT, (const uint8_t *)"fire", 4, &result));
    OK(wsc_broadcast_result_nodes_answered(result, &nodes));
    OK(wsc_broadcast_result_complete(result, &complete));
    CHECK(nodes == 1 && !complete);
    wsc_broadcast_result_free(result);
    CHECK(raw_ws_recv(&ws, frame, sizeof frame) == 1 && strcmp(frame, "fire") == 0);
    cluster_sockets_are_listed(a, b, &b_state);
    raw_ws_close(&ws);

    OK(wsc_connector_free(a));
    OK(wsc_connector_free(b));
    monitor_destroy(&a_state.m);
    monitor_destroy(&b_state.m);
    kill(redis, SIGKILL);
    waitpid(redis, NULL, 0);
    rmdir(dir);
    printf("test_cluster: ok\n");
    return 0;
}
