'use strict';
// Shared by the tests: bounded waits, and clients and servers from the independent `ws`
// package. Nothing sleeps to let things settle: every wait is for an event, with a bound.

const { once } = require('node:events');
const WebSocket = require('ws');

/** Upper bound of every wait, in milliseconds. */
const WAIT = 10000;

/** Resolves with `promise`, or rejects after WAIT milliseconds. */
function bounded(promise, what = 'the wait') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${WAIT} ms`)), WAIT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Values pushed by one side, taken in order by the other, each take bounded. */
class Queue {
  #items = [];
  #takers = [];

  push(item) {
    const taker = this.#takers.shift();
    if (taker) taker(item);
    else this.#items.push(item);
  }

  next(what = 'the next item') {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift());
    return bounded(new Promise((resolve) => this.#takers.push(resolve)), what);
  }
}

/** A `ws` client whose messages (text as strings) queue up in `.inbox`. */
async function connect(url, options) {
  const ws = new WebSocket(url, options);
  ws.inbox = new Queue();
  ws.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (data, binary) => ws.inbox.push(binary ? data : data.toString()));
  await bounded(once(ws, 'open'), `connecting to ${url}`);
  return ws;
}

/** Records a connector's events into one queue as [trigger, ...args]. */
function record(connector) {
  const events = new Queue();
  for (const trigger of ['inboundConnection', 'inboundMessage', 'outboundMessage', 'socketClosed']) {
    connector.on(trigger, (...args) => events.push([trigger, ...args]));
  }
  /** The next event of `trigger`, skipping others. */
  events.nextOf = async (trigger) => {
    for (;;) {
      const event = await events.next(`a ${trigger} event`);
      if (event[0] === trigger) return event;
    }
  };
  return events;
}

module.exports = { WAIT, bounded, Queue, connect, record };
