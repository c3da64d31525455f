/* Settings by name, as a binding sets them: the table described by index, every setting set
 * with the generic setter of its kind, the values reaching the connector (seen on the wire,
 * and checked at start with errors that name the setting), and the errors of a wrong name,
 * kind or order. */
#include "testing.h"

#define CERTS "tests/c/certs/"

/* The table described by index: every name once, with a kind, a scope and a doc. */
static void described(void) {
    size_t count = wsc_config_setting_count();
    CHECK(count > 0);
    int saw_base_path = 0;
    for (size_t i = 0; i < count; i++) {
        wsc_str name, doc;
        wsc_setting_kind kind;
        wsc_setting_scope scope;
        OK(wsc_config_setting(i, &name, &kind, &scope, &doc));
        CHECK(name.len > 0 && doc.len > 0);
        CHECK(kind >= WSC_SETTING_BOOL && kind <= WSC_SETTING_CUSTOM);
        CHECK(scope >= WSC_SCOPE_LISTENER && scope <= WSC_SCOPE_CONNECTOR);
        for (size_t j = 0; j < i; j++) {
            wsc_str other;
            OK(wsc_config_setting(j, &other, NULL, NULL, NULL));
            CHECK(!(other.len == name.len && memcmp(other.data, name.data, name.len) == 0));
        }
        if (str_is(name, "base_path")) {
            saw_base_path = 1;
            CHECK(kind == WSC_SETTING_TEXT && scope == WSC_SCOPE_LISTENER);
        }
    }
    CHECK(saw_base_path);
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_setting(count, NULL, NULL, NULL, NULL));
}

/* Every setting but the custom ones, set by name with the setter of its kind to a value it
 * takes, knowing nothing of the settings but the table: the connector starts with them. */
static void every_setting_by_name(void) {
    wsc_config *config = listener_config();
    OK(wsc_config_set_server_tls(config, WSC_PEM_FILE, CERTS "server.pem", CERTS "server.key"));
    for (size_t i = 0; i < wsc_config_setting_count(); i++) {
        wsc_str setting;
        wsc_setting_kind kind;
        OK(wsc_config_setting(i, &setting, &kind, NULL, NULL));
        char name[128];
        str_copy(setting, name, sizeof name);
        switch (kind) {
        case WSC_SETTING_BOOL:
            OK(wsc_config_set_bool(config, name, false));
            break;
        case WSC_SETTING_COUNT:
        case WSC_SETTING_OPTIONAL_COUNT:
            /* Valid for every count: a window size (8-15) and a compression level (1-9) too. */
            OK(wsc_config_set_int(config, name, 9));
            break;
        case WSC_SETTING_BYTES:
            OK(wsc_config_set_int(config, name, 65536));
            break;
        case WSC_SETTING_DURATION:
        case WSC_SETTING_OPTIONAL_DURATION:
            OK(wsc_config_set_duration_ms(config, name, 5000));
            break;
        case WSC_SETTING_TEXT: {
            /* Paths, names and credentials take a path of their own ("/<name>": the endpoint
             * paths may not coincide); a proxy takes a URL, a host a host name. */
            char path[160];
            snprintf(path, sizeof path, "/%s", name);
            OK(wsc_config_set_string(config, name, strcmp(name, "proxy") == 0 ? "http://127.0.0.1:1"
                                                   : strstr(name, "host") ? "localhost"
                                                                          : path));
            break;
        }
        case WSC_SETTING_TEXT_LIST:
            OK(wsc_config_add_string(config, name, "*"));
            break;
        case WSC_SETTING_PAIRS:
            OK(wsc_config_add_pair(config, name, "X-Test", "1"));
            break;
        case WSC_SETTING_PEM:
            OK(wsc_config_set_pem(config, name, WSC_PEM_FILE, CERTS "ca.pem"));
            break;
        case WSC_SETTING_CHOICE:
            /* A wrong name is refused with the names the setting takes. */
            EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_string(config, name, "?"));
            CHECK(last_error_contains(name) && last_error_contains("' or '"));
            break;
        case WSC_SETTING_CUSTOM:
            break;
        }
    }
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    OK(wsc_connector_free(conn));
}

/* Values set by name reach the connector: the base path on the wire; a bad value is refused as
 * it is set, each error naming its setting and the value. */
