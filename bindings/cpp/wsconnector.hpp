// wsconnector.hpp: a small header-only C++17 wrapper over the C API (wsconnector.h).
//
// RAII handles, std::string_view and byte views, std::function callbacks, and wsc::Error
// exceptions carrying the result code. Views handed to callbacks are valid only during the
// callback, as in C. Exceptions thrown by a callback are caught at the C boundary and reported
// on stderr (they must not unwind through C).
#ifndef WSCONNECTOR_HPP
#define WSCONNECTOR_HPP

#include "wsconnector.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wsc {

// A failed call: its result code, the last error's message, and a refused handshake's status.
class Error : public std::runtime_error {
public:
    Error(wsc_result code, const std::string &message, uint16_t http_status)
        : std::runtime_error(std::string(wsc_result_name(code)) + ": " + message),
          code_(code), http_status_(http_status) {}
    wsc_result code() const noexcept { return code_; }
    uint16_t http_status() const noexcept { return http_status_; }

private:
    wsc_result code_;
    uint16_t http_status_;
};

namespace detail {
inline std::string last_error() {
    size_t len = 0;
    wsc_last_error(nullptr, 0, &len);
    std::string message(len, '\0');
    if (len > 0) wsc_last_error(message.data(), len + 1, &len);
    return message;
}

inline void check(wsc_result result) {
    if (result != WSC_OK) throw Error(result, last_error(), wsc_last_error_http_status());
}

inline std::string_view view(wsc_str s) { return s.data ? std::string_view(s.data, s.len) : std::string_view(); }

inline std::optional<std::string_view> optional(wsc_str s) {
    if (!s.data) return std::nullopt;
    return std::string_view(s.data, s.len);
}

inline std::vector<const char *> c_strings(const std::vector<std::string> &strings) {
    std::vector<const char *> out;
    out.reserve(strings.size());
    for (const auto &s : strings) out.push_back(s.c_str());
    return out;
}

// Reads an address-like string through a (buffer, capacity, len_out) function.
template <typename F>
std::string read_buffer(F read) {
    char buf[64];
    size_t len = 0;
    wsc_result r = read(buf, sizeof buf, &len);
    if (r == WSC_BUFFER_TOO_SMALL) {
        std::string big(len + 1, '\0');
        check(read(big.data(), big.size(), &len));
        big.resize(len);
        return big;
    }
    check(r);
    return std::string(buf, len);
}

// Runs a callback body, keeping exceptions on this side of the C boundary; false if it threw.
template <typename F>
bool guarded(const char *what, F body) noexcept {
    try {
        body();
        return true;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "wsconnector: %s callback threw: %s\n", what, e.what());
    } catch (...) {
        std::fprintf(stderr, "wsconnector: %s callback threw\n", what);
    }
    return false;
}

template <typename T>
void delete_userdata(void *userdata) {
    delete static_cast<T *>(userdata);
}
}  // namespace detail

// A borrowed byte buffer.
struct Bytes {
    const uint8_t *data = nullptr;
    size_t size = 0;
};

// A message handed to a callback: its kind and payload (borrowed for the callback).
struct Message {
    wsc_message_kind kind;
    Bytes payload;
    bool is_text() const { return kind == WSC_TEXT; }
    std::string_view text() const { return std::string_view(reinterpret_cast<const char *>(payload.data), payload.size); }
};

