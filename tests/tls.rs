//! wss:// on both sides with certificates made at test time: trust, refusal of untrusted or
//! mismatched certificates, the dangerous opt-out, mutual TLS, the peer's certificate and its
//! subject (RFC 4514), PEM from files.

mod common;

use common::*;
use std::sync::{mpsc, Arc, Mutex};
use wsconnector::{
    AuthDecision, AuthRequest, Config, Connector, ErrorKind, Identity, OutboundOptions, Pem,
    ServerTls, SocketType, Trigger,
};

fn tls_server(pki: &TestPki, client_ca: bool) -> (Connector, Events) {
    start_server(|c| {
        let mut tls = ServerTls::new(
            Pem::Inline(pki.cert_pem.clone()),
            Pem::Inline(pki.key_pem.clone()),
        );
        if client_ca {
            tls.client_ca = Some(Pem::Inline(pki.ca_pem.clone()));
        }
        c.listener.as_mut().unwrap().tls = Some(tls);
    })
}

fn client(configure: impl FnOnce(&mut Config)) -> (Connector, Events) {
    let mut config = Config::default();
    configure(&mut config);
    start_builder(Connector::builder(config))
}

fn wss(server: &Connector, host: &str, path: &str) -> String {
    format!("wss://{host}:{}{path}", server.local_addr().unwrap().port())
}

#[test]
fn wss_both_ways_with_a_trusted_ca() {
    let pki = TestPki::new(&["localhost"]);
    let (server, server_events) = tls_server(&pki, false);
    let (client, client_events) =
        client(|c| c.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone())));
    let id = client
        .open_outbound(
            &wss(&server, "localhost", "/secure?x=1"),
            OutboundOptions::new(),
        )
        .unwrap();
    let outbound = client.socket(id.as_str()).unwrap();
    assert_eq!((outbound.scheme(), outbound.is_secure()), ("wss", true));
    // An outbound socket's peer certificate is the server's.
    assert_eq!(
        outbound.peer_certificate().as_deref(),
        Some(der(&pki.cert_pem))
    );
    assert_eq!(
        outbound.peer_certificate_subject().as_deref(),
        Some("CN=wsconnector test server")
    );
    assert!(outbound.uri().starts_with("wss://localhost:"));

    let inbound = server_events
        .expect(Trigger::InboundConnection)
        .socket()
        .clone();
    assert_eq!((inbound.scheme(), inbound.path()), ("wss", "/secure"));
    assert!(
        inbound.uri().starts_with("wss://localhost:") && inbound.uri().ends_with("/secure?x=1"),
        "{}",
        inbound.uri()
    );
    assert_eq!(inbound.peer_certificate_subject().as_deref(), None);
    assert_eq!(
        inbound.peer_certificate(),
        None,
        "the client presented none"
    );

    client.send(id.as_str(), "over tls").unwrap();
    assert_eq!(server_events.text(Trigger::InboundMessage), "over tls");
    server.send(inbound.id().as_str(), "back over tls").unwrap();
    assert_eq!(
        client_events.text(Trigger::OutboundMessage),
        "back over tls"
    );
}

#[test]
fn an_independent_tls_client_reaches_the_wss_listener() {
    let pki = TestPki::new(&["localhost"]);
    let (server, events) = tls_server(&pki, false);
    let rt = runtime();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types_certs(&pki.ca_pem) {
        roots.add(cert).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut ws = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .unwrap();
        tokio_tungstenite::client_async(wss(&server, "localhost", "/x"), tls)
            .await
            .unwrap()
            .0
    });
    let id = events
        .expect(Trigger::InboundConnection)
        .socket()
        .id()
        .clone();
    server.send(id.as_str(), "hello tls").unwrap();
    rt.block_on(async {
        use futures_util::StreamExt;
        let message = ws.next().await.unwrap().unwrap();
        assert_eq!(message.to_text().unwrap(), "hello tls");
    });
}

/// The DER of the first certificate of `pem`.
fn der(pem: &str) -> &'static [u8] {
    rustls_pki_types_certs(pem)[0].to_vec().leak()
}

fn rustls_pki_types_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(Result::unwrap)
        .collect()
}

