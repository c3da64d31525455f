//! `wsc_config`: every setting of a connector and its callbacks, consumed by
//! wsc_connector_start(). Settings are set by name through the core's table (`Config::set`):
//! the generic setters take any name, the named ones are one line over them, and only the
//! custom settings (several values) have code here. Values are checked at start, by the core,
//! with a message that names the setting; durations in milliseconds up to WSC_MAX_DURATION_MS.

use super::callbacks::{
    wsc_auth_fn, wsc_closed_fn, wsc_connection_fn, wsc_message_fn, wsc_outbound_state_fn,
    wsc_refresh_headers_fn, wsc_refusable_connection_fn, wsc_userdata_free_fn, Callback, Callbacks,
    ConnectionFn,
};
use super::error::{FfiError, FfiResult};
use super::macros::{
    arg_mut, arg_opt_ref, arg_out, arg_str, arg_strs, ffi, ffi_value, into_handle, take_handle,
    Opaque, Out,
};
use super::reconnect::wsc_reconnect;
use super::{wsc_pem_source, wsc_result, wsc_str, FromRaw};
use crate::{
    ClusterConfig, Config, Identity, InboundPath, ListenerConfig, MessageRateLimit,
    MessageRatePolicy, PathPattern, Pem, Routes, ServerTls, SettingInfo, SettingKind, SettingNames,
    SettingScope, SettingValue, SlowConsumerPolicy, SETTINGS,
};
use std::ffi::{c_char, c_void};
use std::time::Duration;

/// The longest duration any `_ms` setting or option accepts: one year (365 days), in
/// milliseconds. A longer one fails wsc_connector_start() (for an outbound option: the open)
/// with WSC_INVALID_ARGUMENT and a message naming the setting.
pub const WSC_MAX_DURATION_MS: u64 = 31_536_000_000;
const _: () = assert!(WSC_MAX_DURATION_MS as u128 == crate::MAX_DURATION.as_millis());

/// A connector's configuration: made by wsc_config_new(), changed by the wsc_config_* calls,
/// consumed by wsc_connector_start() (or freed with wsc_config_free()). One thread at a time.
pub struct wsc_config {
    _private: [u8; 0],
}

impl Opaque for wsc_config {
    type Rust = ConfigBuilder;
}

/// The settings and the callbacks, until start.
#[derive(Default)]
pub(crate) struct ConfigBuilder {
    pub config: Config,
    pub callbacks: Callbacks,
    /// The trigger callbacks run inline, on the I/O threads.
    pub inline_dispatch: bool,
    /// The names settings were given under: one setting under two names is an error.
    names: SettingNames,
}

/// What a socket's send does when its queue is full.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_slow_consumer {
    /// The send fails with WSC_QUEUE_FULL; nothing queued is lost (the default).
    WSC_SLOW_CONSUMER_FAIL = 1,
    /// The new message is dropped; the send reports it.
    WSC_SLOW_CONSUMER_DROP_NEWEST = 2,
    /// The oldest queued messages are dropped to make room.
    WSC_SLOW_CONSUMER_DROP_OLDEST = 3,
    /// The socket is closed with 1013 (try again later).
    WSC_SLOW_CONSUMER_CLOSE = 4,
}

impl FromRaw for wsc_slow_consumer {
    const WHAT: &'static str = "wsc_slow_consumer";
    const ALL: &'static [Self] = &[
        Self::WSC_SLOW_CONSUMER_FAIL,
        Self::WSC_SLOW_CONSUMER_DROP_NEWEST,
        Self::WSC_SLOW_CONSUMER_DROP_OLDEST,
        Self::WSC_SLOW_CONSUMER_CLOSE,
    ];
    fn raw(self) -> u32 {
        self as u32
    }
}

impl From<wsc_slow_consumer> for SlowConsumerPolicy {
    fn from(policy: wsc_slow_consumer) -> Self {
        match policy {
            wsc_slow_consumer::WSC_SLOW_CONSUMER_FAIL => SlowConsumerPolicy::Fail,
            wsc_slow_consumer::WSC_SLOW_CONSUMER_DROP_NEWEST => SlowConsumerPolicy::DropNewest,
            wsc_slow_consumer::WSC_SLOW_CONSUMER_DROP_OLDEST => SlowConsumerPolicy::DropOldest,
            wsc_slow_consumer::WSC_SLOW_CONSUMER_CLOSE => SlowConsumerPolicy::Close,
        }
    }
}

/// What a message past a socket's message rate limit does.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_message_rate_policy {
    /// The socket is closed with 1008 (policy violation) (the default).
    WSC_MESSAGE_RATE_CLOSE = 1,
    /// The message is dropped (no trigger fires for it); the socket stays open.
    WSC_MESSAGE_RATE_DROP = 2,
}

impl FromRaw for wsc_message_rate_policy {
    const WHAT: &'static str = "wsc_message_rate_policy";
    const ALL: &'static [Self] = &[Self::WSC_MESSAGE_RATE_CLOSE, Self::WSC_MESSAGE_RATE_DROP];
    fn raw(self) -> u32 {
        self as u32
    }
}

impl From<wsc_message_rate_policy> for MessageRatePolicy {
    fn from(policy: wsc_message_rate_policy) -> Self {
        match policy {
            wsc_message_rate_policy::WSC_MESSAGE_RATE_CLOSE => MessageRatePolicy::Close,
            wsc_message_rate_policy::WSC_MESSAGE_RATE_DROP => MessageRatePolicy::Drop,
        }
    }
}

/// Changes a config under the panic boundary.
fn with_config(
    config: *mut wsc_config,
    change: impl FnOnce(&mut ConfigBuilder) -> FfiResult,
) -> wsc_result {
    ffi! {
        change(arg_mut!(config))
    }
}

/// Changes the listener's settings; a listener must have been set.
fn with_listener(
    config: *mut wsc_config,
    change: impl FnOnce(&mut ListenerConfig) -> FfiResult,
) -> wsc_result {
    with_config(config, |b| {
        let listener = b.config.listener.as_mut().ok_or_else(|| {
            FfiError::new(
                wsc_result::WSC_INVALID_STATE,
                "call wsc_config_set_listener() before the listener's settings",
            )
        })?;
        change(listener)
    })
}

/// Replaces one callback of a config (releasing the earlier one's userdata).
/// Registers (or, with a NULL callback, removes) a trigger's callback: its catch-all without
/// a pattern, else the one for paths that match `pattern`.
fn route<F: Copy>(
    config: *mut wsc_config,
    routes: impl FnOnce(&mut Callbacks) -> &mut Routes<Callback<F>>,
    pattern: Option<*const c_char>,
    callback: Option<F>,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    with_config(config, |b| {
        let pattern = match pattern {
            Some(pattern) => Some(PathPattern::new(arg_str!(pattern))?),
            None => None,
        };
        let callback = Callback::new(callback, userdata, userdata_free);
        let routes = routes(&mut b.callbacks);
        // The callback it replaces, if any, is dropped here: its userdata's free runs.
        match pattern {
            Some(pattern) => routes.set_at(pattern, callback),
            None => routes.set_catch_all(callback),
        };
        Ok(())
    })
}

fn register<F: Copy>(
    config: *mut wsc_config,
    slot: impl FnOnce(&mut Callbacks) -> &mut Option<Callback<F>>,
    callback: Option<F>,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    with_config(config, |b| {
        *slot(&mut b.callbacks) = Callback::new(callback, userdata, userdata_free);
        Ok(())
    })
}

/// Sets a setting by name (or alias) through the core's table; every setter of a single value
/// goes through here. A setting set before under another of its names is an error naming both.
fn set(b: &mut ConfigBuilder, name: &str, value: SettingValue) -> FfiResult {
    b.names.check(name)?;
    b.config.set(name, value)?;
    Ok(b.names.note(name)?)
}

/// Adds an item to a list setting by name (or alias) through the core's table.
fn add(b: &mut ConfigBuilder, name: &str, item: SettingValue) -> FfiResult {
    b.names.check(name)?;
    b.config.add(name, item)?;
    Ok(b.names.note(name)?)
}

/// A string value (or item).
fn text(value: &str) -> SettingValue {
    SettingValue::Text(value.to_owned())
}

/// A name/value pair item.
fn pair(name: &str, value: &str) -> SettingValue {
    SettingValue::Pair(name.to_owned(), value.to_owned())
}

/// Whether 0 means none for the setting `name` (the C API's spelling of an optional value).
fn zero_is_none(name: &str) -> bool {
    SETTINGS
        .iter()
        .any(|setting| setting.kind.is_optional() && setting.names().any(|n| n == name))
}

/// An integer setting; 0 is none for an optional one.
fn set_int(b: &mut ConfigBuilder, name: &str, value: u64) -> FfiResult {
    let value = match value {
        0 if zero_is_none(name) => SettingValue::Unset,
        n => SettingValue::Int(n),
    };
    set(b, name, value)
}

