/* permessage-deflate from C: wsc_config_set_compression() and the finer settings by name, a
 * path and an outbound socket that decide for themselves, the negotiated extension read with
 * wsc_socket_extensions() on both ends, messages that compress well carried intact both ways,
 * and a window size the RFC does not allow refused at start by name. Pull mode. */
#include "testing.h"

/* The next message's payload must be `want`. */
static void expect_message(wsc_connector *conn, wsc_trigger trigger, const char *want) {
    wsc_event *event = expect_event(conn, trigger);
    wsc_message_kind kind;
    wsc_bytes payload;
    OK(wsc_event_message(event, &kind, &payload));
    CHECK(kind == WSC_TEXT && payload.len == strlen(want));
    CHECK(memcmp(payload.data, want, payload.len) == 0);
    wsc_event_free(event);
}

/* Opens a socket from `client` to `path` of `server`; returns the extensions the server's end
 * reports (copied into `server_extensions`) and leaves the client's ID in `id`. */
static void open_to(wsc_connector *client, wsc_connector *server, const char *path,
                    const wsc_outbound_options *options, char *id, char *server_extensions,
                    char *server_id) {
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u%s", port_of(server), path);
    OK(wsc_connector_open_outbound(client, url, options, id, WSC_SOCKET_ID_SIZE));
    wsc_event *event = expect_event(server, WSC_TRIGGER_INBOUND_CONNECTION);
    const wsc_socket *socket = NULL;
    OK(wsc_event_socket(event, &socket));
    wsc_str text;
    OK(wsc_socket_extensions(socket, &text));
    if (text.data == NULL) {
        server_extensions[0] = 0;
    } else {
        str_copy(text, server_extensions, 256);
    }
    OK(wsc_socket_id(socket, &text));
    str_copy(text, server_id, WSC_SOCKET_ID_SIZE);
    wsc_event_free(event);
}

int main(void) {
    const char *negotiated = "permessage-deflate; server_no_context_takeover; server_max_window_bits=10";
    wsc_config *config = listener_config();
    OK(wsc_config_set_compression(config, true));
    OK(wsc_config_add_path(config, "/deflate", NULL, 0));
    OK(wsc_config_add_path(config, "/plain", NULL, 0));
    OK(wsc_config_set_path_compression(config, "/plain", false));
    EXPECT(WSC_INVALID_STATE, wsc_config_set_path_compression(config, "/nowhere", true));
    OK(wsc_config_set_int(config, "compression_threshold", 16));
    wsc_connector *server = NULL, *client = NULL;
    OK(wsc_connector_start(config, &server));

    OK(wsc_config_new(&config));
    OK(wsc_config_set_compression(config, true));
    OK(wsc_config_set_bool(config, "server_no_context_takeover", true));
    OK(wsc_config_set_int(config, "server_max_window_bits", 10));
    OK(wsc_connector_start(config, &client));

    char id[WSC_SOCKET_ID_SIZE], server_id[WSC_SOCKET_ID_SIZE], extensions[256];
    open_to(client, server, "/deflate", NULL, id, extensions, server_id);
    CHECK(strcmp(extensions, negotiated) == 0);
    wsc_socket *ours = NULL;
    OK(wsc_connector_socket(client, id, &ours));
    wsc_str text;
    OK(wsc_socket_extensions(ours, &text));
    CHECK(str_is(text, negotiated));
    wsc_socket_free(ours);

    /* 64 KiB of JSON-like text, both ways. */
    size_t len = 64 * 1024;
    char *big = malloc(len + 1);
    CHECK(big != NULL);
    static const char item[] = "{\"seq\":1234,\"px\":5.25},";
    for (size_t i = 0; i < len; i++) big[i] = item[i % (sizeof item - 1)];
    big[len] = 0;
    OK(wsc_connector_send(client, id, WSC_TEXT, (const uint8_t *)big, len, NULL, NULL));
    expect_message(server, WSC_TRIGGER_INBOUND_MESSAGE, big);
    OK(wsc_connector_send(server, server_id, WSC_TEXT, (const uint8_t *)big, len, NULL, NULL));
    expect_message(client, WSC_TRIGGER_OUTBOUND_MESSAGE, big);
    free(big);

    /* A path that declines, and a socket that does not offer. */
    open_to(client, server, "/plain", NULL, id, extensions, server_id);
    CHECK(extensions[0] == 0);
    OK(wsc_connector_socket(client, id, &ours));
    OK(wsc_socket_extensions(ours, &text));
    CHECK(text.data == NULL && text.len == 0);
    wsc_socket_free(ours);
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_set_compression(options, false));
    open_to(client, server, "/deflate", options, id, extensions, server_id);
    CHECK(extensions[0] == 0);
    wsc_outbound_options_free(options);
    EXPECT(WSC_NULL_POINTER, wsc_outbound_options_set_compression(NULL, true));
    EXPECT(WSC_NULL_POINTER, wsc_socket_extensions(NULL, &text));

    OK(wsc_connector_free(client));
    OK(wsc_connector_free(server));

    /* A window size outside 8-15 is refused as it is set, by name. */
    OK(wsc_config_new(&config));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_int(config, "client_max_window_bits", 16));
    CHECK(last_error_contains("client_max_window_bits must be 8-15, not 16"));
    wsc_config_free(config);
    printf("test_compression: ok\n");
    return 0;
}
