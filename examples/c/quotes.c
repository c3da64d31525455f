/* A stock-quote feed in C. The feed keeps one outbound socket to a quote source and sends each
 * update to the subscribers of that symbol (the group "quote:SYM"). The protocol of every quotes
 * example (examples/quotes.rs says it in full): "/sub SYM" answers "following SYM" and the
 * quotes come as "SYM PRICE"; "/unsub SYM" answers "no longer following SYM"; an unknown symbol
 * or command gets an answer that lists what to send. The quote source is built in: a second
 * connector in this process that sends a random-walk price for ACME, GLOBEX and INITECH to
 * whoever connects, every 200 ms.
 *
 *   target/c/example-quotes [HOST:PORT]  feed on ws://HOST:PORT/ (default 127.0.0.1:8081) until
 *                                        Ctrl-C or SIGTERM
 *   target/c/example-quotes --self-test  a client of its own subscribes to ACME, gets 3 quotes, exits
 */
#define _POSIX_C_SOURCE 200809L
#include "wsconnector.h"

#include <pthread.h>
#include <signal.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SOURCE_ID "quote-source"
#define SELF_TEST_ID "self-test"
#define SYMBOL_COUNT 3
#define COMMANDS "send /sub SYMBOL or /unsub SYMBOL (symbols: ACME GLOBEX INITECH)"

static const char *const symbols[SYMBOL_COUNT] = {"ACME", "GLOBEX", "INITECH"};

static int failed(wsc_result result, const char *what) {
    if (result == WSC_OK) return 0;
    char message[256];
    size_t len = 0;
    wsc_last_error(message, sizeof message, &len);
    fprintf(stderr, "quotes: %s: %s: %s\n", what, wsc_result_name(result), message);
    return 1;
}

static int is(wsc_str s, const char *text) { return s.len == strlen(text) && memcmp(s.data, text, s.len) == 0; }

/* ---- the quote source: a connector whose thread broadcasts prices to every client ---- */

typedef struct {
    wsc_connector *conn;
    pthread_mutex_t lock;
    pthread_cond_t stop;
    int stopping;
} quote_source;

static void *publish_quotes(void *arg) {
    quote_source *source = arg;
    double prices[SYMBOL_COUNT] = {101.5, 48.25, 12.75};
    unsigned seed = 42;
    pthread_mutex_lock(&source->lock);
    while (!source->stopping) {
        for (int i = 0; i < SYMBOL_COUNT; i++) {
            prices[i] *= 1.0 + ((double)(rand_r(&seed) % 201) - 100.0) / 10000.0;
            char quote[64];
            int n = snprintf(quote, sizeof quote, "%s %.2f", symbols[i], prices[i]);
            failed(wsc_connector_broadcast(source->conn, NULL, WSC_TEXT, (const uint8_t *)quote, (size_t)n, NULL),
                   "publish");
        }
        struct timespec next;
        clock_gettime(CLOCK_REALTIME, &next);
        next.tv_nsec += 200 * 1000 * 1000;
        if (next.tv_nsec >= 1000000000L) next.tv_sec++, next.tv_nsec -= 1000000000L;
        while (!source->stopping && pthread_cond_timedwait(&source->stop, &source->lock, &next) == 0) {
        }
    }
    pthread_mutex_unlock(&source->lock);
    return NULL;
}

/* ---- the feed ---- */

static pthread_mutex_t received_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t received_changed = PTHREAD_COND_INITIALIZER;
static int self_test_quotes;

/* A client's command ("/sub SYM", "/unsub SYM"), answered on its socket. */
static void on_client_message(void *userdata, wsc_connector *conn, const wsc_socket *socket, wsc_message_kind kind,
                              wsc_bytes payload) {
    (void)userdata, (void)conn;
    char text[128], symbol[64] = "", group[80], answer[200];
    snprintf(text, sizeof text, "%.*s", (int)payload.len, (const char *)payload.data);
    char *argument = strchr(text, ' ');
    if (argument) *argument++ = 0;
    for (size_t i = 0; argument && argument[i] && i + 1 < sizeof symbol; i++)
        symbol[i] = (char)toupper((unsigned char)argument[i]), symbol[i + 1] = 0;
    int sub = strcmp(text, "/sub") == 0, unsub = strcmp(text, "/unsub") == 0, known = 0;
    for (int i = 0; i < SYMBOL_COUNT; i++) known |= strcmp(symbol, symbols[i]) == 0;
    if (kind != WSC_TEXT) {
        snprintf(answer, sizeof answer, "text only, please; " COMMANDS);
    } else if (!sub && !unsub) {
        snprintf(answer, sizeof answer, "unknown command; " COMMANDS);
    } else if (!known) {
        snprintf(answer, sizeof answer, "unknown symbol %s; symbols: ACME GLOBEX INITECH", symbol);
    } else {
        snprintf(group, sizeof group, "quote:%s", symbol);
        const char *groups[] = {group};
        wsc_result r = sub ? wsc_socket_subscribe(socket, groups, 1) : wsc_socket_unsubscribe(socket, groups, 1);
        snprintf(answer, sizeof answer, "%s %s",
                 failed(r, "subscription") ? "cannot change" : sub ? "following" : "no longer following", symbol);
    }
    failed(wsc_socket_send(socket, WSC_TEXT, (const uint8_t *)answer, strlen(answer), NULL, NULL), "answer");
}

/* From the source: "SYM PRICE" goes to the subscribers of SYM. For the self-test client:
 * counts the quotes it receives. */