#[test]
fn untrusted_and_mismatched_certificates_are_refused_unless_verification_is_dangerously_off() {
    let pki = TestPki::new(&["localhost"]);
    let (server, server_events) = tls_server(&pki, false);

    let (untrusting, _) = client(|_| {});
    let e = untrusting
        .open_outbound(&wss(&server, "localhost", "/"), OutboundOptions::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(
        e.message().to_lowercase().contains("unknownissuer") || e.message().contains("issuer"),
        "{e}"
    );
    assert!(
        e.message()
            .contains("add that CA's certificate with the extra_ca setting"),
        "the message says what to do: {e}"
    );

    let (trusting, _) = client(|c| c.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone())));
    let e = trusting
        .open_outbound(&wss(&server, "127.0.0.1", "/"), OutboundOptions::new())
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Tls,
        "the certificate is for localhost, not 127.0.0.1: {e}"
    );
    assert!(
        e.message().contains("localhost") && e.message().contains("subjectAltName"),
        "the message names what the certificate holds, and what to do: {e}"
    );

    let (reckless, _) = client(|c| c.client.dangerous_skip_certificate_verification = true);
    reckless
        .open_outbound(&wss(&server, "127.0.0.1", "/"), OutboundOptions::new())
        .unwrap();
    assert_eq!(
        server_events
            .expect(Trigger::InboundConnection)
            .socket()
            .scheme(),
        "wss"
    );
    assert_eq!(
        server.socket_count(),
        1,
        "the refused handshakes made no socket"
    );
}

#[test]
fn a_ca_certificate_used_as_the_servers_own_is_refused_with_advice() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&key).unwrap();
    let (server, _) = start_server(|c| {
        c.listener.as_mut().unwrap().tls = Some(ServerTls::new(
            Pem::Inline(ca.pem()),
            Pem::Inline(key.serialize_pem()),
        ))
    });
    let (trusting, _) = client(|c| c.client.extra_ca = Some(Pem::Inline(ca.pem())));
    let e = trusting
        .open_outbound(&wss(&server, "localhost", "/"), OutboundOptions::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    assert!(
        e.message().contains("CaUsedAsEndEntity")
            && e.message().contains("leaf certificate")
            && e.message().contains("basicConstraints=CA:FALSE"),
        "{e}"
    );
}

#[test]
fn mutual_tls_requires_a_client_certificate_and_reports_its_subject() {
    let pki = TestPki::new(&["localhost"]);
    let (server, events) = tls_server(&pki, true);
    let (cert, key) = pki.client_cert("client-1");
    let (with_cert, _) = client(|c| {
        c.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone()));
        c.client.identity = Some(Identity {
            cert_chain: Pem::Inline(cert),
            private_key: Pem::Inline(key),
        });
    });
    with_cert
        .open_outbound(&wss(&server, "localhost", "/m"), OutboundOptions::new())
        .unwrap();
    let socket = events.expect(Trigger::InboundConnection).socket().clone();
    assert_eq!(
        socket.peer_certificate_subject().as_deref(),
        Some("O=Test Org,CN=client-1"),
        "RFC 4514: the last RDN first"
    );

    let (without_cert, _) = client(|c| c.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone())));
    let e = without_cert
        .open_outbound(&wss(&server, "localhost", "/m"), OutboundOptions::new())
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Tls | ErrorKind::Connectivity | ErrorKind::Protocol
        ),
        "{e}"
    );
    assert_eq!(server.socket_count(), 1);
    assert_eq!(
        with_cert
            .sockets(&wsconnector::SocketFilter::all())
            .unwrap()[0]
            .socket_type(),
        SocketType::Outbound
    );
}

