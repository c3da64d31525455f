//! The `Connector(...)` keyword settings, read into the core's `Config`. Defaults and range
//! checks are the core's; this module only maps names and Python values, and every error
//! names the setting it is about.

use crate::args::{opt_seconds, pairs, seconds, strings};
use crate::errors::{invalid, OrRaise};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyMapping, PyString};
use std::path::PathBuf;
use wsconnector::{
    ClusterConfig, Config, Identity, InboundPath, ListenerConfig, MessageRateLimit,
    MessageRatePolicy, Pem, ServerTls, SlowConsumerPolicy,
};

/// Every setting `from_kwargs` reads, the listener's first (exported as `_native.SETTINGS`, so
/// that the tests can hold the `Settings` TypedDict to it).
pub(crate) const SETTINGS: &[&str] = &[
    "host",
    "port",
    "base_path",
    "paths",
    "subprotocols",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "max_connections",
    "max_connections_per_ip",
    "handshake_timeout",
    "idle_timeout",
    "max_handshake_bytes",
    "allowed_origins",
    "require_origin",
    "default_headers",
    "default_query",
    "connect_timeout",
    "client_idle_timeout",
    "extra_ca",
    "client_cert",
    "client_key",
    "dangerous_skip_certificate_verification",
    "max_message_size",
    "send_queue_messages",
    "send_queue_bytes",
    "slow_consumer",
    "ping_interval",
    "pong_timeout",
    "close_timeout",
    "message_rate_limit",
    "message_rate_policy",
    "worker_threads",
    "stop_timeout",
    "event_queue_capacity",
    "event_queue_bytes",
    "cluster",
    "cluster_name",
    "node_name",
    "cluster_password",
    "cluster_timeout",
    "cluster_node_expiry",
];

/// The cluster's settings after `cluster` in `SETTINGS`: they need `cluster` (its URL).
const CLUSTER_ONLY: &[&str] = SETTINGS.split_at(SETTINGS.len() - 5).1;

/// Settings that only a listener has (those after `host` and `port` up to `default_headers`
/// in `SETTINGS`); giving one without `host` or `port` is an error.
const LISTENER_ONLY: &[&str] = SETTINGS.split_at(15).0.split_at(2).1;

/// PEM material given by keyword, gathered until every setting has been read.
#[derive(Default)]
struct Certificates {
    tls_cert: Option<Pem>,
    tls_key: Option<Pem>,
    tls_client_ca: Option<Pem>,
    client_cert: Option<Pem>,
    client_key: Option<Pem>,
}

