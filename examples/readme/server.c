#define _POSIX_C_SOURCE 200809L /* sigwait */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <wsconnector.h>

/* Every message goes to every socket in "everyone", the default group of /chat. */
static void on_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                       wsc_message_kind kind, wsc_bytes payload) {
    (void)userdata, (void)socket;
    wsc_filter *everyone = NULL;
    wsc_filter_new(&everyone);
    wsc_filter_add_group(everyone, "everyone");
    wsc_connector_broadcast(conn, everyone, kind, payload.data, payload.len, NULL);
    wsc_filter_free(everyone);
}

int main(int argc, char **argv) {
    uint16_t port = argc > 1 ? (uint16_t)atoi(argv[1]) : 8080; /* 0: any free port */
    /* SIGINT and SIGTERM blocked before the library starts its threads (they inherit the
     * mask), so that main alone takes them, with sigwait below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    wsc_config *config = NULL;
    wsc_connector *conn = NULL;
    const char *groups[] = {"everyone"};
    wsc_config_new(&config);
    wsc_config_set_listener(config, "127.0.0.1", port);
    wsc_config_add_path(config, "/chat", groups, 1);
    wsc_config_on_inbound_message(config, on_message, NULL, NULL);
    if (wsc_connector_start(config, &conn) != WSC_OK) { /* config is consumed either way */
        char error[256];
        size_t len;
        wsc_last_error(error, sizeof error, &len);
        fprintf(stderr, "cannot start: %s\n", error);
        return 1;
    }
    wsc_connector_local_port(conn, &port);
    printf("listening on ws://127.0.0.1:%u/chat; Ctrl-C stops\n", port);
    fflush(stdout);
    int signal;
    sigwait(&stop, &signal);               /* serve until SIGINT or SIGTERM */
    return wsc_connector_free(conn);       /* stops (closing every socket), then frees */
}
