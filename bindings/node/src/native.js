'use strict';
// The C ABI through koffi: where the library is, the declarations of the functions the binding
// calls, and the readers that turn C views (wsc_str, wsc_bytes, wsc_socket) into JS values.
// Loaded on the main thread and in the binding's worker threads alike; every call made here
// is synchronous, so a failing call's thread-local message is read on the thread that made it.

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

/** The C ABI major version this binding is written for (the soname's number). */
const ABI_VERSION = 1;

const WSC_OK = 0;
const WSC_BUFFER_TOO_SMALL = 102;
const WSC_SOCKET_ID_SIZE = 257;
const PEM_FILE = 1;
const PEM_INLINE = 2;
const TEXT = 1;
const BINARY = 2;

/** Where the shared library is: $WSCONNECTOR_LIB, the copy the npm package carries, or the
 *  system's library path (after `make install-c`). */
function libraryPath() {
  if (process.env.WSCONNECTOR_LIB) return process.env.WSCONNECTOR_LIB;
  const bundled = path.join(__dirname, '..', 'native', `libwsconnector.so.${ABI_VERSION}`);
  return fs.existsSync(bundled) ? bundled : `libwsconnector.so.${ABI_VERSION}`;
}

// Every C function the binding calls, as koffi prototypes. Results are wsc_result codes.
const PROTOTYPES = [
  'const char *wsc_version()',
  'uint32_t wsc_abi_version()',
  'const char *wsc_result_name(uint32_t result)',
  'uint32_t wsc_last_error(_Out_ uint8_t *buf, size_t capacity, _Out_ size_t *len_out)',
  'uint16_t wsc_last_error_http_status()',
  'uint32_t wsc_config_new(_Out_ wsc_config **config_out)',
  'void wsc_config_free(wsc_config *config)',
  'uint32_t wsc_config_set_listener(wsc_config *config, const char *host, uint16_t port)',
  'uint32_t wsc_config_set_base_path(wsc_config *config, const char *base_path)',
  'uint32_t wsc_config_add_path(wsc_config *config, const char *pattern, const char **groups, size_t count)',
  'uint32_t wsc_config_add_subprotocol(wsc_config *config, const char *protocol)',
  'uint32_t wsc_config_set_max_inbound_connections(wsc_config *config, size_t max)',
  'uint32_t wsc_config_set_handshake_timeout_ms(wsc_config *config, uint64_t timeout_ms)',
  'uint32_t wsc_config_set_listener_idle_timeout_ms(wsc_config *config, uint64_t timeout_ms)',
  'uint32_t wsc_config_set_max_handshake_bytes(wsc_config *config, size_t max)',
  'uint32_t wsc_config_set_server_tls(wsc_config *config, uint32_t source, const char *cert_chain, const char *private_key)',
  'uint32_t wsc_config_set_server_client_ca(wsc_config *config, uint32_t source, const char *ca)',
  'uint32_t wsc_config_set_client_extra_ca(wsc_config *config, uint32_t source, const char *ca)',
  'uint32_t wsc_config_set_client_identity(wsc_config *config, uint32_t source, const char *cert_chain, const char *private_key)',
  'uint32_t wsc_config_set_client_dangerous_skip_certificate_verification(wsc_config *config, bool skip)',
  'uint32_t wsc_config_add_client_header(wsc_config *config, const char *name, const char *value)',
  'uint32_t wsc_config_add_client_query(wsc_config *config, const char *name, const char *value)',
  'uint32_t wsc_config_set_client_connect_timeout_ms(wsc_config *config, uint64_t timeout_ms)',
  'uint32_t wsc_config_set_client_idle_timeout_ms(wsc_config *config, uint64_t timeout_ms)',
  'uint32_t wsc_config_set_max_message_size(wsc_config *config, size_t max)',
  'uint32_t wsc_config_set_send_queue_messages(wsc_config *config, size_t max)',
  'uint32_t wsc_config_set_send_queue_bytes(wsc_config *config, size_t max)',
  'uint32_t wsc_config_set_slow_consumer(wsc_config *config, uint32_t policy)',
  'uint32_t wsc_config_set_ping_interval_ms(wsc_config *config, uint64_t interval_ms)',
  'uint32_t wsc_config_set_pong_timeout_ms(wsc_config *config, uint64_t timeout_ms)',
  'uint32_t wsc_config_set_close_timeout_ms(wsc_config *config, uint64_t timeout_ms)',
  'uint32_t wsc_config_set_worker_threads(wsc_config *config, size_t threads)',
  'uint32_t wsc_config_set_stop_timeout_ms(wsc_config *config, uint64_t timeout_ms)',
  'uint32_t wsc_config_set_event_queue_capacity(wsc_config *config, size_t capacity)',
  'uint32_t wsc_config_set_event_queue_bytes(wsc_config *config, size_t max_bytes)',
  'uint32_t wsc_config_set_metrics_path(wsc_config *config, const char *path)',
  'uint32_t wsc_config_add_metrics_allowed_address(wsc_config *config, const char *address)',
  'uint32_t wsc_config_set_health_path(wsc_config *config, const char *path)',
  'uint32_t wsc_config_set_compression(wsc_config *config, bool on)',
  'uint32_t wsc_config_set_bool(wsc_config *config, const char *name, bool value)',
  'uint32_t wsc_config_set_int(wsc_config *config, const char *name, uint64_t value)',
  'uint32_t wsc_config_set_duration_ms(wsc_config *config, const char *name, uint64_t ms)',
  'uint32_t wsc_config_set_string(wsc_config *config, const char *name, const char *value)',
  'uint32_t wsc_config_add_string(wsc_config *config, const char *name, const char *value)',
  'uint32_t wsc_config_set_reconnect(wsc_config *config, wsc_reconnect *policy)',
  'uint32_t wsc_reconnect_new(_Out_ wsc_reconnect **policy_out)',
  'uint32_t wsc_reconnect_set_delays(wsc_reconnect *policy, uint64_t initial_delay_ms, uint64_t max_delay_ms, double multiplier)',
  'uint32_t wsc_reconnect_set_max_attempts(wsc_reconnect *policy, uint32_t max_attempts)',
  'uint32_t wsc_reconnect_set_lazy(wsc_reconnect *policy, bool lazy)',
  'uint32_t wsc_reconnect_set_send_policy(wsc_reconnect *policy, uint32_t send_policy)',
  'uint32_t wsc_reconnect_add_final_close_codes(wsc_reconnect *policy, uint16_t first, uint16_t last)',
  'uint32_t wsc_reconnect_clear_final_close_codes(wsc_reconnect *policy)',
  'void wsc_reconnect_free(wsc_reconnect *policy)',
  'uint32_t wsc_connector_start(wsc_config *config, _Out_ wsc_connector **conn_out)',
  'uint32_t wsc_connector_stop(wsc_connector *conn)',
  'uint32_t wsc_connector_free(wsc_connector *conn)',
  'uint32_t wsc_connector_local_port(wsc_connector *conn, _Out_ uint16_t *port_out)',
  'uint32_t wsc_connector_is_running(wsc_connector *conn, _Out_ bool *running_out)',
  'uint32_t wsc_connector_open_outbound(wsc_connector *conn, const char *url, wsc_outbound_options *options, _Out_ uint8_t *id_buf, size_t capacity)',
  'uint32_t wsc_connector_send(wsc_connector *conn, const char *socket_id, uint32_t kind, const uint8_t *data, size_t len, _Out_ uint32_t *delivery_out, _Out_ size_t *dropped_oldest_out)',
  'uint32_t wsc_connector_subscribe(wsc_connector *conn, const char *socket_id, const char **groups, size_t count)',
  'uint32_t wsc_connector_unsubscribe(wsc_connector *conn, const char *socket_id, const char **groups, size_t count)',
  'uint32_t wsc_connector_broadcast(wsc_connector *conn, wsc_filter *filter, uint32_t kind, const uint8_t *data, size_t len, _Out_ wsc_broadcast_result **result_out)',
  'uint32_t wsc_connector_close(wsc_connector *conn, const char *socket_id, uint16_t code, const char *reason)',
  'uint32_t wsc_connector_bulk_close(wsc_connector *conn, wsc_filter *filter, uint16_t code, const char *reason, _Out_ size_t *count_out)',
  'uint32_t wsc_connector_socket(wsc_connector *conn, const char *socket_id, _Out_ wsc_socket **socket_out)',
  'uint32_t wsc_connector_sockets(wsc_connector *conn, wsc_filter *filter, _Out_ wsc_socket_list **list_out)',
  'uint32_t wsc_connector_socket_count(wsc_connector *conn, _Out_ size_t *count_out)',
  'uint32_t wsc_connector_group_count(wsc_connector *conn, _Out_ size_t *count_out)',
  'uint32_t wsc_connector_metrics_snapshot(wsc_connector *conn, _Out_ wsc_metrics_snapshot **snapshot_out)',
  'size_t wsc_metrics_snapshot_sample_count(wsc_metrics_snapshot *snapshot)',
  'uint32_t wsc_metrics_snapshot_sample(wsc_metrics_snapshot *snapshot, size_t index, _Out_ wsc_str *name_out, _Out_ size_t *label_count_out, _Out_ double *value_out)',
  'uint32_t wsc_metrics_snapshot_sample_label(wsc_metrics_snapshot *snapshot, size_t index, size_t label, _Out_ wsc_str *name_out, _Out_ wsc_str *value_out)',
  'uint32_t wsc_metrics_snapshot_prometheus(wsc_metrics_snapshot *snapshot, _Out_ uint8_t *buf, size_t capacity, _Out_ size_t *len_out)',
  'void wsc_metrics_snapshot_free(wsc_metrics_snapshot *snapshot)',
  'uint32_t wsc_drain_options_new(_Out_ wsc_drain_options **options_out)',
  'uint32_t wsc_drain_options_set_filter(wsc_drain_options *options, wsc_filter *filter)',
  'uint32_t wsc_drain_options_set_batches(wsc_drain_options *options, size_t batch_size, uint64_t interval_ms)',
  'uint32_t wsc_drain_options_set_close(wsc_drain_options *options, uint16_t code, const char *reason)',
  'uint32_t wsc_drain_options_set_retry_after_ms(wsc_drain_options *options, uint64_t retry_after_ms)',
  'void wsc_drain_options_free(wsc_drain_options *options)',
  'uint32_t wsc_connector_drain(wsc_connector *conn, wsc_drain_options *options, _Out_ wsc_drain **drain_out)',
  'uint32_t wsc_drain_wait(wsc_drain *drain, int64_t timeout_ms, _Inout_ wsc_drain_progress *progress_out)',
  'void wsc_drain_free(wsc_drain *drain)',
  'uint32_t wsc_connector_next_event(wsc_connector *conn, int64_t timeout_ms, _Out_ wsc_event **event_out)',
  'uint32_t wsc_event_trigger(wsc_event *event, _Out_ uint32_t *trigger_out)',
  'uint32_t wsc_event_socket(wsc_event *event, _Out_ wsc_socket **socket_out)',
  'uint32_t wsc_event_message(wsc_event *event, _Out_ uint32_t *kind_out, _Out_ wsc_bytes *payload_out)',
  'uint32_t wsc_event_close(wsc_event *event, _Out_ uint16_t *code_out, _Out_ wsc_str *reason_out)',
  'uint32_t wsc_event_reconnect(wsc_event *event, _Out_ uint32_t *attempt_out, _Out_ uint64_t *delay_ms_out, _Out_ uint32_t *error_out, _Out_ wsc_str *message_out)',
  'void wsc_event_free(wsc_event *event)',
  'uint32_t wsc_filter_new(_Out_ wsc_filter **filter_out)',
  'uint32_t wsc_filter_set_path(wsc_filter *filter, const char *pattern)',
  'uint32_t wsc_filter_set_type(wsc_filter *filter, uint32_t socket_type)',
  'uint32_t wsc_filter_add_group(wsc_filter *filter, const char *group)',
  'uint32_t wsc_filter_require_group(wsc_filter *filter, const char *group)',
  'uint32_t wsc_filter_except_socket_id(wsc_filter *filter, const char *socket_id)',
  'uint32_t wsc_filter_except_group(wsc_filter *filter, const char *group)',
  'void wsc_filter_free(wsc_filter *filter)',
  'uint32_t wsc_broadcast_result_delivered(wsc_broadcast_result *result, _Out_ size_t *count_out)',
  'uint32_t wsc_broadcast_result_dropped_oldest(wsc_broadcast_result *result, _Out_ size_t *count_out)',
  'uint32_t wsc_broadcast_result_buffered(wsc_broadcast_result *result, _Out_ size_t *count_out)',
  'uint32_t wsc_broadcast_result_failure_count(wsc_broadcast_result *result, _Out_ size_t *count_out)',
  'uint32_t wsc_broadcast_result_failure_at(wsc_broadcast_result *result, size_t index, _Out_ wsc_str *socket_id_out, _Out_ uint32_t *what_out, _Out_ uint32_t *error_out)',
  'void wsc_broadcast_result_free(wsc_broadcast_result *result)',
  'uint32_t wsc_outbound_options_new(_Out_ wsc_outbound_options **options_out)',
  'uint32_t wsc_outbound_options_add_header(wsc_outbound_options *options, const char *name, const char *value)',
  'uint32_t wsc_outbound_options_add_query(wsc_outbound_options *options, const char *name, const char *value)',
  'uint32_t wsc_outbound_options_add_subprotocol(wsc_outbound_options *options, const char *protocol)',
  'uint32_t wsc_outbound_options_add_group(wsc_outbound_options *options, const char *group)',
  'uint32_t wsc_outbound_options_set_socket_id(wsc_outbound_options *options, const char *socket_id)',
  'uint32_t wsc_outbound_options_set_connect_timeout_ms(wsc_outbound_options *options, uint64_t timeout_ms)',
  'uint32_t wsc_outbound_options_add_uri_param(wsc_outbound_options *options, const char *name, const char *value)',
  'uint32_t wsc_outbound_options_set_reconnect(wsc_outbound_options *options, wsc_reconnect *policy)',
  'uint32_t wsc_outbound_options_set_reconnect_enabled(wsc_outbound_options *options, bool enabled)',
  'uint32_t wsc_outbound_options_set_compression(wsc_outbound_options *options, bool on)',
  'void wsc_outbound_options_free(wsc_outbound_options *options)',
  'uint32_t wsc_socket_id(wsc_socket *socket, _Out_ wsc_str *id_out)',
  'uint32_t wsc_socket_get_type(wsc_socket *socket, _Out_ uint32_t *type_out)',
  'uint32_t wsc_socket_get_state(wsc_socket *socket, _Out_ uint32_t *state_out)',
  'uint32_t wsc_socket_last_error(wsc_socket *socket, _Out_ uint32_t *code_out, _Out_ wsc_str *message_out)',
  'uint32_t wsc_socket_path(wsc_socket *socket, _Out_ wsc_str *path_out)',
  'uint32_t wsc_socket_uri(wsc_socket *socket, _Out_ wsc_str *uri_out)',
  'uint32_t wsc_socket_scheme(wsc_socket *socket, _Out_ wsc_str *scheme_out)',
  'uint32_t wsc_socket_subprotocol(wsc_socket *socket, _Out_ wsc_str *subprotocol_out)',
  'uint32_t wsc_socket_extensions(wsc_socket *socket, _Out_ wsc_str *extensions_out)',
  'uint32_t wsc_socket_peer_certificate(wsc_socket *socket, _Out_ wsc_bytes *certificate_out)',
  'uint32_t wsc_socket_peer_certificate_subject(wsc_socket *socket, _Out_ wsc_str *subject_out)',
  'uint32_t wsc_socket_header_count(wsc_socket *socket, _Out_ size_t *count_out)',
  'uint32_t wsc_socket_header_at(wsc_socket *socket, size_t index, _Out_ wsc_str *name_out, _Out_ wsc_str *value_out)',
  'uint32_t wsc_socket_query_count(wsc_socket *socket, _Out_ size_t *count_out)',
  'uint32_t wsc_socket_query_at(wsc_socket *socket, size_t index, _Out_ wsc_str *name_out, _Out_ wsc_str *value_out)',
  'uint32_t wsc_socket_local_addr(wsc_socket *socket, _Out_ uint8_t *buf, size_t capacity, _Out_ size_t *len_out)',
  'uint32_t wsc_socket_remote_addr(wsc_socket *socket, _Out_ uint8_t *buf, size_t capacity, _Out_ size_t *len_out)',
  'uint32_t wsc_socket_group_count(wsc_socket *socket, _Out_ size_t *count_out)',
  'uint32_t wsc_socket_group_at(wsc_socket *socket, size_t index, _Out_ wsc_str *group_out)',
  'void wsc_socket_free(wsc_socket *socket)',
  'uint32_t wsc_socket_list_len(wsc_socket_list *list, _Out_ size_t *len_out)',
  'uint32_t wsc_socket_list_get(wsc_socket_list *list, size_t index, _Out_ wsc_socket **socket_out)',
  'void wsc_socket_list_free(wsc_socket_list *list)',
];