/// Reads the keyword settings into a validated `Config`. A listener is configured when `host`
/// or `port` is given (`host` defaults to 127.0.0.1, `port` to 0: a free port); without
/// either the connector is client-only. `None` keeps a setting's default, except for
/// `ping_interval`, `idle_timeout` and `client_idle_timeout`, where it turns the feature off.
pub(crate) fn from_kwargs(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Config> {
    let mut config = Config::default();
    let mut listener = ListenerConfig::new("127.0.0.1", 0);
    let mut has_listener = false;
    let mut listener_setting = None;
    let mut pems = Certificates::default();
    let mut cluster = ClusterConfig::new("");
    let mut cluster_setting = None;
    for (key, value) in kwargs.into_iter().flatten() {
        let key = key.extract::<String>()?;
        let name = key.as_str();
        if value.is_none()
            && !matches!(
                name,
                "ping_interval" | "idle_timeout" | "client_idle_timeout"
            )
        {
            check_known(name)?;
            continue;
        }
        if !value.is_none() {
            if let Some(setting) = LISTENER_ONLY.iter().find(|s| **s == name) {
                listener_setting.get_or_insert(*setting);
            }
            if let Some(setting) = CLUSTER_ONLY.iter().find(|s| **s == name) {
                cluster_setting.get_or_insert(*setting);
            }
        }
        let v = &value;
        match name {
            "host" => {
                listener.host = string(name, v)?;
                has_listener = true;
            }
            "port" => {
                listener.port = v
                    .extract()
                    .map_err(|_| invalid(py, "port must be an integer from 0 to 65535"))?;
                has_listener = true;
            }
            "base_path" => listener.base_path = string(name, v)?,
            "paths" => listener.paths = served_paths(v)?,
            "subprotocols" => listener.subprotocols = strings(name, v)?,
            "tls_cert" => pems.tls_cert = Some(pem(name, v)?),
            "tls_key" => pems.tls_key = Some(pem(name, v)?),
            "tls_client_ca" => pems.tls_client_ca = Some(pem(name, v)?),
            "max_connections" => listener.max_connections = count(name, v)?,
            "max_connections_per_ip" => listener.max_connections_per_ip = Some(count(name, v)?),
            "handshake_timeout" => listener.handshake_timeout = seconds(name, v)?,
            "idle_timeout" => listener.idle_timeout = opt_seconds(name, Some(v))?,
            "max_handshake_bytes" => listener.max_handshake_bytes = count(name, v)?,
            "allowed_origins" => listener.allowed_origins = strings(name, v)?,
            "require_origin" => listener.require_origin = boolean(name, v)?,
            "default_headers" => config.client.default_headers = pairs(name, Some(v))?,
            "default_query" => config.client.default_query = pairs(name, Some(v))?,
            "connect_timeout" => config.client.connect_timeout = Some(seconds(name, v)?),
            "client_idle_timeout" => config.client.idle_timeout = opt_seconds(name, Some(v))?,
            "extra_ca" => config.client.extra_ca = Some(pem(name, v)?),
            "client_cert" => pems.client_cert = Some(pem(name, v)?),
            "client_key" => pems.client_key = Some(pem(name, v)?),
            "dangerous_skip_certificate_verification" => {
                config.client.dangerous_skip_certificate_verification = boolean(name, v)?;
            }
            "max_message_size" => config.socket.max_message_size = count(name, v)?,
            "send_queue_messages" => config.socket.send_queue_messages = count(name, v)?,
            "send_queue_bytes" => config.socket.send_queue_bytes = count(name, v)?,
            "slow_consumer" => config.socket.slow_consumer = slow_consumer(v)?,
            "ping_interval" => config.socket.ping_interval = opt_seconds(name, Some(v))?,
            "pong_timeout" => config.socket.pong_timeout = seconds(name, v)?,
            "close_timeout" => config.socket.close_timeout = seconds(name, v)?,
            "message_rate_limit" => config.socket.message_rate_limit = Some(rate_limit(v)?),
            "message_rate_policy" => config.socket.message_rate_policy = rate_policy(v)?,
            "worker_threads" => config.worker_threads = Some(count(name, v)?),
            "stop_timeout" => config.stop_timeout = seconds(name, v)?,
            "event_queue_capacity" => config.event_queue_capacity = count(name, v)?,
            "event_queue_bytes" => config.event_queue_bytes = count(name, v)?,
            "cluster" => cluster.url = string(name, v)?,
            "cluster_name" => cluster.name = string(name, v)?,
            "node_name" => cluster.node_name = Some(string(name, v)?),
            "cluster_password" => cluster.password = Some(string(name, v)?),
            "cluster_timeout" => cluster.timeout = seconds(name, v)?,
            "cluster_node_expiry" => cluster.node_expiry = seconds(name, v)?,
            _ => return Err(unknown(name)),
        }
        check_after(py, name, &config, &listener)?;
    }
    if !cluster.url.is_empty() {
        config.cluster = Some(cluster);
        config.validate().or_raise(py)?;
    } else if let Some(setting) = cluster_setting {
        return Err(invalid(
            py,
            format!("{setting} is a cluster setting: give cluster= (the backplane's redis:// URL)"),
        ));
    }
    if has_listener {
        listener.tls = server_tls(py, &mut pems)?;
        config.listener = Some(listener);
    } else if let Some(setting) = listener_setting {
        return Err(invalid(
            py,
            format!("{setting} is a listener setting: give host= and/or port= to listen"),
        ));
    }
    config.client.identity = pair_of(
        py,
        "client_cert",
        "client_key",
        pems.client_cert,
        pems.client_key,
    )?;
    Ok(config)
}

/// Runs the core's checks after each setting, so that an error can name the setting that
/// caused it (every setting before it passed). The listener is checked even when none will
/// run: a listener setting without a listener is an error of its own.
fn check_after(
    py: Python<'_>,
    name: &str,
    config: &Config,
    listener: &ListenerConfig,
) -> PyResult<()> {
    let mut trial = config.clone();
    trial.listener = Some(listener.clone());
    trial.validate().map_err(|error| {
        let message = error.message();
        if message.contains(name) {
            crate::errors::to_py(py, &error)
        } else {
            invalid(py, format!("{name}: {message}"))
        }
    })
}

fn check_known(name: &str) -> PyResult<()> {
    if SETTINGS.contains(&name) {
        Ok(())
    } else {
        Err(unknown(name))
    }
}

fn unknown(name: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "Connector() got an unexpected keyword argument '{name}'"
    ))
}

fn string(name: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    value
        .extract()
        .map_err(|_| invalid(value.py(), format!("{name} must be a string")))
}

fn boolean(name: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    value
        .extract()
        .map_err(|_| invalid(value.py(), format!("{name} must be True or False")))
}

fn count(name: &str, value: &Bound<'_, PyAny>) -> PyResult<usize> {
    value
        .extract()
        .map_err(|_| invalid(value.py(), format!("{name} must be a non-negative integer")))
}

/// PEM text (a string or bytes containing `-----BEGIN`) or the path of a PEM file.
fn pem(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Pem> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return String::from_utf8(bytes.as_bytes().to_vec())
            .map(Pem::Inline)
            .map_err(|_| invalid(value.py(), format!("{name} is not UTF-8 PEM text")));
    }
    if let Ok(text) = value.cast::<PyString>() {
        let text = text.to_cow()?;
        if text.contains("-----BEGIN") {
            return Ok(Pem::Inline(text.into_owned()));
        }
    }
    value.extract::<PathBuf>().map(Pem::File).map_err(|_| {
        invalid(
            value.py(),
            format!("{name} must be PEM text or the path of a PEM file"),
        )
    })
}

