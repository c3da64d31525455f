/* The message rate limit: a raw peer sends five messages at once against a burst of three;
 * the policy decides whether the socket closes with 1008 or the two extra messages are
 * dropped. */
#include "testing.h"

/* Five messages against a burst of 3 at 1 per second; returns the code the socket closed with
 * once the peer closes (or the server closed it). */
static uint16_t five_messages(uint32_t policy) {
    wsc_config *config = listener_config();
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_message_rate_policy(config, 7));
    OK(wsc_config_set_message_rate_limit(config, 1, 3));
    OK(wsc_config_set_message_rate_policy(config, policy));
    wsc_connector *server = NULL;
    OK(wsc_connector_start(config, &server));
    raw_ws peer = raw_ws_open(port_of(server), "/rate");
    CHECK(peer.status == 101);
    wsc_event_free(expect_event(server, WSC_TRIGGER_INBOUND_CONNECTION));
    for (char digit = '0'; digit < '5'; digit++) raw_ws_send(&peer, 1, &digit, 1);
    for (char digit = '0'; digit < '3'; digit++) {
        wsc_event *event = expect_event(server, WSC_TRIGGER_INBOUND_MESSAGE);
        wsc_message_kind kind;
        wsc_bytes payload;
        OK(wsc_event_message(event, &kind, &payload));
        CHECK(kind == WSC_TEXT && payload.len == 1 && payload.data[0] == (uint8_t)digit);
        wsc_event_free(event);
    }
    if (policy == WSC_MESSAGE_RATE_DROP) raw_ws_send(&peer, 8, "\x03\xe8", 2);
    wsc_event *closed = expect_event(server, WSC_TRIGGER_SOCKET_CLOSED);
    uint16_t code = 0;
    wsc_str reason;
    OK(wsc_event_close(closed, &code, &reason));
    wsc_event_free(closed);
    raw_ws_close(&peer);
    OK(wsc_connector_free(server));
    return code;
}

int main(void) {
    CHECK(five_messages(WSC_MESSAGE_RATE_CLOSE) == 1008);
    CHECK(five_messages(WSC_MESSAGE_RATE_DROP) == 1000);

    /* A burst of 0 is refused at start, naming the setting. */
    wsc_config *config = listener_config();
    OK(wsc_config_set_message_rate_limit(config, 10, 0));
    wsc_connector *server = NULL;
    EXPECT(WSC_INVALID_ARGUMENT, wsc_connector_start(config, &server));
    CHECK(last_error_contains("message_rate_limit burst"));
    printf("test_rate: ok\n");
    return 0;
}
