'use strict';
// The settings of `new Connector({...})`: ONE table from each setting's name (the Python
// package's snake_case name in camelCase) to the C function that applies it and the type of
// its value. Everything else here is generic per value type, so moving to name-keyed C setters
// is a change of this table only.

const { PEM_FILE, PEM_INLINE, WSC_OK, withReconnect } = require('./native');
const { invalidArgument } = require('./errors');

/**
 * name -> [C function, value type, extra, aliases]. `aliases` (optional): older names of the
 * same setting, still taken (deprecated); giving it under two of its names is an error. Value
 * types:
 *   listener      host and port: one wsc_config_set_listener() call, made first
 *   string        a string; addString: one string or an array, one call per item
 *   bool, size    a boolean; a non-negative integer (size_t)
 *   duration      milliseconds (uint64); null keeps the default
 *   durationOrOff milliseconds; null turns the feature off (0 in C)
 *   enum          a name from the table in `extra`
 *   pem, pemPair  PEM text (a string with "-----BEGIN", or a Buffer) or a file path; a pair
 *                 is applied together with its partner setting named in `extra`
 *   pairs         name/value pairs: an object or an array of [name, value]
 *   paths         path patterns: an object {pattern: groups} or an array of patterns
 *   named*        through the C API's generic setters, by the setting's name in `extra`:
 *                 namedString, namedBool, namedSize (null keeps the default), namedStrings,
 *                 namedDuration (milliseconds; null keeps the default)
 *   reconnect     true (the default policy), false or null (none), or a policy object
 */
const SETTINGS = {
  host: ['wsc_config_set_listener', 'listener'],
  port: ['wsc_config_set_listener', 'listener'],
  basePath: ['wsc_config_set_base_path', 'string'],
  paths: ['wsc_config_add_path', 'paths'],
  subprotocols: ['wsc_config_add_subprotocol', 'addString'],
  tlsCert: ['wsc_config_set_server_tls', 'pemPair', 'tlsKey'],
  tlsKey: ['wsc_config_set_server_tls', 'pemPair', 'tlsCert'],
  tlsClientCa: ['wsc_config_set_server_client_ca', 'pem'],
  maxInboundConnections: ['wsc_config_set_max_inbound_connections', 'size', null, ['maxConnections']],
  handshakeTimeout: ['wsc_config_set_handshake_timeout_ms', 'duration'],
  idleTimeout: ['wsc_config_set_listener_idle_timeout_ms', 'durationOrOff'],
  maxHandshakeBytes: ['wsc_config_set_max_handshake_bytes', 'size'],
  metricsPath: ['wsc_config_set_metrics_path', 'string'],
  metricsAllowedAddresses: ['wsc_config_add_metrics_allowed_address', 'addString'],
  healthPath: ['wsc_config_set_health_path', 'string'],
  defaultHeaders: ['wsc_config_add_client_header', 'pairs'],
  defaultQuery: ['wsc_config_add_client_query', 'pairs'],
  connectTimeout: ['wsc_config_set_client_connect_timeout_ms', 'duration'],
  clientIdleTimeout: ['wsc_config_set_client_idle_timeout_ms', 'durationOrOff'],
  extraCa: ['wsc_config_set_client_extra_ca', 'pem'],
  clientCert: ['wsc_config_set_client_identity', 'pemPair', 'clientKey'],
  clientKey: ['wsc_config_set_client_identity', 'pemPair', 'clientCert'],
  dangerousSkipCertificateVerification: [
    'wsc_config_set_client_dangerous_skip_certificate_verification', 'bool'],
  maxMessageSize: ['wsc_config_set_max_message_size', 'size'],
  sendQueueMessages: ['wsc_config_set_send_queue_messages', 'size'],
  sendQueueBytes: ['wsc_config_set_send_queue_bytes', 'size'],
  slowConsumer: ['wsc_config_set_slow_consumer', 'enum',
    { fail: 1, drop_newest: 2, drop_oldest: 3, close: 4 }],
  pingInterval: ['wsc_config_set_ping_interval_ms', 'durationOrOff'],
  pongTimeout: ['wsc_config_set_pong_timeout_ms', 'duration'],
  closeTimeout: ['wsc_config_set_close_timeout_ms', 'duration'],
  parkIdleAfter: ['wsc_config_set_duration_ms', 'namedDuration', 'park_idle_after'],
  workerThreads: ['wsc_config_set_worker_threads', 'size'],
  stopTimeout: ['wsc_config_set_stop_timeout_ms', 'duration'],
  eventQueueCapacity: ['wsc_config_set_event_queue_capacity', 'size'],
  eventQueueBytes: ['wsc_config_set_event_queue_bytes', 'size'],
  trustedRoots: ['wsc_config_set_string', 'namedString', 'trusted_roots'],
  clientScheme: ['wsc_config_set_string', 'namedString', 'client_scheme'],
  clientHost: ['wsc_config_set_string', 'namedString', 'client_host'],
  clientPort: ['wsc_config_set_int', 'namedSize', 'client_port'],
  clientBasePath: ['wsc_config_set_string', 'namedString', 'client_base_path'],
  followRedirects: ['wsc_config_set_bool', 'namedBool', 'follow_redirects'],
  maxRedirects: ['wsc_config_set_int', 'namedSize', 'max_redirects'],
  proxy: ['wsc_config_set_string', 'namedString', 'proxy'],
  proxyUsername: ['wsc_config_set_string', 'namedString', 'proxy_username'],
  proxyPassword: ['wsc_config_set_string', 'namedString', 'proxy_password'],
  noProxy: ['wsc_config_add_string', 'namedStrings', 'no_proxy'],
  proxyFromEnvironment: ['wsc_config_set_bool', 'namedBool', 'proxy_from_environment'],
  basicAuthUsername: ['wsc_config_set_string', 'namedString', 'basic_auth_username'],
  basicAuthPassword: ['wsc_config_set_string', 'namedString', 'basic_auth_password'],
  maxOutboundConnections: ['wsc_config_set_int', 'namedSize', 'max_outbound_connections'],
  reconnect: ['wsc_config_set_reconnect', 'reconnect'],
  compression: ['wsc_config_set_compression', 'bool'],
  serverNoContextTakeover: ['wsc_config_set_bool', 'namedBool', 'server_no_context_takeover'],
  clientNoContextTakeover: ['wsc_config_set_bool', 'namedBool', 'client_no_context_takeover'],
  serverMaxWindowBits: ['wsc_config_set_int', 'namedSize', 'server_max_window_bits'],
  clientMaxWindowBits: ['wsc_config_set_int', 'namedSize', 'client_max_window_bits'],
  compressionThreshold: ['wsc_config_set_int', 'namedSize', 'compression_threshold'],
  compressionLevel: ['wsc_config_set_int', 'namedSize', 'compression_level'],
};

