/* Threads: operations from several threads at once (messages from each thread arrive in the
 * order that thread sent them), and wsc_connector_free waiting for an authorization hook that
 * is still running on a pool thread before it releases the hook's userdata. */
#include "testing.h"

#define SENDERS 4
#define PER_SENDER 200

typedef struct {
    monitor m;
    int next[SENDERS]; /* the sequence number expected next from each sender */
    int received;
} ordered;

static void on_ordered(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                       wsc_message_kind kind, wsc_bytes payload) {
    ordered *o = userdata;
    (void)conn, (void)socket, (void)kind;
    char text[32];
    str_copy((wsc_str){(const char *)payload.data, payload.len}, text, sizeof text);
    int sender = -1, n = -1;
    CHECK(sscanf(text, "T%d:%d", &sender, &n) == 2 && sender >= 0 && sender < SENDERS);
    pthread_mutex_lock(&o->m.lock);
    CHECK(n == o->next[sender]);
    o->next[sender]++;
    o->received++;
    pthread_cond_broadcast(&o->m.changed);
    pthread_mutex_unlock(&o->m.lock);
}

typedef struct {
    wsc_connector *client, *server;
    int index;
} worker;

static void *send_in_order(void *arg) {
    worker *w = arg;
    for (int n = 0; n < PER_SENDER; n++) {
        char text[32];
        int len = snprintf(text, sizeof text, "T%d:%d", w->index, n);
        OK(wsc_connector_send(w->client, "c", WSC_TEXT, (const uint8_t *)text, (size_t)len, NULL, NULL));
    }
    return NULL;
}

/* Meanwhile on the server: group changes, listings and lookups. */
static void *churn(void *arg) {
    worker *w = arg;
    char group[16];
    snprintf(group, sizeof group, "g%d", w->index);
    const char *groups[] = {group};
    for (int n = 0; n < PER_SENDER; n++) {
        wsc_socket_list *list = NULL;
        OK(wsc_connector_sockets(w->server, NULL, &list));
        const wsc_socket *socket = NULL;
        OK(wsc_socket_list_get(list, 0, &socket));
        wsc_str id;
        OK(wsc_socket_id(socket, &id));
        char sid[WSC_SOCKET_ID_SIZE];
        str_copy(id, sid, sizeof sid);
        wsc_socket_list_free(list);
        OK(wsc_connector_subscribe(w->server, sid, groups, 1));
        size_t count = 0;
        OK(wsc_connector_group_count(w->server, &count));
        CHECK(count >= 1);
        OK(wsc_connector_unsubscribe(w->server, sid, groups, 1));
    }
    return NULL;
}

static void concurrent_operations(void) {
    static ordered o;
    monitor_init(&o.m);
    wsc_config *config = listener_config();
    OK(wsc_config_on_inbound_message(config, on_ordered, &o, NULL));
    wsc_connector *server = NULL, *client = NULL;
    OK(wsc_connector_start(config, &server));
    OK(wsc_config_new(&config));
    OK(wsc_connector_start(config, &client));
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_set_socket_id(options, "c"));
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port_of(server));
    OK(wsc_connector_open_outbound(client, url, options, NULL, 0));
    wsc_outbound_options_free(options);

    pthread_t threads[SENDERS + 2];
    worker workers[SENDERS + 2];
    for (int i = 0; i < SENDERS + 2; i++) {
        workers[i] = (worker){client, server, i};
        CHECK(pthread_create(&threads[i], NULL, i < SENDERS ? send_in_order : churn, &workers[i]) == 0);
    }
    for (int i = 0; i < SENDERS + 2; i++) CHECK(pthread_join(threads[i], NULL) == 0);
    WAIT_UNTIL(&o.m, o.received == SENDERS * PER_SENDER);
    size_t groups = 1;
    OK(wsc_connector_group_count(server, &groups));
    CHECK(groups == 0);
    OK(wsc_connector_free(client));
    OK(wsc_connector_free(server));
    monitor_destroy(&o.m);
}

/* ---- free waits for a hook still running ---- */

typedef struct {
    monitor m;
    int hook_entered, release_hook, hook_returned, free_started;
    int freed_after_hook; /* what the userdata free saw */
} slow_hook;

static void on_slow_auth(void *userdata, const wsc_auth_request *request, wsc_auth_decision *decision) {
    slow_hook *h = userdata;
    (void)request;
    UNDER_LOCK(&h->m, h->hook_entered = 1);
    WAIT_UNTIL(&h->m, h->release_hook);
    OK(wsc_auth_decision_accept(decision, NULL, 0));
    UNDER_LOCK(&h->m, h->hook_returned = 1);
}

static void on_slow_hook_free(void *userdata) {
    slow_hook *h = userdata;
    UNDER_LOCK(&h->m, h->freed_after_hook = h->hook_returned ? 1 : -1);
}

typedef struct {
    wsc_connector *conn;
    const char *url;
    slow_hook *hook;
} freeing;

static void *connect_thread(void *arg) {
    freeing *f = arg;
    /* Fails or succeeds depending on when the server goes away; either way it returns. */
    (void)wsc_connector_open_outbound(f->conn, f->url, NULL, NULL, 0);
    return NULL;
}

static void *free_thread(void *arg) {
    freeing *f = arg;
    UNDER_LOCK(&f->hook->m, f->hook->free_started = 1);
    OK(wsc_connector_free(f->conn));
    return NULL;
}

static void free_waits_for_the_hook(void) {
    static slow_hook h;
    monitor_init(&h.m);
    wsc_config *config = listener_config();
    OK(wsc_config_set_stop_timeout_ms(config, 100));
    OK(wsc_config_set_authorizer(config, on_slow_auth, &h, on_slow_hook_free));
    wsc_connector *server = NULL, *client = NULL;
    OK(wsc_connector_start(config, &server));
    OK(wsc_config_new(&config));
    OK(wsc_config_set_client_connect_timeout_ms(config, 5000));
    OK(wsc_connector_start(config, &client));
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port_of(server));
    freeing connecting = {client, url, &h}, stopping = {server, url, &h};
    pthread_t connector_thread, stopper;
    CHECK(pthread_create(&connector_thread, NULL, connect_thread, &connecting) == 0);
    WAIT_UNTIL(&h.m, h.hook_entered);
    CHECK(pthread_create(&stopper, NULL, free_thread, &stopping) == 0);
    WAIT_UNTIL(&h.m, h.free_started);
    UNDER_LOCK(&h.m, h.release_hook = 1);
    CHECK(pthread_join(stopper, NULL) == 0);
    CHECK(h.freed_after_hook == 1); /* the userdata free ran, after the hook returned */
    CHECK(pthread_join(connector_thread, NULL) == 0);
    OK(wsc_connector_free(client));
    monitor_destroy(&h.m);
}

int main(void) {
    concurrent_operations();
    free_waits_for_the_hook();
    printf("test_threads: ok\n");
    return 0;
}
