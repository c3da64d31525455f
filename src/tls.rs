//! rustls configurations built from PEM, and the stream type that is plain TCP or TLS.

use crate::config::{ClientConfig, Identity, Pem, ServerTls};
use crate::error::{Error, ErrorKind, Result};
use crate::tcp::Tcp;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

fn tls_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Tls, message)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_certs(pem: &Pem, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = pem.load(what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| tls_error(format!("{what}: invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(tls_error(format!(
            "{what}: no certificate found in the PEM"
        )));
    }
    Ok(certs)
}

fn load_key(pem: &Pem, what: &str) -> Result<PrivateKeyDer<'static>> {
    let bytes = pem.load(what)?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| tls_error(format!("{what}: no usable private key in the PEM: {e}")))
}

fn load_identity(
    identity: &Identity,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    Ok((
        load_certs(&identity.cert_chain, "certificate chain")?,
        load_key(&identity.private_key, "private key")?,
    ))
}

fn root_store(extra: Option<&Pem>, with_web_roots: bool) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    if with_web_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(pem) = extra {
        for cert in load_certs(pem, "CA certificates")? {
            roots
                .add(cert)
                .map_err(|e| tls_error(format!("CA certificate rejected: {e}")))?;
        }
    }
    Ok(roots)
}

/// The listener's TLS configuration.
pub(crate) fn server_config(tls: &ServerTls) -> Result<Arc<rustls::ServerConfig>> {
    let (certs, key) = load_identity(&tls.identity)?;
    let provider = provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let roots = Arc::new(root_store(Some(ca), false)?);
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| tls_error(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        tls_error(format!(
            "certificate and key do not make a server identity: {e}"
        ))
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The outbound sockets' TLS configuration.
pub(crate) fn client_config(client: &ClientConfig) -> Result<Arc<rustls::ClientConfig>> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?;
    let builder = if client.dangerous_skip_certificate_verification {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        builder.with_root_certificates(root_store(client.extra_ca.as_ref(), true)?)
    };
    let mut config = match &client.identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            let (certs, key) = load_identity(identity)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| tls_error(format!("client certificate and key: {e}")))?
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The server name to verify for `host` (a DNS name or an IP address, brackets stripped).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .map_err(|_| Error::invalid(format!("{host:?} is not a valid TLS server name")))
}

/// Accepts every server certificate; behind `dangerous_skip_certificate_verification`.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A socket's byte stream: plain TCP, or TLS on either side.
pub(crate) enum IoStream {
    Plain(Tcp),
    ServerTls(Box<tokio_rustls::server::TlsStream<Tcp>>),
    ClientTls(Box<tokio_rustls::client::TlsStream<Tcp>>),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            IoStream::Plain($s) => $e,
            IoStream::ServerTls($s) => $e,
            IoStream::ClientTls($s) => $e,
        }
    };
}

impl AsyncRead for IoStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for IoStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            IoStream::Plain(s) => s.is_write_vectored(),
            IoStream::ServerTls(s) => s.is_write_vectored(),
            IoStream::ClientTls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Describes a TLS handshake failure in words a user can act on.
pub(crate) fn describe_tls_failure(e: &io::Error) -> String {
    let inner = e
        .get_ref()
        .map(|inner| inner.to_string())
        .unwrap_or_else(|| e.to_string());
    format!("TLS handshake failed: {inner}")
}

/// The subject of a DER certificate as `CN=...,O=...` (RFC 4514 order reversed as usual for
/// display: most specific first is not attempted; attributes appear in certificate order).
/// Malformed certificates give `None` rather than an error: the TLS layer already verified it.
pub(crate) fn certificate_subject(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, certificate, _) = der::read(cert.as_ref())?;
    let (_, tbs, _) = der::read(certificate)?;
    let mut rest = tbs;
    let (tag, _, after) = der::read(rest)?;
    if tag == 0xa0 {
        rest = after; // explicit version
    }
    // serialNumber, signature, issuer, validity, then subject.
    for _ in 0..4 {
        rest = der::read(rest)?.2;
    }
    let (_, subject, _) = der::read(rest)?;
    let mut parts = Vec::new();
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (_, set, next) = der::read(rdns)?;
        rdns = next;
        let mut attributes = set;
        while !attributes.is_empty() {
            let (_, pair, next) = der::read(attributes)?;
            attributes = next;
            let (_, oid, value) = der::read(pair)?;
            let (_, value, _) = der::read(value)?;
            parts.push(format!(
                "{}={}",
                der::attribute_name(oid),
                String::from_utf8_lossy(value)
            ));
        }
    }
    Some(parts.join(","))
}

/// Just enough DER to walk a certificate's subject.
mod der {
    /// Reads one TLV: (tag, contents, rest).
    pub(super) fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, input) = input.split_first()?;
        let (&first, mut input) = input.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || input.len() < count {
                return None;
            }
            let len = input[..count]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            input = &input[count..];
            len
        };
        if input.len() < len {
            return None;
        }
        Some((tag, &input[..len], &input[len..]))
    }

    /// The short name of a distinguished-name attribute OID, or its dotted form.
    pub(super) fn attribute_name(oid: &[u8]) -> String {
        match oid {
            [0x55, 0x04, 0x03] => "CN".into(),
            [0x55, 0x04, 0x06] => "C".into(),
            [0x55, 0x04, 0x07] => "L".into(),
            [0x55, 0x04, 0x08] => "ST".into(),
            [0x55, 0x04, 0x0a] => "O".into(),
            [0x55, 0x04, 0x0b] => "OU".into(),
            _ => {
                let mut arcs = Vec::new();
                if let Some((&first, rest)) = oid.split_first() {
                    arcs.push((first / 40).to_string());
                    arcs.push((first % 40).to_string());
                    let mut value: u64 = 0;
                    for &b in rest {
                        value = (value << 7) | u64::from(b & 0x7f);
                        if b & 0x80 == 0 {
                            arcs.push(value.to_string());
                            value = 0;
                        }
                    }
                }
                arcs.join(".")
            }
        }
    }
}
