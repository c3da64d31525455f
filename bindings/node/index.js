'use strict';
// wsconnector for Node.js: a Connector (an EventEmitter) over the library's C ABI, loaded with
// koffi. Events come from the pull API on a worker thread and are emitted on the event loop
// (src/events-worker.js); blocking calls run on worker threads (src/ops.js); everything else
// is a direct, synchronous C call on the calling (main) thread.

const { EventEmitter } = require('node:events');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const native = require('./src/native');
const errors = require('./src/errors');
const { buildConfig } = require('./src/settings');
const { Ops } = require('./src/ops');

const SOCKET_TYPES = { inbound: 1, outbound: 2 };
const UNDELIVERED = [null, 'dropped', 'closed', 'failed'];

/** The payload of a send as [kind, bytes]: a string is text, bytes are binary. */
function payload(data) {
  if (typeof data === 'string') return [native.TEXT, Buffer.from(data, 'utf8')];
  if (Buffer.isBuffer(data)) return [native.BINARY, data];
  if (ArrayBuffer.isView(data)) return [native.BINARY, Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
  if (data instanceof ArrayBuffer) return [native.BINARY, Buffer.from(data)];
  throw new TypeError('a message is a string (text) or a Buffer, TypedArray or ArrayBuffer (binary)');
}

function groupList(groups) {
  const list = typeof groups === 'string' ? [groups] : groups;
  if (!Array.isArray(list) || list.some((group) => typeof group !== 'string')) {
    throw new TypeError('groups are a string or an array of strings');
  }
  return list;
}

function stringArg(name, value) {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  return value;
}

/** A socket: its attributes, as of the event it came with, and the operations on it. */
class Socket {
  #connector;

  constructor(connector, attributes) {
    this.#connector = connector;
    /** The unique socket ID. */ this.id = attributes.id;
    /** 'inbound' (accepted by the listener) or 'outbound' (opened by this connector). */
    this.type = attributes.type;
    /** The full path (base path included), without the query. */ this.path = attributes.path;
    /** The full request URI. */ this.uri = attributes.uri;
    /** 'ws' or 'wss'. */ this.scheme = attributes.scheme;
    /** The negotiated subprotocol, or null. */ this.subprotocol = attributes.subprotocol;
    /** The negotiated extensions ("permessage-deflate; ..."), or null. */
    this.extensions = attributes.extensions;
    /** The handshake's headers as [name, value] pairs, in order (outbound: those sent). */
    this.headers = attributes.headers;
    /** The query parameters as [name, value] pairs, decoded, in order. */
    this.query = attributes.query;
    /** Our end of the connection ("127.0.0.1:8080"). */ this.localAddress = attributes.localAddress;
    /** The peer's end of the connection. */ this.remoteAddress = attributes.remoteAddress;
    /** The peer's certificate (DER), or null without TLS or when it presented none. */
    this.peerCertificate = attributes.peerCertificate ? Buffer.from(attributes.peerCertificate) : null;
    /** That certificate's subject as RFC 4514 text, or null. */
    this.peerCertificateSubject = attributes.peerCertificateSubject;
    /** The socket's groups when its latest event was read (sorted). */
    this.groups = attributes.groups;
    /** 'connected', 'reconnecting', 'disconnected' (lazy mode) or 'closed', when its latest
     *  event was read. */
    this.state = attributes.state;
    /** Why its last connection or reconnect attempt failed (a WebSocketError: once its
     *  attempts ran out, RetryExhaustedError), when its latest event was read; else null. */
    this.lastError = attributes.lastError ? errors.toError(attributes.lastError) : null;
  }

  /** The first handshake header called `name` (case-insensitive), or null. */
  header(name) {
    const lower = name.toLowerCase();
    const found = this.headers.find(([key]) => key.toLowerCase() === lower);
    return found ? found[1] : null;
  }

  /** The first query parameter called `name`, or null. */
  queryParam(name) {
    const found = this.query.find(([key]) => key === name);
    return found ? found[1] : null;
  }

  /** Queues a message for this socket: see Connector.send. */
  send(data) { return this.#connector.send(this.id, data); }

  /** Closes this socket: see Connector.close. */
  close(code = 1000, reason = '') { this.#connector.close(this.id, code, reason); }

  /** Adds groups: see Connector.subscribe. */
  subscribe(groups) { this.#connector.subscribe(this.id, groups); }

  /** Removes groups: see Connector.unsubscribe. */
  unsubscribe(groups) { this.#connector.unsubscribe(this.id, groups); }
}

/**
 * A connector: an optional listener (when `host` or `port` is set) and outbound sockets.
 * Events: 'inboundConnection' (socket), 'inboundMessage' (socket, message),
 * 'outboundMessage' (socket, message), 'socketClosed' (socket, code, reason); a message is a
 * string (text) or a Buffer (binary). An outbound socket that reconnects also emits
 * 'outboundReconnecting' (socket, {attempt, delayMs, error}) before each attempt and
 * 'outboundReconnected' (socket, {attempts}) once back, before its new connection's messages. An exception thrown by a listener goes to 'error'
 * listeners when there are some, else it is thrown as an uncaught exception.
 */
class Connector extends EventEmitter {
  #settings;
  #fns = null;
  #conn = null;
  #state = 'new';
  #ops = new Ops();
  #pending = new Set();
  #sockets = new Map();
  #ended = null;
  #stopped = null;

  /** @param {import('./index').Settings} [settings] */
  constructor(settings = {}) {
    super();
    if (typeof settings !== 'object' || settings === null) throw new TypeError('settings are an object');
    this.#settings = { ...settings };
  }

  /** Starts the listener and the connector's threads; events are emitted from now on. */
  async start() {
    if (this.#state !== 'new') throw errors.invalidState(`cannot start a connector that is ${this.#state}`);
    const fns = native.api();
    const config = buildConfig(fns, this.#settings, (code) => this.#error(code));
    const out = [null];
    const result = fns.wsc_connector_start(config, out);
    if (result !== native.WSC_OK) throw this.#error(result);
    this.#fns = fns;
    this.#conn = out[0];
    this.#state = 'running';
    const done = new SharedArrayBuffer(4);
    const pump = new Worker(path.join(__dirname, 'src', 'events-worker.js'),
      { workerData: { conn: this.#conn, done } });
    const flag = new Int32Array(done);
    pump.on('message', (message) => {
      if (message.events) {
        try {
          for (const event of message.events) this.#dispatch(event);
        } finally {
          Atomics.store(flag, 0, 1);
          Atomics.notify(flag, 0);
        }
      } else if (message.error) {
        this.#raise(errors.toError(message.error));
      }
    });
    this.#ended = new Promise((resolve) => {
      pump.on('error', (error) => this.#raise(error));
      pump.on('exit', resolve);
    });
  }

  /** Stops: closes every socket (1001), emits every remaining event (each socket's
   *  'socketClosed' included), ends the connector's threads and frees it. Again: a no-op. */
  stop() {
    if (this.#state === 'new') {
      this.#state = 'stopped';
      return Promise.resolve();
    }
    if (!this.#stopped) {
      this.#state = 'stopping';
      this.#stopped = (async () => {
        try {
          await this.#blocking('stop', []);
          await this.#ended;
          await Promise.allSettled([...this.#pending]);
        } finally {
          this.#fns.wsc_connector_free(this.#conn);
          this.#conn = null;
          this.#state = 'stopped';
          await this.#ops.close();
        }
      })();
    }
    return this.#stopped;
  }

  /** Whether the connector is running (started, not stopping or stopped). */
  get running() { return this.#state === 'running'; }

  /** The listener's port (the OS's choice when 0 was set), or null without a listener. */
  get port() {
    const port = [0];
    const result = this.#live().wsc_connector_local_port(this.#handle(), port);
    return result === native.WSC_OK ? port[0] : null;
  }

  /**
   * Connects to a ws:// or wss:// URL (or a path on the client base, its {name} templates
   * filled from `uriParams`); resolves to the new socket's ID. `reconnect`: true (the
   * connector's policy or the default one), false, a policy object, or null (the connector's
   * `reconnect` setting decides).
   * @param {string} url
   * @param {import('./index').OutboundOptions} [options]
   */
  openOutbound(url, options = {}) {
    stringArg('url', url);
    const timeout = options.timeout ?? null;
    if (timeout !== null && !(typeof timeout === 'number' && timeout >= 0)) {
      throw new TypeError('timeout is a number of milliseconds');
    }
    const args = {
      headers: Object.entries(options.headers ?? {}).map(([k, v]) => [k, stringArg('header', v)]),
      query: Object.entries(options.query ?? {}).map(([k, v]) => [k, stringArg('query', v)]),
      subprotocols: groupList(options.subprotocols ?? []),
      groups: groupList(options.groups ?? []),
      socketId: options.socketId === undefined || options.socketId === null ? null : stringArg('socketId', options.socketId),
      timeout: timeout === null ? null : Math.max(1, Math.round(timeout)),
      uriParams: Object.entries(options.uriParams ?? {}).map(([k, v]) => [k, stringArg('uriParams', v)]),
      reconnect: options.reconnect ?? null,
      compression: options.compression ?? null,
    };
    if (args.compression !== null && typeof args.compression !== 'boolean') {
      throw new TypeError('compression must be true or false');
    }
    if (args.reconnect !== null && typeof args.reconnect !== 'boolean' && typeof args.reconnect !== 'object') {
      throw new TypeError('reconnect is true, false, null or a policy object');
    }
    return this.#blocking('open', [url, args]);
  }

  /** Queues a message (string: text; bytes: binary) for a socket. True when queued; false
   *  when the slow-consumer policy dropped it or closed the socket. */
  send(socketId, data) {
    const [kind, bytes] = payload(data);
    const delivery = [0];
    const dropped = [0];
    this.#call('wsc_connector_send', stringArg('socketId', socketId), kind, bytes, bytes.length, delivery, dropped);
    return delivery[0] === 1 || delivery[0] === 2 || delivery[0] === 5; // 5: buffered for a reconnect
  }

  /** Adds groups to a socket; groups it has already are ignored. */
  subscribe(socketId, groups) {
    const list = groupList(groups);
    this.#call('wsc_connector_subscribe', stringArg('socketId', socketId), list, list.length);
  }

  /** Removes groups from a socket; groups it does not have are ignored. */
  unsubscribe(socketId, groups) {
    const list = groupList(groups);
    this.#call('wsc_connector_unsubscribe', stringArg('socketId', socketId), list, list.length);
  }

  /** Sends one message to every socket that matches the filter; returns what it did. */
  broadcast(data, filter = {}) {
    const [kind, bytes] = payload(data);
    return this.#withFilter(filter, (handle) => {
      const out = [null];
      this.#call('wsc_connector_broadcast', handle, kind, bytes, bytes.length, out);
      return this.#report(out[0]);
    });
  }

  /** Closes one socket with a close code (1000-4999) and a reason. */
  close(socketId, code = 1000, reason = '') {
    this.#call('wsc_connector_close', stringArg('socketId', socketId), code, stringArg('reason', reason));
  }

  /** Closes every socket that matches the filter; returns how many began to close. */
  bulkClose({ code = 1000, reason = '', ...filter } = {}) {
    return this.#withFilter(filter, (handle) => {
      const count = [0];
      this.#call('wsc_connector_bulk_close', handle, code, stringArg('reason', reason), count);
      return Number(count[0]);
    });
  }

  /** The open socket with this ID (NoSuchSocket when there is none). */
  socket(socketId) {
    const out = [null];
    this.#call('wsc_connector_socket', stringArg('socketId', socketId), out);
    try {
      return this.#socketOf(native.readSocket(this.#fns, out[0]));
    } finally {
      this.#fns.wsc_socket_free(out[0]);
    }
  }

  /** The open sockets that match the filter. */
  sockets(filter = {}) {
    return this.#withFilter(filter, (handle) => {
      const out = [null];
      this.#call('wsc_connector_sockets', handle, out);
      try {
        const len = [0];
        this.#fns.wsc_socket_list_len(out[0], len);
        const sockets = [];
        for (let i = 0; i < Number(len[0]); i++) {
          const socket = [null];
          this.#fns.wsc_socket_list_get(out[0], i, socket);
          sockets.push(this.#socketOf(native.readSocket(this.#fns, socket[0])));
        }
        return sockets;
      } finally {
        this.#fns.wsc_socket_list_free(out[0]);
      }
    });
  }

  /** The connector's figures now, by name as in the Prometheus text
   *  (`wsconnector_sockets_open`...): each an array of `{labels, value}`. */
  metrics() {
    return this.#withSnapshot((fns, snapshot) => {
      const figures = {};
      const count = Number(fns.wsc_metrics_snapshot_sample_count(snapshot));
      for (let i = 0; i < count; i++) {
        const name = {};
        const labelCount = [0];
        const value = [0];
        fns.wsc_metrics_snapshot_sample(snapshot, i, name, labelCount, value);
        const labels = {};
        for (let l = 0; l < Number(labelCount[0]); l++) {
          const key = {};
          const text = {};
          fns.wsc_metrics_snapshot_sample_label(snapshot, i, l, key, text);
          labels[native.str(key)] = native.str(text);
        }
        (figures[native.str(name)] ??= []).push({ labels, value: value[0] });
      }
      return figures;
    });
  }

  /** The connector's figures now as Prometheus text (exposition format 0.0.4). */
  metricsText() {
    return this.#withSnapshot((fns, snapshot) => {
      const len = [0];
      fns.wsc_metrics_snapshot_prometheus(snapshot, null, 0, len);
      const buf = Buffer.alloc(Number(len[0]) + 1);
      const result = fns.wsc_metrics_snapshot_prometheus(snapshot, buf, buf.length, len);
      if (result !== native.WSC_OK) throw this.#error(result);
      return buf.toString('utf8', 0, Number(len[0]));
    });
  }

  /**
   * Drains: new handshakes get 503 (Retry-After), then the sockets that match the filter close
   * in batches; resolves to the progress once they have all closed (or `timeout` ms passed).
   * @param {import('./index').DrainOptions} [options]
   */
  drain({
    batchSize = 1000, interval = 1000, code = 1001, reason = 'server draining',
    retryAfter = 5000, timeout = -1, ...filter
  } = {}) {
    let drain;
    try {
      drain = this.#withFilter(filter, (handle) => {
        const fns = this.#fns;
        const out = [null];
        let result = fns.wsc_drain_options_new(out);
        if (result !== native.WSC_OK) throw this.#error(result);
        const options = out[0];
        try {
          for (const [fn, ...args] of [
            ['wsc_drain_options_set_filter', handle],
            ['wsc_drain_options_set_batches', batchSize, interval],
            ['wsc_drain_options_set_close', code, stringArg('reason', reason)],
            ['wsc_drain_options_set_retry_after_ms', retryAfter],
          ]) {
            result = fns[fn](options, ...args);
            if (result !== native.WSC_OK) throw this.#error(result);
          }
          const started = [null];
          this.#call('wsc_connector_drain', options, started);
          return started[0];
        } finally {
          fns.wsc_drain_options_free(options);
        }
      });
    } catch (error) {
      return Promise.reject(error);
    }
    const fns = this.#fns;
    return this.#blocking('drainWait', [drain, timeout]).finally(() => fns.wsc_drain_free(drain));
  }

  /** Runs `use` with a snapshot of the figures, then frees it. */
  #withSnapshot(use) {
    const fns = this.#live();
    const out = [null];
    const result = fns.wsc_connector_metrics_snapshot(this.#conn, out);
    if (result !== native.WSC_OK) throw this.#error(result);
    try {
      return use(fns, out[0]);
    } finally {
      fns.wsc_metrics_snapshot_free(out[0]);
    }
  }

  /** How many sockets are open. */
  socketCount() {
    const count = [0];
    this.#call('wsc_connector_socket_count', count);
    return Number(count[0]);
  }

  /** The C functions, once started and until stopped (else InvalidState or Stopped). */
  #live() {
    if (this.#state === 'new') throw errors.invalidState('the connector is not started');
    if (this.#state === 'stopped') throw errors.stopped();
    return this.#fns;
  }

  /** The connector's handle, under the same conditions as #live(). */
  #handle() {
    this.#live();
    return this.#conn;
  }

  /** A synchronous C call on the connector; throws the error of a failed one. */
  #call(fn, ...args) {
    const fns = this.#live();
    const result = fns[fn](this.#conn, ...args);
    if (result !== native.WSC_OK) throw this.#error(result);
  }

  #error(code) {
    return errors.toError(native.lastError(this.#fns ?? native.api(), code));
  }

  /** A blocking C call on an ops worker; settles with its value or its error. */
  #blocking(op, args) {
    let promise;
    try {
      promise = this.#ops.run(op, [this.#handle(), ...args]).catch((error) => {
        throw typeof error.code === 'number' && !(error instanceof Error) ? errors.toError(error) : error;
      });
    } catch (error) {
      return Promise.reject(error);
    }
    this.#pending.add(promise);
    const forget = () => this.#pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** Runs `use` with a wsc_filter made from {path, socketType, groups}, then frees it. */
  #withFilter({ path: pattern, socketType, groups, allGroups, exceptSocketIds, exceptGroups } = {}, use) {
    const fns = this.#live();
    const out = [null];
    let result = fns.wsc_filter_new(out);
    if (result !== native.WSC_OK) throw this.#error(result);
    const handle = out[0];
    try {
      if (pattern !== undefined && pattern !== null) {
        result = fns.wsc_filter_set_path(handle, stringArg('path', pattern));
        if (result !== native.WSC_OK) throw this.#error(result);
      }
      if (socketType !== undefined && socketType !== null && socketType !== 'all') {
        if (!Object.hasOwn(SOCKET_TYPES, socketType)) throw new TypeError("socketType is 'inbound', 'outbound' or 'all'");
        fns.wsc_filter_set_type(handle, SOCKET_TYPES[socketType]);
      }
      const parts = [
        [groups, 'wsc_filter_add_group'],
        [allGroups, 'wsc_filter_require_group'],
        [exceptSocketIds, 'wsc_filter_except_socket_id'],
        [exceptGroups, 'wsc_filter_except_group'],
      ];
      for (const [items, add] of parts) {
        for (const item of items === undefined || items === null ? [] : groupList(items)) {
          result = fns[add](handle, item);
          if (result !== native.WSC_OK) throw this.#error(result);
        }
      }
      return use(handle);
    } finally {
      fns.wsc_filter_free(handle);
    }
  }

  /** A broadcast result as {delivered, droppedOldest, buffered, failures}; frees it. */
  #report(handle) {
    const fns = this.#fns;
    try {
      const delivered = [0];
      const droppedOldest = [0];
      const count = [0];
      fns.wsc_broadcast_result_delivered(handle, delivered);
      fns.wsc_broadcast_result_dropped_oldest(handle, droppedOldest);
      const buffered = [0];
      fns.wsc_broadcast_result_buffered(handle, buffered);
      fns.wsc_broadcast_result_failure_count(handle, count);
      const failures = [];
      for (let i = 0; i < Number(count[0]); i++) {
        const id = {};
        const what = [0];
        const error = [0];
        fns.wsc_broadcast_result_failure_at(handle, i, id, what, error);
        const kind = fns.wsc_result_name(error[0]);
        failures.push({
          socketId: native.str(id),
          reason: UNDELIVERED[what[0]],
          error: error[0] === native.WSC_OK ? null : errors.toError({ code: error[0], kind, message: kind, status: 0 }),
        });
      }
      return {
        delivered: Number(delivered[0]),
        droppedOldest: Number(droppedOldest[0]),
        buffered: Number(buffered[0]),
        failures,
      };
    } finally {
      fns.wsc_broadcast_result_free(handle);
    }
  }

  /** The one Socket object of a socket, made or refreshed from attributes. */
  #socketOf(attributes) {
    const known = this.#sockets.get(attributes.id);
    if (known) {
      known.groups = attributes.groups;
      known.state = attributes.state;
      known.lastError = attributes.lastError ? errors.toError(attributes.lastError) : null;
      return known;
    }
    return new Socket(this, attributes);
  }

  /** Emits one event from the pump. */
  #dispatch(event) {
    let socket = this.#sockets.get(event.id);
    if (event.socket) {
      socket = new Socket(this, event.socket);
      this.#sockets.set(event.id, socket);
    } else {
      socket.groups = event.groups;
      socket.state = event.state;
      socket.lastError = event.lastError ? errors.toError(event.lastError) : null;
    }
    const message = typeof event.message === 'string' || event.message === undefined
      ? event.message : Buffer.from(event.message);
    try {
      switch (event.trigger) {
        case 'inboundConnection': this.emit('inboundConnection', socket); break;
        case 'inboundMessage': this.emit('inboundMessage', socket, message); break;
        case 'outboundMessage': this.emit('outboundMessage', socket, message); break;
        case 'socketClosed':
          this.#sockets.delete(event.id);
          this.emit('socketClosed', socket, event.code, event.reason);
          break;
        case 'outboundReconnecting':
          this.emit('outboundReconnecting', socket, {
            attempt: event.attempt,
            delayMs: event.delayMs,
            error: errors.toError(event.error),
          });
          break;
        case 'outboundReconnected':
          this.emit('outboundReconnected', socket, { attempts: event.attempt });
          break;
        default: break;
      }
    } catch (error) {
      this.#raise(error);
    }
  }

  /** A listener's exception: to 'error' listeners, else uncaught. */
  #raise(error) {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.nextTick(() => { throw error; });
  }
}

/** The library's version ("0.1.0") and its C ABI version. */
function version() {
  const fns = native.api();
  return { version: fns.wsc_version(), abi: fns.wsc_abi_version() };
}

/** Close codes with names (RFC 6455 section 7.4). */
const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  NO_STATUS: 1005,
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
});

const { toError, invalidArgument, invalidState, stopped, ...errorClasses } = errors;

module.exports = { Connector, Socket, CloseCode, version, ...errorClasses };