/// A duration setting in milliseconds; 0 is none for an optional one.
fn set_ms(b: &mut ConfigBuilder, name: &str, ms: u64) -> FfiResult {
    let value = match ms {
        0 if zero_is_none(name) => SettingValue::Unset,
        ms => SettingValue::Duration(Duration::from_millis(ms)),
    };
    set(b, name, value)
}

/// A PEM setting from a wsc_pem_source and a string.
fn set_pem(b: &mut ConfigBuilder, name: &str, source: u32, text: &str) -> FfiResult {
    set(b, name, SettingValue::Pem(pem(source, text)?))
}

/// PEM text from a source and a string.
fn pem(source: u32, text: &str) -> FfiResult<Pem> {
    Ok(match wsc_pem_source::from_raw(source)? {
        wsc_pem_source::WSC_PEM_FILE => Pem::File(text.into()),
        wsc_pem_source::WSC_PEM_INLINE => Pem::Inline(text.to_owned()),
    })
}

/// What a setting holds (see wsc_config_setting()), which says the function that sets it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_setting_kind {
    /// true or false: wsc_config_set_bool().
    WSC_SETTING_BOOL = 1,
    /// A number of things, greater than 0: wsc_config_set_int().
    WSC_SETTING_COUNT = 2,
    /// A number of things, or 0 for none (no such limit, or the default): wsc_config_set_int().
    WSC_SETTING_OPTIONAL_COUNT = 3,
    /// A size in bytes: wsc_config_set_int().
    WSC_SETTING_BYTES = 4,
    /// Milliseconds, at most WSC_MAX_DURATION_MS: wsc_config_set_duration_ms().
    WSC_SETTING_DURATION = 5,
    /// Milliseconds, or 0 for none (the feature off, or the default):
    /// wsc_config_set_duration_ms().
    WSC_SETTING_OPTIONAL_DURATION = 6,
    /// A string: wsc_config_set_string().
    WSC_SETTING_TEXT = 7,
    /// Strings, added one at a time: wsc_config_add_string().
    WSC_SETTING_TEXT_LIST = 8,
    /// Name/value pairs, added one at a time: wsc_config_add_pair().
    WSC_SETTING_PAIRS = 9,
    /// PEM text or the path of a PEM file: wsc_config_set_pem().
    WSC_SETTING_PEM = 10,
    /// One of a few names, listed in its doc: wsc_config_set_string().
    WSC_SETTING_CHOICE = 11,
    /// Several values that go together, set with functions of their own: "listener" with
    /// wsc_config_set_listener(), "paths" with wsc_config_add_path() and
    /// wsc_config_add_path_allowed_origin(), "tls" with wsc_config_set_server_tls(),
    /// "client_identity" with wsc_config_set_client_identity(), "message_rate_limit" with
    /// wsc_config_set_message_rate_limit(), "cluster" with wsc_config_set_cluster() and the
    /// wsc_config_set_cluster_*() and wsc_config_set_node_name() after it.
    WSC_SETTING_CUSTOM = 12,
}

impl From<SettingKind> for wsc_setting_kind {
    fn from(kind: SettingKind) -> Self {
        use wsc_setting_kind::*;
        match kind {
            SettingKind::Bool => WSC_SETTING_BOOL,
            SettingKind::Count => WSC_SETTING_COUNT,
            SettingKind::OptionalCount => WSC_SETTING_OPTIONAL_COUNT,
            SettingKind::Bytes => WSC_SETTING_BYTES,
            SettingKind::Duration => WSC_SETTING_DURATION,
            SettingKind::OptionalDuration => WSC_SETTING_OPTIONAL_DURATION,
            SettingKind::Text => WSC_SETTING_TEXT,
            SettingKind::TextList => WSC_SETTING_TEXT_LIST,
            SettingKind::Pairs => WSC_SETTING_PAIRS,
            SettingKind::Pem => WSC_SETTING_PEM,
            SettingKind::Choice(_) => WSC_SETTING_CHOICE,
            SettingKind::Custom => WSC_SETTING_CUSTOM,
        }
    }
}

/// What part of the connector a setting configures.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum wsc_setting_scope {
    /// The listener: wsc_config_set_listener() must come first (else WSC_INVALID_STATE).
    WSC_SCOPE_LISTENER = 1,
    /// Outbound sockets.
    WSC_SCOPE_CLIENT = 2,
    /// Every socket, inbound or outbound.
    WSC_SCOPE_SOCKET = 3,
    /// The connector as a whole.
    WSC_SCOPE_CONNECTOR = 4,
}

impl From<SettingScope> for wsc_setting_scope {
    fn from(scope: SettingScope) -> Self {
        match scope {
            SettingScope::Listener => wsc_setting_scope::WSC_SCOPE_LISTENER,
            SettingScope::Client => wsc_setting_scope::WSC_SCOPE_CLIENT,
            SettingScope::Socket => wsc_setting_scope::WSC_SCOPE_SOCKET,
            SettingScope::Connector => wsc_setting_scope::WSC_SCOPE_CONNECTOR,
        }
    }
}

/// How many settings there are: wsc_config_setting() describes each, by index from 0. A
/// binding can set every one by its name with the generic setters (wsc_config_set_bool() and
/// the others, chosen by the setting's kind) and needs no new function for a new setting.
/// Any thread.
#[no_mangle]
pub extern "C" fn wsc_config_setting_count() -> usize {
    ffi_value!(0, SETTINGS.len())
}

/// Describes the setting at `index` (0 to wsc_config_setting_count() - 1): its name (what the
/// generic setters take; static), its kind (which setter), its scope, and one line on what it
/// does (static). Each out pointer may be NULL when that part is not wanted. A setting may also
/// answer to an older name (wsc_config_setting_alias()); the generic setters take either, and
/// refuse (WSC_INVALID_ARGUMENT) one setting given under both.
/// Errors: WSC_INVALID_ARGUMENT (`index` past the end). Any thread.
#[no_mangle]
pub extern "C" fn wsc_config_setting(
    index: usize,
    name_out: *mut wsc_str,
    kind_out: *mut wsc_setting_kind,
    scope_out: *mut wsc_setting_scope,
    doc_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let setting = setting_at(index)?;
        if let Some(out) = Out::optional(name_out) {
            out.set(wsc_str::from(setting.name));
        }
        if let Some(out) = Out::optional(kind_out) {
            out.set(setting.kind.into());
        }
        if let Some(out) = Out::optional(scope_out) {
            out.set(setting.scope.into());
        }
        if let Some(out) = Out::optional(doc_out) {
            out.set(wsc_str::from(setting.doc));
        }
        Ok(())
    }
}

/// The alias at `alias_index` (from 0) of the setting at `index`: another name the generic
/// setters take for it (static), e.g. "max_connections" for "max_inbound_connections".
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT (`index` past the end, or the setting has no
/// alias at `alias_index`: most have none). Any thread.
#[no_mangle]
pub extern "C" fn wsc_config_setting_alias(
    index: usize,
    alias_index: usize,
    alias_out: *mut wsc_str,
) -> wsc_result {
    ffi! {
        let alias_out = arg_out!(alias_out);
        let setting = setting_at(index)?;
        let alias = setting.aliases.get(alias_index).ok_or_else(|| {
            FfiError::invalid(format!(
                "the setting {} has {} aliases, no alias {alias_index}",
                setting.name,
                setting.aliases.len()
            ))
        })?;
        alias_out.set(wsc_str::from(alias));
        Ok(())
    }
}

/// The row of the table at `index`.
fn setting_at(index: usize) -> FfiResult<&'static SettingInfo> {
    SETTINGS.get(index).ok_or_else(|| {
        FfiError::invalid(format!(
            "there is no setting {index}: there are {}",
            SETTINGS.len()
        ))
    })
}

/// Sets the WSC_SETTING_BOOL setting `name` (see wsc_config_setting()).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (no such setting, one of
/// another kind, or one given before under its other name), WSC_INVALID_STATE (a listener
/// setting before wsc_config_set_listener()).
#[no_mangle]
pub extern "C" fn wsc_config_set_bool(
    config: *mut wsc_config,
    name: *const c_char,
    value: bool,
) -> wsc_result {
    with_config(config, |b| {
        set(b, arg_str!(name), SettingValue::Bool(value))
    })
}

/// Sets the WSC_SETTING_COUNT, WSC_SETTING_OPTIONAL_COUNT (0: none) or WSC_SETTING_BYTES
/// setting `name`. A value that breaks the setting's own rule (a count of 0, a compression
/// level past 9...) is refused at once, WSC_INVALID_ARGUMENT with wsc_last_error() naming the
/// setting and the value, and nothing is kept; rules across settings are checked at start.
/// Errors: as wsc_config_set_bool().
#[no_mangle]
pub extern "C" fn wsc_config_set_int(
    config: *mut wsc_config,
    name: *const c_char,
    value: u64,
) -> wsc_result {
    with_config(config, |b| set_int(b, arg_str!(name), value))
}

