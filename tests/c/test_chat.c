/* The chat scenario: the chat example's server (rooms are groups, "/join ROOM" moves a socket), three
 * clients in two rooms — two outbound sockets of a second connector and one independent peer
 * on raw sockets — and every message reaches exactly the members of its room. */
#include "testing.h"

#include "../../examples/c/chat_rooms.h"

/* Sends text to one socket. */
static void send_text(wsc_connector *conn, const char *id, const char *text) {
    OK(wsc_connector_send(conn, id, WSC_TEXT, (const uint8_t *)text, strlen(text), NULL, NULL));
}

/* The two outbound clients' inboxes, by socket ID "A" and "B". */
typedef struct {
    monitor m;
    char inbox[2][10][128];
    int count[2];
} inboxes;

static void on_client_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                              wsc_message_kind kind, wsc_bytes payload) {
    inboxes *in = userdata;
    (void)conn;
    (void)kind;
    wsc_str id;
    OK(wsc_socket_id(socket, &id));
    int who = str_is(id, "A") ? 0 : 1;
    pthread_mutex_lock(&in->m.lock);
    CHECK(in->count[who] < 10);
    str_copy((wsc_str){(const char *)payload.data, payload.len}, in->inbox[who][in->count[who]++], 128);
    pthread_cond_broadcast(&in->m.changed);
    pthread_mutex_unlock(&in->m.lock);
}

static void open_client(wsc_connector *client, uint16_t port, const char *name) {
    wsc_outbound_options *options = NULL;
    OK(wsc_outbound_options_new(&options));
    OK(wsc_outbound_options_set_socket_id(options, name));
    OK(wsc_outbound_options_add_query(options, "name", name));
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/chat", port);
    OK(wsc_connector_open_outbound(client, url, options, NULL, 0));
    wsc_outbound_options_free(options);
}

static void raw_expect(raw_ws *ws, const char *want) {
    char got[256];
    CHECK(raw_ws_recv(ws, got, sizeof got) == 1);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "raw peer got \"%s\", expected \"%s\"\n", got, want);
        exit(1);
    }
}

#define IN_LOBBY "welcome to the lobby; send /join ROOM to change rooms"
#define IN_RED "you are in room red"
#define IN_BLUE "you are in room blue"

int main(void) {
    wsc_config *config = listener_config();
    OK(wsc_config_add_path(config, "/chat", NULL, 0));
    chat_configure(config);
    wsc_connector *server = NULL;
    OK(wsc_connector_start(config, &server));
    uint16_t port = port_of(server);

    static inboxes in;
    monitor_init(&in.m);
    OK(wsc_config_new(&config));
    OK(wsc_config_on_outbound_message(config, on_client_message, &in, NULL));
    wsc_connector *client = NULL;
    OK(wsc_connector_start(config, &client));
    open_client(client, port, "A");
    open_client(client, port, "B");
    raw_ws c = raw_ws_open(port, "/chat?name=C");
    CHECK(c.status == 101);

    /* Everyone starts in the lobby and hears everyone. */
    raw_expect(&c, IN_LOBBY);
    WAIT_UNTIL(&in.m, in.count[0] == 1 && in.count[1] == 1);
    CHECK(strcmp(in.inbox[0][0], IN_LOBBY) == 0 && strcmp(in.inbox[1][0], IN_LOBBY) == 0);
    send_text(client, "A", "hello lobby");
    raw_expect(&c, "[A] hello lobby");
    WAIT_UNTIL(&in.m, in.count[0] == 2 && in.count[1] == 2);
    CHECK(strcmp(in.inbox[0][1], "[A] hello lobby") == 0 && strcmp(in.inbox[1][1], "[A] hello lobby") == 0);

    /* A and B go to red, C to blue. */
    send_text(client, "A", "/join red");
    send_text(client, "B", "/join red");
    raw_ws_send(&c, 1, "/join blue", 10);
    raw_expect(&c, IN_BLUE);
    WAIT_UNTIL(&in.m, in.count[0] == 3 && in.count[1] == 3);
    CHECK(strcmp(in.inbox[0][2], IN_RED) == 0 && strcmp(in.inbox[1][2], IN_RED) == 0);

    /* A speaks in red: A and B hear it. */
    send_text(client, "A", "hello from A");
    WAIT_UNTIL(&in.m, in.count[0] == 4 && in.count[1] == 4);
    CHECK(strcmp(in.inbox[0][3], "[A] hello from A") == 0);
    CHECK(strcmp(in.inbox[1][3], "[A] hello from A") == 0);

    /* C speaks in blue: only C hears it (its next message is its own, not A's). */
    raw_ws_send(&c, 1, "hello from C", 12);
    raw_expect(&c, "[C] hello from C");

    /* B speaks in red: A's and B's next message is B's (they never got C's). */
    send_text(client, "B", "hello from B");
    WAIT_UNTIL(&in.m, in.count[0] == 5 && in.count[1] == 5);
    CHECK(strcmp(in.inbox[0][4], "[B] hello from B") == 0);
    CHECK(strcmp(in.inbox[1][4], "[B] hello from B") == 0);

    /* A moves to blue: C hears A now, B does not. */
    send_text(client, "A", "/join blue");
    WAIT_UNTIL(&in.m, in.count[0] == 6);
    CHECK(strcmp(in.inbox[0][5], IN_BLUE) == 0);
    raw_ws_send(&c, 1, "welcome A", 9);
    raw_expect(&c, "[C] welcome A");
    WAIT_UNTIL(&in.m, in.count[0] == 7);
    CHECK(strcmp(in.inbox[0][6], "[C] welcome A") == 0);
    send_text(client, "B", "anyone?");
    WAIT_UNTIL(&in.m, in.count[1] == 6);
    CHECK(strcmp(in.inbox[1][5], "[B] anyone?") == 0);
    send_text(client, "A", "bye");
    raw_expect(&c, "[A] bye");
    WAIT_UNTIL(&in.m, in.count[0] == 8);
    CHECK(in.count[1] == 6 && strcmp(in.inbox[0][7], "[A] bye") == 0);

    /* "/join" without a room is refused with an answer, and C stays in blue; other commands
     * get an answer too, and reach nobody else. */
    raw_ws_send(&c, 1, "/join ", 6);
    raw_expect(&c, "a room needs a name: /join ROOM");
    raw_ws_send(&c, 1, "/join", 5);
    raw_expect(&c, "a room needs a name: /join ROOM");
    raw_ws_send(&c, 1, "/leave now", 10);
    raw_expect(&c, "unknown command /leave; send /join ROOM, or text for your room");
    raw_ws_send(&c, 1, "still blue", 10);
    raw_expect(&c, "[C] still blue");
    WAIT_UNTIL(&in.m, in.count[0] == 9);
    CHECK(strcmp(in.inbox[0][8], "[C] still blue") == 0);

    raw_ws_close(&c);
    OK(wsc_connector_free(client));
    OK(wsc_connector_free(server));
    monitor_destroy(&in.m);
    printf("test_chat: ok\n");
    return 0;
}
