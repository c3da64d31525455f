/* wss:// with mutual TLS: the server's certificate from files, the client CA inline; a client
 * that trusts the test CA and presents a certificate gets in, and its certificate (DER) and
 * subject (RFC 4514) are socket attributes and what the authorization hook sees; an outbound
 * socket sees the server's; one that does not trust the CA fails with WSC_TLS; the dangerous
 * option skips verification. Run from the repository root (the certificates are in
 * tests/c/certs). */
#include "testing.h"

#define CERTS "tests/c/certs/"
#define CLIENT_SUBJECT "O=wsconnector tests,CN=client-ann" /* RFC 4514: the last RDN first */

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    static char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    return text;
}

/* The DER of the first certificate of a PEM file (its base64 decoded); its length. */
static size_t der_of(const char *path, uint8_t *der, size_t capacity) {
    const char *pem = read_file(path);
    const char *begin = strstr(pem, "-----BEGIN CERTIFICATE-----");
    CHECK(begin != NULL);
    begin += strlen("-----BEGIN CERTIFICATE-----");
    const char *end = strstr(begin, "-----END CERTIFICATE-----");
    CHECK(end != NULL);
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t bits = 0;
    int count = 0;
    size_t len = 0;
    for (const char *c = begin; c < end; c++) {
        const char *at = *c ? strchr(alphabet, *c) : NULL;
        if (at == NULL) continue; /* newlines and '=' padding */
        bits = (bits << 6) | (uint32_t)(at - alphabet);
        if (++count == 4) {
            CHECK(len + 3 <= capacity);
            der[len++] = (uint8_t)(bits >> 16);
            der[len++] = (uint8_t)(bits >> 8);
            der[len++] = (uint8_t)bits;
            bits = 0;
            count = 0;
        }
    }
    CHECK(len + 2 <= capacity);
    if (count == 3) { /* one '=' of padding: two more bytes */
        der[len++] = (uint8_t)(bits >> 10);
        der[len++] = (uint8_t)(bits >> 2);
    } else if (count == 2) { /* two '=': one more byte */
        der[len++] = (uint8_t)(bits >> 4);
    }
    return len;
}

static int bytes_are(wsc_bytes bytes, const uint8_t *want, size_t len) {
    return bytes.data != NULL && bytes.len == len && memcmp(bytes.data, want, len) == 0;
}

static uint8_t client_der[4096], server_der[4096];
static size_t client_der_len, server_der_len;

/* What the authorization hook saw of the client's certificate. */
static monitor hook;
static int hook_calls, hook_saw_certificate, hook_saw_subject;

static void authorize(void *userdata, const wsc_auth_request *request, wsc_auth_decision *decision) {
    (void)userdata;
    wsc_bytes certificate;
    wsc_str subject;
    OK(wsc_auth_request_peer_certificate(request, &certificate));
    OK(wsc_auth_request_peer_certificate_subject(request, &subject));
    int saw_certificate = bytes_are(certificate, client_der, client_der_len);
    int saw_subject = str_is(subject, CLIENT_SUBJECT);
    UNDER_LOCK(&hook, {
        hook_calls++;
        hook_saw_certificate += saw_certificate;
        hook_saw_subject += saw_subject;
    });
    OK(wsc_auth_decision_accept(decision, NULL, 0));
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
    CHECK(str_is(text, CLIENT_SUBJECT));
    wsc_bytes certificate;
    OK(wsc_socket_peer_certificate(socket, &certificate));
    CHECK(bytes_are(certificate, client_der, client_der_len));
    wsc_event_free(event);
}

/* The outbound socket `id` of `client` sees the server's certificate and subject. */
static void expect_server_certificate(wsc_connector *client, const char *id) {
    wsc_socket *socket = NULL;
    OK(wsc_connector_socket(client, id, &socket));
    wsc_bytes certificate;
    OK(wsc_socket_peer_certificate(socket, &certificate));
    CHECK(bytes_are(certificate, server_der, server_der_len));
    wsc_str subject;
    OK(wsc_socket_peer_certificate_subject(socket, &subject));
    CHECK(str_is(subject, "CN=localhost"));
    wsc_socket_free(socket);
}

int main(void) {
    client_der_len = der_of(CERTS "client.pem", client_der, sizeof client_der);
    server_der_len = der_of(CERTS "server.pem", server_der, sizeof server_der);
    monitor_init(&hook);
    wsc_config *config = listener_config();
    OK(wsc_config_set_server_tls(config, WSC_PEM_FILE, CERTS "server.pem", CERTS "server.key"));
    OK(wsc_config_set_server_client_ca(config, WSC_PEM_INLINE, read_file(CERTS "ca.pem")));
    OK(wsc_config_set_authorizer(config, authorize, NULL, NULL));
    wsc_connector *server = NULL;
    OK(wsc_connector_start(config, &server));
    char url[128];
    snprintf(url, sizeof url, "wss://127.0.0.1:%u/secure", port_of(server));

    wsc_connector *trusting = client_with(1, 0);
    char id[WSC_SOCKET_ID_SIZE];
    OK(wsc_connector_open_outbound(trusting, url, NULL, id, sizeof id));
    expect_secure_connection(server);
    expect_server_certificate(trusting, id);

    wsc_connector *untrusting = client_with(0, 0);
    EXPECT(WSC_TLS, wsc_connector_open_outbound(untrusting, url, NULL, NULL, 0));

    wsc_connector *reckless = client_with(0, 1);
    OK(wsc_connector_open_outbound(reckless, url, NULL, id, sizeof id));
    expect_secure_connection(server);
    expect_server_certificate(reckless, id);
    /* The hook ran before each of the two 101s and saw the client's certificate both times. */
    WAIT_UNTIL(&hook, hook_calls == 2);
    CHECK(hook_saw_certificate == 2 && hook_saw_subject == 2);

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
    monitor_destroy(&hook);
    printf("test_tls: ok\n");
    return 0;
}