// A socket's attributes, borrowed (inside a callback, from an event or list) or owned (Socket).
class SocketRef {
public:
    explicit SocketRef(const wsc_socket *socket) : socket_(socket) {}
    std::string_view id() const { return str(wsc_socket_id); }
    wsc_socket_type type() const {
        wsc_socket_type t;
        detail::check(wsc_socket_get_type(socket_, &t));
        return t;
    }
    std::string_view path() const { return str(wsc_socket_path); }
    std::string_view uri() const { return str(wsc_socket_uri); }
    std::string_view scheme() const { return str(wsc_socket_scheme); }
    std::optional<std::string_view> subprotocol() const { return detail::optional(raw(wsc_socket_subprotocol)); }
    // The negotiated extensions (permessage-deflate and its parameters), as the 101 states them.
    std::optional<std::string_view> extensions() const { return detail::optional(raw(wsc_socket_extensions)); }
    // The peer's certificate (DER): a client's with mutual TLS, the server's for wss outbound.
    std::optional<Bytes> peer_certificate() const {
        wsc_bytes b;
        detail::check(wsc_socket_peer_certificate(socket_, &b));
        return b.data ? std::optional<Bytes>(Bytes{b.data, b.len}) : std::nullopt;
    }
    // Its subject as RFC 4514 text.
    std::optional<std::string_view> peer_certificate_subject() const {
        return detail::optional(raw(wsc_socket_peer_certificate_subject));
    }
    std::optional<std::string_view> header(const std::string &name) const {
        wsc_str s;
        detail::check(wsc_socket_header(socket_, name.c_str(), &s));
        return detail::optional(s);
    }
    std::optional<std::string_view> query(const std::string &name) const {
        wsc_str s;
        detail::check(wsc_socket_query(socket_, name.c_str(), &s));
        return detail::optional(s);
    }
    std::vector<std::pair<std::string_view, std::string_view>> headers() const {
        return pairs(wsc_socket_header_count, wsc_socket_header_at);
    }
    std::vector<std::pair<std::string_view, std::string_view>> query_params() const {
        return pairs(wsc_socket_query_count, wsc_socket_query_at);
    }
    std::vector<std::string_view> groups() const {
        size_t count = 0;
        detail::check(wsc_socket_group_count(socket_, &count));
        std::vector<std::string_view> out;
        for (size_t i = 0; i < count; i++) {
            wsc_str s;
            detail::check(wsc_socket_group_at(socket_, i, &s));
            out.push_back(detail::view(s));
        }
        return out;
    }
    std::string local_addr() const {
        return detail::read_buffer([&](char *b, size_t c, size_t *l) { return wsc_socket_local_addr(socket_, b, c, l); });
    }
    std::string remote_addr() const {
        return detail::read_buffer([&](char *b, size_t c, size_t *l) { return wsc_socket_remote_addr(socket_, b, c, l); });
    }
    bool is_open() const {
        bool open = false;
        detail::check(wsc_socket_is_open(socket_, &open));
        return open;
    }
    // Queue a message on this socket, with no ID lookup: the way to reply from a callback.
    // Sending back the Message a callback was handed (or part of its payload) passes it on
    // without a copy. Throws wsc::Error (WSC_NO_SUCH_SOCKET once the socket is closed).
    wsc_delivery send(const Message &message) const {
        return send_bytes(message.kind, message.payload.data, message.payload.size);
    }
    wsc_delivery send_text(std::string_view text) const {
        return send_bytes(WSC_TEXT, reinterpret_cast<const uint8_t *>(text.data()), text.size());
    }
    wsc_delivery send_binary(Bytes bytes) const { return send_bytes(WSC_BINARY, bytes.data, bytes.size); }
    // Close, subscribe and unsubscribe this socket, with no ID lookup, as Connector's operations
    // do by ID. Throw wsc::Error (WSC_NO_SUCH_SOCKET once the socket is closed).
    void close(uint16_t code = 1000, const std::string &reason = "") const {
        detail::check(wsc_socket_close(socket_, code, reason.c_str()));
    }
    void subscribe(const std::vector<std::string> &groups) const {
        auto c = detail::c_strings(groups);
        detail::check(wsc_socket_subscribe(socket_, c.data(), c.size()));
    }
    void unsubscribe(const std::vector<std::string> &groups) const {
        auto c = detail::c_strings(groups);
        detail::check(wsc_socket_unsubscribe(socket_, c.data(), c.size()));
    }
    const wsc_socket *get() const { return socket_; }

private:
    wsc_delivery send_bytes(wsc_message_kind kind, const uint8_t *data, size_t len) const {
        wsc_delivery d;
        detail::check(wsc_socket_send(socket_, kind, data, len, &d, nullptr));
        return d;
    }
    wsc_str raw(wsc_result (*f)(const wsc_socket *, wsc_str *)) const {
        wsc_str s;
        detail::check(f(socket_, &s));
        return s;
    }
    std::string_view str(wsc_result (*f)(const wsc_socket *, wsc_str *)) const { return detail::view(raw(f)); }
    std::vector<std::pair<std::string_view, std::string_view>> pairs(
        wsc_result (*count_fn)(const wsc_socket *, size_t *),
        wsc_result (*at_fn)(const wsc_socket *, size_t, wsc_str *, wsc_str *)) const {
        size_t count = 0;
        detail::check(count_fn(socket_, &count));
        std::vector<std::pair<std::string_view, std::string_view>> out;
        for (size_t i = 0; i < count; i++) {
            wsc_str name, value;
            detail::check(at_fn(socket_, i, &name, &value));
            out.emplace_back(detail::view(name), detail::view(value));
        }
        return out;
    }
    const wsc_socket *socket_;
};

