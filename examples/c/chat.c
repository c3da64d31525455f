/* A chat server in C: rooms are groups, "/join ROOM" moves you (the protocol of every chat
 * example: see chat_rooms.h).
 *
 *   target/c/example-chat [HOST:PORT]  serves ws://HOST:PORT/ (default 127.0.0.1:8080) until
 *                                      Ctrl-C or SIGTERM
 *   target/c/example-chat --self-test  two clients of its own meet in a room, then it exits
 *
 * Try it with any WebSocket client, e.g. `python3 -m websockets 'ws://127.0.0.1:8080/chat?name=ann'`. */
#define _POSIX_C_SOURCE 200809L
#include "chat_rooms.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

/* Self-test: what the second client heard, guarded by a lock. */
static pthread_mutex_t heard_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t heard_changed = PTHREAD_COND_INITIALIZER;
static char heard[CHAT_TEXT_MAX];

static void on_heard(void *userdata, wsc_connector *conn, const wsc_socket *socket, wsc_message_kind kind,
                     wsc_bytes payload) {
    (void)userdata, (void)conn, (void)kind;
    wsc_str id;
    wsc_socket_id(socket, &id);
    if (id.len != 3 || memcmp(id.data, "bob", 3) != 0) return;
    pthread_mutex_lock(&heard_lock);
    chat_copy((wsc_str){(const char *)payload.data, payload.len}, heard, sizeof heard);
    printf("bob hears: %s\n", heard);
    pthread_cond_broadcast(&heard_changed);
    pthread_mutex_unlock(&heard_lock);
}

static int wait_to_hear(const char *line) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&heard_lock);
    int ok = 1;
    while (strcmp(heard, line) != 0 && ok) ok = pthread_cond_timedwait(&heard_changed, &heard_lock, &deadline) == 0;
    pthread_mutex_unlock(&heard_lock);
    return ok;
}

static int self_test(uint16_t port) {
    wsc_config *config = NULL;
    wsc_connector *clients = NULL;
    if (chat_failed(wsc_config_new(&config), "config") ||
        chat_failed(wsc_config_on_outbound_message(config, on_heard, NULL, NULL), "config") ||
        chat_failed(wsc_connector_start(config, &clients), "start clients"))
        return 1;
    char url[128];
    int ok = 1;
    const char *names[] = {"ann", "bob"};
    for (int i = 0; i < 2 && ok; i++) {
        wsc_outbound_options *options = NULL;
        snprintf(url, sizeof url, "ws://127.0.0.1:%u/?name=%s", port, names[i]);
        ok = !chat_failed(wsc_outbound_options_new(&options), "options") &&
             !chat_failed(wsc_outbound_options_set_socket_id(options, names[i]), "options") &&
             !chat_failed(wsc_connector_open_outbound(clients, url, options, NULL, 0), "connect");
        wsc_outbound_options_free(options);
        if (ok) chat_send(clients, names[i], "/join red");
    }
    ok = ok && wait_to_hear("you are in room red");
    if (ok) chat_send(clients, "ann", "hello bob");
    ok = ok && wait_to_hear("[ann] hello bob");
    wsc_connector_free(clients);
    printf("chat self-test: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    int testing = argc > 1 && strcmp(argv[1], "--self-test") == 0;
    char host[256] = "127.0.0.1";
    uint16_t port = 8080;
    if (testing) {
        port = 0;
    } else if (argc > 1 && !chat_parse_address(argv[1], host, sizeof host, &port)) {
        fprintf(stderr, "chat: \"%s\" is not HOST:PORT (a port is 0-65535)\n", argv[1]);
        return 1;
    }
    /* Block SIGINT and SIGTERM in every thread; main waits for them with sigwait. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    wsc_config *config = NULL;
    wsc_connector *server = NULL;
    if (chat_failed(wsc_config_new(&config), "config") ||
        chat_failed(wsc_config_set_listener(config, host, port), "config"))
        return 1;
    chat_configure(config);
    if (chat_failed(wsc_connector_start(config, &server), "start")) return 1;
    wsc_connector_local_port(server, &port);
    printf("chat server on ws://%s:%u/chat (any path works; ?name=ann names you; wsconnector %s)\n", host, port,
           wsc_version());
    printf("connect with any WebSocket client, for example (after `pip install websockets`):\n");
    printf("  python3 -m websockets 'ws://%s:%u/chat?name=ann'\n", host, port);
    printf("then type a line to talk to your room, '/join ROOM' to change rooms. Ctrl-C stops.\n");
    fflush(stdout);
    int status = 0;
    if (testing) {
        status = self_test(port);
    } else {
        int signal;
        sigwait(&signals, &signal);
    }
    wsc_connector_free(server);
    printf("stopped\n");
    return status;
}
