//! The `Connector(...)` keyword settings, read into the core's `Config`. The keywords are the
//! names of the core's settings table (`wsconnector::SETTINGS`): each value is converted by its
//! setting's kind and set with `Config::set`, so a setting added to the table is a keyword
//! here with no change. Only the custom settings have code of their own below (`CUSTOM`).
//! Defaults and range checks are the core's; every error names the setting it is about.

use crate::args::{pairs, seconds, strings};
use crate::errors::invalid;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyMapping, PyString};
use std::path::PathBuf;
use wsconnector::{
    config_fields, ClusterConfig, Config, ErrorKind, Identity, InboundPath, ListenerConfig,
    MessageRateLimit, Pem, ServerTls, SettingInfo, SettingKind, SettingNames, SettingScope,
    SettingValue, SETTINGS,
};

/// The keywords of the custom settings (several values that go together), with the kind each
/// keyword takes. Every other setting is one keyword, its name.
const CUSTOM: &[(&str, &[(&str, SettingKind)])] = &[
    (
        "listener",
        &[("host", SettingKind::Text), ("port", SettingKind::Count)],
    ),
    ("paths", &[("paths", SettingKind::Custom)]),
    (
        "tls",
        &[
            ("tls_cert", SettingKind::Pem),
            ("tls_key", SettingKind::Pem),
        ],
    ),
    (
        "client_identity",
        &[
            ("client_cert", SettingKind::Pem),
            ("client_key", SettingKind::Pem),
        ],
    ),
    (
        "message_rate_limit",
        &[("message_rate_limit", SettingKind::Custom)],
    ),
    ("reconnect", &[("reconnect", SettingKind::Custom)]),
    (
        "cluster",
        &[
            ("cluster", SettingKind::Text),
            ("cluster_name", SettingKind::Text),
            ("node_name", SettingKind::Text),
            ("cluster_password", SettingKind::Text),
            ("cluster_timeout", SettingKind::Duration),
            ("cluster_node_expiry", SettingKind::Duration),
        ],
    ),
];

/// The keywords of a setting, with their kinds: its name and its aliases (each the same
/// setting), or a custom setting's own keywords.
fn keywords(setting: &SettingInfo) -> Vec<(&'static str, SettingKind)> {
    match CUSTOM.iter().find(|(name, _)| *name == setting.name) {
        Some((_, keywords)) => keywords.to_vec(),
        None => setting.names().map(|name| (name, setting.kind)).collect(),
    }
}

/// Adds `SETTINGS`: every keyword `from_kwargs` reads, in the table's order, with the name of
/// its kind (so that the tests can hold the `Settings` TypedDict to it); `SETTING_ALIASES`:
/// each alias with the name of its setting; and `_config_fields`.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let settings = PyDict::new(module.py());
    for (keyword, kind) in SETTINGS.iter().flat_map(keywords) {
        settings.set_item(keyword, kind.name())?;
    }
    module.add("SETTINGS", settings)?;
    let aliases = PyDict::new(module.py());
    for setting in SETTINGS {
        for alias in setting.aliases {
            aliases.set_item(alias, setting.name)?;
        }
    }
    module.add("SETTING_ALIASES", aliases)?;
    module.add_function(wrap_pyfunction!(_config_fields, module)?)
}

/// Every field of the `Config` that these keyword settings make, with its value as text: the
/// test that every field is reachable from Python compares them (not for applications).
#[pyfunction]
#[pyo3(signature = (**kwargs))]
fn _config_fields(
    py: Python<'_>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<(&'static str, String)>> {
    Ok(config_fields(&from_kwargs(py, kwargs)?))
}