// An owned socket handle (from Connector::socket); its attributes outlive the socket.
class Socket : public SocketRef {
public:
    explicit Socket(wsc_socket *socket) : SocketRef(socket), owned_(socket, wsc_socket_free) {}

private:
    std::unique_ptr<wsc_socket, void (*)(wsc_socket *)> owned_;
};

// Which sockets a broadcast, bulk close or listing selects; matches all when empty.
class Filter {
public:
    Filter() : filter_(nullptr, wsc_filter_free) {
        wsc_filter *f = nullptr;
        detail::check(wsc_filter_new(&f));
        filter_.reset(f);
    }
    Filter &path(const std::string &pattern) { return apply(wsc_filter_set_path(filter_.get(), pattern.c_str())); }
    Filter &type(wsc_socket_type type) { return apply(wsc_filter_set_type(filter_.get(), type)); }
    Filter &group(const std::string &group) { return apply(wsc_filter_add_group(filter_.get(), group.c_str())); }
    const wsc_filter *get() const { return filter_.get(); }

private:
    Filter &apply(wsc_result r) {
        detail::check(r);
        return *this;
    }
    std::unique_ptr<wsc_filter, void (*)(wsc_filter *)> filter_;
};

// Options of one outbound socket.
class OutboundOptions {
public:
    OutboundOptions() : options_(nullptr, wsc_outbound_options_free) {
        wsc_outbound_options *o = nullptr;
        detail::check(wsc_outbound_options_new(&o));
        options_.reset(o);
    }
    OutboundOptions &header(const std::string &name, const std::string &value) {
        return apply(wsc_outbound_options_add_header(options_.get(), name.c_str(), value.c_str()));
    }
    OutboundOptions &query(const std::string &name, const std::string &value) {
        return apply(wsc_outbound_options_add_query(options_.get(), name.c_str(), value.c_str()));
    }
    OutboundOptions &subprotocol(const std::string &p) { return apply(wsc_outbound_options_add_subprotocol(options_.get(), p.c_str())); }
    OutboundOptions &group(const std::string &g) { return apply(wsc_outbound_options_add_group(options_.get(), g.c_str())); }
    OutboundOptions &socket_id(const std::string &id) { return apply(wsc_outbound_options_set_socket_id(options_.get(), id.c_str())); }
    OutboundOptions &compression(bool on) { return apply(wsc_outbound_options_set_compression(options_.get(), on)); }
    OutboundOptions &connect_timeout(std::chrono::milliseconds t) {
        return apply(wsc_outbound_options_set_connect_timeout_ms(options_.get(), static_cast<uint64_t>(t.count())));
    }
    const wsc_outbound_options *get() const { return options_.get(); }

private:
    OutboundOptions &apply(wsc_result r) {
        detail::check(r);
        return *this;
    }
    std::unique_ptr<wsc_outbound_options, void (*)(wsc_outbound_options *)> options_;
};

// What a broadcast did.
struct BroadcastResult {
    struct Failure {
        std::string socket_id;
        wsc_undelivered what;
        wsc_result error;
    };
    size_t delivered = 0;
    size_t dropped_oldest = 0;
    std::vector<Failure> failures;
};

