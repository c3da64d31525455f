//! `trusted_roots = "system"`: the operating system's certificate store, which
//! rustls-native-certs reads from `SSL_CERT_FILE` when it is set. This test points it at a CA
//! made here; it runs in a process of its own (this file has one test), since the variable is
//! the process's.

mod common;

use common::*;
use wsconnector::{Config, Connector, ErrorKind, OutboundOptions, Pem, ServerTls, TrustedRoots};

#[test]
fn the_system_store_is_trusted_when_asked_and_only_then() {
    let pki = TestPki::new(&["localhost"]);
    let store = std::env::temp_dir().join(format!("wsc-system-roots-{}.pem", std::process::id()));
    std::fs::write(&store, &pki.ca_pem).unwrap();
    // Before any thread of this process reads the environment.
    std::env::set_var("SSL_CERT_FILE", &store);
    std::env::remove_var("SSL_CERT_DIR");
    let (server, _) = start_server(|c| {
        c.listener.as_mut().unwrap().tls = Some(ServerTls::new(
            Pem::Inline(pki.cert_pem.clone()),
            Pem::Inline(pki.key_pem.clone()),
        ))
    });
    let url = format!("wss://localhost:{}/", server.local_addr().unwrap().port());
    let start = |roots| {
        let mut config = Config::default();
        config.client.trusted_roots = roots;
        start_builder(Connector::builder(config)).0
    };
    start(TrustedRoots::System)
        .open_outbound(&url, OutboundOptions::new())
        .expect("the system store holds the CA");
    let e = start(TrustedRoots::Bundled)
        .open_outbound(&url, OutboundOptions::new())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Tls);
    std::fs::write(&store, "").unwrap();
    let e = Connector::builder({
        let mut config = Config::default();
        config.client.trusted_roots = TrustedRoots::System;
        config
    })
    .start()
    .err()
    .expect("an empty store is an error at start");
    assert_eq!(e.kind(), ErrorKind::Tls);
    assert!(e.message().contains("system"), "{e}");
    let _ = std::fs::remove_file(&store);
}