/// Sets the WSC_SETTING_DURATION or WSC_SETTING_OPTIONAL_DURATION (0: none) setting `name`, in
/// milliseconds, at most WSC_MAX_DURATION_MS. A value that breaks the setting's own rule (longer,
/// or 0 for one that has no "none") is refused at once, WSC_INVALID_ARGUMENT naming the setting
/// and the value. Errors: as wsc_config_set_bool().
#[no_mangle]
pub extern "C" fn wsc_config_set_duration_ms(
    config: *mut wsc_config,
    name: *const c_char,
    value_ms: u64,
) -> wsc_result {
    with_config(config, |b| set_ms(b, arg_str!(name), value_ms))
}

/// Sets the WSC_SETTING_TEXT or WSC_SETTING_CHOICE setting `name` to `value`.
/// Errors: as wsc_config_set_bool(), and WSC_INVALID_ARGUMENT for a name a choice lacks or a
/// value that breaks the setting's own rule (a base path or endpoint path that is not a path, a
/// client host with a '/'...), refused at once as wsc_config_set_int() does.
#[no_mangle]
pub extern "C" fn wsc_config_set_string(
    config: *mut wsc_config,
    name: *const c_char,
    value: *const c_char,
) -> wsc_result {
    with_config(config, |b| set(b, arg_str!(name), text(arg_str!(value))))
}

/// Adds `value` to the WSC_SETTING_TEXT_LIST setting `name`. Errors: as wsc_config_set_bool(),
/// and WSC_INVALID_ARGUMENT for an item the setting refuses (an origin, subprotocol or address
/// that is not one), at once, naming the setting and the item.
#[no_mangle]
pub extern "C" fn wsc_config_add_string(
    config: *mut wsc_config,
    name: *const c_char,
    value: *const c_char,
) -> wsc_result {
    with_config(config, |b| add(b, arg_str!(name), text(arg_str!(value))))
}

/// Adds the pair `key`, `value` to the WSC_SETTING_PAIRS setting `name`.
/// Errors: as wsc_config_set_bool(), and WSC_INVALID_ARGUMENT for a pair the setting refuses
/// (a handshake header of the protocol's own in `default_headers`), at once.
#[no_mangle]
pub extern "C" fn wsc_config_add_pair(
    config: *mut wsc_config,
    name: *const c_char,
    key: *const c_char,
    value: *const c_char,
) -> wsc_result {
    with_config(config, |b| {
        let item = pair(arg_str!(key), arg_str!(value));
        add(b, arg_str!(name), item)
    })
}

/// Sets the WSC_SETTING_PEM setting `name` to `pem` from `source` (a wsc_pem_source: a file
/// path, read at start, or the text). Errors: as wsc_config_set_bool().
#[no_mangle]
pub extern "C" fn wsc_config_set_pem(
    config: *mut wsc_config,
    name: *const c_char,
    source: u32,
    pem: *const c_char,
) -> wsc_result {
    with_config(config, |b| {
        set_pem(b, arg_str!(name), source, arg_str!(pem))
    })
}

/// Makes a configuration with every default: no listener (a client-only connector), plain
/// sockets, no callbacks (pull mode). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_new(config_out: *mut *mut wsc_config) -> wsc_result {
    ffi! {
        arg_out!(config_out).set(into_handle::<wsc_config>(ConfigBuilder::default()));
        Ok(())
    }
}

/// Frees a configuration that was not started, running the userdata free functions of its
/// callbacks; NULL is a no-op.
#[no_mangle]
pub extern "C" fn wsc_config_free(config: *mut wsc_config) {
    ffi_value!((), {
        // SAFETY: the header requires a config from wsc_config_new(), not started, freed once.
        drop(unsafe { take_handle(config) });
    })
}

/// Adds a listener (WebSocket server) on `host` ("127.0.0.1", "0.0.0.0", "::1") and `port`
/// (0: the OS picks; read it with wsc_connector_local_port()), with default settings; replaces
/// an earlier listener. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_config_set_listener(
    config: *mut wsc_config,
    host: *const c_char,
    port: u16,
) -> wsc_result {
    with_config(config, |b| {
        b.config.listener = Some(ListenerConfig::new(arg_str!(host), port));
        Ok(())
    })
}

/// The prefix of every served path (default "/"). Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8,
/// WSC_INVALID_STATE (no listener yet).
#[no_mangle]
pub extern "C" fn wsc_config_set_base_path(
    config: *mut wsc_config,
    base_path: *const c_char,
) -> wsc_result {
    with_config(config, |b| set(b, "base_path", text(arg_str!(base_path))))
}

/// Serves a path (exact or `*` pattern, relative to the base path, e.g. "/chat/room*", each `*`
/// matching any run of characters; a whole segment `{name}` matches one segment and its value
/// becomes the socket's URI parameter `name`, see wsc_socket_uri_param()); its sockets start in
/// `groups` (`count` strings; NULL when 0). With no path added, every path under the base path
/// is served (the first added path that matches serves a request). A request's path is
/// percent-decoded once before matching (the socket's path is the decoded one); one with a
/// dot-segment ("/chat/../admin"), an encoded slash (%2F), a control character or malformed
/// encoding is refused with 400.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE, WSC_INVALID_ARGUMENT (a bad
/// pattern, or an empty or too long group: the message names the path).
#[no_mangle]
pub extern "C" fn wsc_config_add_path(
    config: *mut wsc_config,
    pattern: *const c_char,
    groups: *const *const c_char,
    count: usize,
) -> wsc_result {
    with_listener(config, |l| {
        let path = InboundPath::with_groups(arg_str!(pattern), arg_strs!(groups, count));
        path.validate()?;
        l.paths.push(path);
        Ok(())
    })
}

/// Adds a subprotocol the server accepts (in order of preference).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_add_subprotocol(
    config: *mut wsc_config,
    protocol: *const c_char,
) -> wsc_result {
    with_config(config, |b| add(b, "subprotocols", text(arg_str!(protocol))))
}

/// Most inbound sockets and handshakes at once (default 10000; the setting
/// "max_inbound_connections"; outbound sockets have "max_outbound_connections"). A connection
/// past it is refused at accept, before anything is read: a plain listener answers 503 at
/// once; a TLS listener resets the connection without a TLS handshake (the client sees a
/// connection reset, as it could read a 503 only after a full handshake, the cost the limit
/// avoids). Errors: WSC_NULL_POINTER, WSC_INVALID_STATE, WSC_INVALID_ARGUMENT (set before
/// under its other name, "max_connections").
#[no_mangle]
pub extern "C" fn wsc_config_set_max_inbound_connections(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_config(config, |b| {
        set_int(b, "max_inbound_connections", max as u64)
    })
}

/// Deprecated: wsc_config_set_max_inbound_connections() under its first name (the setting's
/// deprecated alias "max_connections"), kept for compatibility. The same setting, so a config
/// takes it under one of the two names only (else WSC_INVALID_ARGUMENT naming both).
/// Errors: as wsc_config_set_max_inbound_connections().
#[no_mangle]
pub extern "C" fn wsc_config_set_max_connections(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_config(config, |b| set_int(b, "max_connections", max as u64))
}

/// Most inbound sockets and handshakes at once from one client IP address (0: no such limit,
/// the default). Past it a connection is refused at accept like one past
/// wsc_config_set_max_inbound_connections(), with 429 instead of 503 on a plain listener. Clients
/// behind one NAT or proxy share an address. Errors: WSC_NULL_POINTER, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_max_connections_per_ip(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_config(config, |b| set_int(b, "max_connections_per_ip", max as u64))
}

/// Allows browser pages of `origin` to open sockets on the listener (against cross-site
/// WebSocket hijacking): an exact origin ("https://app.example.com", "http://localhost:3000"),
/// a subdomain pattern, whose host starts with "*." ("*.example.com" allows any scheme; with
/// "https" and "://" in front, https only), "null", or "*" for any; a port left out means the
/// scheme's default. Once one is added, a handshake
/// whose Origin header matches none is refused with 403 before the authorization hook runs;
/// one without Origin (not from a browser) passes unless wsc_config_set_require_origin() is
/// set. With none added (the default), any origin passes. Checked as it is added.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_add_allowed_origin(
    config: *mut wsc_config,
    origin: *const c_char,
) -> wsc_result {
    with_config(config, |b| {
        add(b, "allowed_origins", text(arg_str!(origin)))
    })
}