// The authorization hook's view of an upgrade request (borrowed for the hook's call).
class AuthRequest {
public:
    explicit AuthRequest(const wsc_auth_request *r) : r_(r) {}
    std::string_view path() const {
        wsc_str s;
        detail::check(wsc_auth_request_path(r_, &s));
        return detail::view(s);
    }
    std::string_view uri() const {
        wsc_str s;
        detail::check(wsc_auth_request_uri(r_, &s));
        return detail::view(s);
    }
    std::optional<std::string_view> header(const std::string &name) const {
        wsc_str s;
        detail::check(wsc_auth_request_header(r_, name.c_str(), &s));
        return detail::optional(s);
    }
    std::optional<std::string_view> query(const std::string &name) const {
        wsc_str s;
        detail::check(wsc_auth_request_query(r_, name.c_str(), &s));
        return detail::optional(s);
    }
    std::vector<std::string_view> subprotocols() const {
        size_t count = 0;
        detail::check(wsc_auth_request_subprotocol_count(r_, &count));
        std::vector<std::string_view> out;
        for (size_t i = 0; i < count; i++) {
            wsc_str s;
            detail::check(wsc_auth_request_subprotocol_at(r_, i, &s));
            out.push_back(detail::view(s));
        }
        return out;
    }
    std::string remote_addr() const {
        return detail::read_buffer([&](char *b, size_t c, size_t *l) { return wsc_auth_request_remote_addr(r_, b, c, l); });
    }
    // The client's certificate (DER) with mutual TLS, and its subject as RFC 4514 text.
    std::optional<Bytes> peer_certificate() const {
        wsc_bytes b;
        detail::check(wsc_auth_request_peer_certificate(r_, &b));
        return b.data ? std::optional<Bytes>(Bytes{b.data, b.len}) : std::nullopt;
    }
    std::optional<std::string_view> peer_certificate_subject() const {
        wsc_str s;
        detail::check(wsc_auth_request_peer_certificate_subject(r_, &s));
        return detail::optional(s);
    }

private:
    const wsc_auth_request *r_;
};

// The hook's answer; it starts as "reject with 403".
class AuthDecision {
public:
    explicit AuthDecision(wsc_auth_decision *d) : d_(d) {}
    void accept(const std::vector<std::string> &groups = {}) {
        auto c = detail::c_strings(groups);
        detail::check(wsc_auth_decision_accept(d_, c.data(), c.size()));
    }
    void reject(uint16_t status, const std::string &reason) {
        detail::check(wsc_auth_decision_reject(d_, status, reason.c_str()));
    }

private:
    wsc_auth_decision *d_;
};

// An event taken in pull mode.
class Event {
public:
    explicit Event(wsc_event *e) : e_(e, wsc_event_free) {}
    wsc_trigger trigger() const {
        wsc_trigger t;
        detail::check(wsc_event_trigger(e_.get(), &t));
        return t;
    }
    SocketRef socket() const {
        const wsc_socket *s = nullptr;
        detail::check(wsc_event_socket(e_.get(), &s));
        return SocketRef(s);
    }
    Message message() const {
        Message m{};
        wsc_bytes b;
        detail::check(wsc_event_message(e_.get(), &m.kind, &b));
        m.payload = {b.data, b.len};
        return m;
    }
    std::pair<uint16_t, std::string_view> close() const {
        uint16_t code = 0;
        wsc_str reason;
        detail::check(wsc_event_close(e_.get(), &code, &reason));
        return {code, detail::view(reason)};
    }

private:
    std::unique_ptr<wsc_event, void (*)(wsc_event *)> e_;
};