/// Reads the keyword settings into a validated `Config`, setting by setting in the table's
/// order. A listener is configured when `host` or `port` is given (`host` defaults to
/// 127.0.0.1, `port` to 0: a free port); without either the connector is client-only, and a
/// listener setting is an error. `None` keeps a setting's default, and turns an optional one
/// off (`ping_interval`, `idle_timeout`, `client_idle_timeout`...).
pub(crate) fn from_kwargs(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Config> {
    if let Some(kwargs) = kwargs {
        for key in kwargs.keys() {
            let key = key.extract::<String>()?;
            if !SETTINGS
                .iter()
                .any(|s| keywords(s).iter().any(|(k, _)| *k == key))
            {
                return Err(PyTypeError::new_err(format!(
                    "Connector() got an unexpected keyword argument '{key}'"
                )));
            }
        }
    }
    let given = |keyword: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
        match kwargs {
            Some(kwargs) => Ok(kwargs.get_item(keyword)?.filter(|v| !v.is_none())),
            None => Ok(None),
        }
    };
    // A setting under two of its names (max_inbound_connections and max_connections): an
    // error naming both, whichever came first.
    let mut names = SettingNames::default();
    for (keyword, _) in SETTINGS.iter().flat_map(keywords) {
        if given(keyword)?.is_some() {
            names
                .note(keyword)
                .map_err(|e| crate::errors::to_py(py, &e))?;
        }
    }
    // Every setting is read into a config with a listener, which stays only if one is asked for.
    let mut config = Config::with_listener("127.0.0.1", 0);
    let mut has_listener = false;
    let mut listener_setting = None;
    for setting in SETTINGS {
        let mut values = Vec::new();
        for (keyword, _) in keywords(setting) {
            values.push((keyword, given(keyword)?));
        }
        let Some((name, value)) = values
            .iter()
            .find_map(|(name, value)| value.as_ref().map(|v| (*name, v)))
        else {
            let off = matches!(
                setting.kind,
                SettingKind::OptionalDuration | SettingKind::OptionalCount
            );
            for (keyword, _) in &values {
                if off && given_as_none(kwargs, keyword)? {
                    set(py, &mut config, keyword, SettingValue::Unset)?;
                }
            }
            continue;
        };
        if setting.scope == SettingScope::Listener && setting.name != "listener" {
            listener_setting.get_or_insert(name);
        }
        if setting.kind == SettingKind::Custom {
            custom(py, setting.name, &values, &mut config)?;
            has_listener |= setting.name == "listener";
        } else {
            set(py, &mut config, name, value_of(setting, name, value)?)?;
        }
        check_after(py, name, &config)?;
    }
    if !has_listener {
        config.listener = None;
        if let Some(setting) = listener_setting {
            return Err(invalid(
                py,
                format!("{setting} is a listener setting: give host= and/or port= to listen"),
            ));
        }
    }
    Ok(config)
}

/// Sets one setting through the core's table. Every setting is given at once here, so a
/// setting that needs another one (`tls_client_ca` needs `tls_cert`) is an argument error.
fn set(py: Python<'_>, config: &mut Config, name: &str, value: SettingValue) -> PyResult<()> {
    config.set(name, value).map_err(|error| match error.kind() {
        ErrorKind::InvalidState => invalid(py, format!("{name}: {}", error.message())),
        _ => crate::errors::to_py(py, &error),
    })
}

/// Whether `keyword` was given as `None`.
fn given_as_none(kwargs: Option<&Bound<'_, PyDict>>, keyword: &str) -> PyResult<bool> {
    match kwargs {
        Some(kwargs) => Ok(kwargs.get_item(keyword)?.is_some_and(|v| v.is_none())),
        None => Ok(false),
    }
}

/// A Python value as the value of a setting of its kind, given as the keyword `name`.
fn value_of(setting: &SettingInfo, name: &str, value: &Bound<'_, PyAny>) -> PyResult<SettingValue> {
    Ok(match setting.kind {
        SettingKind::Bool => SettingValue::Bool(boolean(name, value)?),
        SettingKind::Count | SettingKind::OptionalCount | SettingKind::Bytes => {
            SettingValue::Int(count(name, value)?)
        }
        SettingKind::Duration | SettingKind::OptionalDuration => {
            SettingValue::Duration(seconds(name, value)?)
        }
        SettingKind::Text | SettingKind::Choice(_) => SettingValue::Text(string(name, value)?),
        SettingKind::TextList => SettingValue::Texts(strings(name, value)?),
        SettingKind::Pairs => SettingValue::Pairs(pairs(name, Some(value))?),
        SettingKind::Pem => SettingValue::Pem(pem(name, value)?),
        kind => {
            return Err(invalid(
                value.py(),
                format!(
                    "{name}: settings of kind {} are not supported here",
                    kind.name()
                ),
            ))
        }
    })
}

