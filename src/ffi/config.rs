//! `wsc_config`: every setting of a connector and its callbacks, consumed by
//! wsc_connector_start(). Values are checked at start, by the core, with a message that names
//! the setting; durations in milliseconds up to WSC_MAX_DURATION_MS.

use super::callbacks::{
    wsc_auth_fn, wsc_closed_fn, wsc_connection_fn, wsc_message_fn, wsc_userdata_free_fn, Callback,
    Callbacks,
};
use super::error::{FfiError, FfiResult};
use super::macros::{
    arg_mut, arg_out, arg_str, arg_strs, ffi, ffi_value, into_handle, take_handle, Opaque,
};
use super::{wsc_pem_source, wsc_result, FromRaw};
use crate::{
    ClusterConfig, Config, Identity, InboundPath, ListenerConfig, MessageRateLimit,
    MessageRatePolicy, Pem, ServerTls, SlowConsumerPolicy,
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

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// 0 means "none" (or "the default").
fn optional_millis(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| millis(ms))
}

/// PEM text from a source and a string.
fn pem(source: u32, text: &str) -> FfiResult<Pem> {
    Ok(match wsc_pem_source::from_raw(source)? {
        wsc_pem_source::WSC_PEM_FILE => Pem::File(text.into()),
        wsc_pem_source::WSC_PEM_INLINE => Pem::Inline(text.to_owned()),
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
    with_listener(config, |l| {
        l.base_path = arg_str!(base_path).to_owned();
        Ok(())
    })
}

/// Serves a path (exact or `*` pattern, relative to the base path, e.g. "/chat/room*", each `*`
/// matching any run of characters); its sockets start in `groups` (`count` strings; NULL when
/// 0). With no path added, every path under the base path is served. A request's path is
/// percent-decoded once before matching (the socket's path is the decoded one); one with a
/// dot-segment ("/chat/../admin"), an encoded slash (%2F), a control character or malformed
/// encoding is refused with 400.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_add_path(
    config: *mut wsc_config,
    pattern: *const c_char,
    groups: *const *const c_char,
    count: usize,
) -> wsc_result {
    with_listener(config, |l| {
        l.paths.push(InboundPath::with_groups(
            arg_str!(pattern),
            arg_strs!(groups, count),
        ));
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
    with_listener(config, |l| {
        l.subprotocols.push(arg_str!(protocol).to_owned());
        Ok(())
    })
}

/// Most inbound sockets and handshakes at once (default 10000). A connection past it is
/// refused at accept, before anything is read: a plain listener answers 503 at once; a TLS
/// listener resets the connection without a TLS handshake (the client sees a connection reset,
/// as it could read a 503 only after a full handshake, the cost the limit avoids).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_max_connections(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_listener(config, |l| {
        l.max_connections = max;
        Ok(())
    })
}

/// Most inbound sockets and handshakes at once from one client IP address (0: no such limit,
/// the default). Past it a connection is refused at accept like one past
/// wsc_config_set_max_connections(), with 429 instead of 503 on a plain listener. Clients
/// behind one NAT or proxy share an address. Errors: WSC_NULL_POINTER, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_max_connections_per_ip(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_listener(config, |l| {
        l.max_connections_per_ip = (max > 0).then_some(max);
        Ok(())
    })
}

/// Allows browser pages of `origin` to open sockets on the listener (against cross-site
/// WebSocket hijacking): an exact origin ("https://app.example.com", "http://localhost:3000"),
/// a subdomain pattern, whose host starts with "*." ("*.example.com" allows any scheme; with
/// "https" and "://" in front, https only), "null", or "*" for any; a port left out means the
/// scheme's default. Once one is added, a handshake
/// whose Origin header matches none is refused with 403 before the authorization hook runs;
/// one without Origin (not from a browser) passes unless wsc_config_set_require_origin() is
/// set. With none added (the default), any origin passes. Checked at start.
/// Errors: WSC_NULL_POINTER, WSC_INVALID_UTF8, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_add_allowed_origin(
    config: *mut wsc_config,
    origin: *const c_char,
) -> wsc_result {
    with_listener(config, |l| {
        l.allowed_origins.push(arg_str!(origin).to_owned());
        Ok(())
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
        let pattern = arg_str!(pattern);
        let origin = arg_str!(origin);
        let path = l
            .paths
            .iter_mut()
            .rev()
            .find(|p| p.pattern == pattern)
            .ok_or_else(|| {
                FfiError::new(
                    wsc_result::WSC_INVALID_STATE,
                    format!("no path {pattern:?}: call wsc_config_add_path() first"),
                )
            })?;
        path.allowed_origins.push(origin.to_owned());
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
    with_listener(config, |l| {
        l.require_origin = require;
        Ok(())
    })
}

/// Time a client has from TCP accept to the end of the upgrade (default 10 s; at most
/// WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_handshake_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_listener(config, |l| {
        l.handshake_timeout = millis(timeout_ms);
        Ok(())
    })
}

/// Inbound sockets idle this long are closed (default 15 min; 0: never; at most
/// WSC_MAX_DURATION_MS).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_listener_idle_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_listener(config, |l| {
        l.idle_timeout = optional_millis(timeout_ms);
        Ok(())
    })
}