// The operations of a connector, without ownership: what callbacks receive.
class ConnectorRef {
public:
    explicit ConnectorRef(wsc_connector *c) : c_(c) {}
    uint16_t port() const {
        uint16_t p = 0;
        detail::check(wsc_connector_local_port(c_, &p));
        return p;
    }
    std::string local_addr() const {
        return detail::read_buffer([&](char *b, size_t cap, size_t *l) { return wsc_connector_local_addr(c_, b, cap, l); });
    }
    bool is_running() const {
        bool r = false;
        detail::check(wsc_connector_is_running(c_, &r));
        return r;
    }
    std::string open_outbound(const std::string &url, const OutboundOptions *options = nullptr) const {
        char id[WSC_SOCKET_ID_SIZE];
        detail::check(wsc_connector_open_outbound(c_, url.c_str(), options ? options->get() : nullptr, id, sizeof id));
        return id;
    }
    wsc_delivery send_text(const std::string &socket_id, std::string_view text) const {
        return send(socket_id, WSC_TEXT, reinterpret_cast<const uint8_t *>(text.data()), text.size());
    }
    wsc_delivery send_binary(const std::string &socket_id, Bytes bytes) const {
        return send(socket_id, WSC_BINARY, bytes.data, bytes.size);
    }
    void subscribe(const std::string &socket_id, const std::vector<std::string> &groups) const {
        auto c = detail::c_strings(groups);
        detail::check(wsc_connector_subscribe(c_, socket_id.c_str(), c.data(), c.size()));
    }
    void unsubscribe(const std::string &socket_id, const std::vector<std::string> &groups) const {
        auto c = detail::c_strings(groups);
        detail::check(wsc_connector_unsubscribe(c_, socket_id.c_str(), c.data(), c.size()));
    }
    BroadcastResult broadcast_text(const Filter &filter, std::string_view text) const {
        return broadcast(filter, WSC_TEXT, reinterpret_cast<const uint8_t *>(text.data()), text.size());
    }
    BroadcastResult broadcast_binary(const Filter &filter, Bytes bytes) const {
        return broadcast(filter, WSC_BINARY, bytes.data, bytes.size);
    }
    void close(const std::string &socket_id, uint16_t code = 1000, const std::string &reason = "") const {
        detail::check(wsc_connector_close(c_, socket_id.c_str(), code, reason.c_str()));
    }
    size_t bulk_close(const Filter &filter, uint16_t code = 1000, const std::string &reason = "") const {
        size_t n = 0;
        detail::check(wsc_connector_bulk_close(c_, filter.get(), code, reason.c_str(), &n));
        return n;
    }
    Socket socket(const std::string &socket_id) const {
        wsc_socket *s = nullptr;
        detail::check(wsc_connector_socket(c_, socket_id.c_str(), &s));
        return Socket(s);
    }
    std::vector<std::string> socket_ids(const Filter &filter) const {
        wsc_socket_list *list = nullptr;
        detail::check(wsc_connector_sockets(c_, filter.get(), &list));
        std::unique_ptr<wsc_socket_list, void (*)(wsc_socket_list *)> owned(list, wsc_socket_list_free);
        size_t len = 0;
        detail::check(wsc_socket_list_len(list, &len));
        std::vector<std::string> ids;
        for (size_t i = 0; i < len; i++) {
            const wsc_socket *s = nullptr;
            detail::check(wsc_socket_list_get(list, i, &s));
            ids.emplace_back(SocketRef(s).id());
        }
        return ids;
    }
    size_t socket_count() const {
        size_t n = 0;
        detail::check(wsc_connector_socket_count(c_, &n));
        return n;
    }
    size_t group_count() const {
        size_t n = 0;
        detail::check(wsc_connector_group_count(c_, &n));
        return n;
    }
    // Pull mode: the next event, or nothing when `timeout` passes (negative: no limit).
    std::optional<Event> next_event(std::chrono::milliseconds timeout) const {
        wsc_event *e = nullptr;
        detail::check(wsc_connector_next_event(c_, static_cast<int64_t>(timeout.count()), &e));
        if (!e) return std::nullopt;
        return Event(e);
    }
    void stop() const { detail::check(wsc_connector_stop(c_)); }
    wsc_connector *get() const { return c_; }

private:
    wsc_delivery send(const std::string &id, wsc_message_kind kind, const uint8_t *data, size_t len) const {
        wsc_delivery d;
        detail::check(wsc_connector_send(c_, id.c_str(), kind, data, len, &d, nullptr));
        return d;
    }
    BroadcastResult broadcast(const Filter &filter, wsc_message_kind kind, const uint8_t *data, size_t len) const {
        wsc_broadcast_result *r = nullptr;
        detail::check(wsc_connector_broadcast(c_, filter.get(), kind, data, len, &r));
        std::unique_ptr<wsc_broadcast_result, void (*)(wsc_broadcast_result *)> owned(r, wsc_broadcast_result_free);
        BroadcastResult out;
        size_t failures = 0;
        detail::check(wsc_broadcast_result_delivered(r, &out.delivered));
        detail::check(wsc_broadcast_result_dropped_oldest(r, &out.dropped_oldest));
        detail::check(wsc_broadcast_result_failure_count(r, &failures));
        for (size_t i = 0; i < failures; i++) {
            wsc_str id;
            BroadcastResult::Failure f{};
            detail::check(wsc_broadcast_result_failure_at(r, i, &id, &f.what, &f.error));
            f.socket_id = std::string(detail::view(id));
            out.failures.push_back(std::move(f));
        }
        return out;
    }
    wsc_connector *c_;
};