const MAX_DURATION_MS = 31536000000;

function integer(name, value, max) {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw invalidArgument(`${name} must be an integer from 0 to ${max}, not ${String(value)}`);
  }
  return value;
}

function text(name, value) {
  if (typeof value !== 'string') throw invalidArgument(`${name} must be a string`);
  return value;
}

function list(name, value) {
  const items = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(items)) throw invalidArgument(`${name} must be a string or an array of strings`);
  return items.map((item) => text(name, item));
}

/** PEM as [source, text-or-path]: inline when it holds "-----BEGIN", else a file path. */
function pem(name, value) {
  if (Buffer.isBuffer(value)) return [PEM_INLINE, value.toString('utf8')];
  text(name, value);
  return value.includes('-----BEGIN') ? [PEM_INLINE, value] : [PEM_FILE, value];
}

function pairs(name, value) {
  const entries = Array.isArray(value) ? value : Object.entries(value || {});
  return entries.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw invalidArgument(`${name}: pairs are [name, value]`);
    return [text(name, pair[0]), text(name, pair[1])];
  });
}

/** A duration in milliseconds, checked. */
function milliseconds(name, value) {
  if (typeof value !== 'number' || !(value >= 0) || value > MAX_DURATION_MS) {
    throw invalidArgument(`${name} must be a duration in milliseconds from 0 to ${MAX_DURATION_MS}`);
  }
  return Math.round(value);
}

