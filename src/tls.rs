//! rustls configurations built from PEM, and the stream type that is plain TCP or TLS.

use crate::config::{ClientConfig, Identity, ServerTls, TrustedRoots};
use crate::error::{Error, ErrorKind, Result};
use crate::pem::Pem;
use crate::tcp::Tcp;
use bytes::Bytes;
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

/// The roots a verifier trusts: `trusted` (none: no public roots, for the listener's client CA)
/// and the `extra` CAs.
fn root_store(extra: Option<&Pem>, trusted: Option<TrustedRoots>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match trusted {
        Some(TrustedRoots::Bundled) => {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        Some(TrustedRoots::System) => {
            let system = rustls_native_certs::load_native_certs();
            if system.certs.is_empty() {
                return Err(tls_error(format!(
                    "trusted_roots \"system\": the operating system's certificate store has no \
                     certificate{}",
                    system
                        .errors
                        .first()
                        .map_or(String::new(), |e| format!(" ({e})"))
                )));
            }
            // Certificates the store holds that rustls cannot use are skipped, as browsers do.
            roots.add_parsable_certificates(system.certs);
        }
        Some(TrustedRoots::ExtraCaOnly) | None => {}
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
            let roots = Arc::new(root_store(Some(ca), None)?);
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
        builder.with_root_certificates(root_store(
            client.extra_ca.as_ref(),
            Some(client.trusted_roots),
        )?)
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

impl IoStream {
    /// Ready when a read may find something; pending (the task to wake registered) when a
    /// plain stream has nothing. A TLS stream is always ready: it may hold decrypted bytes.
    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            IoStream::Plain(tcp) => tcp.poll_read_ready(cx),
            IoStream::ServerTls(_) | IoStream::ClientTls(_) => Poll::Ready(Ok(())),
        }
    }
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
    let advice = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(advice_for);
    match advice {
        Some(advice) => format!("TLS handshake failed: {inner}: {advice}"),
        None => format!("TLS handshake failed: {inner}"),
    }
}

/// What to do about the certificate failures a newcomer meets first (a test certificate).
fn advice_for(error: &rustls::Error) -> Option<&'static str> {
    use rustls::CertificateError;
    let rustls::Error::InvalidCertificate(certificate) = error else {
        return None;
    };
    match certificate {
        CertificateError::UnknownIssuer => Some(
            "the server's certificate is signed by a CA this client does not trust (self-signed, \
             or a private CA): add that CA's certificate with the extra_ca setting",
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            Some(
                "connect with a name the certificate holds, or give the server a certificate \
                 whose subjectAltName holds the name you connect to",
            )
        }
        // rustls reports webpki's CaUsedAsEndEntity as an "other" error.
        CertificateError::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            Some(
                "the server presents a CA certificate as its own: give it a leaf certificate \
                 signed by a CA (with basicConstraints=CA:FALSE), and clients that CA in \
                 extra_ca (the README's test certificates show how)",
            )
        }
        _ => None,
    }
}

/// The leaf certificate a TLS peer presented (a client with mutual TLS, or a server), with its
/// subject read once.
#[derive(Debug, Clone)]
pub(crate) struct PeerCertificate {
    /// The certificate as DER, as it came in the handshake.
    pub der: Bytes,
    /// Its subject as RFC 4514 text; `None` when it does not parse (possible only when
    /// verification is dangerously off).
    pub subject: Option<String>,
}

impl PeerCertificate {
    /// The leaf certificate of a TLS stream's peer, if it presented one.
    pub(crate) fn of(stream: &IoStream) -> Option<Self> {
        let leaf = match stream {
            IoStream::Plain(_) => None,
            IoStream::ServerTls(tls) => tls.get_ref().1.peer_certificates()?.first(),
            IoStream::ClientTls(tls) => tls.get_ref().1.peer_certificates()?.first(),
        }?;
        Some(PeerCertificate {
            der: Bytes::copy_from_slice(leaf.as_ref()),
            subject: certificate_subject(leaf.as_ref()),
        })
    }
}

/// The subject of a DER certificate as an RFC 4514 string: the last RDN first (as
/// `openssl x509 -nameopt RFC2253` and Python cryptography's `Name.rfc4514_string()` print it;
/// Python ssl's `getpeercert()` lists the RDNs the other way round, in certificate order),
/// RDNs joined by `,`, the attributes of a multi-valued RDN by `+`. CN, L, ST, O, OU, C,
/// STREET, DC and UID go by name with their text escaped; any other attribute, or a value
/// that is no text, goes by dotted OID or name with `#` and the hex of its DER encoding.
fn certificate_subject(der: &[u8]) -> Option<String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let rdns: Vec<_> = certificate.subject().iter().collect();
    let mut out = String::new();
    for (i, rdn) in rdns.into_iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, attribute) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            rfc4514::attribute(&mut out, attribute)?;
        }
    }
    Some(out)
}

/// RFC 4514 section 2: one attribute of a distinguished name as text.
mod rfc4514 {
    use std::fmt::Write;
    use x509_parser::asn1_rs::{Any, Tag, ToDer};
    use x509_parser::oid_registry::{
        Oid, OID_DOMAIN_COMPONENT, OID_USERID, OID_X509_COMMON_NAME, OID_X509_COUNTRY_NAME,
        OID_X509_LOCALITY_NAME, OID_X509_ORGANIZATIONAL_UNIT, OID_X509_ORGANIZATION_NAME,
        OID_X509_STATE_OR_PROVINCE_NAME, OID_X509_STREET_ADDRESS,
    };
    use x509_parser::x509::AttributeTypeAndValue;