static void on_outbound_message(void *userdata, wsc_connector *conn, const wsc_socket *socket, wsc_message_kind kind,
                                wsc_bytes payload) {
    (void)userdata, (void)kind;
    wsc_str id;
    wsc_socket_id(socket, &id);
    if (is(id, SOURCE_ID)) {
        char group[64];
        const char *space = memchr(payload.data, ' ', payload.len);
        if (!space) return;
        snprintf(group, sizeof group, "quote:%.*s", (int)(space - (const char *)payload.data), (const char *)payload.data);
        wsc_filter *filter = NULL;
        if (failed(wsc_filter_new(&filter), "filter")) return;
        if (!failed(wsc_filter_add_group(filter, group), "filter") && !failed(wsc_filter_set_type(filter, WSC_INBOUND), "filter")) {
            failed(wsc_connector_broadcast(conn, filter, WSC_TEXT, payload.data, payload.len, NULL), "broadcast");
        }
        wsc_filter_free(filter);
    } else if (is(id, SELF_TEST_ID)) {
        printf("self-test client got: %.*s\n", (int)payload.len, (const char *)payload.data);
        int quote = payload.len > 5 && memcmp(payload.data, "ACME ", 5) == 0;
        pthread_mutex_lock(&received_lock);
        self_test_quotes += quote;
        pthread_cond_broadcast(&received_changed);
        pthread_mutex_unlock(&received_lock);
    }
}

static int self_test(wsc_connector *feed, uint16_t port) {
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port);
    wsc_outbound_options *options = NULL;
    int ok = !failed(wsc_outbound_options_new(&options), "options") &&
             !failed(wsc_outbound_options_set_socket_id(options, SELF_TEST_ID), "options") &&
             !failed(wsc_connector_open_outbound(feed, url, options, NULL, 0), "connect") &&
             !failed(wsc_connector_send(feed, SELF_TEST_ID, WSC_TEXT, (const uint8_t *)"/sub ACME", 9, NULL, NULL), "send");
    wsc_outbound_options_free(options);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&received_lock);
    while (ok && self_test_quotes < 3) ok = pthread_cond_timedwait(&received_changed, &received_lock, &deadline) == 0;
    pthread_mutex_unlock(&received_lock);
    printf("quotes self-test: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

static wsc_connector *start(const char *host, uint16_t port, int feed) {
    wsc_config *config = NULL;
    wsc_connector *conn = NULL;
    if (failed(wsc_config_new(&config), "config") || failed(wsc_config_set_listener(config, host, port), "config"))
        return NULL;
    if (feed) {
        failed(wsc_config_on_inbound_message(config, on_client_message, NULL, NULL), "config");
        failed(wsc_config_on_outbound_message(config, on_outbound_message, NULL, NULL), "config");
    }
    return failed(wsc_connector_start(config, &conn), "start") ? NULL : conn;
}

/* Reads "HOST:PORT" into host and port; 0 when it is not that. */
static int parse_address(const char *address, char *host, size_t cap, uint16_t *port) {
    const char *colon = strrchr(address, ':');
    char *end = NULL;
    if (!colon || (size_t)(colon - address) >= cap || colon[1] == 0) return 0;
    unsigned long value = strtoul(colon + 1, &end, 10);
    if (*end != 0 || value > 65535) return 0;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = 0;
    *port = (uint16_t)value;
    return 1;
}

int main(int argc, char **argv) {
    int testing = argc > 1 && strcmp(argv[1], "--self-test") == 0;
    char host[256] = "127.0.0.1";
    uint16_t port = 8081, source_port = 0;
    if (testing) {
        port = 0;
    } else if (argc > 1 && !parse_address(argv[1], host, sizeof host, &port)) {
        fprintf(stderr, "quotes: \"%s\" is not HOST:PORT (a port is 0-65535)\n", argv[1]);
        return 1;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);

    static quote_source source = {NULL, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    wsc_connector *feed = start(host, port, 1);
    if (!feed) return 1;
    source.conn = start("127.0.0.1", 0, 0);
    if (!source.conn) {
        wsc_connector_free(feed);
        return 1;
    }
    pthread_t publisher;
    pthread_create(&publisher, NULL, publish_quotes, &source);
    wsc_connector_local_port(source.conn, &source_port);
    wsc_connector_local_port(feed, &port);

    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/quotes", source_port);
    wsc_outbound_options *options = NULL;
    int status = failed(wsc_outbound_options_new(&options), "options") ||
                 failed(wsc_outbound_options_set_socket_id(options, SOURCE_ID), "options") ||
                 failed(wsc_connector_open_outbound(feed, url, options, NULL, 0), "connect to the source");
    wsc_outbound_options_free(options);
    if (status == 0) {
        printf("quote feed on ws://%s:%u/quotes (any path works; the source is on port %u)\n", host, port, source_port);
        printf("connect with any WebSocket client, for example (after `pip install websockets`):\n");
        printf("  python3 -m websockets ws://%s:%u/quotes\n", host, port);
        printf("then type '/sub ACME' (symbols: ACME GLOBEX INITECH); '/unsub ACME' stops them. Ctrl-C stops.\n");
        fflush(stdout);
        if (testing) {
            status = self_test(feed, port);
        } else {
            int signal;
            sigwait(&signals, &signal);
        }
    }
    pthread_mutex_lock(&source.lock);
    source.stopping = 1;
    pthread_cond_signal(&source.stop);
    pthread_mutex_unlock(&source.lock);
    pthread_join(publisher, NULL);
    wsc_connector_free(feed);
    wsc_connector_free(source.conn);
    printf("stopped\n");
    return status;
}
