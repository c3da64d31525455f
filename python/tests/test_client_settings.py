"""The client settings through the keyword arguments, against independent peers: `websockets`
servers (one checking basic credentials), a redirector and an HTTP CONNECT proxy written here
on plain sockets; a client base with URI parameters; the outbound connection limit; which roots
wss:// trusts."""

from __future__ import annotations

import base64
import queue
import select
import socket
import threading
from http import HTTPStatus
from typing import Any, Iterator, Optional

import pytest
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection

import wsconnector
from conftest import WAIT, Peer


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Listener:
    """A plain TCP listener on a free port whose connections `serve(conn)` handles, each on a
    thread of its own."""

    def __init__(self, serve: Any) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.heads: list[str] = []
        self._serve = serve
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.socket.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(self, conn), daemon=True).start()

    def close(self) -> None:
        self.socket.close()


def read_head(conn: socket.socket) -> str:
    conn.settimeout(WAIT)
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = conn.recv(1)
        if not byte:
            break
        head += byte
    return head.decode()


def redirector(location: str) -> Listener:
    """Answers every request with 307 to `location`."""

    def serve(listener: Listener, conn: socket.socket) -> None:
        with conn:
            listener.heads.append(read_head(conn))
            conn.sendall(
                f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\n"
                "Content-Length: 0\r\n\r\n".encode()
            )

    return Listener(serve)


def connect_proxy(credentials: Optional[str]) -> Listener:
    """A CONNECT proxy that asks for `Proxy-Authorization: credentials` (407 otherwise), then
    relays bytes both ways."""

    def serve(listener: Listener, conn: socket.socket) -> None:
        with conn:
            head = read_head(conn)
            listener.heads.append(head)
            if credentials and f"Proxy-Authorization: {credentials}\r\n" not in head:
                conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                return
            host, port = head.split()[1].rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=WAIT) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                ends = [conn, upstream]
                while True:
                    ready, _, _ = select.select(ends, [], [], WAIT)
                    if not ready:
                        return
                    for end in ready:
                        data = end.recv(65536)
                        if not data:
                            return
                        (upstream if end is conn else conn).sendall(data)

    return Listener(serve)


@pytest.fixture
def authenticating_peer() -> Iterator[Peer]:
    """A `websockets` server that refuses (401) handshakes without alice's basic credentials."""

    def check(connection: ServerConnection, request: Request) -> Optional[Response]:
        if request.headers.get("Authorization") != basic("alice", "s3cr3t"):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "who are you?\n")
        return None

    p = Peer(process_request=check)
    yield p
    p.close()


def test_a_path_on_the_client_base_with_uri_parameters(peer: Peer) -> None:
    with wsconnector.Connector(
        client_scheme=wsconnector.ClientScheme.WS,
        client_host="127.0.0.1",
        client_port=peer.port,
        client_base_path="/api",
    ) as connector:
        socket_id = connector.open_outbound("/quotes/{symbol}", uri_params={"symbol": "BRK B"})
        assert peer.requests.get(timeout=WAIT).path == "/api/quotes/BRK%20B"
        assert connector.socket(socket_id).path == "/api/quotes/BRK%20B"
        with pytest.raises(wsconnector.InvalidArgumentError, match="{symbol}"):
            connector.open_outbound("/quotes/{symbol}")
        connector.open_outbound(peer.url("/full"))  # a full URL still works
        assert peer.requests.get(timeout=WAIT).path == "/full"


def test_redirects_are_followed_unless_turned_off(peer: Peer) -> None:
    moved = redirector(peer.url("/moved"))
    try:
        with wsconnector.Connector() as connector:
            connector.open_outbound(f"ws://127.0.0.1:{moved.port}/old")
            assert peer.requests.get(timeout=WAIT).path == "/moved"
            assert moved.heads[0].startswith("GET /old HTTP/1.1\r\n")
        with wsconnector.Connector(follow_redirects=False) as connector:
            with pytest.raises(wsconnector.HandshakeError, match="follow_redirects") as error:
                connector.open_outbound(f"ws://127.0.0.1:{moved.port}/old")
            assert error.value.status == 307
    finally:
        moved.close()


def test_a_connect_proxy_with_basic_credentials(peer: Peer) -> None:
    proxy = connect_proxy(basic("alice", "s3cr3t"))
    try:
        with wsconnector.Connector(
            proxy=f"http://127.0.0.1:{proxy.port}",
            proxy_username="alice",
            proxy_password="s3cr3t",
        ) as connector:
            socket_id = connector.open_outbound(peer.url("/tunnelled"))
            assert peer.requests.get(timeout=WAIT).path == "/tunnelled"
            assert proxy.heads[0].startswith(f"CONNECT 127.0.0.1:{peer.port} HTTP/1.1\r\n")
            assert connector.socket(socket_id).remote_address == ("127.0.0.1", proxy.port)
        with wsconnector.Connector(proxy=f"http://127.0.0.1:{proxy.port}") as connector:
            with pytest.raises(wsconnector.ConnectivityError, match="proxy"):
                connector.open_outbound(peer.url("/"))
        with wsconnector.Connector(
            proxy=f"http://127.0.0.1:{proxy.port}", no_proxy=["127.0.0.1"]
        ) as connector:
            connector.open_outbound(peer.url("/direct"))
            assert peer.requests.get(timeout=WAIT).path == "/direct"
            assert len(proxy.heads) == 2, "the proxy saw nothing of it"
    finally:
        proxy.close()


def test_basic_authentication_and_its_refusal(authenticating_peer: Peer) -> None:
    url = authenticating_peer.url("/private")
    with wsconnector.Connector(basic_auth_username="alice", basic_auth_password="s3cr3t") as c:
        c.open_outbound(url)
        assert authenticating_peer.requests.get(timeout=WAIT).headers["Authorization"] == basic(
            "alice", "s3cr3t"
        )
    with wsconnector.Connector(basic_auth_username="alice", basic_auth_password="guess") as c:
        with pytest.raises(wsconnector.BasicAuthenticationError, match="alice") as error:
            c.open_outbound(url)
        assert error.value.status == 401
    with wsconnector.Connector() as c:
        with pytest.raises(wsconnector.HandshakeError):
            c.open_outbound(url)


def test_max_outbound_connections(peer: Peer) -> None:
    closed: queue.Queue[str] = queue.Queue()
    connector = wsconnector.Connector(max_outbound_connections=1)
    connector.on_socket_closed(lambda socket, code, reason: closed.put(socket.id))
    with connector:
        first = connector.open_outbound(peer.url())
        with pytest.raises(wsconnector.LimitExceededError, match="max_outbound_connections"):
            connector.open_outbound(peer.url())
        connector.close(first)
        assert closed.get(timeout=WAIT) == first  # its slot is free before this event
        connector.open_outbound(peer.url())


def test_trusted_roots_extra_ca_only_needs_the_extra_ca() -> None:
    with pytest.raises(wsconnector.InvalidArgumentError, match="extra_ca"):
        wsconnector.Connector(trusted_roots=wsconnector.TrustedRoots.EXTRA_CA_ONLY)