/// Allows `origin` (as in wsc_config_add_allowed_origin()) on the served path `pattern`, added
/// before with wsc_config_add_path(); a path with origins of its own uses them instead of the
/// listener's. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE (no listener, or
/// no path `pattern`).
#[no_mangle]
pub extern "C" fn wsc_config_add_path_allowed_origin(
    config: *mut wsc_config,
    pattern: *const c_char,
    origin: *const c_char,
) -> wsc_result {
    with_listener(config, |l| {
        let origin = arg_str!(origin);
        path(l, arg_str!(pattern))?
            .allowed_origins
            .push(origin.to_owned());
        Ok(())
    })
}

/// The served path `pattern` (the last one added with it).
fn path<'a>(listener: &'a mut ListenerConfig, pattern: &str) -> FfiResult<&'a mut InboundPath> {
    listener
        .paths
        .iter_mut()
        .rev()
        .find(|p| p.pattern == pattern)
        .ok_or_else(|| {
            FfiError::new(
                wsc_result::WSC_INVALID_STATE,
                format!("no path {pattern:?}: call wsc_config_add_path() first"),
            )
        })
}

/// permessage-deflate (RFC 7692) on the listener and outbound sockets (default false: off).
/// The same as wsc_config_set_bool(config, "compression", on); the finer settings
/// ("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
/// "client_max_window_bits", "compression_threshold", "compression_level",
/// "inbound_compression", "outbound_compression") are set by name, and
/// wsc_config_set_path_compression() and wsc_outbound_options_set_compression() decide per
/// path and per socket. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_compression(config: *mut wsc_config, on: bool) -> wsc_result {
    with_config(config, |b| set(b, "compression", SettingValue::Bool(on)))
}

/// Whether sockets on the served path `pattern`, added before with wsc_config_add_path(),
/// accept permessage-deflate, whatever the listener's setting. Errors: WSC_NULL_POINTER,
/// WSC_INVALID_UTF8, WSC_INVALID_STATE (no listener, or no path `pattern`).
#[no_mangle]
pub extern "C" fn wsc_config_set_path_compression(
    config: *mut wsc_config,
    pattern: *const c_char,
    on: bool,
) -> wsc_result {
    with_listener(config, |l| {
        path(l, arg_str!(pattern))?.compression = Some(on);
        Ok(())
    })
}

/// Refuses (403) upgrade requests that carry no Origin header, that is, clients other than
/// browsers (default false). Errors: WSC_NULL_POINTER, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_require_origin(
    config: *mut wsc_config,
    require: bool,
) -> wsc_result {
    with_config(config, |b| {
        set(b, "require_origin", SettingValue::Bool(require))
    })
}

/// Time a client has from TCP accept to the end of the upgrade (default 10 s; at most
/// WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_handshake_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| set_ms(b, "handshake_timeout", timeout_ms))
}

/// Inbound sockets idle this long are closed (default 15 min; 0: never; at most
/// WSC_MAX_DURATION_MS).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_listener_idle_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| set_ms(b, "idle_timeout", timeout_ms))
}

/// Largest handshake request accepted, in bytes (default 16 KiB; more gets 431).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_max_handshake_bytes(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_config(config, |b| set_int(b, "max_handshake_bytes", max as u64))
}

/// Serves the connector's figures as Prometheus text at `path` on the listener (plain HTTP
/// GET, e.g. "/metrics"; "" turns it off), to the client addresses of
/// wsc_config_add_metrics_allowed_address() (default: loopback only). An exact path that no
/// declared WebSocket path matches (the form checked at once, the paths at start). The setting
/// "metrics_path".
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE (no listener).
#[no_mangle]
pub extern "C" fn wsc_config_set_metrics_path(
    config: *mut wsc_config,
    path: *const c_char,
) -> wsc_result {
    with_config(config, |b| set(b, "metrics_path", text(arg_str!(path))))
}

/// Lets clients at `address` (an IP address, a CIDR block such as "10.0.0.0/8", or "*") read
/// the metrics path; the first one replaces the default, loopback only. The setting
/// "metrics_allowed_addresses". Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE
/// (no listener); a malformed address fails wsc_connector_start() with WSC_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn wsc_config_add_metrics_allowed_address(
    config: *mut wsc_config,
    address: *const c_char,
) -> wsc_result {
    with_config(config, |b| {
        add(b, "metrics_allowed_addresses", text(arg_str!(address)))
    })
}

/// Answers plain HTTP GET at `path` on the listener (e.g. "/health"; "" turns it off) with 200
/// while the connector runs and 503 once it drains, for load balancers; open to every client.
/// Same path rules as wsc_config_set_metrics_path(). The setting "health_path".
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE (no listener).
#[no_mangle]
pub extern "C" fn wsc_config_set_health_path(
    config: *mut wsc_config,
    path: *const c_char,
) -> wsc_result {
    with_config(config, |b| set(b, "health_path", text(arg_str!(path))))
}

/// Serves `wss://` with a certificate chain (leaf first) and its private key, both PEM from
/// `source` (a wsc_pem_source: file paths or the text). Files are read at start.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT (source), WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_server_tls(
    config: *mut wsc_config,
    source: u32,
    cert_chain: *const c_char,
    private_key: *const c_char,
) -> wsc_result {
    with_listener(config, |l| {
        let cert_chain = pem(source, arg_str!(cert_chain))?;
        let private_key = pem(source, arg_str!(private_key))?;
        l.tls = Some(ServerTls::new(cert_chain, private_key));
        Ok(())
    })
}

/// Asks clients for a certificate signed by one of these CAs (mutual TLS); the subject of the
/// client's certificate is then a socket attribute. Requires wsc_config_set_server_tls() first.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_server_client_ca(
    config: *mut wsc_config,
    source: u32,
    ca: *const c_char,
) -> wsc_result {
    with_config(config, |b| {
        set_pem(b, "tls_client_ca", source, arg_str!(ca))
    })
}

/// Trusts these CA certificates (PEM) for `wss://` outbound sockets, besides the bundled web
/// roots. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn wsc_config_set_client_extra_ca(
    config: *mut wsc_config,
    source: u32,
    ca: *const c_char,
) -> wsc_result {
    with_config(config, |b| set_pem(b, "extra_ca", source, arg_str!(ca)))
}

/// A client certificate chain and key (PEM) that outbound sockets present to servers that ask.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn wsc_config_set_client_identity(
    config: *mut wsc_config,
    source: u32,
    cert_chain: *const c_char,
    private_key: *const c_char,
) -> wsc_result {
    with_config(config, |b| {
        b.config.client.identity = Some(Identity {
            cert_chain: pem(source, arg_str!(cert_chain))?,
            private_key: pem(source, arg_str!(private_key))?,
        });
        Ok(())
    })
}

/// DANGEROUS: outbound `wss://` sockets accept any server certificate, so anyone on the path can
/// read and change the traffic. Only for tests. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_client_dangerous_skip_certificate_verification(
    config: *mut wsc_config,
    skip: bool,
) -> wsc_result {
    with_config(config, |b| {
        set(
            b,
            "dangerous_skip_certificate_verification",
            SettingValue::Bool(skip),
        )
    })
}

/// A header sent with every outbound handshake. "Host" replaces the URL's host and port; the
/// handshake's own headers (Upgrade, Connection, Sec-WebSocket-*) cannot be set: start fails
/// with WSC_INVALID_ARGUMENT. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_config_add_client_header(
    config: *mut wsc_config,
    name: *const c_char,
    value: *const c_char,
) -> wsc_result {
    with_config(config, |b| {
        let header = pair(arg_str!(name), arg_str!(value));
        add(b, "default_headers", header)
    })
}

/// A query parameter added to every outbound URL. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_config_add_client_query(
    config: *mut wsc_config,
    name: *const c_char,
    value: *const c_char,
) -> wsc_result {
    with_config(config, |b| {
        let parameter = pair(arg_str!(name), arg_str!(value));
        add(b, "default_query", parameter)
    })
}

/// Time allowed for DNS, TCP, TLS and the upgrade of an outbound socket (0: the default, 30 s;
/// at most WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_client_connect_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| set_ms(b, "connect_timeout", timeout_ms))
}

/// Outbound sockets idle this long are closed (0: never, the default; at most
/// WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_client_idle_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| set_ms(b, "client_idle_timeout", timeout_ms))
}

/// Largest message accepted from a peer; larger closes the socket with 1009 (default 16 MiB).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_max_message_size(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_config(config, |b| set_int(b, "max_message_size", max as u64))
}

/// Most messages waiting in one socket's send queue (default 1024). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_send_queue_messages(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_config(config, |b| set_int(b, "send_queue_messages", max as u64))
}

/// Most payload bytes waiting in one socket's send queue (default 16 MiB).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_send_queue_bytes(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_config(config, |b| set_int(b, "send_queue_bytes", max as u64))
}