using ConnectionHandler = std::function<void(ConnectorRef, const SocketRef &)>;
using MessageHandler = std::function<void(ConnectorRef, const SocketRef &, const Message &)>;
using ClosedHandler = std::function<void(ConnectorRef, const SocketRef &, uint16_t, std::string_view)>;
using AuthHandler = std::function<void(const AuthRequest &, AuthDecision &)>;

// A connector's settings and callbacks, consumed by Connector's constructor.
class Config {
public:
    Config() : config_(nullptr, wsc_config_free) {
        wsc_config *c = nullptr;
        detail::check(wsc_config_new(&c));
        config_.reset(c);
    }
    Config &listener(const std::string &host, uint16_t port) { return apply(wsc_config_set_listener(get(), host.c_str(), port)); }
    Config &base_path(const std::string &p) { return apply(wsc_config_set_base_path(get(), p.c_str())); }
    Config &path(const std::string &pattern, const std::vector<std::string> &groups = {}) {
        auto c = detail::c_strings(groups);
        return apply(wsc_config_add_path(get(), pattern.c_str(), c.data(), c.size()));
    }
    Config &subprotocol(const std::string &p) { return apply(wsc_config_add_subprotocol(get(), p.c_str())); }
    // permessage-deflate on the listener and outbound sockets; finer settings by name with raw().
    Config &compression(bool on) { return apply(wsc_config_set_compression(get(), on)); }
    Config &path_compression(const std::string &pattern, bool on) {
        return apply(wsc_config_set_path_compression(get(), pattern.c_str(), on));
    }
    Config &server_tls(wsc_pem_source source, const std::string &cert, const std::string &key) {
        return apply(wsc_config_set_server_tls(get(), source, cert.c_str(), key.c_str()));
    }
    Config &client_extra_ca(wsc_pem_source source, const std::string &ca) {
        return apply(wsc_config_set_client_extra_ca(get(), source, ca.c_str()));
    }
    Config &client_header(const std::string &name, const std::string &value) {
        return apply(wsc_config_add_client_header(get(), name.c_str(), value.c_str()));
    }
    Config &worker_threads(size_t n) { return apply(wsc_config_set_worker_threads(get(), n)); }
    // Handlers on the I/O threads, for handlers that never block (wsc_config_set_inline_dispatch).
    Config &inline_dispatch(bool on = true) { return apply(wsc_config_set_inline_dispatch(get(), on)); }
    Config &slow_consumer(wsc_slow_consumer policy) { return apply(wsc_config_set_slow_consumer(get(), policy)); }
    Config &stop_timeout(std::chrono::milliseconds t) {
        return apply(wsc_config_set_stop_timeout_ms(get(), static_cast<uint64_t>(t.count())));
    }
    // Any setting the wrapper does not name: `config.raw(wsc_config_set_ping_interval_ms, 1000)`.
    template <typename... A>
    Config &raw(wsc_result (*setter)(wsc_config *, A...), A... args) { return apply(setter(get(), args...)); }