/** The C calls of one setting: arrays of arguments after the config handle. */
function calls(name, value, type, extra, all) {
  switch (type) {
    case 'string':
      return [[text(name, value)]];
    case 'addString':
      return list(name, value).map((item) => [item]);
    case 'bool':
      if (typeof value !== 'boolean') throw invalidArgument(`${name} must be true or false`);
      return [[value]];
    case 'size':
      return [[integer(name, value, Number.MAX_SAFE_INTEGER)]];
    case 'duration':
    case 'durationOrOff':
      if (value === null) return type === 'durationOrOff' ? [[0]] : [];
      return [[milliseconds(name, value)]];
    case 'namedDuration':
      return [[extra, milliseconds(name, value)]];
    case 'enum':
      if (!Object.hasOwn(extra, value)) {
        throw invalidArgument(`${name} must be one of ${Object.keys(extra).join(', ')}`);
      }
      return [[extra[value]]];
    case 'pem':
      return [pem(name, value)];
    case 'pemPair': {
      const partner = all[extra];
      if (partner === undefined || partner === null) throw invalidArgument(`${name} needs ${extra}`);
      // The pair is applied once, from its first member in the table.
      if (Object.keys(SETTINGS).indexOf(name) > Object.keys(SETTINGS).indexOf(extra)) return [];
      const [source, first] = pem(name, value);
      const [partnerSource, second] = pem(extra, partner);
      if (source !== partnerSource) throw invalidArgument(`${name} and ${extra} must both be PEM text or both be paths`);
      return [[source, first, second]];
    }
    case 'pairs':
      return pairs(name, value);
    case 'namedString':
      return [[extra, text(name, value)]];
    case 'namedStrings':
      return list(name, value).map((item) => [extra, item]);
    case 'namedBool':
      if (typeof value !== 'boolean') throw invalidArgument(`${name} must be true or false`);
      return [[extra, value]];
    case 'namedSize':
      return [[extra, integer(name, value, Number.MAX_SAFE_INTEGER)]];
    case 'paths': {
      const entries = typeof value === 'string' || Array.isArray(value)
        ? list(name, value).map((pattern) => [pattern, []])
        : Object.entries(value).map(([pattern, groups]) => [pattern, groups == null ? [] : list(name, groups)]);
      return entries.map(([pattern, groups]) => [pattern, groups.length ? groups : null, groups.length]);
    }
    default:
      throw new Error(`unknown value type ${type}`);
  }
}

/** Hands `use` a wsc_reconnect made from `true` (the defaults) or a policy object; returns
 *  use's result, or a failed C call's code. */
function reconnectPolicy(fns, name, value, use) {
  if (value !== true && (typeof value !== 'object' || Array.isArray(value))) {
    throw invalidArgument(`${name} must be true, false, null or a policy object`);
  }
  try {
    return withReconnect(fns, value === true ? {} : value, use);
  } catch (code) {
    if (typeof code !== 'number') throw code;
    return code;
  }
}

/** The row of each deprecated alias. */
const ALIASES = Object.fromEntries(Object.entries(SETTINGS)
  .flatMap(([name, [, , , aliases = []]]) => aliases.map((alias) => [alias, name])));

/** `settings` with each alias given under its setting's name: unknown names are an error, and
 *  so is a setting given (not null) under two of its names. */
function canonical(settings) {
  const out = {};
  for (const [given, value] of Object.entries(settings)) {
    if (!Object.hasOwn(SETTINGS, given) && !Object.hasOwn(ALIASES, given)) {
      throw invalidArgument(`unknown setting ${given}`);
    }
    const name = Object.hasOwn(SETTINGS, given) ? given : ALIASES[given];
    if (value === undefined || value === null) {
      if (!Object.hasOwn(out, name)) out[name] = value;
      continue;
    }
    const [earlier] = Object.keys(settings).filter((other) => other !== given
      && (other === name || ALIASES[other] === name) && settings[other] != null);
    if (earlier !== undefined) {
      const aliases = SETTINGS[name][3].join(', ');
      throw invalidArgument(`${earlier} and ${given} are one setting (${name}, deprecated alias ${aliases}): give it once`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * Makes a wsc_config from settings; returns its handle, or throws (the config then freed).
 * @param {object} fns the C functions (native.api())
 * @param {Record<string, unknown>} settings
 * @param {(code: number) => Error} fail the error for a failed C call
 */
function buildConfig(fns, settings, fail) {
  settings = canonical(settings);
  const out = [null];
  let result = fns.wsc_config_new(out);
  if (result !== WSC_OK) throw fail(result);
  const config = out[0];
  try {
    const { host, port } = settings;
    if ((host !== undefined && host !== null) || (port !== undefined && port !== null)) {
      result = fns.wsc_config_set_listener(config, host == null ? '127.0.0.1' : text('host', host),
        port == null ? 0 : integer('port', port, 65535));
      if (result !== WSC_OK) throw fail(result);
    }
    for (const [name, [fn, type, extra]] of Object.entries(SETTINGS)) {
      const value = settings[name];
      if (type === 'listener' || value === undefined || (value === null && type !== 'durationOrOff')) continue;
      if (type === 'reconnect') {
        if (value === false) continue;
        result = reconnectPolicy(fns, name, value, (policy) => fns[fn](config, policy));
        if (result !== WSC_OK) throw fail(result);
        continue;
      }
      for (const args of calls(name, value, type, extra, settings)) {
        result = fns[fn](config, ...args);
        if (result !== WSC_OK) throw fail(result);
      }
    }
  } catch (error) {
    fns.wsc_config_free(config);
    throw error;
  }
  return config;
}

module.exports = { SETTINGS, ALIASES, buildConfig, reconnectPolicy };
