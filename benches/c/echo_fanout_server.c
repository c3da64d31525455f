/* wsconnector through its C API: the benchmark's server, with the behaviour every server
 * measured shares (see benches/README.md): a message is echoed to its sender; a socket on
 * /fanout/recv is in group "fan"; a message on /fanout/trigger is broadcast to that group.
 * Prints its port once it accepts connections, then serves until SIGTERM or SIGINT.
 *
 *   echo_fanout_server [--port PORT] [--inline 0|1]   (PORT 0, the default: the OS picks)
 *
 * --inline 1 runs the callback on the I/O threads (wsc_config_set_inline_dispatch: it never
 * blocks) instead of the dispatcher thread.
 *
 * Settings are the library's defaults except the connection limit, raised for the idle load,
 * and park_idle_after, 1 s (10 s by default): the idle load reads memory once the sockets are
 * parked, as the sockets_parked gauge on the metrics path (printed after the port) says, and
 * their memory purged (memory_purges_total). Receivers join the
 * group through the served path's default groups, before their 101. */
#define _POSIX_C_SOURCE 200809L
#include <wsconnector.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Idle sockets park after this; the idle load waits for them on the metrics path. */
#define PARK_IDLE_AFTER_MS 1000
#define METRICS_PATH "/metrics"

#define ECHO_PATH "/echo"
#define FANOUT_RECV_PATH "/fanout/recv"
#define FANOUT_TRIGGER_PATH "/fanout/trigger"
#define FANOUT_GROUP "fan"

static int same(wsc_str text, const char *want) {
    size_t len = strlen(want);
    return text.len == len && memcmp(text.data, want, len) == 0;
}

/* The inbound-message trigger: broadcast from the trigger path, echo from any other.
 * `userdata` is the filter that selects the group. */
static void on_message(void *userdata, wsc_connector *conn, const wsc_socket *socket, wsc_message_kind kind,
                       wsc_bytes payload) {
    const wsc_filter *fan = userdata;
    wsc_str path;
    if (wsc_socket_path(socket, &path) != WSC_OK) return;
    if (same(path, FANOUT_TRIGGER_PATH)) {
        wsc_connector_broadcast(conn, fan, kind, payload.data, payload.len, NULL);
        return;
    }
    /* A reply goes straight to the socket the callback was handed (no ID lookup), and the
     * message it was handed goes on without a copy of its payload. */
    wsc_socket_send(socket, kind, payload.data, payload.len, NULL, NULL);
}

static void free_filter(void *filter) { wsc_filter_free(filter); }

static int failed(wsc_result result, const char *what) {
    if (result == WSC_OK) return 0;
    char message[512];
    size_t len = 0;
    if (wsc_last_error(message, sizeof message, &len) != WSC_OK) message[0] = '\0';
    fprintf(stderr, "echo_fanout_server: %s: %s: %s\n", what, wsc_result_name(result), message);
    return 1;
}

int main(int argc, char **argv) {
    unsigned long port = 0, inline_dispatch = 0;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = strtoul(argv[++i], &end, 10);
            if (*end == '\0' && port <= 65535) continue;
        }
        if (strcmp(argv[i], "--inline") == 0 && i + 1 < argc) {
            inline_dispatch = strtoul(argv[++i], &end, 10);
            if (*end == '\0' && inline_dispatch <= 1) continue;
        }
        fprintf(stderr, "usage: %s [--port PORT] [--inline 0|1]\n", argv[0]);
        return 2;
    }

    /* Block the stop signals before the library starts its threads, so that they inherit
     * the mask and only sigwait below takes the signal. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    const char *groups[] = {FANOUT_GROUP};
    wsc_config *config = NULL;
    wsc_filter *fan = NULL;
    wsc_connector *conn = NULL;
    if (failed(wsc_filter_new(&fan), "filter") || failed(wsc_filter_add_group(fan, FANOUT_GROUP), "filter") ||
        failed(wsc_config_new(&config), "config"))
        return 1;
    if (failed(wsc_config_set_listener(config, "127.0.0.1", (uint16_t)port), "listener") ||
        failed(wsc_config_add_path(config, FANOUT_RECV_PATH, groups, 1), "path") ||
        failed(wsc_config_add_path(config, ECHO_PATH, NULL, 0), "path") ||
        failed(wsc_config_add_path(config, FANOUT_TRIGGER_PATH, NULL, 0), "path") ||
        failed(wsc_config_set_max_inbound_connections(config, 1u << 20), "max connections") ||
        failed(wsc_config_set_duration_ms(config, "park_idle_after", PARK_IDLE_AFTER_MS), "park_idle_after") ||
        failed(wsc_config_set_metrics_path(config, METRICS_PATH), "metrics path") ||
        failed(wsc_config_set_inline_dispatch(config, inline_dispatch == 1), "inline dispatch") ||
        failed(wsc_config_on_inbound_message(config, on_message, fan, free_filter), "callback")) {
        wsc_config_free(config);
        return 1;
    }
    uint16_t bound = 0;
    if (failed(wsc_connector_start(config, &conn), "start") || failed(wsc_connector_local_port(conn, &bound), "port"))
        return 1;
    printf("%u --metrics-path %s\n", (unsigned)bound, METRICS_PATH);
    fflush(stdout);

    int signal_number = 0;
    sigwait(&stop, &signal_number);
    return failed(wsc_connector_free(conn), "stop");
}
