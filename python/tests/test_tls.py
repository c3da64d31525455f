"""wss:// both ways, with certificates made at test time (trustme): a TLS listener (files and
PEM text), mutual TLS, outbound sockets to a `websockets` TLS server, and the failures."""

from __future__ import annotations

import pathlib
import ssl
from typing import Any, Iterator

import pytest
import trustme
import websockets.sync.client
from conftest import WAIT, Peer, Recorder
from websockets.sync.server import ServerConnection

import wsconnector


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("127.0.0.1", "localhost")


def client_context(ca: trustme.CA, cert: trustme.LeafCert | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return context


def wss_connect(connector: wsconnector.Connector, context: ssl.SSLContext) -> Any:
    return websockets.sync.client.connect(
        f"wss://127.0.0.1:{connector.port}/secure", ssl=context, proxy=None, open_timeout=WAIT
    )


def test_listener_with_certificate_files(
    ca: trustme.CA, server_cert: trustme.LeafCert, tmp_path: pathlib.Path
) -> None:
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    server_cert.private_key_pem.write_to_path(str(key_file))
    cert_file.write_bytes(b"".join(blob.bytes() for blob in server_cert.cert_chain_pems))
    recorder = Recorder()
    connector = wsconnector.Connector(
        host="127.0.0.1", port=0, tls_cert=cert_file, tls_key=str(key_file)
    )
    recorder.register(connector)
    with connector, wss_connect(connector, client_context(ca)) as ws:
        socket = recorder.next("connection")[1]
        assert socket.scheme == "wss"
        assert socket.uri.startswith("wss://")
        assert socket.peer_certificate_subject is None
        connector.send(socket.id, "secret")
        assert ws.recv(timeout=WAIT) == "secret"


def test_mutual_tls_listener_reports_the_client_certificate(
    ca: trustme.CA, server_cert: trustme.LeafCert
) -> None:
    client_cert = ca.issue_cert("client.example", common_name="alice")
    recorder = Recorder()
    connector = wsconnector.Connector(
        host="127.0.0.1",
        port=0,
        tls_cert=b"".join(blob.bytes() for blob in server_cert.cert_chain_pems).decode(),
        tls_key=server_cert.private_key_pem.bytes(),
        tls_client_ca=ca.cert_pem.bytes().decode(),
    )
    recorder.register(connector)
    with connector:
        with wss_connect(connector, client_context(ca, client_cert)):
            socket = recorder.next("connection")[1]
            assert "alice" in (socket.peer_certificate_subject or "")
        with pytest.raises(Exception):  # no client certificate: the TLS handshake fails
            with wss_connect(connector, client_context(ca)) as ws:
                ws.recv(timeout=WAIT)


@pytest.fixture
def tls_peer(ca: trustme.CA, server_cert: trustme.LeafCert) -> Iterator[Peer]:
    """An echoing `websockets` server over TLS that asks for (but does not need) a client
    certificate, and reports the one it got."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_OPTIONAL

    def handler(connection: ServerConnection) -> None:
        peer_cert = connection.socket.getpeercert()  # type: ignore[attr-defined]
        subject = dict(pair[0] for pair in peer_cert["subject"]) if peer_cert else {}
        connection.send(f"hello {subject.get('commonName', 'anonymous')}")
        for message in connection:
            connection.send(message)

    peer = Peer(handler, ssl=context)
    yield peer
    peer.close()


def test_outbound_wss_trusts_the_extra_ca_and_presents_a_client_certificate(
    ca: trustme.CA, tls_peer: Peer
) -> None:
    client_cert = ca.issue_cert("client.example", common_name="bob")
    recorder = Recorder()
    connector = wsconnector.Connector(
        extra_ca=ca.cert_pem.bytes(),
        client_cert=b"".join(blob.bytes() for blob in client_cert.cert_chain_pems),
        client_key=client_cert.private_key_pem.bytes(),
    )
    recorder.register(connector)
    with connector:
        socket_id = connector.open_outbound(tls_peer.url("/q", scheme="wss"))
        assert recorder.next("outbound")[2] == "hello bob"
        assert connector.socket(socket_id).scheme == "wss"


def test_outbound_wss_fails_on_an_untrusted_certificate_unless_told_not_to_check(
    tls_peer: Peer,
) -> None:
    with wsconnector.Connector() as connector:
        with pytest.raises(wsconnector.TlsError):
            connector.open_outbound(tls_peer.url(scheme="wss"))
    recorder = Recorder()
    careless = wsconnector.Connector(dangerous_skip_certificate_verification=True)
    recorder.register(careless)
    with careless:
        careless.open_outbound(tls_peer.url(scheme="wss"))
        assert recorder.next("outbound")[2] == "hello anonymous"


def test_tls_settings_are_checked(tmp_path: pathlib.Path) -> None:
    with pytest.raises(wsconnector.InvalidArgumentError, match="tls_key"):
        wsconnector.Connector(port=0, tls_cert="-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(wsconnector.InvalidArgumentError, match="client_key"):
        wsconnector.Connector(client_cert=tmp_path / "c.pem")
    with pytest.raises(wsconnector.InvalidArgumentError, match="tls_client_ca"):
        wsconnector.Connector(port=0, tls_client_ca=tmp_path / "ca.pem")
    missing = wsconnector.Connector(
        port=0, tls_cert=tmp_path / "missing.pem", tls_key=tmp_path / "missing.key"
    )
    with pytest.raises(wsconnector.TlsError, match="missing.pem"):
        missing.start()