let loaded = null;

/** The library's functions by C name, loaded once per thread (koffi state is per thread). */
function api() {
  if (loaded) return loaded;
  const file = libraryPath();
  const lib = koffi.load(file);
  for (const name of ['wsc_config', 'wsc_connector', 'wsc_event', 'wsc_filter',
    'wsc_broadcast_result', 'wsc_outbound_options', 'wsc_socket', 'wsc_socket_list',
    'wsc_reconnect', 'wsc_metrics_snapshot', 'wsc_drain_options', 'wsc_drain']) {
    koffi.opaque(name);
  }
  koffi.struct('wsc_drain_progress', {
    struct_size: 'size_t', matched: 'size_t', requested: 'size_t', closed: 'size_t',
    batches: 'size_t', finished: 'uint32_t',
  });
  // Views: the pointer stays a number (koffi would read a char * up to a NUL).
  koffi.struct('wsc_str', { data: 'void *', len: 'size_t' });
  koffi.struct('wsc_bytes', { data: 'void *', len: 'size_t' });
  const fns = {};
  for (const prototype of PROTOTYPES) {
    const fn = lib.func(prototype);
    fns[prototype.match(/(wsc_\w+)\(/)[1]] = fn;
  }
  const abi = fns.wsc_abi_version();
  if (abi !== ABI_VERSION) {
    throw new Error(`${file} has C ABI ${abi}; this package needs ABI ${ABI_VERSION}`);
  }
  loaded = fns;
  return fns;
}

/** The calling thread's last error: code, kind name, message and HTTP status (0 if none). */
function lastError(fns, code) {
  let buf = Buffer.alloc(512);
  const len = [0];
  let result = fns.wsc_last_error(buf, buf.length, len);
  if (result === WSC_BUFFER_TOO_SMALL) {
    buf = Buffer.alloc(Number(len[0]) + 1);
    result = fns.wsc_last_error(buf, buf.length, len);
  }
  const message = result === WSC_OK ? buf.toString('utf8', 0, Number(len[0])) : '';
  return {
    code,
    kind: fns.wsc_result_name(code),
    message,
    status: fns.wsc_last_error_http_status(),
  };
}

/** A wsc_str view as a string, or null when absent. */
function str(view) {
  if (view.data === null || view.data === 0n) return null;
  const len = Number(view.len);
  return len === 0 ? '' : koffi.decode(view.data, 'char', len);
}

/** A wsc_bytes view copied into a fresh ArrayBuffer, or null when absent. */
function bytes(view) {
  if (view.data === null || view.data === 0n) return null;
  const len = Number(view.len);
  return len === 0 ? new ArrayBuffer(0) : koffi.view(view.data, len).slice(0);
}

/** A string getter (`fn(handle, &wsc_str)`) on a socket, or null. */
function readStr(fn, handle) {
  const view = {};
  return fn(handle, view) === WSC_OK ? str(view) : null;
}

/** The name/value pairs behind a count and an indexed getter. */
function readPairs(countFn, atFn, handle) {
  const count = [0];
  if (countFn(handle, count) !== WSC_OK) return [];
  const pairs = [];
  for (let i = 0; i < Number(count[0]); i++) {
    const name = {};
    const value = {};
    if (atFn(handle, i, name, value) === WSC_OK) pairs.push([str(name), str(value)]);
  }
  return pairs;
}

/** An address getter that copies into a buffer ("127.0.0.1:8080"). */
function readAddress(fn, handle) {
  const buf = Buffer.alloc(64);
  const len = [0];
  return fn(handle, buf, buf.length, len) === WSC_OK ? buf.toString('utf8', 0, Number(len[0])) : null;
}

/** A socket's groups at the time of the call. */
function readGroups(fns, handle) {
  const count = [0];
  if (fns.wsc_socket_group_count(handle, count) !== WSC_OK) return [];
  const groups = [];
  for (let i = 0; i < Number(count[0]); i++) {
    const group = {};
    if (fns.wsc_socket_group_at(handle, i, group) === WSC_OK) groups.push(str(group));
  }
  return groups;
}

const STATES = [null, 'connected', 'reconnecting', 'disconnected', 'closed'];

/** What changes over a socket's life besides its groups: its state, and why its last
 *  connection or reconnect attempt failed ({code, kind, message}, or null). */
function readStatus(fns, handle) {
  const state = [0];
  fns.wsc_socket_get_state(handle, state);
  const code = [0];
  const message = {};
  fns.wsc_socket_last_error(handle, code, message);
  const lastError = code[0] === WSC_OK
    ? null : { code: code[0], kind: fns.wsc_result_name(code[0]), message: str(message), status: 0 };
  return { state: STATES[state[0]], lastError };
}

/** Makes a wsc_reconnect from {initialDelayMs, maxDelayMs, multiplier, maxAttempts, lazy,
 *  sendPolicy, finalCloseCodes}; `use(handle)` gets it, then it is freed. Returns use's value;
 *  a failed C call's code is thrown. */
function withReconnect(fns, policy, use) {
  const out = [null];
  let result = fns.wsc_reconnect_new(out);
  if (result !== WSC_OK) throw result;
  const handle = out[0];
  const check = (code) => {
    if (code !== WSC_OK) throw code;
  };
  try {
    if (policy.initialDelayMs !== undefined || policy.maxDelayMs !== undefined || policy.multiplier !== undefined) {
      check(fns.wsc_reconnect_set_delays(handle, policy.initialDelayMs ?? 500,
        policy.maxDelayMs ?? 30000, policy.multiplier ?? 2));
    }
    if (policy.maxAttempts !== undefined && policy.maxAttempts !== null) {
      check(fns.wsc_reconnect_set_max_attempts(handle, policy.maxAttempts));
    }
    if (policy.lazy !== undefined) check(fns.wsc_reconnect_set_lazy(handle, Boolean(policy.lazy)));
    if (policy.sendPolicy !== undefined) {
      check(fns.wsc_reconnect_set_send_policy(handle, { buffer: 1, fail: 2 }[policy.sendPolicy] ?? 0));
    }
    if (policy.finalCloseCodes !== undefined) {
      check(fns.wsc_reconnect_clear_final_close_codes(handle));
      for (const codes of policy.finalCloseCodes) {
        const [first, last] = Array.isArray(codes) ? codes : [codes, codes];
        check(fns.wsc_reconnect_add_final_close_codes(handle, first, last));
      }
    }
    result = use(handle);
  } finally {
    fns.wsc_reconnect_free(handle);
  }
  return result;
}

/** Every attribute of a socket handle as plain data (structured-cloneable for postMessage). */
function readSocket(fns, handle) {
  const type = [0];
  fns.wsc_socket_get_type(handle, type);
  const certificate = {};
  fns.wsc_socket_peer_certificate(handle, certificate);
  return {
    id: readStr(fns.wsc_socket_id, handle),
    type: type[0] === 2 ? 'outbound' : 'inbound',
    path: readStr(fns.wsc_socket_path, handle),
    uri: readStr(fns.wsc_socket_uri, handle),
    scheme: readStr(fns.wsc_socket_scheme, handle),
    subprotocol: readStr(fns.wsc_socket_subprotocol, handle),
    extensions: readStr(fns.wsc_socket_extensions, handle),
    headers: readPairs(fns.wsc_socket_header_count, fns.wsc_socket_header_at, handle),
    query: readPairs(fns.wsc_socket_query_count, fns.wsc_socket_query_at, handle),
    localAddress: readAddress(fns.wsc_socket_local_addr, handle),
    remoteAddress: readAddress(fns.wsc_socket_remote_addr, handle),
    peerCertificate: bytes(certificate),
    peerCertificateSubject: readStr(fns.wsc_socket_peer_certificate_subject, handle),
    groups: readGroups(fns, handle),
    ...readStatus(fns, handle),
  };
}

module.exports = {
  ABI_VERSION,
  WSC_OK,
  WSC_SOCKET_ID_SIZE,
  PEM_FILE,
  PEM_INLINE,
  TEXT,
  BINARY,
  api,
  lastError,
  libraryPath,
  str,
  bytes,
  readGroups,
  readSocket,
  readStatus,
  withReconnect,
};
