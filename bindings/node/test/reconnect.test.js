'use strict';
// Outbound sockets that reconnect, against a feed made with the independent `ws` package that
// goes down (every connection terminated, the port closed) and comes back on the same port.

const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const WebSocket = require('ws');
const wsc = require('..');
const { Connector } = wsc;
const { Queue } = require('./helpers');

/** A `ws` echo server on `port` (0: a free one); what it receives queues up in `inbox`. */
async function feed(port = 0, inbox = new Queue()) {
  const server = new WebSocket.Server({ host: '127.0.0.1', port });
  await once(server, 'listening');
  server.on('connection', (ws) => ws.on('message', (data) => {
    inbox.push(data.toString());
    ws.send(data.toString());
  }));
  return { server, inbox, port: server.address().port };
}

/** Ends the feed as a crash would: connections dropped, no close frame. */
async function kill({ server }) {
  for (const client of server.clients) client.terminate();
  await new Promise((resolve) => server.close(resolve));
}

function record(connector) {
  const events = new Queue();
  for (const name of ['outboundMessage', 'socketClosed', 'outboundReconnecting', 'outboundReconnected']) {
    connector.on(name, (...args) => events.push([name, ...args]));
  }
  return events;
}

const FAST = { initialDelayMs: 20, maxDelayMs: 160, multiplier: 2 };

test('a feed that comes back gets the same socket, with what was buffered', async () => {
  const first = await feed();
  const connector = new Connector();
  const events = record(connector);
  await connector.start();
  try {
    const id = await connector.openOutbound(`ws://127.0.0.1:${first.port}/feed`,
      { socketId: 'quotes', groups: ['feeds'], reconnect: FAST });
    await kill(first);
    const bounds = [20, 40, 80];
    for (const [n, bound] of bounds.entries()) {
      const [name, socket, info] = await events.next('a reconnecting event');
      assert.equal(name, 'outboundReconnecting');
      assert.equal(info.attempt, n + 1);
      assert.ok(info.delayMs <= bound, `${info.delayMs} <= ${bound}`);
      assert.ok(info.error instanceof wsc.ConnectivityError, String(info.error));
      assert.equal(socket.state, 'reconnecting');
    }
    assert.equal(connector.send(id, 'one'), true);
    assert.equal(connector.broadcast('two', { groups: ['feeds'] }).buffered, 1);
    const again = await feed(first.port);
    for (;;) {
      const [name, socket, info] = await events.next('reconnected');
      if (name === 'outboundReconnecting') continue;
      assert.equal(name, 'outboundReconnected');
      assert.equal(socket.id, 'quotes');
      assert.equal(socket.state, 'connected');
      assert.deepEqual(socket.groups, ['feeds']);
      assert.ok(info.attempts >= 3);
      break;
    }
    assert.equal(await again.inbox.next(), 'one');
    assert.equal(await again.inbox.next(), 'two');
    await kill(again);
  } finally {
    await connector.stop();
  }
});

test('attempts that run out end the socket with RetryExhaustedError', async () => {
  const gone = await feed();
  const connector = new Connector({ reconnect: { ...FAST, maxAttempts: 2 } });
  const events = record(connector);
  await connector.start();
  try {
    await connector.openOutbound(`ws://127.0.0.1:${gone.port}/`);
    await kill(gone);
    const seen = [];
    for (;;) {
      const [name, socket, code] = await events.next('closed');
      seen.push(name);
      if (name !== 'socketClosed') continue;
      assert.equal(code, 1006);
      assert.equal(socket.state, 'closed');
      assert.ok(socket.lastError instanceof wsc.RetryExhaustedError, String(socket.lastError));
      break;
    }
    assert.deepEqual(seen, ['outboundReconnecting', 'outboundReconnecting', 'socketClosed']);
  } finally {
    await connector.stop();
  }
});
