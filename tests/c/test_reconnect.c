/* Outbound sockets that reconnect, through the C API: a feed (a connector of its own) stops and
 * starts again on the same port; the socket keeps its ID and groups, the outbound-state
 * callback sees reconnecting (attempt, delay within the policy's bound, why) then connected,
 * buffered sends arrive once and in order; attempts that run out give WSC_RETRY_EXHAUSTED and
 * one closed callback; the fail policy gives WSC_RECONNECTING; pull mode carries the same
 * events; a bulk close counts reconnecting sockets. */
#include "testing.h"

/* The feed: echoes every message back on its socket. */
static void echo(void *u, wsc_connector *c, const wsc_socket *socket, wsc_message_kind kind, wsc_bytes payload) {
    (void)u, (void)c;
    wsc_socket_send(socket, kind, payload.data, payload.len, NULL, NULL);
}

static wsc_connector *start_feed(uint16_t port) {
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_set_listener(config, "127.0.0.1", port));
    OK(wsc_config_set_worker_threads(config, 1));
    OK(wsc_config_on_inbound_message(config, echo, NULL, NULL));
    wsc_connector *feed = NULL;
    OK(wsc_connector_start(config, &feed));
    return feed;
}

#define MAX_SEEN 64

typedef struct {
    monitor m;
    int reconnecting, reconnected, closed;
    uint32_t last_attempt;
    uint64_t delays[MAX_SEEN];
    wsc_result errors[MAX_SEEN];
    uint16_t close_code;
    wsc_result closed_error;
    wsc_socket_state closed_state;
    char texts[MAX_SEEN][32];
    int text_count;
} seen;

static void on_state(void *u, wsc_connector *c, const wsc_socket *socket, wsc_socket_state state,
                     uint32_t attempt, uint64_t delay_ms, wsc_result error, wsc_str message) {
    seen *s = u;
    (void)c, (void)socket;
    UNDER_LOCK(&s->m, {
        if (state == WSC_SOCKET_RECONNECTING && s->reconnecting < MAX_SEEN) {
            s->delays[s->reconnecting] = delay_ms;
            s->errors[s->reconnecting] = error;
            CHECK(message.len > 0);
            s->reconnecting++;
        } else if (state == WSC_SOCKET_CONNECTED) {
            CHECK(error == WSC_OK && message.len == 0);
            s->reconnected++;
        }
        s->last_attempt = attempt;
    });
}

static void on_message(void *u, wsc_connector *c, const wsc_socket *socket, wsc_message_kind kind, wsc_bytes payload) {
    seen *s = u;
    (void)c, (void)socket, (void)kind;
    UNDER_LOCK(&s->m, {
        if (s->text_count < MAX_SEEN && payload.len < 32) {
            memcpy(s->texts[s->text_count], payload.data, payload.len);
            s->texts[s->text_count][payload.len] = 0;
            s->text_count++;
        }
    });
}

static void on_closed(void *u, wsc_connector *c, const wsc_socket *socket, uint16_t code, wsc_str reason) {
    seen *s = u;
    (void)c, (void)reason;
    wsc_result error;
    wsc_str message;
    wsc_socket_state state;
    OK(wsc_socket_last_error(socket, &error, &message));
    OK(wsc_socket_get_state(socket, &state));
    UNDER_LOCK(&s->m, {
        s->closed++;
        s->close_code = code;
        s->closed_error = error;
        s->closed_state = state;
    });
}

static wsc_connector *start_client(seen *s) {
    monitor_init(&s->m);
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_on_outbound_state(config, on_state, s, NULL));
    OK(wsc_config_on_outbound_message(config, on_message, s, NULL));
    OK(wsc_config_on_socket_closed(config, on_closed, s, NULL));
    wsc_connector *client = NULL;
    OK(wsc_connector_start(config, &client));
    return client;
}

/* min(max, initial * multiplier^(attempt-1)) for the policy of these tests. */
static uint64_t bound_ms(uint32_t attempt) {
    uint64_t bound = 20;
    for (uint32_t n = 1; n < attempt && bound < 160; n++) bound *= 2;
    return bound < 160 ? bound : 160;
}

static wsc_reconnect *fast_policy(void) {
    wsc_reconnect *policy = NULL;
    OK(wsc_reconnect_new(&policy));
    OK(wsc_reconnect_set_delays(policy, 20, 160, 2.0));
    return policy;
}

