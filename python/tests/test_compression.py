"""permessage-deflate against the independent `websockets` library, which compresses by default:
as its server and as its client, with its parameters and ours, and the negotiated extension read
on the socket (`Socket.extensions`, `Socket.compression`)."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Iterator

import pytest
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
)

import wsconnector

from conftest import WAIT, Peer, Recorder, connect


def json_text(size: int) -> str:
    """JSON-like text of `size` characters: what chat and price feeds send."""
    quotes = []
    seq = 0
    while sum(len(q) for q in quotes) < size:
        quotes.append(json.dumps({"symbol": f"S{seq % 37}", "bid": seq % 997 / 10, "seq": seq}))
        seq += 1
    return ",".join(quotes)[:size]


def echoing(**settings: Any) -> Iterator[tuple[wsconnector.Connector, Recorder]]:
    """A listener that echoes every message on its socket, with `settings`."""
    recorder = Recorder()
    connector = wsconnector.Connector(host="127.0.0.1", port=0, **settings)
    recorder.register(connector)
    connector.on_inbound_message(
        lambda socket, message: (socket.send(message), recorder.queue.put(("inbound", socket, message)))
    )
    with connector:
        yield connector, recorder


@pytest.fixture
def compressing() -> Iterator[tuple[wsconnector.Connector, Recorder]]:
    yield from echoing(compression=True)


def negotiated(client: Any) -> PerMessageDeflate:
    (extension,) = client.protocol.extensions
    assert isinstance(extension, PerMessageDeflate)
    return extension


def test_a_websockets_client_negotiates_compression_with_the_listener(
    compressing: tuple[wsconnector.Connector, Recorder],
) -> None:
    server, recorder = compressing
    with connect(server) as client:
        extension = negotiated(client)
        _, socket = recorder.next("connection")
        assert socket.extensions == "permessage-deflate"
        assert client.response.headers["Sec-WebSocket-Extensions"] == "permessage-deflate"
        assert socket.compression == {
            "server_no_context_takeover": False,
            "client_no_context_takeover": False,
            "server_max_window_bits": None,
            "client_max_window_bits": None,
        }
        assert extension.remote_max_window_bits == 15
        for size in (10, 2048, 16 * 1024, 200_000):
            text = json_text(size)
            client.send(text)
            assert client.recv(timeout=WAIT) == text
            client.send(text.encode())
            assert client.recv(timeout=WAIT) == text.encode()
        # The figures: payload bytes as sent, what compression left of them on the wire.
        figures = server.metrics()
        sent = sum(len(json_text(size)) for size in (10, 2048, 16 * 1024, 200_000))
        assert figures.bytes_out == {"text": sent, "binary": sent}
        assert figures.bytes_in == figures.bytes_out
        # Below the threshold (64 bytes) our 10-byte messages leave plain.
        assert figures.compressed_messages_out == 6
        assert 0 < figures.compressed_bytes_out < sent // 3
        assert figures.compressed_messages_in >= 6
        assert 0 < figures.compressed_bytes_in < sent // 3


def test_compression_is_off_by_default(server: wsconnector.Connector, recorder: Recorder) -> None:
    with connect(server) as client:
        assert client.protocol.extensions == []
        _, socket = recorder.next("connection")
        assert socket.extensions is None and socket.compression is None


@pytest.mark.parametrize(
    "offer",
    [
        dict(server_no_context_takeover=True, client_no_context_takeover=True),
        dict(server_max_window_bits=10, client_max_window_bits=9),
        dict(
            server_no_context_takeover=True,
            client_no_context_takeover=False,
            server_max_window_bits=9,
            client_max_window_bits=True,
        ),
    ],
)
def test_the_listener_takes_the_parameters_a_websockets_client_asks_for(
    compressing: tuple[wsconnector.Connector, Recorder], offer: dict[str, Any]
) -> None:
    server, recorder = compressing
    factory = ClientPerMessageDeflateFactory(**offer)
    with connect(server, extensions=[factory], compression=None) as client:
        extension = negotiated(client)
        _, socket = recorder.next("connection")
        params = socket.compression
        assert params["server_no_context_takeover"] == offer.get("server_no_context_takeover", False)
        assert extension.remote_no_context_takeover == params["server_no_context_takeover"]
        assert extension.remote_max_window_bits == (params["server_max_window_bits"] or 15)
        for size in (100, 4096, 70_000):
            text = json_text(size)
            for _ in range(3):
                client.send(text)
                assert client.recv(timeout=WAIT) == text


def test_the_listener_asks_a_websockets_client_for_what_it_prefers() -> None:
    for server, recorder in echoing(
        compression=True,
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=11,
        client_max_window_bits=10,
    ):
        with connect(server) as client:
            extension = negotiated(client)
            assert extension.remote_no_context_takeover and extension.local_no_context_takeover
            assert (extension.remote_max_window_bits, extension.local_max_window_bits) == (11, 10)
            _, socket = recorder.next("connection")
            assert socket.extensions == (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                "server_max_window_bits=11; client_max_window_bits=10"
            )
            text = json_text(30_000)
            client.send(text)
            assert client.recv(timeout=WAIT) == text


def test_an_outbound_socket_negotiates_with_a_websockets_server(recorder: Recorder) -> None:
    peer = Peer()  # websockets compresses by default: 12-bit windows both ways
    try:
        client = wsconnector.Connector(compression=True)
        recorder.register(client)
        with client:
            socket_id = client.open_outbound(peer.url())
            request = peer.requests.get(timeout=WAIT)
            assert request.headers["Sec-WebSocket-Extensions"] == (
                "permessage-deflate; client_max_window_bits"
            )
            (socket,) = client.sockets()
            assert socket.compression == {
                "server_no_context_takeover": False,
                "client_no_context_takeover": False,
                "server_max_window_bits": 12,
                "client_max_window_bits": 12,
            }
            assert socket.extensions == (
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
            )
            for size in (10, 2048, 16 * 1024, 200_000):
                text = json_text(size)
                client.send(socket_id, text)
                assert recorder.next("outbound")[2] == text
            # Per open: not offered.
            client.open_outbound(peer.url(), compression=False)
            assert "Sec-WebSocket-Extensions" not in peer.requests.get(timeout=WAIT).headers
    finally:
        peer.close()


def test_a_websockets_server_without_compression_declines(recorder: Recorder) -> None:
    peer = Peer(compression=None)
    try:
        client = wsconnector.Connector(outbound_compression=True)
        recorder.register(client)
        with client:
            socket_id = client.open_outbound(peer.url())
            (socket,) = client.sockets()
            assert socket.compression is None and socket.extensions is None
            client.send(socket_id, "plain")
            assert recorder.next("outbound")[2] == "plain"
    finally:
        peer.close()


def test_a_broadcast_reaches_websockets_clients_of_every_kind(
    compressing: tuple[wsconnector.Connector, Recorder],
) -> None:
    server, recorder = compressing
    offers: list[dict[str, Any]] = [
        dict(compression=None),
        dict(),
        dict(
            extensions=[ClientPerMessageDeflateFactory(server_no_context_takeover=True)],
            compression=None,
        ),
        dict(
            extensions=[
                ClientPerMessageDeflateFactory(
                    server_no_context_takeover=True, server_max_window_bits=10
                )
            ],
            compression=None,
        ),
    ]
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(server, **offer)) for offer in offers]
        for _ in clients:
            recorder.next("connection")
        for round in range(3):
            text = json_text(20_000 + round)
            assert server.broadcast(text).delivered == len(clients)
            for client in clients:
                assert client.recv(timeout=WAIT) == text


def test_paths_and_opens_decide_for_themselves(recorder: Recorder) -> None:
    with wsconnector.Connector(
        host="127.0.0.1",
        port=0,
        paths={"/deflate": {"compression": True}, "/plain": None},
    ) as server:
        with connect(server, "/deflate") as client:
            assert len(client.protocol.extensions) == 1
        with connect(server, "/plain") as client:
            assert client.protocol.extensions == []


def test_a_window_size_outside_the_rfc_is_refused_by_name() -> None:
    with pytest.raises(wsconnector.InvalidArgumentError, match="client_max_window_bits"):
        wsconnector.Connector(client_max_window_bits=16)
    assert wsconnector.CloseCode.MANDATORY_EXTENSION == 1010
