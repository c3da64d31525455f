/* Helpers shared by the C tests: checks that print the library's last error, bounded waits on
 * counters that callbacks bump, and an independent WebSocket client written on raw sockets. */
#ifndef WSC_TESTING_H
#define WSC_TESTING_H

#define _POSIX_C_SOURCE 200809L
#include "wsconnector.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Upper bound of any wait; tests never sleep to let things settle. */
#define WAIT_SECONDS 10

static inline void print_last_error(void) {
    char message[512];
    size_t len = 0;
    if (wsc_last_error(message, sizeof message, &len) == WSC_OK) {
        fprintf(stderr, "  last error: %s (HTTP %u)\n", message, wsc_last_error_http_status());
    }
}

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            print_last_error();                                                        \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

/* A call that must return `code`. */
#define EXPECT(code, call)                                                             \
    do {                                                                               \
        wsc_result r_ = (call);                                                        \
        if (r_ != (code)) {                                                            \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, \
                    #call, wsc_result_name(r_), wsc_result_name(code));                \
            print_last_error();                                                        \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

#define OK(call) EXPECT(WSC_OK, call)

/* Whether a borrowed string equals a C string. */
static inline int str_is(wsc_str s, const char *want) {
    return s.data != NULL && s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}

/* Whether a borrowed string equals a C string, ignoring ASCII case (header names). */
static inline int str_is_ci(wsc_str s, const char *want) {
    return s.data != NULL && s.len == strlen(want) && strncasecmp(s.data, want, s.len) == 0;
}

/* Copies a borrowed string into a NUL-terminated buffer. */
static inline void str_copy(wsc_str s, char *buf, size_t cap) {
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n > 0) memcpy(buf, s.data, n);
    buf[n] = 0;
}

/* The calling thread's last error message. */
static inline int last_error_contains(const char *needle) {
    char message[512];
    size_t len = 0;
    return wsc_last_error(message, sizeof message, &len) == WSC_OK && strstr(message, needle);
}

/* The next event (pull mode), which must be of `trigger`; free it with wsc_event_free(). */
static inline wsc_event *expect_event(wsc_connector *conn, wsc_trigger trigger) {
    wsc_event *event = NULL;
    OK(wsc_connector_next_event(conn, WAIT_SECONDS * 1000, &event));
    CHECK(event != NULL);
    wsc_trigger got;
    OK(wsc_event_trigger(event, &got));
    if (got != trigger) {
        fprintf(stderr, "got trigger %u, expected %u\n", got, trigger);
        exit(1);
    }
    return event;
}

/* A lock and a condition that callbacks signal after changing shared state. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
} monitor;

static inline void monitor_init(monitor *m) {
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->changed, NULL);
}

static inline void monitor_destroy(monitor *m) {
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->changed);
}

/* Waits (with the lock held) until `cond` holds, failing the test after WAIT_SECONDS. */
#define WAIT_UNTIL(m, cond)                                                            \
    do {                                                                               \
        struct timespec deadline_;                                                     \
        clock_gettime(CLOCK_REALTIME, &deadline_);                                     \
        deadline_.tv_sec += WAIT_SECONDS;                                              \
        pthread_mutex_lock(&(m)->lock);                                                \
        while (!(cond)) {                                                              \
            if (pthread_cond_timedwait(&(m)->changed, &(m)->lock, &deadline_) ==       \
                ETIMEDOUT) {                                                           \
                pthread_mutex_unlock(&(m)->lock);                                      \
                fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__,         \
                        __LINE__, #cond);                                              \
                exit(1);                                                               \
            }                                                                          \
        }                                                                              \
        pthread_mutex_unlock(&(m)->lock);                                              \
    } while (0)

/* Changes shared state under the lock and wakes the waiters. */
#define UNDER_LOCK(m, stmt)                                                            \
    do {                                                                               \
        pthread_mutex_lock(&(m)->lock);                                                \
        stmt;                                                                          \
        pthread_cond_broadcast(&(m)->changed);                                         \
        pthread_mutex_unlock(&(m)->lock);                                              \
    } while (0)

/* ---- an independent WebSocket client on raw sockets (RFC 6455 by hand) ---- */

typedef struct {
    int fd;
    int status; /* the HTTP status of the handshake answer */
} raw_ws;

static inline void raw_timeouts(int fd) {
    struct timeval tv = {WAIT_SECONDS, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Connects to 127.0.0.1:port; the raw TCP socket. */
static inline int raw_tcp(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    raw_timeouts(fd);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    return fd;
}

/* A TCP listener on 127.0.0.1 and an OS-chosen port (written to `port`), which answers
 * nothing by itself: the test accepts on it, or leaves its connections waiting. */
static inline int raw_listener(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(listen(fd, 4) == 0);
    socklen_t len = sizeof addr;
    CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
    *port = ntohs(addr.sin_port);
    return fd;
}

/* Opens a WebSocket to ws://127.0.0.1:port<target>; `ws.status` is the answer's status (101
 * when upgraded). */
static inline raw_ws raw_ws_open(uint16_t port, const char *target) {
    raw_ws ws = {raw_tcp(port), 0};
    char request[1024];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     target, port);
    CHECK(write(ws.fd, request, (size_t)n) == n);
    /* Read byte by byte up to the blank line, so no frame byte is consumed. */
    char answer[2048];
    size_t len = 0;
    while (len < sizeof answer - 1) {
        CHECK(read(ws.fd, answer + len, 1) == 1);
        len++;
        if (len >= 4 && memcmp(answer + len - 4, "\r\n\r\n", 4) == 0) break;
    }
    answer[len] = 0;
    CHECK(sscanf(answer, "HTTP/1.1 %d", &ws.status) == 1);
    if (ws.status == 101) {
        CHECK(strstr(answer, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != NULL); /* RFC 6455's example */
    }
    return ws;
}

static inline void read_exact(int fd, unsigned char *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        CHECK(n > 0);
        got += (size_t)n;
    }
}

/* Sends one masked frame (opcode 1 text, 2 binary, 8 close). */
static inline void raw_ws_send(raw_ws *ws, int opcode, const void *data, size_t len) {
    unsigned char frame[14 + 4096];
    CHECK(len <= 4096);
    size_t at = 0;
    frame[at++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        frame[at++] = (unsigned char)(0x80 | len);
    } else {
        frame[at++] = 0x80 | 126;
        frame[at++] = (unsigned char)(len >> 8);
        frame[at++] = (unsigned char)(len & 0xff);
    }
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(frame + at, mask, 4);
    at += 4;
    for (size_t i = 0; i < len; i++) frame[at + i] = ((const unsigned char *)data)[i] ^ mask[i % 4];
    at += len;
    CHECK(write(ws->fd, frame, at) == (ssize_t)at);
}

/* Receives one unmasked frame from the server into `buf` (NUL-terminated); its opcode. Pings
 * are skipped. */
static inline int raw_ws_recv(raw_ws *ws, char *buf, size_t cap) {
    for (;;) {
        unsigned char head[2];
        read_exact(ws->fd, head, 2);
        CHECK((head[1] & 0x80) == 0); /* servers never mask */
        uint64_t len = head[1] & 0x7f;
        if (len == 126) {
            unsigned char ext[2];
            read_exact(ws->fd, ext, 2);
            len = ((uint64_t)ext[0] << 8) | ext[1];
        } else if (len == 127) {
            unsigned char ext[8];
            read_exact(ws->fd, ext, 8);
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | ext[i];
        }
        CHECK(len < cap);
        read_exact(ws->fd, (unsigned char *)buf, (size_t)len);
        buf[len] = 0;
        int opcode = head[0] & 0x0f;
        if (opcode != 9) return opcode;
    }
}

static inline void raw_ws_close(raw_ws *ws) {
    close(ws->fd);
    ws->fd = -1;
}

/* A new config with a listener on 127.0.0.1 and an OS-chosen port. */
static inline wsc_config *listener_config(void) {
    wsc_config *config = NULL;
    OK(wsc_config_new(&config));
    OK(wsc_config_set_listener(config, "127.0.0.1", 0));
    OK(wsc_config_set_worker_threads(config, 2));
    return config;
}

static inline uint16_t port_of(const wsc_connector *conn) {
    uint16_t port = 0;
    OK(wsc_connector_local_port(conn, &port));
    return port;
}

#endif