static void restart_keeps_the_socket_and_delivers_what_was_buffered(void) {
    wsc_connector *feed = start_feed(0);
    uint16_t port = port_of(feed);
    seen s = {0};
    wsc_connector *client = start_client(&s);
    char url[128], id[WSC_SOCKET_ID_SIZE];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/feed", port);
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_set_socket_id(options, "quotes"));
    OK(wsc_outbound_options_add_group(options, "feeds"));
    wsc_reconnect *policy = fast_policy();
    OK(wsc_outbound_options_set_reconnect(options, policy));
    wsc_reconnect_free(policy);
    OK(wsc_connector_open_outbound(client, url, options, id, sizeof id));
    wsc_outbound_options_free(options);

    OK(wsc_connector_send(client, "quotes", WSC_TEXT, (const uint8_t *)"before", 6, NULL, NULL));
    WAIT_UNTIL(&s.m, s.text_count == 1);

    OK(wsc_connector_free(feed)); /* the feed goes away (1001), then refuses connections */
    WAIT_UNTIL(&s.m, s.reconnecting >= 4);
    pthread_mutex_lock(&s.m.lock);
    CHECK(s.errors[0] == WSC_REMOTELY_CLOSED);
    for (int n = 0; n < 4; n++) {
        CHECK(s.delays[n] <= bound_ms((uint32_t)n + 1));
        if (n > 0) CHECK(s.errors[n] == WSC_CONNECTIVITY);
    }
    pthread_mutex_unlock(&s.m.lock);

    wsc_socket *socket = NULL;
    OK(wsc_connector_socket(client, "quotes", &socket));
    wsc_socket_state state;
    OK(wsc_socket_get_state(socket, &state));
    CHECK(state == WSC_SOCKET_RECONNECTING);
    wsc_result error;
    wsc_str message;
    OK(wsc_socket_last_error(socket, &error, NULL));
    CHECK(error == WSC_REMOTELY_CLOSED || error == WSC_CONNECTIVITY);
    wsc_socket_free(socket);

    wsc_delivery delivery;
    OK(wsc_connector_send(client, "quotes", WSC_TEXT, (const uint8_t *)"one", 3, &delivery, NULL));
    CHECK(delivery == WSC_DELIVERY_BUFFERED);
    OK(wsc_connector_send(client, "quotes", WSC_TEXT, (const uint8_t *)"two", 3, &delivery, NULL));
    wsc_filter *feeds = NULL;
    OK(wsc_filter_new(&feeds));
    OK(wsc_filter_add_group(feeds, "feeds"));
    wsc_broadcast_result *result = NULL;
    OK(wsc_connector_broadcast(client, feeds, WSC_TEXT, (const uint8_t *)"group", 5, &result));
    size_t delivered = 0, buffered = 0;
    OK(wsc_broadcast_result_delivered(result, &delivered));
    OK(wsc_broadcast_result_buffered(result, &buffered));
    CHECK(delivered == 1 && buffered == 1);
    wsc_broadcast_result_free(result);
    wsc_filter_free(feeds);

    feed = start_feed(port);
    WAIT_UNTIL(&s.m, s.reconnected == 1);
    WAIT_UNTIL(&s.m, s.text_count == 4);
    pthread_mutex_lock(&s.m.lock);
    CHECK(strcmp(s.texts[1], "one") == 0 && strcmp(s.texts[2], "two") == 0 &&
          strcmp(s.texts[3], "group") == 0);
    CHECK(s.closed == 0);
    pthread_mutex_unlock(&s.m.lock);
    OK(wsc_connector_socket(client, "quotes", &socket));
    OK(wsc_socket_get_state(socket, &state));
    CHECK(state == WSC_SOCKET_CONNECTED);
    OK(wsc_socket_last_error(socket, &error, &message));
    CHECK(error == WSC_OK && message.len == 0);
    size_t groups = 0;
    OK(wsc_socket_group_count(socket, &groups));
    CHECK(groups == 1);
    wsc_socket_free(socket);

    OK(wsc_connector_free(client));
    CHECK(s.closed == 1 && s.close_code == 1001);
    OK(wsc_connector_free(feed));
    monitor_destroy(&s.m);
}

