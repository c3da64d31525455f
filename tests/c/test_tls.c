/* wss:// with mutual TLS: the server's certificate from files, the client CA inline; a client
 * that trusts the test CA and presents a certificate gets in and its subject is a socket
 * attribute; one that does not trust the CA fails with WSC_TLS; the dangerous option skips
 * verification. Run from the repository root (the certificates are in tests/c/certs). */
#include "testing.h"

#define CERTS "tests/c/certs/"

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    static char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    return text;
}

static wsc_connector *client_with(int trust_ca, int skip_verification) {
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    if (trust_ca) OK(wsc_config_set_client_extra_ca(config, WSC_PEM_FILE, CERTS "ca.pem"));
    OK(wsc_config_set_client_identity(config, WSC_PEM_FILE, CERTS "client.pem", CERTS "client.key"));
    OK(wsc_config_set_client_dangerous_skip_certificate_verification(config, skip_verification));
    wsc_connector *conn = NULL;
    OK(wsc_connector_start(config, &conn));
    return conn;
}

static void expect_secure_connection(wsc_connector *server) {
    wsc_event *event = NULL;
    OK(wsc_connector_next_event(server, WAIT_SECONDS * 1000, &event));
    CHECK(event != NULL);
    const wsc_socket *socket = NULL;
    OK(wsc_event_socket(event, &socket));
    wsc_str text;
    OK(wsc_socket_scheme(socket, &text));
    CHECK(str_is(text, "wss"));
    OK(wsc_socket_peer_certificate_subject(socket, &text));
    CHECK(text.data != NULL && text.len > 0);
    char subject[256];
    str_copy(text, subject, sizeof subject);
    CHECK(strstr(subject, "client-ann") != NULL);
    wsc_event_free(event);
}

int main(void) {
    wsc_config *config = listener_config();
    OK(wsc_config_set_server_tls(config, WSC_PEM_FILE, CERTS "server.pem", CERTS "server.key"));
    OK(wsc_config_set_server_client_ca(config, WSC_PEM_INLINE, read_file(CERTS "ca.pem")));
    wsc_connector *server = NULL;
    OK(wsc_connector_start(config, &server));
    char url[128];
    snprintf(url, sizeof url, "wss://127.0.0.1:%u/secure", port_of(server));

    wsc_connector *trusting = client_with(1, 0);
    OK(wsc_connector_open_outbound(trusting, url, NULL, NULL, 0));
    expect_secure_connection(server);

    wsc_connector *untrusting = client_with(0, 0);
    EXPECT(WSC_TLS, wsc_connector_open_outbound(untrusting, url, NULL, NULL, 0));

    wsc_connector *reckless = client_with(0, 1);
    OK(wsc_connector_open_outbound(reckless, url, NULL, NULL, 0));
    expect_secure_connection(server);

    /* The server's identity given inline works the same. */
    wsc_config *inline_config = listener_config();
    char cert[8192];
    strcpy(cert, read_file(CERTS "server.pem"));
    OK(wsc_config_set_server_tls(inline_config, WSC_PEM_INLINE, cert, read_file(CERTS "server.key")));
    wsc_connector *inline_server = NULL;
    OK(wsc_connector_start(inline_config, &inline_server));
    snprintf(url, sizeof url, "wss://127.0.0.1:%u/inline", port_of(inline_server));
    OK(wsc_connector_open_outbound(trusting, url, NULL, NULL, 0));

    OK(wsc_connector_free(trusting));
    OK(wsc_connector_free(untrusting));
    OK(wsc_connector_free(reckless));
    OK(wsc_connector_free(inline_server));
    OK(wsc_connector_free(server));
    printf("test_tls: ok\n");
    return 0;
}