/// The custom settings: the listener's address, its paths, its TLS identity, the client's,
/// the message rate limit and the reconnect policy. `values` are the setting's keywords with what was given for
/// them (at least one). `config` has a listener while the settings are read.
fn custom(
    py: Python<'_>,
    setting: &str,
    values: &[(&str, Option<Bound<'_, PyAny>>)],
    config: &mut Config,
) -> PyResult<()> {
    let value = |index: usize| {
        values
            .get(index)
            .and_then(|(name, v)| v.as_ref().map(|v| (*name, v)))
    };
    match setting {
        "listener" => {
            let listener = listener(py, config, setting)?;
            if let Some((name, host)) = value(0) {
                listener.host = string(name, host)?;
            }
            if let Some((_, port)) = value(1) {
                listener.port = port
                    .extract()
                    .map_err(|_| invalid(py, "port must be an integer from 0 to 65535"))?;
            }
        }
        "paths" => {
            if let Some((_, paths)) = value(0) {
                listener(py, config, setting)?.paths = served_paths(paths)?;
            }
        }
        "tls" => {
            let identity = pem_pair(py, value(0), value(1), "tls_cert", "tls_key")?;
            listener(py, config, setting)?.tls =
                identity.map(|id| ServerTls::new(id.cert_chain, id.private_key));
        }
        "client_identity" => {
            config.client.identity = pem_pair(py, value(0), value(1), "client_cert", "client_key")?;
        }
        "message_rate_limit" => {
            if let Some((_, limit)) = value(0) {
                config.socket.message_rate_limit = Some(rate_limit(limit)?);
            }
        }
        "reconnect" => {
            if let Some((_, policy)) = value(0) {
                config.client.reconnect = crate::reconnect::client_policy(policy)?;
            }
        }
        "cluster" => {
            let Some((name, url)) = value(0) else {
                let (given, _) = values
                    .iter()
                    .find(|(_, v)| v.is_some())
                    .unwrap_or(&values[0]);
                return Err(invalid(
                    py,
                    format!("{given} is a cluster setting: give cluster= (the backplane's redis:// URL)"),
                ));
            };
            let mut cluster = ClusterConfig::new(string(name, url)?);
            if let Some((name, v)) = value(1) {
                cluster.name = string(name, v)?;
            }
            if let Some((name, v)) = value(2) {
                cluster.node_name = string(name, v)?;
            }
            if let Some((name, v)) = value(3) {
                cluster.password = string(name, v)?;
            }
            if let Some((name, v)) = value(4) {
                cluster.timeout = seconds(name, v)?;
            }
            if let Some((name, v)) = value(5) {
                cluster.node_expiry = seconds(name, v)?;
            }
            config.cluster = Some(cluster);
        }
        other => {
            return Err(invalid(
                py,
                format!("the custom setting {other} has no keywords here"),
            ))
        }
    }
    Ok(())
}

/// The listener the settings are read into (always there while they are read).
fn listener<'c>(
    py: Python<'_>,
    config: &'c mut Config,
    setting: &str,
) -> PyResult<&'c mut ListenerConfig> {
    config
        .listener
        .as_mut()
        .ok_or_else(|| invalid(py, format!("{setting} needs a listener")))
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

/// Runs the core's checks after each setting, so that an error can name the setting that
/// caused it (every setting before it passed). The listener is checked even when none will
/// run: a listener setting without a listener is an error of its own.
fn check_after(py: Python<'_>, name: &str, config: &Config) -> PyResult<()> {
    config.validate().map_err(|error| {
        let message = error.message();
        if message.contains(name) {
            crate::errors::to_py(py, &error)
        } else {
            invalid(py, format!("{name}: {message}"))
        }
    })
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

fn count(name: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
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

/// A certificate and its key, given as two keywords: both or neither.
fn pem_pair(
    py: Python<'_>,
    cert: Option<(&str, &Bound<'_, PyAny>)>,
    key: Option<(&str, &Bound<'_, PyAny>)>,
    cert_name: &str,
    key_name: &str,
) -> PyResult<Option<Identity>> {
    match (cert, key) {
        (Some((cert_name, cert)), Some((key_name, key))) => Ok(Some(Identity {
            cert_chain: pem(cert_name, cert)?,
            private_key: pem(key_name, key)?,
        })),
        _ => Err(invalid(
            py,
            format!("{cert_name} and {key_name} go together: give both or neither"),
        )),
    }
}

/// `paths`: a mapping of pattern to default groups (or to a mapping with `groups`,
/// `allowed_origins` and `compression`), or patterns alone.
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

/// A served path given as `{"groups": ..., "allowed_origins": ..., "compression": ...}` (each
/// optional).
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
            "groups" | "allowed_origins" | "compression" if value.is_none() => {}
            "groups" => path.default_groups = strings(&field, &value)?,
            "allowed_origins" => path.allowed_origins = strings(&field, &value)?,
            "compression" => {
                path.compression =
                    Some(value.extract::<bool>().map_err(|_| {
                        invalid(options.py(), format!("{field} must be True or False"))
                    })?)
            }
            _ => {
                return Err(invalid(
                    options.py(),
                    format!(
                        "{name} may hold 'groups', 'allowed_origins' and 'compression', not {key:?}"
                    ),
                ))
            }
        }
    }
    Ok(path)
}
