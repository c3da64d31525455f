//! Outbound sockets through an HTTP proxy: a CONNECT tunnel (for `ws://` and `wss://` alike)
//! with optional basic credentials, and the hosts reached without it. The proxy comes from the
//! client settings, or from the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) only when
//! the settings say so.

use super::handshake::{basic_credentials, read_response, send_head};
use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind, Result};
use http::Uri;
use tokio::net::TcpStream;

/// One HTTP proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    host: String,
    port: u16,
    /// The `Proxy-Authorization` value, with credentials.
    authorization: Option<String>,
}

impl Proxy {
    /// `http://[user:password@]host[:port]`; `credentials` (user, password) replace the URL's.
    fn parse(url: &str, credentials: Option<(&str, &str)>, setting: &str) -> Result<Self> {
        let invalid = |why: &str| Error::invalid(format!("{setting} {url:?} {why}"));
        let uri: Uri = url
            .trim()
            .parse()
            .map_err(|e| invalid(&format!("is not a valid URL: {e}")))?;
        match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => {}
            Some("https") => {
                return Err(invalid("is an https:// proxy; only http:// is supported"))
            }
            _ => return Err(invalid("must start with http://")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("has no host"))?;
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("has no host"))?;
        let from_url = authority
            .as_str()
            .rsplit_once('@')
            .map(|(userinfo, _)| userinfo.split_once(':').unwrap_or((userinfo, "")));
        Ok(Proxy {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: uri.port_u16().unwrap_or(80),
            authorization: credentials
                .or(from_url)
                .map(|(user, password)| basic_credentials(user, password)),
        })
    }
}

/// The proxies of a connector's outbound sockets, resolved once at start.
#[derive(Debug, Default)]
pub(crate) struct Proxies {
    /// For `ws://`.
    plain: Option<Proxy>,
    /// For `wss://`.
    secure: Option<Proxy>,
    /// Hosts reached without a proxy (lower case, no leading dot).
    no_proxy: Vec<String>,
}

impl Proxies {
    /// The client settings' proxy, or the environment's when the settings say so.
    pub(crate) fn new(client: &ClientConfig) -> Result<Self> {
        Proxies::resolve(client, |name| std::env::var(name).ok())
    }

    /// [`Proxies::new`] with the environment read through `env`.
    fn resolve(client: &ClientConfig, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let credentials = (!client.proxy_username.is_empty()).then_some((
            client.proxy_username.as_str(),
            client.proxy_password.as_str(),
        ));
        let mut no_proxy: Vec<String> = client
            .no_proxy
            .iter()
            .filter_map(|h| no_proxy_entry(h))
            .collect();
        if !client.proxy.is_empty() {
            let proxy = Proxy::parse(&client.proxy, credentials, "proxy")?;
            return Ok(Proxies {
                plain: Some(proxy.clone()),
                secure: Some(proxy),
                no_proxy,
            });
        }
        if !client.proxy_from_environment {
            return Ok(Proxies::default());
        }
        // The lower-case name first, as curl reads them.
        let var = |name: &str| {
            env(&name.to_ascii_lowercase())
                .or_else(|| env(name))
                .filter(|v| !v.trim().is_empty())
        };
        let from_env = |name: &str| {
            var(name)
                .map(|url| Proxy::parse(&url, credentials, name))
                .transpose()
        };
        if let Some(list) = var("NO_PROXY") {
            no_proxy.extend(list.split(',').filter_map(no_proxy_entry));
        }
        Ok(Proxies {
            plain: from_env("HTTP_PROXY")?,
            secure: from_env("HTTPS_PROXY")?,
            no_proxy,
        })
    }