/// What a send does when the queue is full (a wsc_slow_consumer; default fail).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn wsc_config_set_slow_consumer(config: *mut wsc_config, policy: u32) -> wsc_result {
    with_config(config, |b| {
        let policy = SlowConsumerPolicy::from(wsc_slow_consumer::from_raw(policy)?);
        set(b, "slow_consumer", text(policy.name()))
    })
}

/// Limits the messages a peer may send on each socket, inbound or outbound: `burst` at once,
/// then `per_second` on average (a token bucket of `burst` tokens refilled at `per_second`).
/// A message past the limit is handled by wsc_config_set_message_rate_policy(). `per_second`
/// 0 removes the limit (the default: none). Errors: WSC_NULL_POINTER; at start,
/// WSC_INVALID_ARGUMENT when `burst` is 0.
#[no_mangle]
pub extern "C" fn wsc_config_set_message_rate_limit(
    config: *mut wsc_config,
    per_second: u32,
    burst: u32,
) -> wsc_result {
    with_config(config, |b| {
        b.config.socket.message_rate_limit =
            (per_second > 0).then_some(MessageRateLimit { per_second, burst });
        Ok(())
    })
}

/// What a message past the rate limit does (a wsc_message_rate_policy; default: the socket is
/// closed with 1008). Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn wsc_config_set_message_rate_policy(
    config: *mut wsc_config,
    policy: u32,
) -> wsc_result {
    with_config(config, |b| {
        let policy = MessageRatePolicy::from(wsc_message_rate_policy::from_raw(policy)?);
        set(b, "message_rate_policy", text(policy.name()))
    })
}

/// Interval between pings (default 30 s; 0: no pings; at most WSC_MAX_DURATION_MS).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_ping_interval_ms(
    config: *mut wsc_config,
    interval_ms: u64,
) -> wsc_result {
    with_config(config, |b| set_ms(b, "ping_interval", interval_ms))
}

/// A ping not answered within this time closes the socket (default 20 s; at most
/// WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_pong_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| set_ms(b, "pong_timeout", timeout_ms))
}

/// Time the peer has to answer our close frame (default 5 s; at most WSC_MAX_DURATION_MS).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_close_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| set_ms(b, "close_timeout", timeout_ms))
}

/// I/O threads of the connector (0: the default, the number of cores up to 4). With inline
/// dispatch each socket stays on one of them all its life; new sockets go to each in turn.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_worker_threads(
    config: *mut wsc_config,
    threads: usize,
) -> wsc_result {
    with_config(config, |b| set_int(b, "worker_threads", threads as u64))
}

/// How long stop waits for queued sends and close handshakes (default 5 s; at most
/// WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_stop_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| set_ms(b, "stop_timeout", timeout_ms))
}

/// Makes the connector a node of a cluster whose backplane is the Redis at `url`
/// ("redis://[user:password@]host:port/db", or "rediss://" for TLS): broadcast and bulk close
/// reach every node's sockets, operations by socket ID reach the node that holds the socket.
/// The cluster's other settings follow it (the `cluster` setting of the table, custom).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8.
#[no_mangle]
pub extern "C" fn wsc_config_set_cluster(
    config: *mut wsc_config,
    url: *const c_char,
) -> wsc_result {
    with_config(config, |b| {
        let url = arg_str!(url);
        match b.config.cluster.as_mut() {
            Some(cluster) => cluster.url = url.to_owned(),
            None => b.config.cluster = Some(ClusterConfig::new(url)),
        }
        Ok(())
    })
}

/// Changes a setting of the cluster; the cluster must have been set.
fn with_cluster(
    config: *mut wsc_config,
    change: impl FnOnce(&mut ClusterConfig) -> FfiResult,
) -> wsc_result {
    with_config(config, |b| {
        let cluster = b.config.cluster.as_mut().ok_or_else(|| {
            FfiError::new(
                wsc_result::WSC_INVALID_STATE,
                "no cluster: call wsc_config_set_cluster() first",
            )
        })?;
        change(cluster)
    })
}

/// The cluster's name, the prefix of its Redis keys and channels (default "wsconnector").
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE (no cluster yet).
#[no_mangle]
pub extern "C" fn wsc_config_set_cluster_name(
    config: *mut wsc_config,
    name: *const c_char,
) -> wsc_result {
    with_cluster(config, |c| {
        c.name = arg_str!(name).to_owned();
        Ok(())
    })
}

/// This node's name, unique in the cluster (default: generated).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE (no cluster yet).
#[no_mangle]
pub extern "C" fn wsc_config_set_node_name(
    config: *mut wsc_config,
    name: *const c_char,
) -> wsc_result {
    with_cluster(config, |c| {
        c.node_name = arg_str!(name).to_owned();
        Ok(())
    })
}

/// The Redis password, when it is not in the URL.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE (no cluster yet).
#[no_mangle]
pub extern "C" fn wsc_config_set_cluster_password(
    config: *mut wsc_config,
    password: *const c_char,
) -> wsc_result {
    with_cluster(config, |c| {
        c.password = arg_str!(password).to_owned();
        Ok(())
    })
}

/// How long an operation waits for the other nodes and for Redis (default 2 s; at most
/// WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER, WSC_INVALID_STATE (no cluster yet).
#[no_mangle]
pub extern "C" fn wsc_config_set_cluster_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_cluster(config, |c| {
        c.timeout = Duration::from_millis(timeout_ms);
        Ok(())
    })
}

/// How long a dead node's socket IDs keep resolving: its liveness key's expiry, refreshed
/// every third of it (default 10 s). Errors: WSC_NULL_POINTER, WSC_INVALID_STATE (no cluster
/// yet).
#[no_mangle]
pub extern "C" fn wsc_config_set_cluster_node_expiry_ms(
    config: *mut wsc_config,
    expiry_ms: u64,
) -> wsc_result {
    with_cluster(config, |c| {
        c.node_expiry = Duration::from_millis(expiry_ms);
        Ok(())
    })
}

/// Most events waiting for the application, counting those a callback or a pull-mode caller
/// still holds (see wsc_connector_next_event()); past it sockets stop reading (default 65536).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_event_queue_capacity(
    config: *mut wsc_config,
    capacity: usize,
) -> wsc_result {
    with_config(config, |b| {
        set_int(b, "event_queue_capacity", capacity as u64)
    })
}

/// Most bytes of memory kept by the events waiting for the application (their payloads; a large
/// payload left in its read buffer counts that buffer), counting those still held as for
/// wsc_config_set_event_queue_capacity(); past it too, sockets stop reading (default 64 MiB),
/// so a slow application makes the connector hold at most about this much received data.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_event_queue_bytes(
    config: *mut wsc_config,
    max_bytes: usize,
) -> wsc_result {
    with_config(config, |b| {
        set_int(b, "event_queue_bytes", max_bytes as u64)
    })
}

/// Registers the inbound-connection trigger (see wsc_connection_fn) with its userdata and an
/// optional `userdata_free`, replacing (and releasing) an earlier one; `callback` NULL removes
/// it. The free runs exactly once, after the last call: in wsc_connector_free(), or when the
/// config is freed or fails to start. Registering any trigger makes the connector deliver
/// events to callbacks; with none it runs in pull mode. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_on_inbound_connection(
    config: *mut wsc_config,
    callback: wsc_connection_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    route(
        config,
        |c| &mut c.inbound_connection,
        None,
        callback.map(ConnectionFn::Plain),
        userdata,
        userdata_free,
    )
}

/// Registers the inbound-connection trigger as a callback that may refuse the socket (see
/// wsc_refusable_connection_fn), like wsc_config_on_inbound_connection(), in its place: the
/// two share one slot, and registering either replaces (and releases) the other.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_on_inbound_connection_refusable(
    config: *mut wsc_config,
    callback: wsc_refusable_connection_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    route(
        config,
        |c| &mut c.inbound_connection,
        None,
        callback.map(ConnectionFn::Refusable),
        userdata,
        userdata_free,
    )
}

/// Registers the inbound-connection trigger's callback for sockets whose full path matches `pattern`
/// (an exact path, `*` wildcards as in "/chat*", `{name}` segments as in "/chat/{room}"), as a
/// Mule flow declares its trigger's path; otherwise like wsc_config_on_inbound_connection(), and a NULL
/// `callback` removes the pattern's. An event goes to the most specific matching pattern of
/// its trigger: an exact path first, then more literal characters ("/chat/vip*" before
/// "/chat*"), then fewer `*` ("/chat/{room}" before "/chat*"), then the first registered;
/// none matches: the callback registered without a pattern. On an error nothing is kept and
/// `userdata_free` is not called. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8,
/// WSC_INVALID_ARGUMENT (a bad pattern).
#[no_mangle]
pub extern "C" fn wsc_config_on_inbound_connection_at(
    config: *mut wsc_config,
    pattern: *const c_char,
    callback: wsc_connection_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    route(
        config,
        |c| &mut c.inbound_connection,
        Some(pattern),
        callback.map(ConnectionFn::Plain),
        userdata,
        userdata_free,
    )
}

