"""What the listener lets through: allowed origins (the listener's and a path's, as
``PathOptions``), ``require_origin``, ``max_connections_per_ip``, paths decoded once with
dot-segments and encoded slashes refused; and the handshake headers an outbound socket may not
set. The peers are the `websockets` library and raw sockets."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import websockets.exceptions
from conftest import WAIT, Peer, Recorder, connect

import wsconnector


def status_of(connector: wsconnector.Connector, path: str, extra: str = "") -> int:
    """The HTTP status of an upgrade request for `path` (raw, so the path goes out as written)."""
    with socket.create_connection(("127.0.0.1", connector.port), timeout=WAIT) as raw:
        raw.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n".encode()
        )
        answer = b""
        while b"\r\n" not in answer:
            chunk = raw.recv(1024)
            assert chunk, "the listener closed without an answer"
            answer += chunk
    return int(answer.split()[1])


def refused_status(connector: wsconnector.Connector, path: str = "/", **kwargs: Any) -> int:
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        connect(connector, path, **kwargs)
    return refused.value.response.status_code


def test_origins_not_allowed_get_403_before_the_hook() -> None:
    hooked: list[str] = []

    def hook(request: wsconnector.AuthRequest) -> bool:
        hooked.append(request.path)
        return True

    connector = wsconnector.Connector(
        host="127.0.0.1",
        port=0,
        allowed_origins=["https://app.example.com", "*.example.org"],
        paths={
            "/chat": None,
            "/admin": {"groups": ["staff"], "allowed_origins": ["https://admin.example.com"]},
        },
        authorize=hook,
    )
    recorder = Recorder()
    recorder.register(connector)
    with connector:
        with connect(connector, "/chat", origin="https://app.example.com"):
            recorder.next("connection")
        with connect(connector, "/chat", origin="http://www.example.org"):
            recorder.next("connection")
        with connect(connector, "/chat"):  # no Origin: not a browser
            recorder.next("connection")
        assert refused_status(connector, "/chat", origin="https://evil.example") == 403
        assert refused_status(connector, "/admin", origin="https://app.example.com") == 403
        with connect(connector, "/admin", origin="https://admin.example.com"):
            assert recorder.next("connection")[1].groups == ["staff"]
    assert hooked == ["/chat", "/chat", "/chat", "/admin"]


def test_require_origin_refuses_clients_without_one() -> None:
    with wsconnector.Connector(host="127.0.0.1", port=0, require_origin=True) as connector:
        assert refused_status(connector) == 403
        with connect(connector, origin="https://any.example"):
            pass


def test_a_client_address_past_its_limit_gets_429_at_once() -> None:
    with wsconnector.Connector(host="127.0.0.1", port=0, max_connections_per_ip=1) as connector:
        with connect(connector):
            # Refused at accept: the answer comes without a request being sent.
            with socket.create_connection(("127.0.0.1", connector.port), timeout=WAIT) as raw:
                answer = b""
                while chunk := raw.recv(1024):
                    answer += chunk
            assert answer.startswith(b"HTTP/1.1 429 "), answer


def test_paths_are_decoded_once_and_tricks_get_400(recorder: Recorder) -> None:
    connector = wsconnector.Connector(host="127.0.0.1", port=0, paths=["/chat/*"])
    recorder.register(connector)
    with connector:
        with connect(connector, "/ch%61t/room%201"):
            assert recorder.next("connection")[1].path == "/chat/room 1"
        for path in ["/chat/../admin", "/chat/%2e%2e/admin", "/chat/a%2Fb", "/chat/%zz"]:
            assert status_of(connector, path) == 400, path


def test_path_options_are_checked() -> None:
    with pytest.raises(wsconnector.InvalidArgument, match="allowed_origins"):
        wsconnector.Connector(port=0, paths={"/a": {"allowed_origins": ["https://a.com/x"]}})
    with pytest.raises(wsconnector.InvalidArgument, match="'groups', 'allowed_origins' and 'compression'"):
        wsconnector.Connector(port=0, paths={"/a": {"group": ["x"]}})
    with pytest.raises(wsconnector.InvalidArgument, match="max_connections_per_ip"):
        wsconnector.Connector(port=0, max_connections_per_ip=0)


def test_outbound_headers_cannot_take_over_the_handshake(peer: Peer) -> None:
    with pytest.raises(wsconnector.InvalidArgument, match="default_headers"):
        wsconnector.Connector(default_headers={"Sec-WebSocket-Protocol": "chat"})
    with wsconnector.Connector() as client:
        for name in ["Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Protocol"]:
            with pytest.raises(wsconnector.InvalidArgument, match=name):
                client.open_outbound(peer.url(), headers={name: "x"})
        assert peer.requests.empty(), "no request went out"
        client.open_outbound(peer.url(), headers={"Host": "chat.example"})
        request = peer.requests.get(timeout=WAIT)
        assert request.headers.get_all("Host") == ["chat.example"]