#[test]
fn pem_from_files_and_bad_pem_is_a_tls_error_at_start() {
    let pki = TestPki::new(&["localhost"]);
    let dir = std::env::temp_dir().join(format!("wsc-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &pki.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &pki.key_pem).unwrap();
    let mut config = Config::with_listener("127.0.0.1", 0);
    config.listener.as_mut().unwrap().tls = Some(ServerTls::new(
        Pem::File(dir.join("cert.pem")),
        Pem::File(dir.join("key.pem")),
    ));
    let (server, _) = start_builder(Connector::builder(config.clone()));
    let (client, _) = client(|c| c.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone())));
    client
        .open_outbound(&wss(&server, "localhost", "/"), OutboundOptions::new())
        .unwrap();

    config.listener.as_mut().unwrap().tls = Some(ServerTls::new(
        Pem::Inline("not pem".into()),
        Pem::File(dir.join("key.pem")),
    ));
    let e = Connector::builder(config.clone()).start().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Tls, "{e}");
    config.listener.as_mut().unwrap().tls = Some(ServerTls::new(
        Pem::File(dir.join("missing.pem")),
        Pem::File(dir.join("key.pem")),
    ));
    let e = Connector::builder(config).start().err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Tls);
    assert!(e.message().contains("missing.pem"), "{e}");
    let mut bad_ca = Config::default();
    bad_ca.client.extra_ca = Some(Pem::Inline("garbage".into()));
    assert_eq!(
        Connector::builder(bad_ca).start().err().unwrap().kind(),
        ErrorKind::Tls
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_plain_client_gets_nothing_from_a_tls_listener() {
    let pki = TestPki::new(&["localhost"]);
    let (server, events) = tls_server(&pki, false);
    let rt = runtime();
    let plain = rt.block_on(connect_with(&url(&server, "/"), &[]));
    assert!(plain.is_err());
    events.assert_none(std::time::Duration::from_millis(200));
    assert_eq!(server.socket_count(), 0);
}

/// The client certificate's subject is RFC 4514 text that tells apart subjects that once read
/// the same (a CN holding `,O=Admins` and a CN with an O), decodes BMPString and
/// UniversalString values, and shows other attributes as `#` and hex; the hook sees the
/// certificate (DER) and its subject before the 101, the socket keeps them.
#[test]
fn client_certificate_subjects_are_unambiguous_rfc_4514_and_the_der_is_there() {
    use rcgen::{string::BmpString, string::UniversalString, DistinguishedName, DnType, DnValue};
    let pki = TestPki::new(&["localhost"]);
    let (seen_tx, seen) = mpsc::channel();
    let seen_tx = Mutex::new(seen_tx);
    let mut config = Config::with_listener("127.0.0.1", 0);
    let mut tls = ServerTls::new(
        Pem::Inline(pki.cert_pem.clone()),
        Pem::Inline(pki.key_pem.clone()),
    );
    tls.client_ca = Some(Pem::Inline(pki.ca_pem.clone()));
    config.listener.as_mut().unwrap().tls = Some(tls);
    let (server, events) = start_builder(Connector::builder(config).authorizer(
        move |request: &AuthRequest| {
            let seen = (
                request.peer_certificate.as_ref().map(|der| der.to_vec()),
                request.peer_certificate_subject.clone(),
            );
            seen_tx.lock().unwrap().send(seen).unwrap();
            AuthDecision::accept()
        },
    ));

    let subject = |attributes: Vec<(DnType, DnValue)>| {
        let mut name = DistinguishedName::new();
        for (kind, value) in attributes {
            name.push(kind, value);
        }
        name
    };
    let text = |s: &str| DnValue::Utf8String(s.into());
    let email = DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]);
    let cases = [
        (
            subject(vec![(DnType::CommonName, text("alice,O=Admins"))]),
            r"CN=alice\,O=Admins",
        ),
        (
            subject(vec![
                (DnType::CommonName, text("alice")),
                (DnType::OrganizationName, text("Admins")),
            ]),
            "O=Admins,CN=alice",
        ),
        (
            subject(vec![(
                DnType::CommonName,
                DnValue::BmpString(BmpString::try_from("Zoë 日本").unwrap()),
            )]),
            "CN=Zoë 日本",
        ),
        (
            subject(vec![(
                DnType::CommonName,
                DnValue::UniversalString(UniversalString::try_from("𝄞 clef").unwrap()),
            )]),
            "CN=𝄞 clef",
        ),
        (
            subject(vec![(DnType::CommonName, text(r#"#a "b"+c;<d>\e "#))]),
            r#"CN=\#a \"b\"\+c\;\<d\>\\e\ "#,
        ),
        (
            subject(vec![
                (DnType::CountryName, text("FR")),
                (DnType::CommonName, text(" x\u{1}")),
                (email, text("a@b")),
            ]),
            r"1.2.840.113549.1.9.1=#0c03614062,CN=\ x\01,C=FR",
        ),
    ];
    let mut clients = Vec::new(); // kept open, so that no closed event comes in between
    for (name, expected) in cases {
        let (cert, key) = pki.client_cert_with(name);
        let (client, _) = client(|c| {
            c.client.extra_ca = Some(Pem::Inline(pki.ca_pem.clone()));
            c.client.identity = Some(Identity {
                cert_chain: Pem::Inline(cert.clone()),
                private_key: Pem::Inline(key),
            });
        });
        client
            .open_outbound(&wss(&server, "localhost", "/m"), OutboundOptions::new())
            .unwrap();
        let socket = events.expect(Trigger::InboundConnection).socket().clone();
        assert_eq!(socket.peer_certificate_subject().as_deref(), Some(expected));
        assert_eq!(socket.peer_certificate().as_deref(), Some(der(&cert)));
        let (hook_der, hook_subject) = seen.recv_timeout(WAIT).unwrap();
        assert_eq!(hook_der.as_deref(), Some(der(&cert)));
        assert_eq!(hook_subject.as_deref(), Some(expected));
        clients.push(client);
    }
}