static void attempts_that_run_out_give_retry_exhausted_once(void) {
    wsc_connector *feed = start_feed(0);
    seen s = {0};
    wsc_connector *client = start_client(&s);
    wsc_reconnect *policy = fast_policy();
    OK(wsc_reconnect_set_max_attempts(policy, 2));
    OK(wsc_reconnect_clear_final_close_codes(policy));
    OK(wsc_reconnect_add_final_close_codes(policy, 4000, 4000));
    wsc_config *unused = NULL;
    OK(wsc_config_new(&unused));
    OK(wsc_config_set_reconnect(unused, policy)); /* copied: the policy may be freed */
    wsc_config_free(unused);
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_set_reconnect(options, policy));
    wsc_reconnect_free(policy);
    char url[128], id[WSC_SOCKET_ID_SIZE];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port_of(feed));
    OK(wsc_connector_open_outbound(client, url, options, id, sizeof id));
    wsc_outbound_options_free(options);
    OK(wsc_connector_free(feed));
    WAIT_UNTIL(&s.m, s.closed == 1);
    pthread_mutex_lock(&s.m.lock);
    CHECK(s.reconnecting == 2 && s.reconnected == 0);
    CHECK(s.close_code == 1006);
    CHECK(s.closed_error == WSC_RETRY_EXHAUSTED);
    CHECK(s.closed_state == WSC_SOCKET_CLOSED);
    pthread_mutex_unlock(&s.m.lock);
    EXPECT(WSC_NO_SUCH_SOCKET, wsc_connector_send(client, id, WSC_TEXT, (const uint8_t *)"x", 1, NULL, NULL));
    OK(wsc_connector_free(client));
    CHECK(s.closed == 1);
    monitor_destroy(&s.m);
}

/* A bulk close counts a socket that is between reconnect attempts like a connected one, and
 * closes it at once with the application's code. */
static void bulk_close_counts_reconnecting_sockets(void) {
    wsc_connector *up = start_feed(0), *down = start_feed(0);
    seen s = {0};
    wsc_connector *client = start_client(&s);
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_add_group(options, "feeds"));
    wsc_reconnect *slow = NULL; /* long delays: the socket stays between attempts */
    OK(wsc_reconnect_new(&slow));
    OK(wsc_reconnect_set_delays(slow, 30000, 30000, 1.0));
    OK(wsc_outbound_options_set_reconnect(options, slow));
    wsc_reconnect_free(slow);
    char url[128], id[WSC_SOCKET_ID_SIZE];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port_of(up));
    OK(wsc_connector_open_outbound(client, url, options, id, sizeof id));
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port_of(down));
    OK(wsc_connector_open_outbound(client, url, options, id, sizeof id));
    wsc_outbound_options_free(options);
    OK(wsc_connector_free(down));
    WAIT_UNTIL(&s.m, s.reconnecting == 1);
    wsc_socket *socket = NULL;
    OK(wsc_connector_socket(client, id, &socket));
    wsc_socket_state state;
    OK(wsc_socket_get_state(socket, &state));
    CHECK(state == WSC_SOCKET_RECONNECTING);
    wsc_socket_free(socket);

    wsc_filter *feeds = NULL;
    OK(wsc_filter_new(&feeds));
    OK(wsc_filter_add_group(feeds, "feeds"));
    size_t closed = 0;
    OK(wsc_connector_bulk_close(client, feeds, 4001, "done", &closed));
    CHECK(closed == 2);
    wsc_filter_free(feeds);
    WAIT_UNTIL(&s.m, s.closed == 2);
    CHECK(s.close_code == 4001);
    size_t count = 1;
    OK(wsc_connector_socket_count(client, &count));
    CHECK(count == 0);
    OK(wsc_connector_free(client));
    OK(wsc_connector_free(up));
    CHECK(s.closed == 2);
    monitor_destroy(&s.m);
}

/* The fail policy, in pull mode: WSC_RECONNECTING for sends, the events by wsc_event_reconnect(). */
static void the_fail_policy_in_pull_mode(void) {
    wsc_connector *feed = start_feed(0);
    uint16_t port = port_of(feed);
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    wsc_reconnect *policy = fast_policy();
    OK(wsc_reconnect_set_send_policy(policy, WSC_RECONNECT_FAIL));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_reconnect_set_send_policy(policy, 9));
    OK(wsc_config_set_reconnect(config, policy)); /* the client-wide default */
    wsc_reconnect_free(policy);
    wsc_connector *client = NULL;
    OK(wsc_connector_start(config, &client));
    char url[128], id[WSC_SOCKET_ID_SIZE];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port);
    OK(wsc_connector_open_outbound(client, url, NULL, id, sizeof id));
    OK(wsc_connector_free(feed));

    wsc_event *event = NULL;
    OK(wsc_connector_next_event(client, WAIT_SECONDS * 1000, &event));
    wsc_trigger trigger;
    OK(wsc_event_trigger(event, &trigger));
    CHECK(trigger == WSC_TRIGGER_OUTBOUND_RECONNECTING);
    uint32_t attempt = 0;
    uint64_t delay_ms = 0;
    wsc_result error;
    wsc_str message;
    OK(wsc_event_reconnect(event, &attempt, &delay_ms, &error, &message));
    CHECK(attempt == 1 && delay_ms <= 20 && error == WSC_REMOTELY_CLOSED && message.len > 0);
    uint16_t code;
    EXPECT(WSC_INVALID_ARGUMENT, wsc_event_close(event, &code, &message));
    wsc_event_free(event);
    EXPECT(WSC_RECONNECTING, wsc_connector_send(client, id, WSC_TEXT, (const uint8_t *)"x", 1, NULL, NULL));
    CHECK(last_error_contains("reconnecting"));

    feed = start_feed(port);
    for (;;) {
        OK(wsc_connector_next_event(client, WAIT_SECONDS * 1000, &event));
        CHECK(event != NULL);
        OK(wsc_event_trigger(event, &trigger));
        if (trigger == WSC_TRIGGER_OUTBOUND_RECONNECTED) break;
        CHECK(trigger == WSC_TRIGGER_OUTBOUND_RECONNECTING);
        wsc_event_free(event);
    }
    OK(wsc_event_reconnect(event, &attempt, NULL, &error, NULL));
    CHECK(attempt >= 1 && error == WSC_OK);
    wsc_event_free(event);
    OK(wsc_connector_send(client, id, WSC_TEXT, (const uint8_t *)"back", 4, NULL, NULL));
    OK(wsc_connector_next_event(client, WAIT_SECONDS * 1000, &event));
    OK(wsc_event_trigger(event, &trigger));
    CHECK(trigger == WSC_TRIGGER_OUTBOUND_MESSAGE);
    wsc_event_free(event);
    OK(wsc_connector_free(client));
    OK(wsc_connector_free(feed));
}

