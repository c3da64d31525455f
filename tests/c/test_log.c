/* The log callback: records reach it with their level and target, it can be replaced and
 * removed at any time, and a bad level is an error. The record comes from a TCP connection
 * that sends nothing until the 50 ms handshake timeout ("inbound handshake timed out", debug). */
#include "testing.h"

typedef struct {
    monitor m;
    int records;
    int handshake_failures;
} log_state;

static void on_log(void *userdata, wsc_log_level level, wsc_str target, wsc_str message) {
    log_state *l = userdata;
    CHECK(level >= WSC_LOG_ERROR && level <= WSC_LOG_DEBUG);
    int failure = str_is(target, "wsconnector::inbound") && message.len >= 27 &&
                  memcmp(message.data, "inbound handshake timed out", 27) == 0;
    UNDER_LOCK(&l->m, (l->records++, l->handshake_failures += failure));
}


int main(void) {
    static log_state first, second;
    monitor_init(&first.m);
    monitor_init(&second.m);
    EXPECT(WSC_INVALID_ARGUMENT, wsc_set_log_callback(on_log, &first, 0));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_set_log_callback(on_log, &first, 6));
    OK(wsc_set_log_callback(on_log, &first, WSC_LOG_DEBUG));

    wsc_connector *server = NULL;
    wsc_config *config = listener_config();
    OK(wsc_config_set_handshake_timeout_ms(config, 50));
    OK(wsc_connector_start(config, &server));
    uint16_t port = port_of(server);
    int silent = raw_tcp(port);
    WAIT_UNTIL(&first.m, first.handshake_failures == 1);
    close(silent);

    OK(wsc_set_log_callback(on_log, &second, WSC_LOG_TRACE));
    silent = raw_tcp(port);
    WAIT_UNTIL(&second.m, second.handshake_failures == 1);
    close(silent);
    CHECK(first.handshake_failures == 1);

    OK(wsc_set_log_callback(NULL, NULL, WSC_LOG_INFO));
    OK(wsc_connector_free(server));
    monitor_destroy(&first.m);
    monitor_destroy(&second.m);
    printf("test_log: ok\n");
    return 0;
}