    // A handler that throws refuses the socket: closed with 1011 (or the code it closed it with
    // before throwing), the messages that waited for it dropped.
    Config &on_inbound_connection(ConnectionHandler h) {
        return apply(wsc_config_on_inbound_connection_refusable(get(), &on_connection,
                                                                new ConnectionHandler(std::move(h)),
                                                                &detail::delete_userdata<ConnectionHandler>));
    }
    Config &on_inbound_message(MessageHandler h) {
        return apply(wsc_config_on_inbound_message(get(), &on_message, new MessageHandler(std::move(h)),
                                                   &detail::delete_userdata<MessageHandler>));
    }
    Config &on_outbound_message(MessageHandler h) {
        return apply(wsc_config_on_outbound_message(get(), &on_message, new MessageHandler(std::move(h)),
                                                    &detail::delete_userdata<MessageHandler>));
    }
    Config &on_socket_closed(ClosedHandler h) {
        return apply(wsc_config_on_socket_closed(get(), &on_closed, new ClosedHandler(std::move(h)),
                                                 &detail::delete_userdata<ClosedHandler>));
    }
    Config &authorizer(AuthHandler h) {
        return apply(wsc_config_set_authorizer(get(), &on_auth, new AuthHandler(std::move(h)),
                                               &detail::delete_userdata<AuthHandler>));
    }
    wsc_config *release() { return config_.release(); }

private:
    wsc_config *get() { return config_.get(); }
    Config &apply(wsc_result r) {
        detail::check(r);
        return *this;
    }
    static uint16_t on_connection(void *u, wsc_connector *c, const wsc_socket *s) {
        bool handled = detail::guarded("inbound connection",
                                       [&] { (*static_cast<ConnectionHandler *>(u))(ConnectorRef(c), SocketRef(s)); });
        return handled ? 0 : 1011;
    }
    static void on_message(void *u, wsc_connector *c, const wsc_socket *s, wsc_message_kind k, wsc_bytes p) {
        detail::guarded("message", [&] {
            (*static_cast<MessageHandler *>(u))(ConnectorRef(c), SocketRef(s), Message{k, {p.data, p.len}});
        });
    }
    static void on_closed(void *u, wsc_connector *c, const wsc_socket *s, uint16_t code, wsc_str reason) {
        detail::guarded("socket closed", [&] {
            (*static_cast<ClosedHandler *>(u))(ConnectorRef(c), SocketRef(s), code, detail::view(reason));
        });
    }
    static void on_auth(void *u, const wsc_auth_request *r, wsc_auth_decision *d) {
        detail::guarded("authorization", [&] {
            AuthDecision decision(d);
            (*static_cast<AuthHandler *>(u))(AuthRequest(r), decision);
        });
    }
    std::unique_ptr<wsc_config, void (*)(wsc_config *)> config_;
};

// A running connector, owned: started from a Config (which it consumes), stopped and freed by
// the destructor (which must not run inside one of its own callbacks).
class Connector : public ConnectorRef {
public:
    explicit Connector(Config &config) : ConnectorRef(start(config)) {}
    explicit Connector(Config &&config) : Connector(config) {}
    ~Connector() { wsc_connector_free(get()); }
    Connector(const Connector &) = delete;
    Connector &operator=(const Connector &) = delete;

private:
    static wsc_connector *start(Config &config) {
        wsc_connector *c = nullptr;
        detail::check(wsc_connector_start(config.release(), &c));
        return c;
    }
};

// Installs (or with nullptr removes) a process-wide log callback.
using LogHandler = void (*)(wsc_log_level, std::string_view target, std::string_view message);
inline void set_log_handler(LogHandler handler, wsc_log_level max_level = WSC_LOG_INFO) {
    static std::atomic<LogHandler> current{nullptr};
    current.store(handler);
    auto trampoline = [](void *, wsc_log_level level, wsc_str target, wsc_str message) {
        if (LogHandler h = current.load()) h(level, detail::view(target), detail::view(message));
    };
    detail::check(wsc_set_log_callback(handler ? +trampoline : nullptr, nullptr, max_level));
}

inline std::string version() { return wsc_version(); }

}  // namespace wsc

#endif