/// Largest handshake request accepted, in bytes (default 16 KiB; more gets 431).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_STATE.
#[no_mangle]
pub extern "C" fn wsc_config_set_max_handshake_bytes(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_listener(config, |l| {
        l.max_handshake_bytes = max;
        Ok(())
    })
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
    with_listener(config, |l| {
        let ca = pem(source, arg_str!(ca))?;
        let tls = l.tls.as_mut().ok_or_else(|| {
            FfiError::new(
                wsc_result::WSC_INVALID_STATE,
                "call wsc_config_set_server_tls() first",
            )
        })?;
        tls.client_ca = Some(ca);
        Ok(())
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
    with_config(config, |b| {
        b.config.client.extra_ca = Some(pem(source, arg_str!(ca))?);
        Ok(())
    })
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
        b.config.client.dangerous_skip_certificate_verification = skip;
        Ok(())
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
        b.config
            .client
            .default_headers
            .push((arg_str!(name).to_owned(), arg_str!(value).to_owned()));
        Ok(())
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
        b.config
            .client
            .default_query
            .push((arg_str!(name).to_owned(), arg_str!(value).to_owned()));
        Ok(())
    })
}

/// Time allowed for DNS, TCP, TLS and the upgrade of an outbound socket (0: the default, 30 s;
/// at most WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_client_connect_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| {
        b.config.client.connect_timeout = optional_millis(timeout_ms);
        Ok(())
    })
}

/// Outbound sockets idle this long are closed (0: never, the default; at most
/// WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_client_idle_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| {
        b.config.client.idle_timeout = optional_millis(timeout_ms);
        Ok(())
    })
}

/// Largest message accepted from a peer; larger closes the socket with 1009 (default 16 MiB).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_max_message_size(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_config(config, |b| {
        b.config.socket.max_message_size = max;
        Ok(())
    })
}

/// Most messages waiting in one socket's send queue (default 1024). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_send_queue_messages(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_config(config, |b| {
        b.config.socket.send_queue_messages = max;
        Ok(())
    })
}

/// Most payload bytes waiting in one socket's send queue (default 16 MiB).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_send_queue_bytes(
    config: *mut wsc_config,
    max: usize,
) -> wsc_result {
    with_config(config, |b| {
        b.config.socket.send_queue_bytes = max;
        Ok(())
    })
}

/// What a send does when the queue is full (a wsc_slow_consumer; default fail).
/// Errors: WSC_NULL_POINTER, WSC_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn wsc_config_set_slow_consumer(config: *mut wsc_config, policy: u32) -> wsc_result {
    with_config(config, |b| {
        b.config.socket.slow_consumer = wsc_slow_consumer::from_raw(policy)?.into();
        Ok(())
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
        b.config.socket.message_rate_policy = wsc_message_rate_policy::from_raw(policy)?.into();
        Ok(())
    })
}

/// Interval between pings (default 30 s; 0: no pings; at most WSC_MAX_DURATION_MS).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_ping_interval_ms(
    config: *mut wsc_config,
    interval_ms: u64,
) -> wsc_result {
    with_config(config, |b| {
        b.config.socket.ping_interval = optional_millis(interval_ms);
        Ok(())
    })
}

/// A ping not answered within this time closes the socket (default 20 s; at most
/// WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_pong_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| {
        b.config.socket.pong_timeout = millis(timeout_ms);
        Ok(())
    })
}

/// Time the peer has to answer our close frame (default 5 s; at most WSC_MAX_DURATION_MS).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_close_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| {
        b.config.socket.close_timeout = millis(timeout_ms);
        Ok(())
    })
}

/// Makes the connector a node of a cluster whose backplane is the Redis at `url`
/// ("redis://[user:password@]host:port/db", or "rediss://" for TLS): broadcast and bulk close
/// reach every node's sockets, operations by socket ID reach the node that holds the socket.
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

/// Changes a cluster setting; the cluster must have been set.
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
        c.node_name = Some(arg_str!(name).to_owned());
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
        c.password = Some(arg_str!(password).to_owned());
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
        c.timeout = millis(timeout_ms);
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
        c.node_expiry = millis(expiry_ms);
        Ok(())
    })
}

/// I/O threads of the connector (0: the default, the number of cores up to 4).
/// Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_worker_threads(
    config: *mut wsc_config,
    threads: usize,
) -> wsc_result {
    with_config(config, |b| {
        b.config.worker_threads = (threads > 0).then_some(threads);
        Ok(())
    })
}

/// How long stop waits for queued sends and close handshakes (default 5 s; at most
/// WSC_MAX_DURATION_MS). Errors: WSC_NULL_POINTER.
#[no_mangle]
pub extern "C" fn wsc_config_set_stop_timeout_ms(
    config: *mut wsc_config,
    timeout_ms: u64,
) -> wsc_result {
    with_config(config, |b| {
        b.config.stop_timeout = millis(timeout_ms);
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
        b.config.event_queue_capacity = capacity;
        Ok(())
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
        b.config.event_queue_bytes = max_bytes;
        Ok(())
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
    register(
        config,
        |c| &mut c.inbound_connection,
        callback,
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
    register(
        config,
        |c| &mut c.inbound_message,
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
    register(
        config,
        |c| &mut c.outbound_message,
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
    register(
        config,
        |c| &mut c.socket_closed,
        callback,
        userdata,
        userdata_free,
    )
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
