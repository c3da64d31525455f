'use strict';
// The event pump, on a worker thread of its own: takes a running connector's events with the
// pull API (wsc_connector_next_event, which blocks this thread and no other), reads each into
// plain data, and posts them to the main thread in batches. It takes the next batch only once
// the main thread has run the listeners of the last one, so a slow listener leaves events in
// the library's bounded queue, and sockets stop reading while it is full (backpressure).
// It ends when the connector has stopped and every event has been taken.

const { parentPort, workerData } = require('node:worker_threads');
const native = require('./native');

const WSC_STOPPED = 14;
const MAX_EVENTS = 256; // per batch
const MAX_BYTES = 1 << 20; // of payload per batch; a larger message goes alone
const TRIGGERS = [null, 'inboundConnection', 'inboundMessage', 'outboundMessage', 'socketClosed',
  'outboundReconnecting', 'outboundReconnected'];

const fns = native.api();
const { conn } = workerData;
/** 0 while the main thread runs a batch's listeners; it stores 1 when done. */
const done = new Int32Array(workerData.done);
/** Sockets whose attributes the main thread has: later events carry only the ID and groups. */
const known = new Set();

/** One event as data; its payload (a binary message's ArrayBuffer) goes to `transfer`. */
function read(event, transfer) {
  const trigger = [0];
  const handle = [null];
  fns.wsc_event_trigger(event, trigger);
  fns.wsc_event_socket(event, handle);
  const id = native.str(readId(handle[0]));
  const data = { trigger: TRIGGERS[trigger[0]], id, bytes: 0 };
  if (known.has(id)) {
    data.groups = native.readGroups(fns, handle[0]);
    Object.assign(data, native.readStatus(fns, handle[0]));
  } else {
    data.socket = native.readSocket(fns, handle[0]);
    known.add(id);
  }
  if (data.trigger === 'inboundMessage' || data.trigger === 'outboundMessage') {
    const kind = [0];
    const payload = {};
    fns.wsc_event_message(event, kind, payload);
    data.bytes = Number(payload.len);
    if (kind[0] === native.TEXT) {
      data.message = native.str(payload);
    } else {
      data.message = native.bytes(payload);
      transfer.push(data.message);
    }
  } else if (data.trigger === 'outboundReconnecting' || data.trigger === 'outboundReconnected') {
    const attempt = [0];
    const delayMs = [0];
    const error = [0];
    const message = {};
    fns.wsc_event_reconnect(event, attempt, delayMs, error, message);
    data.attempt = attempt[0];
    data.delayMs = Number(delayMs[0]);
    data.error = error[0] === native.WSC_OK
      ? null : { code: error[0], kind: fns.wsc_result_name(error[0]), message: native.str(message), status: 0 };
  } else if (data.trigger === 'socketClosed') {
    const code = [0];
    const reason = {};
    fns.wsc_event_close(event, code, reason);
    data.code = code[0];
    data.reason = native.str(reason) ?? '';
    known.delete(id);
  }
  return data;
}

function readId(handle) {
  const id = {};
  fns.wsc_socket_id(handle, id);
  return id;
}

for (;;) {
  const batch = [];
  const transfer = [];
  let bytes = 0;
  let end = null;
  const out = [null];
  while (batch.length < MAX_EVENTS && bytes < MAX_BYTES) {
    // The first event is waited for; the rest of the batch is what is already queued.
    const result = fns.wsc_connector_next_event(conn, batch.length === 0 ? -1 : 0, out);
    if (result !== native.WSC_OK) {
      end = result === WSC_STOPPED ? { end: true } : { end: true, error: native.lastError(fns, result) };
      break;
    }
    if (!out[0]) break;
    try {
      const data = read(out[0], transfer);
      bytes += data.bytes;
      batch.push(data);
    } finally {
      fns.wsc_event_free(out[0]);
    }
  }
  if (batch.length > 0) {
    Atomics.store(done, 0, 0);
    parentPort.postMessage({ events: batch }, transfer);
    Atomics.wait(done, 0, 0);
  }
  if (end) {
    parentPort.postMessage(end);
    break;
  }
}