static void values_reach_the_connector(void) {
    wsc_config *config = listener_config();
    OK(wsc_config_set_string(config, "base_path", "/api"));
    OK(wsc_config_set_string(config, "slow_consumer", "drop_oldest"));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    raw_ws inside = raw_ws_open(port_of(conn), "/api/chat");
    CHECK(inside.status == 101);
    raw_ws_close(&inside);
    raw_ws outside = raw_ws_open(port_of(conn), "/chat");
    CHECK(outside.status == 404);
    raw_ws_close(&outside);
    OK(wsc_connector_free(conn));

    config = listener_config();
    OK(wsc_config_set_int(config, "send_queue_messages", 1));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_int(config, "send_queue_messages", 0));
    CHECK(last_error_contains("send_queue_messages must be at least 1, not 0"));
    /* The alias is named as the caller spelled it. */
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_int(config, "max_connections", 0));
    CHECK(last_error_contains("max_connections must be at least 1, not 0"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_int(config, "compression_level", 10));
    CHECK(last_error_contains("compression_level must be 1-9, not 10"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_int(config, "server_max_window_bits", 16));
    CHECK(last_error_contains("server_max_window_bits must be 8-15, not 16"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_int(config, "max_handshake_bytes", 100));
    CHECK(last_error_contains("max_handshake_bytes must be at least 256, not 100"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_int(config, "client_port", 70000));
    CHECK(last_error_contains("client_port must be between 1 and 65535, not 70000"));
    OK(wsc_config_set_int(config, "dispatcher_threads", 0)); /* 0: none, the default */
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_int(config, "event_queue_capacity", 0));
    CHECK(last_error_contains("event_queue_capacity must be at least 1, not 0"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_string(config, "metrics_path", "metrics"));
    CHECK(last_error_contains("metrics_path \"metrics\" must be an exact path starting with '/'"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_add_string(config, "subprotocols", "chat v2"));
    CHECK(last_error_contains("subprotocols") && last_error_contains("chat v2"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_add_string(config, "metrics_allowed_addresses", "10.0.0.0/99"));
    CHECK(last_error_contains("metrics_allowed_addresses") && last_error_contains("10.0.0.0/99"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_add_pair(config, "default_headers", "Upgrade", "h2c"));
    CHECK(last_error_contains("default_headers") && last_error_contains("Upgrade"));
    /* The duration kinds' own form of "none" stays allowed: 0 for an optional duration. */
    OK(wsc_config_set_duration_ms(config, "ping_interval", 0));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_duration_ms(config, "pong_timeout", 0));
    CHECK(last_error_contains("pong_timeout must be greater than 0"));

    /* A duration past a year is refused as it is set: that check needs no other setting. */
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_duration_ms(config, "pong_timeout", WSC_MAX_DURATION_MS + 1));
    CHECK(last_error_contains("pong_timeout") && last_error_contains("one year"));
    /* So is a path whose default groups hold an empty name, naming the path. */
    const char *empty[] = {"lobby", ""};
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_add_path(config, "/chat", empty, 2));
    CHECK(last_error_contains("paths: the default groups of path \"/chat\": a group name must not be empty"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_add_path(config, "chat", NULL, 0));
    CHECK(last_error_contains("paths: path pattern \"chat\" must start with"));
    OK(wsc_connector_start(config, &conn)); /* nothing bad was kept */
    OK(wsc_connector_free(conn));
}

/* A wrong name, a value of another kind, a listener setting before the listener, a list
 * setting set whole: each refused with a message that says so. */
static void errors(void) {
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_int(config, "no_such_setting", 1));
    CHECK(last_error_contains("no setting named \"no_such_setting\""));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_bool(config, "ping_interval", true));
    CHECK(last_error_contains("ping_interval takes a duration"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_string(config, "default_headers", "x"));
    CHECK(last_error_contains("default_headers takes name/value pairs"));
    EXPECT(WSC_INVALID_STATE, wsc_config_set_string(config, "base_path", "/x"));
    CHECK(last_error_contains("base_path is a listener setting"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_add_string(config, "stop_timeout", "1"));
    EXPECT(WSC_INVALID_ARGUMENT, wsc_config_set_string(config, "listener", "x"));
    EXPECT(WSC_NULL_POINTER, wsc_config_set_bool(config, NULL, true));
    CHECK(last_error_contains("name is NULL"));
    EXPECT(WSC_INVALID_UTF8, wsc_config_set_int(config, "\xff", 1));
    EXPECT(WSC_NULL_POINTER, wsc_config_set_bool(NULL, "require_origin", true));
    /* 0 is none for an optional setting: no per-address limit, pings off. */
    OK(wsc_config_set_listener(config, "127.0.0.1", 0));
    OK(wsc_config_set_int(config, "max_connections_per_ip", 0));
    OK(wsc_config_set_duration_ms(config, "ping_interval", 0));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    OK(wsc_connector_free(conn));
}

int main(void) {
    described();
    every_setting_by_name();
    values_reach_the_connector();
    errors();
    printf("test_settings: ok\n");
    return 0;
}