    /// The proxy to reach `host` through, if any.
    pub(super) fn for_host(&self, secure: bool, host: &str) -> Option<&Proxy> {
        let proxy = if secure { &self.secure } else { &self.plain }.as_ref()?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let bypassed = self.no_proxy.iter().any(|entry| {
            entry == "*"
                || host == *entry
                || host
                    .strip_suffix(entry.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        });
        (!bypassed).then_some(proxy)
    }
}

/// A `no_proxy` entry as it is compared: trimmed, lower case, without a leading dot or
/// brackets; `None` when empty.
fn no_proxy_entry(entry: &str) -> Option<String> {
    let entry = entry
        .trim()
        .trim_start_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    (!entry.is_empty()).then_some(entry)
}

impl Proxy {
    /// The proxy's host and port, to connect to.
    pub(super) fn address(&self) -> (&str, u16) {
        (&self.host, self.port)
    }
}

/// Asks the proxy, over `tcp` connected to it, for a tunnel to `host:port` (`CONNECT`); the
/// stream is the tunnel once the proxy answered 2xx. A refusal is a `Connectivity` error with
/// the proxy's status (407: it wants credentials, or refused them).
pub(super) async fn tunnel(
    mut tcp: TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<TcpStream> {
    let authority = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut headers = vec![("Host".to_owned(), authority.clone())];
    if let Some(authorization) = &proxy.authorization {
        headers.push(("Proxy-Authorization".to_owned(), authorization.clone()));
    }
    send_head(&mut tcp, &format!("CONNECT {authority} HTTP/1.1"), &headers).await?;
    let mut buf = Vec::with_capacity(1024);
    let response = read_response(&mut tcp, &mut buf, "proxy").await?;
    if !(200..300).contains(&response.status) {
        return Err(Error::with_status(
            ErrorKind::Connectivity,
            response.status,
            format!(
                "the proxy {}:{} refused to tunnel to {authority}: HTTP {} {}",
                proxy.host, proxy.port, response.status, response.reason
            ),
        ));
    }
    if buf.len() > response.head_len {
        return Err(Error::new(
            ErrorKind::Protocol,
            "the proxy sent data after its answer to CONNECT",
        ));
    }
    Ok(tcp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(configure: impl FnOnce(&mut ClientConfig)) -> ClientConfig {
        let mut client = ClientConfig::default();
        configure(&mut client);
        client
    }

    #[test]
    fn the_proxy_setting_serves_both_schemes_but_not_the_hosts_it_skips() {
        let proxies = Proxies::resolve(
            &client(|c| {
                c.proxy = "http://user:pw@proxy.example:3128".into();
                c.no_proxy = vec![".internal.example".into(), "10.0.0.1".into()];
            }),
            |_| Some("http://ignored:1".into()),
        )
        .unwrap();
        let proxy = proxies.for_host(true, "feed.example").unwrap();
        assert_eq!((proxy.host.as_str(), proxy.port), ("proxy.example", 3128));
        assert_eq!(
            proxy.authorization.as_deref(),
            Some(basic_credentials("user", "pw").as_str())
        );
        assert!(proxies.for_host(false, "feed.example").is_some());
        assert!(proxies.for_host(false, "a.internal.example").is_none());
        assert!(proxies.for_host(false, "INTERNAL.example").is_none());
        assert!(proxies.for_host(false, "xinternal.example").is_some());
        assert!(proxies.for_host(false, "10.0.0.1").is_none());
    }

    #[test]
    fn the_environment_counts_only_when_the_settings_say_so() {
        let env = |name: &str| match name {
            "https_proxy" => Some("http://secure-proxy:8443".to_owned()),
            "HTTP_PROXY" => Some("http://plain-proxy".to_owned()),
            "NO_PROXY" => Some("localhost, .corp".to_owned()),
            _ => None,
        };
        let ignored = Proxies::resolve(&ClientConfig::default(), env).unwrap();
        assert!(ignored.for_host(true, "feed.example").is_none());
        let proxies = Proxies::resolve(&client(|c| c.proxy_from_environment = true), env).unwrap();
        assert_eq!(
            proxies.for_host(true, "feed.example").unwrap().host,
            "secure-proxy"
        );
        let plain = proxies.for_host(false, "feed.example").unwrap();
        assert_eq!((plain.host.as_str(), plain.port), ("plain-proxy", 80));
        assert!(proxies.for_host(true, "localhost").is_none());
        assert!(proxies.for_host(true, "git.corp").is_none());
        let e = Proxies::resolve(&client(|c| c.proxy = "https://p".into()), env).unwrap_err();
        assert!(e.message().contains("only http://"), "{e}");
        let e = Proxies::resolve(&client(|c| c.proxy = "p:80".into()), env).unwrap_err();
        assert!(e.message().contains("proxy"), "{e}");
    }
}
