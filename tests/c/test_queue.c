/* Slow consumers: a raw peer that never reads fills its socket's send queue, and each policy
 * shows in the send's delivery, the broadcast's result and its failures. */
#include "testing.h"

#define CHUNK (64 * 1024)

typedef struct {
    wsc_connector *server;
    raw_ws peer;
    char id[WSC_SOCKET_ID_SIZE];
} stalled;

/* A server with `policy` and a 2-message queue, and a peer that does not read. */
static stalled stall(uint32_t policy) {
    stalled s;
    wsc_config *config = listener_config();
    OK(wsc_config_set_send_queue_messages(config, 2));
    OK(wsc_config_set_slow_consumer(config, policy));
    OK(wsc_config_set_stop_timeout_ms(config, 500));
    OK(wsc_config_set_close_timeout_ms(config, 200));
    OK(wsc_connector_start(config, &s.server));
    s.peer = raw_ws_open(port_of(s.server), "/slow");
    CHECK(s.peer.status == 101);
    wsc_event *event = NULL;
    OK(wsc_connector_next_event(s.server, WAIT_SECONDS * 1000, &event));
    CHECK(event != NULL);
    const wsc_socket *socket = NULL;
    OK(wsc_event_socket(event, &socket));
    wsc_str id;
    OK(wsc_socket_id(socket, &id));
    str_copy(id, s.id, sizeof s.id);
    wsc_event_free(event);
    return s;
}

/* Sends chunks until the send stops being a plain WSC_DELIVERY_QUEUED; that send's result. */
static wsc_result fill(stalled *s, wsc_delivery *delivery, size_t *dropped) {
    static uint8_t chunk[CHUNK];
    for (int i = 0; i < 2000; i++) {
        wsc_result r = wsc_connector_send(s->server, s->id, WSC_BINARY, chunk, CHUNK, delivery, dropped);
        if (r != WSC_OK || *delivery != WSC_DELIVERY_QUEUED) return r;
    }
    fprintf(stderr, "the send queue never filled\n");
    exit(1);
}

/* Broadcasts chunks until one meets the full queue (the socket's writer may take a message
 * between two calls, leaving room for one more); that broadcast's result. */
static wsc_broadcast_result *broadcast(stalled *s) {
    static uint8_t chunk[CHUNK];
    for (int i = 0; i < 2000; i++) {
        wsc_broadcast_result *result = NULL;
        OK(wsc_connector_broadcast(s->server, NULL, WSC_BINARY, chunk, CHUNK, &result));
        size_t failures = 0, dropped = 0;
        OK(wsc_broadcast_result_failure_count(result, &failures));
        OK(wsc_broadcast_result_dropped_oldest(result, &dropped));
        if (failures > 0 || dropped > 0) return result;
        wsc_broadcast_result_free(result);
    }
    fprintf(stderr, "no broadcast met the full queue\n");
    exit(1);
}

static void unstall(stalled *s) {
    raw_ws_close(&s->peer);
    OK(wsc_connector_free(s->server));
}

int main(void) {
    wsc_delivery delivery;
    size_t dropped = 0, n = 0;
    wsc_str id;
    wsc_undelivered what;
    wsc_result error;

    stalled s = stall(WSC_SLOW_CONSUMER_FAIL);
    EXPECT(WSC_QUEUE_FULL, fill(&s, &delivery, &dropped));
    wsc_broadcast_result *result = broadcast(&s);
    OK(wsc_broadcast_result_delivered(result, &n));
    CHECK(n == 0);
    OK(wsc_broadcast_result_failure_count(result, &n));
    CHECK(n == 1);
    OK(wsc_broadcast_result_failure_at(result, 0, &id, &what, &error));
    CHECK(str_is(id, s.id) && what == WSC_UNDELIVERED_FAILED && error == WSC_QUEUE_FULL);
    wsc_broadcast_result_free(result);
    unstall(&s);

    s = stall(WSC_SLOW_CONSUMER_DROP_NEWEST);
    OK(fill(&s, &delivery, &dropped));
    CHECK(delivery == WSC_DELIVERY_DROPPED_NEWEST);
    result = broadcast(&s);
    OK(wsc_broadcast_result_failure_at(result, 0, &id, &what, &error));
    CHECK(what == WSC_UNDELIVERED_DROPPED && error == WSC_OK);
    wsc_broadcast_result_free(result);
    unstall(&s);

    s = stall(WSC_SLOW_CONSUMER_DROP_OLDEST);
    OK(fill(&s, &delivery, &dropped));
    CHECK(delivery == WSC_DELIVERY_QUEUED_DROPPING_OLDEST && dropped >= 1);
    result = broadcast(&s);
    OK(wsc_broadcast_result_delivered(result, &n));
    CHECK(n == 1);
    OK(wsc_broadcast_result_dropped_oldest(result, &n));
    CHECK(n >= 1);
    wsc_broadcast_result_free(result);
    unstall(&s);

    s = stall(WSC_SLOW_CONSUMER_CLOSE);
    OK(fill(&s, &delivery, &dropped));
    CHECK(delivery == WSC_DELIVERY_CLOSED_SLOW_CONSUMER);
    wsc_event *event = NULL;
    OK(wsc_connector_next_event(s.server, WAIT_SECONDS * 1000, &event));
    CHECK(event != NULL);
    uint16_t code = 0;
    wsc_str reason;
    OK(wsc_event_close(event, &code, &reason));
    CHECK(code == 1013);
    wsc_event_free(event);
    unstall(&s);
    printf("test_queue: ok\n");
    return 0;
}