/// `paths`: a mapping of pattern to default groups (or to a mapping with `groups` and
/// `allowed_origins`), or patterns alone.
fn served_paths(value: &Bound<'_, PyAny>) -> PyResult<Vec<InboundPath>> {
    if let Ok(mapping) = value.cast::<PyMapping>() {
        let mut paths = Vec::new();
        for item in mapping.items()?.iter() {
            let (pattern, options): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let pattern = string("each key of paths", &pattern)?;
            let name = format!("paths[{pattern:?}]");
            paths.push(match options.cast::<PyMapping>() {
                Ok(options) => path_options(&name, pattern, options)?,
                Err(_) if options.is_none() => InboundPath::new(pattern),
                Err(_) => InboundPath::with_groups(pattern, strings(&name, &options)?),
            });
        }
        return Ok(paths);
    }
    Ok(strings("paths", value)?
        .into_iter()
        .map(InboundPath::new)
        .collect())
}

/// A served path given as `{"groups": ..., "allowed_origins": ...}` (both optional).
fn path_options(
    name: &str,
    pattern: String,
    options: &Bound<'_, PyMapping>,
) -> PyResult<InboundPath> {
    let mut path = InboundPath::new(pattern);
    for item in options.items()?.iter() {
        let (key, value): (String, Bound<'_, PyAny>) = item
            .extract()
            .map_err(|_| invalid(options.py(), format!("the keys of {name} must be strings")))?;
        let field = format!("{name}[{key:?}]");
        match key.as_str() {
            "groups" | "allowed_origins" if value.is_none() => {}
            "groups" => path.default_groups = strings(&field, &value)?,
            "allowed_origins" => path.allowed_origins = strings(&field, &value)?,
            _ => {
                return Err(invalid(
                    options.py(),
                    format!("{name} may hold 'groups' and 'allowed_origins', not {key:?}"),
                ))
            }
        }
    }
    Ok(path)
}

fn slow_consumer(value: &Bound<'_, PyAny>) -> PyResult<SlowConsumerPolicy> {
    let name: String = string("slow_consumer", value)?;
    match name.as_str() {
        "fail" => Ok(SlowConsumerPolicy::Fail),
        "drop_newest" => Ok(SlowConsumerPolicy::DropNewest),
        "drop_oldest" => Ok(SlowConsumerPolicy::DropOldest),
        "close" => Ok(SlowConsumerPolicy::Close),
        other => Err(invalid(
            value.py(),
            format!(
                "slow_consumer must be 'fail', 'drop_newest', 'drop_oldest' or 'close', not {other:?}"
            ),
        )),
    }
}

/// `message_rate_limit`: a `(per_second, burst)` pair of positive integers.
fn rate_limit(value: &Bound<'_, PyAny>) -> PyResult<MessageRateLimit> {
    let (per_second, burst): (u32, u32) = value.extract().map_err(|_| {
        invalid(
            value.py(),
            "message_rate_limit must be a (per_second, burst) pair of non-negative integers",
        )
    })?;
    Ok(MessageRateLimit { per_second, burst })
}

fn rate_policy(value: &Bound<'_, PyAny>) -> PyResult<MessageRatePolicy> {
    let name: String = string("message_rate_policy", value)?;
    match name.as_str() {
        "close" => Ok(MessageRatePolicy::Close),
        "drop" => Ok(MessageRatePolicy::Drop),
        other => Err(invalid(
            value.py(),
            format!("message_rate_policy must be 'close' or 'drop', not {other:?}"),
        )),
    }
}

/// Two settings that go together (a certificate and its key): both or neither.
fn pair_of(
    py: Python<'_>,
    cert_name: &str,
    key_name: &str,
    cert: Option<Pem>,
    key: Option<Pem>,
) -> PyResult<Option<Identity>> {
    match (cert, key) {
        (Some(cert_chain), Some(private_key)) => Ok(Some(Identity {
            cert_chain,
            private_key,
        })),
        (None, None) => Ok(None),
        _ => Err(invalid(
            py,
            format!("{cert_name} and {key_name} go together: give both or neither"),
        )),
    }
}

fn server_tls(py: Python<'_>, pems: &mut Certificates) -> PyResult<Option<ServerTls>> {
    let identity = pair_of(
        py,
        "tls_cert",
        "tls_key",
        pems.tls_cert.take(),
        pems.tls_key.take(),
    )?;
    match (identity, pems.tls_client_ca.take()) {
        (Some(identity), client_ca) => {
            let mut tls = ServerTls::new(identity.cert_chain, identity.private_key);
            tls.client_ca = client_ca;
            Ok(Some(tls))
        }
        (None, Some(_)) => Err(invalid(
            py,
            "tls_client_ca needs tls_cert and tls_key: mutual TLS runs over wss://",
        )),
        (None, None) => Ok(None),
    }
}
