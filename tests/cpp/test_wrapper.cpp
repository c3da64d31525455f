// The C++ wrapper: a server and a client connector with lambda callbacks, the authorization
// hook, operations, replies on a socket, lookups, exceptions from result codes, a throwing
// connection handler refusing its socket, pull mode, and the log handler.
#include "wsconnector.hpp"

#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <stdexcept>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::cerr << __FILE__ << ":" << __LINE__ << ": check failed: " #cond "\n"; \
            std::exit(1);                                                            \
        }                                                                            \
    } while (0)

// Shared state that callbacks change and the test waits on, with an upper bound.
struct Shared {
    std::mutex lock;
    std::condition_variable changed;
    std::vector<std::string> server_got, client_got;
    std::string server_socket;
    int closed = 0;
    uint16_t close_code = 0;

    template <typename F>
    void update(F f) {
        std::lock_guard<std::mutex> g(lock);
        f();
        changed.notify_all();
    }
    template <typename P>
    void wait(P done) {
        std::unique_lock<std::mutex> g(lock);
        CHECK(changed.wait_for(g, std::chrono::seconds(10), done));
    }
};

int main() {
    Shared shared;
    auto server = std::make_unique<wsc::Connector>(
        wsc::Config()
            .listener("127.0.0.1", 0)
            .path("/room/*", {"everyone"})
            .path_compression("/room/*", true)
            .worker_threads(2)
            .raw(wsc_config_set_ping_interval_ms, uint64_t{0})
            .authorizer([](const wsc::AuthRequest &request, wsc::AuthDecision &decision) {
                CHECK(!request.peer_certificate() && !request.peer_certificate_subject());  // no TLS
                if (request.query("token") == std::optional<std::string_view>("secret")) {
                    decision.accept({"trusted"});
                } else {
                    decision.reject(403, "bad token");
                }
            })
            .on_inbound_connection([&](wsc::ConnectorRef conn, const wsc::SocketRef &socket) {
                CHECK(socket.type() == WSC_INBOUND);
                CHECK(socket.path() == "/room/1");
                CHECK(socket.groups() == (std::vector<std::string_view>{"everyone", "trusted"}));
                CHECK(socket.remote_addr().rfind("127.0.0.1:", 0) == 0);
                CHECK(!socket.peer_certificate() && !socket.peer_certificate_subject());
                CHECK(socket.extensions() == std::optional<std::string_view>("permessage-deflate"));
                std::string id(socket.id());
                conn.send_text(id, "hello " + id);
                shared.update([&] { shared.server_socket = id; });
            })
            .on_inbound_message([&](wsc::ConnectorRef conn, const wsc::SocketRef &socket, const wsc::Message &m) {
                CHECK(m.is_text());
                // Recorded first: the reply below can reach the client before this callback ends.
                shared.update([&] { shared.server_got.emplace_back(m.text()); });
                if (m.text() == "again") {
                    CHECK(socket.send(m) == WSC_DELIVERY_QUEUED);  // a reply on the socket itself
                    CHECK(socket.send_text(m.text().substr(2)) == WSC_DELIVERY_QUEUED);
                } else {
                    auto result = conn.broadcast_text(wsc::Filter().group("trusted"), "echo " + std::string(m.text()));
                    CHECK(result.delivered == 1 && result.failures.empty());
                }
            })
            .on_socket_closed([&](wsc::ConnectorRef, const wsc::SocketRef &socket, uint16_t code, std::string_view) {
                CHECK(!socket.is_open());
                shared.update([&] { shared.closed++, shared.close_code = code; });
            }));

    wsc::Connector client(wsc::Config().on_outbound_message(
        [&](wsc::ConnectorRef, const wsc::SocketRef &socket, const wsc::Message &m) {
            CHECK(socket.type() == WSC_OUTBOUND);
            shared.update([&] { shared.client_got.emplace_back(m.text()); });
        }));

    std::string base = "ws://127.0.0.1:" + std::to_string(server->port()) + "/room/1";
    try {
        client.open_outbound(base + "?token=wrong");
        CHECK(false);
    } catch (const wsc::Error &e) {
        CHECK(e.code() == WSC_HANDSHAKE && e.http_status() == 403);
    }
    wsc::OutboundOptions options;
    options.query("token", "secret").socket_id("cpp-client").compression(true).connect_timeout(std::chrono::seconds(5));
    CHECK(client.open_outbound(base, &options) == "cpp-client");
    shared.wait([&] { return !shared.server_socket.empty() && shared.client_got.size() == 1; });
    CHECK(shared.client_got[0] == "hello " + shared.server_socket);

    client.send_text("cpp-client", "ping");
    shared.wait([&] { return shared.client_got.size() == 2; });
    CHECK(shared.client_got[1] == "echo ping");
    CHECK(shared.server_got == std::vector<std::string>{"ping"});
    client.send_text("cpp-client", "again");
    shared.wait([&] { return shared.client_got.size() == 4; });
    CHECK(shared.client_got[2] == "again" && shared.client_got[3] == "ain");

    wsc::Socket looked_up = server->socket(shared.server_socket);
    CHECK(looked_up.send_binary({reinterpret_cast<const uint8_t *>("owned"), 5}) == WSC_DELIVERY_QUEUED);
    shared.wait([&] { return shared.client_got.size() == 5; });
    CHECK(shared.client_got[4] == "owned");
    CHECK(looked_up.query("token") == std::optional<std::string_view>("secret"));
    CHECK(server->socket_ids(wsc::Filter().type(WSC_INBOUND).path("/room/*")).size() == 1);
    CHECK(server->socket_count() == 1 && server->group_count() == 2);
    server->subscribe(shared.server_socket, {"extra"});
    server->unsubscribe(shared.server_socket, {"extra"});
    looked_up.subscribe({"own", "extra"});
    looked_up.unsubscribe({"extra"});
    CHECK(server->socket(shared.server_socket).groups() ==
          (std::vector<std::string_view>{"everyone", "own", "trusted"}));
    looked_up.unsubscribe({"own"});
    try {
        server->send_text("nobody", "x");
        CHECK(false);
    } catch (const wsc::Error &e) {
        CHECK(e.code() == WSC_NO_SUCH_SOCKET);
        CHECK(std::string(e.what()).find("nobody") != std::string::npos);
    }
    CHECK(server->bulk_close(wsc::Filter().group("trusted"), 4002, "done") == 1);
    shared.wait([&] { return shared.closed == 1; });
    CHECK(shared.close_code == 4002);
    try {
        looked_up.send_text("too late");
        CHECK(false);
    } catch (const wsc::Error &e) {
        CHECK(e.code() == WSC_NO_SUCH_SOCKET);
    }
    try {
        looked_up.close(4003, "too late");
        CHECK(false);
    } catch (const wsc::Error &e) {
        CHECK(e.code() == WSC_NO_SUCH_SOCKET);
    }
    server.reset();

    // A connection handler that throws refuses its socket: the client sees 1011, the server's
    // closed callback runs once.
    Shared refusal;
    wsc::Connector refuser(
        wsc::Config()
            .listener("127.0.0.1", 0)
            .on_inbound_connection([](wsc::ConnectorRef, const wsc::SocketRef &) {
                throw std::runtime_error("the connection flow failed");
            })
            .on_socket_closed([&](wsc::ConnectorRef, const wsc::SocketRef &, uint16_t code, std::string_view) {
                refusal.update([&] { refusal.closed++, refusal.close_code = code; });
            }));
    wsc::Connector refused{wsc::Config().on_socket_closed(
        [&](wsc::ConnectorRef, const wsc::SocketRef &, uint16_t code, std::string_view) {
            refusal.update([&] { refusal.client_got.emplace_back(std::to_string(code)); });
        })};
    refused.open_outbound("ws://127.0.0.1:" + std::to_string(refuser.port()) + "/");
    refusal.wait([&] { return refusal.closed == 1 && refusal.client_got.size() == 1; });
    CHECK(refusal.close_code == 1011 && refusal.client_got[0] == "1011");

    // Pull mode through the wrapper.
    wsc::Connector puller(wsc::Config().listener("127.0.0.1", 0));
    CHECK(!puller.next_event(std::chrono::milliseconds(0)));
    wsc::Connector opener{wsc::Config()};
    opener.open_outbound("ws://127.0.0.1:" + std::to_string(puller.port()) + "/pull");
    auto event = puller.next_event(std::chrono::seconds(10));
    CHECK(event && event->trigger() == WSC_TRIGGER_INBOUND_CONNECTION);
    CHECK(event->socket().path() == "/pull");
    CHECK(puller.is_running() && !puller.local_addr().empty());

    wsc::set_log_handler([](wsc_log_level, std::string_view, std::string_view) {}, WSC_LOG_WARN);
    wsc::set_log_handler(nullptr);
    CHECK(wsc::version() == WSC_VERSION);
    std::cout << "test_wrapper: ok\n";
    return 0;
}