    /// The attribute types RFC 4514 section 3 names.
    const NAMES: [(Oid<'static>, &str); 9] = [
        (OID_X509_COMMON_NAME, "CN"),
        (OID_X509_LOCALITY_NAME, "L"),
        (OID_X509_STATE_OR_PROVINCE_NAME, "ST"),
        (OID_X509_ORGANIZATION_NAME, "O"),
        (OID_X509_ORGANIZATIONAL_UNIT, "OU"),
        (OID_X509_COUNTRY_NAME, "C"),
        (OID_X509_STREET_ADDRESS, "STREET"),
        (OID_DOMAIN_COMPONENT, "DC"),
        (OID_USERID, "UID"),
    ];

    /// Appends `type=value`; `None` when the value cannot be encoded back (malformed).
    pub(super) fn attribute(out: &mut String, attribute: &AttributeTypeAndValue<'_>) -> Option<()> {
        let value = attribute.attr_value();
        let name = NAMES
            .iter()
            .find(|(oid, _)| oid == attribute.attr_type())
            .map(|(_, name)| *name);
        match (name, name.and_then(|_| text(value))) {
            (Some(name), Some(text)) => {
                out.push_str(name);
                out.push('=');
                escape(out, &text);
            }
            (name, _) => {
                match name {
                    Some(name) => out.push_str(name),
                    None => out.push_str(&attribute.attr_type().to_id_string()),
                }
                out.push_str("=#");
                for byte in value.to_der_vec().ok()? {
                    let _ = write!(out, "{byte:02x}");
                }
            }
        }
        Some(())
    }

    /// The value as text, decoded by its string type; `None` for other types (or bytes that
    /// are not valid in theirs).
    pub(super) fn text(value: &Any<'_>) -> Option<String> {
        let data = value.data;
        if value.header.is_constructed() {
            return None;
        }
        match value.tag() {
            Tag::Utf8String
            | Tag::PrintableString
            | Tag::Ia5String
            | Tag::NumericString
            | Tag::VisibleString => std::str::from_utf8(data).ok().map(str::to_owned),
            // UCS-2 / UTF-16, big-endian.
            Tag::BmpString if data.len() % 2 == 0 => char::decode_utf16(
                data.chunks_exact(2)
                    .map(|pair| u16::from_be_bytes([pair[0], pair[1]])),
            )
            .collect::<Result<String, _>>()
            .ok(),
            // UCS-4, big-endian.
            Tag::UniversalString if data.len() % 4 == 0 => data
                .chunks_exact(4)
                .map(|quad| {
                    char::from_u32(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
                })
                .collect(),
            _ => None,
        }
    }

    /// Appends `value` with the escapes RFC 4514 section 2.4 requires (`"+,;<>\`, a leading
    /// `#` or space, a trailing space, NUL), and control characters as `\XX` too, so that the
    /// string is one line of plain text.
    pub(super) fn escape(out: &mut String, value: &str) {
        let last = value.chars().count().saturating_sub(1);
        for (i, c) in value.chars().enumerate() {
            match c {
                '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                '#' if i == 0 => out.push_str("\\#"),
                ' ' if i == 0 || i == last => out.push_str("\\ "),
                c if c.is_control() => {
                    let mut utf8 = [0; 4];
                    for byte in c.encode_utf8(&mut utf8).bytes() {
                        let _ = write!(out, "\\{byte:02X}");
                    }
                }
                c => out.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rfc4514::{escape, text};
    use super::{root_store, TrustedRoots};
    use crate::Pem;
    use x509_parser::asn1_rs::{Any, Header, Tag};

    /// `extra_ca_only` trusts the private CA and nothing else; `bundled` adds the web's roots.
    #[test]
    fn only_the_extra_ca_is_trusted_when_asked() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = Pem::Inline(params.self_signed(&key).unwrap().pem());
        let only = root_store(Some(&ca), Some(TrustedRoots::ExtraCaOnly)).unwrap();
        assert_eq!(only.len(), 1);
        let bundled = root_store(Some(&ca), Some(TrustedRoots::Bundled)).unwrap();
        assert_eq!(bundled.len(), webpki_roots::TLS_SERVER_ROOTS.len() + 1);
    }

    #[test]
    fn values_are_escaped_as_rfc_4514_asks() {
        let escaped = |value: &str| {
            let mut out = String::new();
            escape(&mut out, value);
            out
        };
        assert_eq!(escaped(""), "");
        assert_eq!(escaped(" "), "\\ ");
        assert_eq!(escaped("  a  "), "\\  a \\ ");
        assert_eq!(escaped("#a#"), "\\#a#");
        assert_eq!(escaped("a=b,c+d"), "a=b\\,c\\+d");
        assert_eq!(escaped("nul\0 tab\t é"), "nul\\00 tab\\09 é");
        assert_eq!(escaped("\u{85}"), "\\C2\\85");
    }

    #[test]
    fn string_types_decode_or_give_way_to_hex() {
        let value = |tag, data: &'static [u8]| text(&Any::new(Header::new_simple(tag), data));
        assert_eq!(value(Tag::BmpString, b"\0A\x00\xe9").as_deref(), Some("Aé"));
        assert_eq!(value(Tag::BmpString, b"\0A\0"), None, "odd length");
        assert_eq!(value(Tag::BmpString, b"\xd8\x00"), None, "lone surrogate");
        assert_eq!(
            value(Tag::UniversalString, b"\0\x01\xd1\x1e").as_deref(),
            Some("\u{1d11e}")
        );
        assert_eq!(
            value(Tag::UniversalString, b"\0\x11\0\0"),
            None,
            "past U+10FFFF"
        );
        assert_eq!(value(Tag::Utf8String, b"\xff"), None);
        assert_eq!(value(Tag::OctetString, b"a"), None, "not a string type");
    }
}
