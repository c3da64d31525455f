"""wss:// both ways, with certificates made at test time (trustme, and `cryptography` where a
subject must be exactly so): a TLS listener (files and PEM text), mutual TLS with the client's
certificate and its RFC 4514 subject, outbound sockets to a `websockets` TLS server, and the
failures."""

from __future__ import annotations

import datetime
import pathlib
import queue
import ssl
from typing import Any, Iterator

import pytest
import trustme
import websockets.sync.client
from conftest import WAIT, Peer, Recorder
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
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
            der = socket.peer_certificate
            assert der == ssl.PEM_cert_to_DER_cert(client_cert.cert_chain_pems[0].bytes().decode())
            subject = x509.load_der_x509_certificate(der).subject
            assert socket.peer_certificate_subject == subject.rfc4514_string()
            assert "CN=alice" in socket.peer_certificate_subject
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
    ca: trustme.CA, server_cert: trustme.LeafCert, tls_peer: Peer
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
        socket = connector.socket(socket_id)
        assert socket.scheme == "wss"
        # An outbound socket's peer certificate is the server's.
        server_pem = server_cert.cert_chain_pems[0].bytes().decode()
        assert socket.peer_certificate == ssl.PEM_cert_to_DER_cert(server_pem)
        subject = x509.load_der_x509_certificate(socket.peer_certificate).subject
        assert socket.peer_certificate_subject == subject.rfc4514_string()


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


class ClientCA:
    """A CA that issues client certificates with exactly the subject asked for."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wsconnector client CA")])
        self.cert = (
            self._builder(name, self.key.public_key())
            .issuer_name(name)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @staticmethod
    def _builder(subject: x509.Name, key: Any) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )

    def issue(self, subject: x509.Name, directory: pathlib.Path) -> tuple[x509.Certificate, str]:
        """A client certificate for `subject`; the file that holds it and its key."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            self._builder(subject, key.public_key())
            .issuer_name(self.cert.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        path = directory / f"client-{cert.serial_number}.pem"
        path.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert, str(path)


def name(*attributes: tuple[x509.ObjectIdentifier, str, _ASN1Type | None]) -> x509.Name:
    """A name of (type, value, string type or None for the default) attributes, each its own
    RDN. The string type goes through cryptography's private `_type`: no public API makes a
    BMPString or UniversalString."""
    return x509.Name(
        [
            x509.NameAttribute(oid, value, _type=kind)
            if kind is not None
            else x509.NameAttribute(oid, value)
            for oid, value, kind in attributes
        ]
    )


CN, O = NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        # Two subjects that once both read CN=alice,O=Admins.
        (name((CN, "alice,O=Admins", None)), r"CN=alice\,O=Admins"),
        (name((CN, "alice", None), (O, "Admins", None)), "O=Admins,CN=alice"),
        (name((CN, "Zoë 日本", _ASN1Type.BMPString)), "CN=Zoë 日本"),
        (name((CN, "𝄞 clef", _ASN1Type.UniversalString)), "CN=𝄞 clef"),
        (name((CN, '#a "b"+c;<d>\\e ', None)), r'CN=\#a \"b\"\+c\;\<d\>\\e\ '),
        # A multi-valued RDN, after a plain one.
        (
            x509.Name(
                [
                    x509.RelativeDistinguishedName([x509.NameAttribute(O, "Org")]),
                    x509.RelativeDistinguishedName(
                        [x509.NameAttribute(CN, "a"), x509.NameAttribute(NameOID.USER_ID, "b")]
                    ),
                ]
            ),
            "CN=a+UID=b,O=Org",
        ),
    ],
)
def test_the_client_certificate_and_its_rfc_4514_subject_reach_the_hook_and_the_socket(
    ca: trustme.CA,
    server_cert: trustme.LeafCert,
    tmp_path: pathlib.Path,
    subject: x509.Name,
    expected: str,
) -> None:
    client_ca = ClientCA()
    client_cert, client_file = client_ca.issue(subject, tmp_path)
    der = client_cert.public_bytes(serialization.Encoding.DER)
    assert subject.rfc4514_string() == expected  # cryptography writes it the same way
    hook_saw: queue.Queue[tuple[bytes | None, str | None]] = queue.Queue()

    def authorize(request: wsconnector.AuthRequest) -> bool:
        hook_saw.put((request.peer_certificate, request.peer_certificate_subject))
        return True

    recorder = Recorder()
    connector = wsconnector.Connector(
        host="127.0.0.1",
        port=0,
        tls_cert=b"".join(blob.bytes() for blob in server_cert.cert_chain_pems),
        tls_key=server_cert.private_key_pem.bytes(),
        tls_client_ca=client_ca.pem,
    )
    recorder.register(connector)
    connector.authorize(authorize)
    context = client_context(ca)
    context.load_cert_chain(client_file)
    with connector, wss_connect(connector, context):
        socket = recorder.next("connection")[1]
        assert hook_saw.get(timeout=WAIT) == (der, expected)
        assert socket.peer_certificate == der
        assert x509.load_der_x509_certificate(socket.peer_certificate).subject == subject
        assert socket.peer_certificate_subject == expected