/// wsc_config_on_inbound_connection_refusable() for sockets whose full path matches `pattern`,
/// as wsc_config_on_inbound_connection_at() (one slot per pattern, either kind).
/// Errors: as wsc_config_on_inbound_connection_at().
#[no_mangle]
pub extern "C" fn wsc_config_on_inbound_connection_refusable_at(
    config: *mut wsc_config,
    pattern: *const c_char,
    callback: wsc_refusable_connection_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    route(
        config,
        |c| &mut c.inbound_connection,
        Some(pattern),
        callback.map(ConnectionFn::Refusable),
        userdata,
        userdata_free,
    )
}

/// Registers the inbound-message trigger, like wsc_config_on_inbound_connection().
#[no_mangle]
pub extern "C" fn wsc_config_on_inbound_message(
    config: *mut wsc_config,
    callback: wsc_message_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    route(
        config,
        |c| &mut c.inbound_message,
        None,
        callback,
        userdata,
        userdata_free,
    )
}

/// Registers the inbound-message trigger's callback for sockets whose full path matches `pattern`
/// (an exact path, `*` wildcards as in "/chat*", `{name}` segments as in "/chat/{room}"), as a
/// Mule flow declares its trigger's path; otherwise like wsc_config_on_inbound_message(), and a NULL
/// `callback` removes the pattern's. An event goes to the most specific matching pattern of
/// its trigger: an exact path first, then more literal characters ("/chat/vip*" before
/// "/chat*"), then fewer `*` ("/chat/{room}" before "/chat*"), then the first registered;
/// none matches: the callback registered without a pattern. On an error nothing is kept and
/// `userdata_free` is not called. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8,
/// WSC_INVALID_ARGUMENT (a bad pattern).
#[no_mangle]
pub extern "C" fn wsc_config_on_inbound_message_at(
    config: *mut wsc_config,
    pattern: *const c_char,
    callback: wsc_message_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    route(
        config,
        |c| &mut c.inbound_message,
        Some(pattern),
        callback,
        userdata,
        userdata_free,
    )
}

/// Registers the outbound-message trigger, like wsc_config_on_inbound_connection().
#[no_mangle]
pub extern "C" fn wsc_config_on_outbound_message(
    config: *mut wsc_config,
    callback: wsc_message_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    route(
        config,
        |c| &mut c.outbound_message,
        None,
        callback,
        userdata,
        userdata_free,
    )
}

/// Registers the outbound-message trigger's callback for sockets whose full path matches `pattern`
/// (an exact path, `*` wildcards as in "/chat*", `{name}` segments as in "/chat/{room}"), as a
/// Mule flow declares its trigger's path; otherwise like wsc_config_on_outbound_message(), and a NULL
/// `callback` removes the pattern's. An event goes to the most specific matching pattern of
/// its trigger: an exact path first, then more literal characters ("/chat/vip*" before
/// "/chat*"), then fewer `*` ("/chat/{room}" before "/chat*"), then the first registered;
/// none matches: the callback registered without a pattern. On an error nothing is kept and
/// `userdata_free` is not called. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8,
/// WSC_INVALID_ARGUMENT (a bad pattern).
#[no_mangle]
pub extern "C" fn wsc_config_on_outbound_message_at(
    config: *mut wsc_config,
    pattern: *const c_char,
    callback: wsc_message_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    route(
        config,
        |c| &mut c.outbound_message,
        Some(pattern),
        callback,
        userdata,
        userdata_free,
    )
}

/// Registers the socket-closed trigger, like wsc_config_on_inbound_connection().
#[no_mangle]
pub extern "C" fn wsc_config_on_socket_closed(
    config: *mut wsc_config,
    callback: wsc_closed_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    route(
        config,
        |c| &mut c.socket_closed,
        None,
        callback,
        userdata,
        userdata_free,
    )
}

/// Registers the socket-closed trigger's callback for sockets whose full path matches `pattern`
/// (an exact path, `*` wildcards as in "/chat*", `{name}` segments as in "/chat/{room}"), as a
/// Mule flow declares its trigger's path; otherwise like wsc_config_on_socket_closed(), and a NULL
/// `callback` removes the pattern's. An event goes to the most specific matching pattern of
/// its trigger: an exact path first, then more literal characters ("/chat/vip*" before
/// "/chat*"), then fewer `*` ("/chat/{room}" before "/chat*"), then the first registered;
/// none matches: the callback registered without a pattern. On an error nothing is kept and
/// `userdata_free` is not called. Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8,
/// WSC_INVALID_ARGUMENT (a bad pattern).
#[no_mangle]
pub extern "C" fn wsc_config_on_socket_closed_at(
    config: *mut wsc_config,
    pattern: *const c_char,
    callback: wsc_closed_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    route(
        config,
        |c| &mut c.socket_closed,
        Some(pattern),
        callback,
        userdata,
        userdata_free,
    )
}

/// Inline dispatch (default false), for trigger callbacks that never block: each runs on the
/// I/O thread that read the message (for a connection, finished the handshake; for a close,
/// saw the socket end) instead of the dispatcher thread, with no hand-off between threads, and
/// a reply sent from it leaves in the same write: the cheapest way to answer small messages.
/// A BLOCKING CALLBACK BLOCKS THAT I/O THREAD: every socket it serves waits, pings and
/// timeouts included (wsc_config_set_worker_threads() sets how many there are). Callbacks keep
/// their order for each socket (connection, messages, closed last, exactly once); those of
/// sockets on different I/O threads may run at the same time. Every operation may be called
/// from them but the ones that would wait for the connector on that thread:
/// wsc_connector_open_outbound(), wsc_connector_stop() and wsc_connector_free() fail with
/// WSC_INVALID_STATE (open outbound sockets from another thread). No event queue is used, so
/// its bounds do not apply: a slow callback holds back its I/O thread's reads, and TCP holds
/// back the peers. Needs trigger callbacks (wsc_connector_start() fails with
/// WSC_INVALID_ARGUMENT without any). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_inline_dispatch(
    config: *mut wsc_config,
    inline_dispatch: bool,
) -> wsc_result {
    with_config(config, |b| {
        b.inline_dispatch = inline_dispatch;
        Ok(())
    })
}

/// Registers the callback of a reconnecting outbound socket's changes of state (see
/// wsc_outbound_state_fn), like wsc_config_on_inbound_connection(). In pull mode the same
/// changes come as WSC_TRIGGER_OUTBOUND_RECONNECTING and WSC_TRIGGER_OUTBOUND_RECONNECTED
/// events. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_on_outbound_state(
    config: *mut wsc_config,
    callback: wsc_outbound_state_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    register(
        config,
        |c| &mut c.outbound_state,
        callback,
        userdata,
        userdata_free,
    )
}

/// Registers the header refresher (see wsc_refresh_headers_fn), like
/// wsc_config_on_inbound_connection(); it does not affect pull mode. wsc_connector_free() waits
/// for calls under way before it releases the userdata. Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_on_refresh_headers(
    config: *mut wsc_config,
    callback: wsc_refresh_headers_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    register(
        config,
        |c| &mut c.header_refresher,
        callback,
        userdata,
        userdata_free,
    )
}

/// Sets the reconnect policy (copied) of outbound sockets whose open chooses none (see
/// wsc_reconnect); NULL (the default): they do not reconnect. Checked at start.
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_reconnect(
    config: *mut wsc_config,
    policy: *const wsc_reconnect,
) -> wsc_result {
    with_config(config, |b| {
        b.config.client.reconnect = arg_opt_ref!(policy).cloned();
        Ok(())
    })
}

