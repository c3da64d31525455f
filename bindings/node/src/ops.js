'use strict';
// The C calls that block (open an outbound socket, stop), run on a few worker threads so that
// the event loop goes on; each call and the read of its thread-local error message happen on
// the same thread. Workers are made when needed, up to MAX_WORKERS, reused, and ended by
// close(); an idle worker does not keep the process alive.

const path = require('node:path');
const { Worker, isMainThread, parentPort } = require('node:worker_threads');
const koffi = require('koffi');
const native = require('./native');

const MAX_WORKERS = 4;

/** The blocking operations, as run inside a worker: each returns a value or throws a code. */
const OPERATIONS = {
  open(fns, conn, url, options) {
    const out = [null];
    let result = fns.wsc_outbound_options_new(out);
    if (result !== native.WSC_OK) throw result;
    const handle = out[0];
    try {
      const add = (fn, ...args) => {
        const code = fns[fn](handle, ...args);
        if (code !== native.WSC_OK) throw code;
      };
      for (const [name, value] of options.headers) add('wsc_outbound_options_add_header', name, value);
      for (const [name, value] of options.query) add('wsc_outbound_options_add_query', name, value);
      for (const protocol of options.subprotocols) add('wsc_outbound_options_add_subprotocol', protocol);
      for (const group of options.groups) add('wsc_outbound_options_add_group', group);
      if (options.socketId !== null) add('wsc_outbound_options_set_socket_id', options.socketId);
      if (options.timeout !== null) add('wsc_outbound_options_set_connect_timeout_ms', options.timeout);
      for (const [name, value] of options.uriParams) add('wsc_outbound_options_add_uri_param', name, value);
      if (options.reconnect === false) add('wsc_outbound_options_set_reconnect', null);
      else if (options.reconnect === true) add('wsc_outbound_options_set_reconnect_enabled', true);
      else if (options.reconnect) {
        native.withReconnect(fns, options.reconnect, (policy) => add('wsc_outbound_options_set_reconnect', policy));
      }
      if (options.compression !== null) add('wsc_outbound_options_set_compression', options.compression);
      const id = Buffer.alloc(native.WSC_SOCKET_ID_SIZE);
      result = fns.wsc_connector_open_outbound(conn, url, handle, id, id.length);
      if (result !== native.WSC_OK) throw result;
      return id.toString('utf8', 0, id.indexOf(0));
    } finally {
      fns.wsc_outbound_options_free(handle);
    }
  },
  drainWait(fns, conn, drain, timeout) {
    const progress = {
      struct_size: koffi.sizeof('wsc_drain_progress'), matched: 0, requested: 0, closed: 0, batches: 0, finished: 0,
    };
    const result = fns.wsc_drain_wait(drain, timeout, progress);
    if (result !== native.WSC_OK) throw result;
    return {
      matched: Number(progress.matched),
      requested: Number(progress.requested),
      closed: Number(progress.closed),
      batches: Number(progress.batches),
      finished: progress.finished === 1,
    };
  },
  stop(fns, conn) {
    const result = fns.wsc_connector_stop(conn);
    if (result !== native.WSC_OK) throw result;
    return null;
  },
};

if (!isMainThread && parentPort) {
  const fns = native.api();
  parentPort.on('message', ({ id, op, args }) => {
    try {
      parentPort.postMessage({ id, value: OPERATIONS[op](fns, ...args) });
    } catch (code) {
      if (typeof code !== 'number') throw code;
      parentPort.postMessage({ id, error: native.lastError(fns, code) });
    }
  });
}

/** A pool of workers for one connector. */
class Ops {
  #idle = [];
  #all = new Set();
  #queue = [];
  #next = 0;

  /** Runs `op` with `args` on a worker; resolves to its value or rejects with {code,...}. */
  run(op, args) {
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#next++, op, args, resolve, reject });
      this.#dispatch();
    });
  }

  #dispatch() {
    while (this.#queue.length > 0) {
      let worker = this.#idle.pop();
      if (!worker) {
        if (this.#all.size >= MAX_WORKERS) return;
        worker = new Worker(path.join(__dirname, 'ops.js'));
        this.#all.add(worker);
      }
      const task = this.#queue.shift();
      worker.ref();
      const onMessage = (reply) => {
        if (reply.id !== task.id) return;
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.unref();
        this.#idle.push(worker);
        if (reply.error) task.reject(reply.error);
        else task.resolve(reply.value);
        this.#dispatch();
      };
      const onError = (error) => {
        this.#all.delete(worker);
        task.reject(error);
        this.#dispatch();
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage({ id: task.id, op: task.op, args: task.args });
    }
  }

  /** Ends every worker; call when no operation is under way. */
  async close() {
    const workers = [...this.#all];
    this.#all.clear();
    this.#idle = [];
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

module.exports = { Ops };