/* ---- the header refresher ---- */

typedef struct {
    monitor m;
    int connections;
    char authorization[64];
    char inbound_id[WSC_SOCKET_ID_SIZE];
} handshakes;

static void on_handshake(void *u, wsc_connector *c, const wsc_socket *socket) {
    handshakes *h = u;
    (void)c;
    wsc_str authorization, id;
    OK(wsc_socket_header(socket, "Authorization", &authorization));
    OK(wsc_socket_id(socket, &id));
    UNDER_LOCK(&h->m, {
        str_copy(authorization, h->authorization, sizeof h->authorization);
        str_copy(id, h->inbound_id, sizeof h->inbound_id);
        h->connections++;
    });
}

static void refresh(void *u, const wsc_socket *socket, uint32_t attempt, wsc_headers *headers) {
    (void)u;
    wsc_socket_type type;
    OK(wsc_socket_get_type(socket, &type));
    CHECK(type == WSC_OUTBOUND);
    char token[32];
    snprintf(token, sizeof token, "Bearer fresh-%u", attempt);
    OK(wsc_headers_add(headers, "Authorization", token));
    EXPECT(WSC_NULL_POINTER, wsc_headers_add(headers, NULL, "x"));
}

static void the_header_refresher_gives_fresh_headers(void) {
    handshakes h = {0};
    monitor_init(&h.m);
    wsc_config *config = listener_config();
    OK(wsc_config_on_inbound_connection(config, on_handshake, &h, NULL));
    wsc_connector *feed = NULL;
    OK(wsc_connector_start(config, &feed));
    seen s = {0};
    monitor_init(&s.m);
    OK(wsc_config_new(&config));
    OK(wsc_config_on_outbound_state(config, on_state, &s, NULL));
    OK(wsc_config_on_refresh_headers(config, refresh, NULL, NULL));
    wsc_connector *client = NULL;
    OK(wsc_connector_start(config, &client));
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_add_header(options, "Authorization", "Bearer stale"));
    OK(wsc_outbound_options_set_reconnect_enabled(options, true));
    char url[128], id[WSC_SOCKET_ID_SIZE];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port_of(feed));
    OK(wsc_connector_open_outbound(client, url, options, id, sizeof id));
    wsc_outbound_options_free(options);
    WAIT_UNTIL(&h.m, h.connections == 1);
    CHECK(strcmp(h.authorization, "Bearer stale") == 0);
    OK(wsc_connector_close(feed, h.inbound_id, 1012, "restarting"));
    WAIT_UNTIL(&s.m, s.reconnected == 1);
    WAIT_UNTIL(&h.m, h.connections == 2);
    CHECK(strcmp(h.authorization, "Bearer fresh-1") == 0);
    OK(wsc_connector_free(client));
    OK(wsc_connector_free(feed));
    monitor_destroy(&h.m);
    monitor_destroy(&s.m);
}

int main(void) {
    the_header_refresher_gives_fresh_headers();
    restart_keeps_the_socket_and_delivers_what_was_buffered();
    attempts_that_run_out_give_retry_exhausted_once();
    the_fail_policy_in_pull_mode();
    bulk_close_counts_reconnecting_sockets();
    printf("test_reconnect: ok\n");
    return 0;
}