/// Registers the pre-upgrade authorization hook (see wsc_auth_fn), like
/// wsc_config_on_inbound_connection(); it does not affect pull mode. wsc_connector_free()
/// waits for hook calls under way before it releases the userdata.
#[no_mangle]
pub extern "C" fn wsc_config_set_authorizer(
    config: *mut wsc_config,
    callback: wsc_auth_fn,
    userdata: *mut c_void,
    userdata_free: wsc_userdata_free_fn,
) -> wsc_result {
    register(
        config,
        |c| &mut c.authorizer,
        callback,
        userdata,
        userdata_free,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_fields;
    use std::collections::BTreeMap;
    use std::ffi::CString;
    use std::ptr::null_mut;

    type Apply = Box<dyn Fn(*mut wsc_config) -> wsc_result>;

    fn c(text: &str) -> CString {
        CString::new(text).unwrap()
    }

    /// A config whose every optional part is present (a listener with TLS and the path "/", a
    /// client identity, a message rate limit, a reconnect policy), each at its default or empty, so that a field inside one of them is
    /// reached only when a setting changes it.
    fn baseline() -> *mut wsc_config {
        let mut config = null_mut();
        assert_eq!(wsc_config_new(&mut config), wsc_result::WSC_OK);
        let host = c("127.0.0.1");
        let empty = c("");
        let inline = wsc_pem_source::WSC_PEM_INLINE as u32;
        for code in [
            wsc_config_set_listener(config, host.as_ptr(), 0),
            wsc_config_set_server_tls(config, inline, empty.as_ptr(), empty.as_ptr()),
            wsc_config_set_client_identity(config, inline, empty.as_ptr(), empty.as_ptr()),
            wsc_config_add_path(config, c"/".as_ptr(), std::ptr::null(), 0),
            wsc_config_set_message_rate_limit(config, 1, 1),
            with_policy(|_| {}, |policy| wsc_config_set_reconnect(config, policy)),
            wsc_config_set_cluster(config, empty.as_ptr()),
        ] {
            assert_eq!(code, wsc_result::WSC_OK);
        }
        config
    }

    /// Makes a reconnect policy, changes it with `change`, hands it to `apply`, frees it.
    fn with_policy(
        change: impl FnOnce(*mut wsc_reconnect),
        apply: impl FnOnce(*const wsc_reconnect) -> wsc_result,
    ) -> wsc_result {
        use crate::ffi::reconnect::{wsc_reconnect_free, wsc_reconnect_new};
        let mut policy = null_mut();
        assert_eq!(wsc_reconnect_new(&mut policy), wsc_result::WSC_OK);
        change(policy);
        let result = apply(policy);
        wsc_reconnect_free(policy);
        result
    }

    fn fields(config: *mut wsc_config) -> BTreeMap<&'static str, String> {
        // SAFETY: a live config made by wsc_config_new() in this test.
        let builder = unsafe { crate::ffi::macros::handle_ref(config, "config") }.unwrap();
        config_fields(&builder.config).into_iter().collect()
    }

    /// The calls that set a setting through the C API under `name` (its name or an alias),
    /// each to a value that differs from the baseline (a count of 8 or 9: one of them is not
    /// the default) and meets the setting's own rule.
    fn c_calls(setting: &SettingInfo, name: &str) -> Vec<Apply> {
        let (counts, text, item) = match setting.name {
            "max_handshake_bytes" => ([4096, 8192], c"/x", c"x"),
            "client_host" => ([8, 9], c"example.com", c"x"),
            "metrics_allowed_addresses" => ([8, 9], c"/x", c"10.0.0.0/8"),
            _ => ([8, 9], c"/x", c"x"),
        };
        let name = c(name);
        let by_name = move |f: Box<dyn Fn(*mut wsc_config, *const c_char) -> wsc_result>| -> Apply {
            let name = name.clone();
            Box::new(move |config| f(config, name.as_ptr()))
        };
        let inline = wsc_pem_source::WSC_PEM_INLINE as u32;
        match setting.kind {
            SettingKind::Bool => [true, false]
                .map(|v| by_name(Box::new(move |cfg, n| wsc_config_set_bool(cfg, n, v))))
                .into(),
            SettingKind::Count | SettingKind::OptionalCount | SettingKind::Bytes => counts
                .map(|v| by_name(Box::new(move |cfg, n| wsc_config_set_int(cfg, n, v))))
                .into(),
            SettingKind::Duration | SettingKind::OptionalDuration => [1234, 4321]
                .map(|v| {
                    by_name(Box::new(move |cfg, n| {
                        wsc_config_set_duration_ms(cfg, n, v)
                    }))
                })
                .into(),
            SettingKind::Text => vec![by_name(Box::new(move |cfg, n| {
                wsc_config_set_string(cfg, n, text.as_ptr())
            }))],
            SettingKind::Choice(names) => names
                .iter()
                .map(|choice| {
                    let choice = c(choice);
                    by_name(Box::new(move |cfg, n| {
                        wsc_config_set_string(cfg, n, choice.as_ptr())
                    }))
                })
                .collect(),
            SettingKind::TextList => vec![by_name(Box::new(move |cfg, n| {
                wsc_config_add_string(cfg, n, item.as_ptr())
            }))],
            SettingKind::Pairs => vec![by_name(Box::new(|cfg, n| {
                wsc_config_add_pair(cfg, n, c"X-A".as_ptr(), c"1".as_ptr())
            }))],
            SettingKind::Pem => vec![by_name(Box::new(move |cfg, n| {
                wsc_config_set_pem(cfg, n, inline, c"pem".as_ptr())
            }))],
            SettingKind::Custom => custom_calls(setting.name),
        }
    }

    /// The functions of the custom settings (their kind's doc in the header lists them).
    fn custom_calls(name: &str) -> Vec<Apply> {
        let inline = wsc_pem_source::WSC_PEM_INLINE as u32;
        match name {
            "listener" => vec![Box::new(|cfg| {
                wsc_config_set_listener(cfg, c"::1".as_ptr(), 9)
            })],
            "paths" => vec![Box::new(|cfg| {
                let groups = [c"g".as_ptr()];
                let added = wsc_config_add_path(cfg, c"/p".as_ptr(), groups.as_ptr(), 1);
                assert_eq!(added, wsc_result::WSC_OK);
                let compression = wsc_config_set_path_compression(cfg, c"/p".as_ptr(), true);
                assert_eq!(compression, wsc_result::WSC_OK);
                wsc_config_add_path_allowed_origin(cfg, c"/p".as_ptr(), c"*".as_ptr())
            })],
            "tls" => vec![Box::new(move |cfg| {
                wsc_config_set_server_tls(cfg, inline, c"cert".as_ptr(), c"key".as_ptr())
            })],
            "client_identity" => vec![Box::new(move |cfg| {
                wsc_config_set_client_identity(cfg, inline, c"cert".as_ptr(), c"key".as_ptr())
            })],
            "message_rate_limit" => {
                vec![Box::new(|cfg| wsc_config_set_message_rate_limit(cfg, 5, 3))]
            }
            "reconnect" => vec![Box::new(|cfg| {
                use crate::ffi::reconnect::*;
                let change = |policy| {
                    let fail = wsc_reconnect_send_policy::WSC_RECONNECT_FAIL as u32;
                    for code in [
                        wsc_reconnect_set_delays(policy, 1, 2, 3.0),
                        wsc_reconnect_set_max_attempts(policy, 4),
                        wsc_reconnect_set_lazy(policy, true),
                        wsc_reconnect_set_send_policy(policy, fail),
                        wsc_reconnect_add_final_close_codes(policy, 4000, 4099),
                    ] {
                        assert_eq!(code, wsc_result::WSC_OK);
                    }
                };
                with_policy(change, |policy| wsc_config_set_reconnect(cfg, policy))
            })],
            "cluster" => vec![
                Box::new(|cfg| wsc_config_set_cluster(cfg, c"redis://h/".as_ptr())),
                Box::new(|cfg| wsc_config_set_cluster_name(cfg, c"c".as_ptr())),
                Box::new(|cfg| wsc_config_set_node_name(cfg, c"n".as_ptr())),
                Box::new(|cfg| wsc_config_set_cluster_password(cfg, c"p".as_ptr())),
                Box::new(|cfg| wsc_config_set_cluster_timeout_ms(cfg, 1234)),
                Box::new(|cfg| wsc_config_set_cluster_node_expiry_ms(cfg, 4321)),
            ],
            other => panic!("no C function sets the custom setting {other}: add one"),
        }
    }

    /// The fields a call changes from the baseline, with their new values.
    fn changed_by(call: &Apply, what: &str) -> BTreeMap<&'static str, String> {
        let base = baseline();
        let before = fields(base);
        wsc_config_free(base);
        let config = baseline();
        assert_eq!(call(config), wsc_result::WSC_OK, "{what}");
        let changed = fields(config)
            .into_iter()
            .filter(|(field, value)| before.get(field) != Some(value))
            .collect();
        wsc_config_free(config);
        changed
    }

    /// Every field of `Config` is reached by some setting of the table through the C API's
    /// exported functions (a field added without its row fails here, or does not compile in
    /// `config_fields`); and each alias of a setting changes exactly what its name changes.
    #[test]
    fn every_config_field_is_reachable_from_c() {
        let base = baseline();
        let before = fields(base);
        wsc_config_free(base);
        let mut reached = BTreeMap::new();
        for setting in SETTINGS {
            let by_name: Vec<_> = c_calls(setting, setting.name)
                .iter()
                .map(|call| changed_by(call, setting.name))
                .collect();
            for changed in &by_name {
                for field in changed.keys() {
                    reached.entry(*field).or_insert(setting.name);
                }
            }
            for alias in setting.aliases {
                let by_alias: Vec<_> = c_calls(setting, alias)
                    .iter()
                    .map(|call| changed_by(call, alias))
                    .collect();
                assert_eq!(by_alias, by_name, "{alias} is not {}", setting.name);
            }
        }
        let missed: Vec<_> = before
            .keys()
            .filter(|f| !reached.contains_key(*f))
            .collect();
        assert!(missed.is_empty(), "no C setting reaches {missed:?}");
    }

    /// A setting given under two of its names (in either order, by the generic setters or the
    /// named ones) is an error naming both; under the same name twice, the later value wins.
    #[test]
    fn one_setting_under_two_names_is_refused_naming_both() {
        for setting in SETTINGS.iter().filter(|s| !s.aliases.is_empty()) {
            for alias in setting.aliases {
                for (first, second) in [(setting.name, *alias), (alias, setting.name)] {
                    let config = baseline();
                    let calls = c_calls(setting, first);
                    assert_eq!(calls[0](config), wsc_result::WSC_OK);
                    assert_eq!(calls[0](config), wsc_result::WSC_OK, "{first} twice");
                    let code = c_calls(setting, second)[0](config);
                    assert_eq!(code, wsc_result::WSC_INVALID_ARGUMENT, "{first} {second}");
                    let message = last_error();
                    assert!(
                        message.contains(first) && message.contains(second),
                        "{message}"
                    );
                    wsc_config_free(config);
                }
            }
        }
        let config = baseline();
        assert_eq!(
            wsc_config_set_max_connections(config, 5),
            wsc_result::WSC_OK
        );
        let code = wsc_config_set_max_inbound_connections(config, 6);
        assert_eq!(code, wsc_result::WSC_INVALID_ARGUMENT);
        assert!(last_error().contains("max_inbound_connections"));
        wsc_config_free(config);
        // A set that failed gave nothing: the other name is still free.
        let config = baseline();
        let wrong_kind = wsc_config_set_bool(config, c"max_connections".as_ptr(), true);
        assert_eq!(wrong_kind, wsc_result::WSC_INVALID_ARGUMENT);
        assert_eq!(
            wsc_config_set_max_inbound_connections(config, 6),
            wsc_result::WSC_OK
        );
        wsc_config_free(config);
    }

    /// The calling thread's last error message.
    fn last_error() -> String {
        let mut buf = [0 as c_char; 256];
        let mut len = 0;
        crate::ffi::error::wsc_last_error(buf.as_mut_ptr(), buf.len(), &mut len);
        // SAFETY: wsc_last_error wrote a NUL-terminated string into `buf`.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// The named setters kept for the ABI are one line over the generic path: same effect.
    #[test]
    fn named_setters_and_generic_ones_agree() {
        let named = baseline();
        let generic = baseline();
        let inline = wsc_pem_source::WSC_PEM_INLINE as u32;
        let results = [
            wsc_config_set_ping_interval_ms(named, 0),
            wsc_config_set_duration_ms(generic, c"ping_interval".as_ptr(), 0),
            wsc_config_set_max_connections_per_ip(named, 0),
            wsc_config_set_int(generic, c"max_connections_per_ip".as_ptr(), 0),
            wsc_config_set_max_inbound_connections(named, 12),
            wsc_config_set_int(generic, c"max_inbound_connections".as_ptr(), 12),
            wsc_config_set_slow_consumer(
                named,
                wsc_slow_consumer::WSC_SLOW_CONSUMER_DROP_OLDEST as u32,
            ),
            wsc_config_set_string(generic, c"slow_consumer".as_ptr(), c"drop_oldest".as_ptr()),
            wsc_config_add_client_header(named, c"X-A".as_ptr(), c"1".as_ptr()),
            wsc_config_add_pair(
                generic,
                c"default_headers".as_ptr(),
                c"X-A".as_ptr(),
                c"1".as_ptr(),
            ),
            wsc_config_set_server_client_ca(named, inline, c"ca".as_ptr()),
            wsc_config_set_pem(generic, c"tls_client_ca".as_ptr(), inline, c"ca".as_ptr()),
            wsc_config_set_message_rate_policy(
                named,
                wsc_message_rate_policy::WSC_MESSAGE_RATE_DROP as u32,
            ),
            wsc_config_set_string(generic, c"message_rate_policy".as_ptr(), c"drop".as_ptr()),
            wsc_config_set_compression(named, true),
            wsc_config_set_bool(generic, c"compression".as_ptr(), true),
        ];
        assert!(
            results.iter().all(|r| *r == wsc_result::WSC_OK),
            "{results:?}"
        );
        assert_eq!(fields(named), fields(generic));
        wsc_config_free(named);
        wsc_config_free(generic);
    }

    #[test]
    fn generic_setters_name_the_setting_and_the_kind_it_takes() {
        let mut config = null_mut();
        assert_eq!(wsc_config_new(&mut config), wsc_result::WSC_OK);
        let cases: [(Box<dyn Fn() -> wsc_result>, _, _); 7] = [
            (
                Box::new(|| wsc_config_set_bool(config, c"ping_interval".as_ptr(), true)),
                wsc_result::WSC_INVALID_ARGUMENT,
                "ping_interval takes a duration or none, not a boolean",
            ),
            (
                Box::new(|| wsc_config_set_int(config, c"no_such_thing".as_ptr(), 1)),
                wsc_result::WSC_INVALID_ARGUMENT,
                "there is no setting named \"no_such_thing\"",
            ),
            (
                Box::new(|| wsc_config_set_duration_ms(config, c"idle_timeout".as_ptr(), 1)),
                wsc_result::WSC_INVALID_STATE,
                "idle_timeout is a listener setting",
            ),
            (
                Box::new(|| {
                    wsc_config_set_string(config, c"slow_consumer".as_ptr(), c"ignore".as_ptr())
                }),
                wsc_result::WSC_INVALID_ARGUMENT,
                "slow_consumer must be 'fail', 'drop_newest', 'drop_oldest' or 'close'",
            ),
            (
                Box::new(|| wsc_config_add_string(config, c"base_path".as_ptr(), c"/x".as_ptr())),
                wsc_result::WSC_INVALID_STATE,
                "base_path is a listener setting",
            ),
            (
                Box::new(|| {
                    wsc_config_add_string(config, c"stop_timeout".as_ptr(), c"/x".as_ptr())
                }),
                wsc_result::WSC_INVALID_ARGUMENT,
                "stop_timeout is not a list",
            ),
            (
                Box::new(|| wsc_config_set_string(config, c"listener".as_ptr(), c"x".as_ptr())),
                wsc_result::WSC_INVALID_ARGUMENT,
                "listener is made of several values",
            ),
        ];
        for (call, want, says) in cases {
            assert_eq!(call(), want, "{says}");
            let message = last_error();
            assert!(message.contains(says), "{message}");
        }
        wsc_config_free(config);
    }

    #[test]
    fn the_table_is_described_by_index() {
        assert_eq!(wsc_config_setting_count(), SETTINGS.len());
        for (index, setting) in SETTINGS.iter().enumerate() {
            let mut name = wsc_str::from("");
            let mut kind = wsc_setting_kind::WSC_SETTING_CUSTOM;
            let mut scope = wsc_setting_scope::WSC_SCOPE_CONNECTOR;
            let mut doc = wsc_str::from("");
            let code = wsc_config_setting(index, &mut name, &mut kind, &mut scope, &mut doc);
            assert_eq!(code, wsc_result::WSC_OK);
            assert_eq!(
                (name.data, name.len),
                (setting.name.as_ptr().cast(), setting.name.len())
            );
            assert_eq!(kind, setting.kind.into());
            assert_eq!(scope, setting.scope.into());
            assert!(doc.len > 0, "{}", setting.name);
        }
        let past_the_end = wsc_config_setting(
            SETTINGS.len(),
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
        );
        assert_eq!(past_the_end, wsc_result::WSC_INVALID_ARGUMENT);
        let mut name = wsc_str::from("");
        let name_only = wsc_config_setting(0, &mut name, null_mut(), null_mut(), null_mut());
        assert_eq!(name_only, wsc_result::WSC_OK);
        for (index, setting) in SETTINGS.iter().enumerate() {
            for (at, alias) in setting.aliases.iter().enumerate() {
                let mut out = wsc_str::from("");
                assert_eq!(
                    wsc_config_setting_alias(index, at, &mut out),
                    wsc_result::WSC_OK
                );
                assert_eq!((out.data, out.len), (alias.as_ptr().cast(), alias.len()));
            }
            let past = wsc_config_setting_alias(index, setting.aliases.len(), &mut name);
            assert_eq!(past, wsc_result::WSC_INVALID_ARGUMENT);
        }
        let no_setting = wsc_config_setting_alias(SETTINGS.len(), 0, &mut name);
        assert_eq!(no_setting, wsc_result::WSC_INVALID_ARGUMENT);
        assert_eq!(
            wsc_config_setting_alias(0, 0, null_mut()),
            wsc_result::WSC_NULL_POINTER
        );
    }
}
