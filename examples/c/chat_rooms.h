/* The chat server's logic, shared by examples/c/chat.c and tests/c/test_chat.c; the protocol
 * of every chat example (examples/chat.rs says it in full): rooms are groups named
 * "room:NAME"; a socket starts in the lobby ("welcome to the lobby; send /join ROOM to change
 * rooms"); "/join ROOM" moves it ("you are in room ROOM"); any other text goes to everyone in
 * the sender's room as "[NAME] text" (NAME: the "name" query parameter, or the first 8
 * characters of the socket ID). Callbacks run on the connector's dispatcher threads,
 * each socket's in order; they keep no state of their own (the groups hold it). */
#ifndef CHAT_ROOMS_H
#define CHAT_ROOMS_H

#include "wsconnector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_ROOM_PREFIX "room:"
#define CHAT_TEXT_MAX 512

/* Reports a failed call with the library's message; the server carries on. */
static inline int chat_failed(wsc_result result, const char *what) {
    if (result == WSC_OK) return 0;
    char message[256];
    size_t len = 0;
    wsc_last_error(message, sizeof message, &len);
    fprintf(stderr, "chat: %s: %s: %s\n", what, wsc_result_name(result), message);
    return 1;
}

/* Reads "HOST:PORT" into host and port; 0 when it is not that. */
static inline int chat_parse_address(const char *address, char *host, size_t cap, uint16_t *port) {
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

static inline void chat_copy(wsc_str s, char *buf, size_t cap) {
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n > 0) memcpy(buf, s.data, n);
    buf[n] = 0;
}

static inline void chat_send(wsc_connector *conn, const char *id, const char *text) {
    chat_failed(wsc_connector_send(conn, id, WSC_TEXT, (const uint8_t *)text, strlen(text), NULL, NULL), "send");
}

/* An answer from a callback goes to the socket it was handed: no ID to copy or look up. */
static inline void chat_reply(const wsc_socket *socket, const char *text) {
    chat_failed(wsc_socket_send(socket, WSC_TEXT, (const uint8_t *)text, strlen(text), NULL, NULL), "reply");
}

/* The socket's current room group ("room:NAME"), or "" when it has none. */
static inline void chat_room_of(const wsc_socket *socket, char *room, size_t cap) {
    size_t count = 0;
    room[0] = 0;
    wsc_socket_group_count(socket, &count);
    for (size_t i = 0; i < count; i++) {
        wsc_str group;
        if (wsc_socket_group_at(socket, i, &group) == WSC_OK && group.len > strlen(CHAT_ROOM_PREFIX) &&
            memcmp(group.data, CHAT_ROOM_PREFIX, strlen(CHAT_ROOM_PREFIX)) == 0) {
            chat_copy(group, room, cap);
        }
    }
}

/* Who the socket is: its "name" query parameter, or the first 8 characters of its ID. */
static inline void chat_name_of(const wsc_socket *socket, char *name, size_t cap) {
    wsc_str s;
    if (wsc_socket_query(socket, "name", &s) != WSC_OK || s.data == NULL || s.len == 0) {
        wsc_socket_id(socket, &s);
        if (s.len > 8) s.len = 8;
    }
    chat_copy(s, name, cap);
}

/* Moves the socket to `room`, on the socket itself (no ID lookup). */
static inline void chat_join(const wsc_socket *socket, const char *room) {
    char current[CHAT_TEXT_MAX], group[CHAT_TEXT_MAX + 8], answer[CHAT_TEXT_MAX + 64];
    chat_room_of(socket, current, sizeof current);
    const char *leave[] = {current};
    if (current[0] && chat_failed(wsc_socket_unsubscribe(socket, leave, 1), "unsubscribe")) return;
    snprintf(group, sizeof group, CHAT_ROOM_PREFIX "%s", room);
    const char *join[] = {group};
    if (chat_failed(wsc_socket_subscribe(socket, join, 1), "subscribe")) {
        chat_reply(socket, "that is not a room name");
        return;
    }
    snprintf(answer, sizeof answer, "you are in room %s", room);
    chat_reply(socket, answer);
}

static inline void chat_on_connection(void *userdata, wsc_connector *conn, const wsc_socket *socket) {
    (void)userdata, (void)conn;
    const char *lobby[] = {CHAT_ROOM_PREFIX "lobby"};
    if (!chat_failed(wsc_socket_subscribe(socket, lobby, 1), "subscribe"))
        chat_reply(socket, "welcome to the lobby; send /join ROOM to change rooms");
}

/* A "/command": "/join ROOM" moves the socket; "/join" without a room and other commands get an
 * answer that says what to send. */
static inline void chat_command(const wsc_socket *socket, char *command) {
    char *argument = strchr(command, ' ');
    if (argument) *argument++ = 0;
    while (argument && *argument == ' ') argument++;
    for (size_t n = argument ? strlen(argument) : 0; n > 0 && argument[n - 1] == ' '; n--) argument[n - 1] = 0;
    char answer[CHAT_TEXT_MAX + 64];
    if (strcmp(command, "/join") != 0) {
        snprintf(answer, sizeof answer, "unknown command %s; send /join ROOM, or text for your room", command);
        chat_reply(socket, answer);
    } else if (!argument || !*argument) {
        chat_reply(socket, "a room needs a name: /join ROOM");
    } else {
        chat_join(socket, argument);
    }
}

static inline void chat_on_message(void *userdata, wsc_connector *conn, const wsc_socket *socket,
                                   wsc_message_kind kind, wsc_bytes payload) {
    (void)userdata;
    char text[CHAT_TEXT_MAX], room[CHAT_TEXT_MAX], name[CHAT_TEXT_MAX];
    if (kind != WSC_TEXT) {
        chat_reply(socket, "text only, please");
        return;
    }
    chat_copy((wsc_str){(const char *)payload.data, payload.len}, text, sizeof text);
    if (text[0] == '/') {
        chat_command(socket, text);
        return;
    }
    chat_room_of(socket, room, sizeof room);
    chat_name_of(socket, name, sizeof name);
    char line[3 * CHAT_TEXT_MAX];
    int n = snprintf(line, sizeof line, "[%s] %s", name, text);
    wsc_filter *filter = NULL;
    if (chat_failed(wsc_filter_new(&filter), "filter")) return;
    if (!chat_failed(wsc_filter_add_group(filter, room), "filter") &&
        !chat_failed(wsc_filter_set_type(filter, WSC_INBOUND), "filter")) {
        chat_failed(wsc_connector_broadcast(conn, filter, WSC_TEXT, (const uint8_t *)line, (size_t)n, NULL),
                    "broadcast");
    }
    wsc_filter_free(filter);
}

static inline void chat_on_closed(void *userdata, wsc_connector *conn, const wsc_socket *socket, uint16_t code,
                                  wsc_str reason) {
    (void)userdata, (void)conn, (void)reason;
    wsc_str id;
    wsc_socket_id(socket, &id);
    printf("%.*s left (close code %u)\n", (int)id.len, id.data, code);
    fflush(stdout);
}

/* Registers the chat server's callbacks on a config. */
static inline void chat_configure(wsc_config *config) {
    chat_failed(wsc_config_on_inbound_connection(config, chat_on_connection, NULL, NULL), "config");
    chat_failed(wsc_config_on_inbound_message(config, chat_on_message, NULL, NULL), "config");
    chat_failed(wsc_config_on_socket_closed(config, chat_on_closed, NULL, NULL), "config");
}

#endif
