'use strict';
// Outbound sockets to a `ws` server, and every operation: send, subscribe, unsubscribe,
// broadcast with filters and its report, close, bulk close, socket lookup.

const test = require('node:test');
const assert = require('node:assert/strict');
const { once } = require('node:events');
const WebSocket = require('ws');
const { Connector, InvalidSocketId } = require('..');
const { WAIT, bounded, connect, record, Queue } = require('./helpers');

/** A `ws` server on a free port that records handshakes, messages and close codes. */
async function peer(t) {
  const server = new WebSocket.WebSocketServer({
    host: '127.0.0.1', port: 0, handleProtocols: (protocols) => [...protocols][0] ?? false,
  });
  await bounded(once(server, 'listening'), 'the ws server');
  server.requests = new Queue();
  server.received = new Queue();
  server.closes = new Queue();
  server.clients_ = new Queue();
  server.on('connection', (ws, request) => {
    server.requests.push(request);
    server.clients_.push(ws);
    ws.on('message', (data, binary) => server.received.push(binary ? data : data.toString()));
    ws.on('close', (code, reason) => server.closes.push([code, reason.toString()]));
  });
  t.after(() => new Promise((resolve) => {
    server.close(resolve);
    for (const ws of server.clients) ws.terminate();
  }));
  server.url = `ws://127.0.0.1:${server.address().port}`;
  return server;
}

async function started(t, settings = {}) {
  const connector = new Connector(settings);
  const events = record(connector);
  await connector.start();
  t.after(() => connector.stop());
  return [connector, events];
}

test('outbound: options reach the server; messages both ways; close with code and reason', async (t) => {
  const server = await peer(t);
  const [connector, events] = await started(t, { defaultHeaders: { 'X-Default': 'd' } });
  const id = await connector.openOutbound(`${server.url}/feed`, {
    headers: { Authorization: 'Bearer t' },
    query: { symbol: 'AAPL' },
    subprotocols: ['quotes.v2'],
    groups: ['sources'],
    socketId: 'quotes',
    timeout: 5000,
  });
  assert.equal(id, 'quotes');
  const request = await server.requests.next();
  assert.equal(request.url, '/feed?symbol=AAPL');
  assert.equal(request.headers.authorization, 'Bearer t');
  assert.equal(request.headers['x-default'], 'd');

  const socket = connector.socket('quotes');
  assert.equal(socket.type, 'outbound');
  assert.equal(socket.subprotocol, 'quotes.v2');
  assert.deepEqual(socket.groups, ['sources']);
  assert.equal(socket.scheme, 'ws');
  assert.equal(socket.queryParam('symbol'), 'AAPL');
  assert.equal(socket.header('authorization'), 'Bearer t');

  assert.equal(connector.send('quotes', 'subscribe AAPL'), true);
  assert.equal(await server.received.next(), 'subscribe AAPL');
  assert.equal(connector.send('quotes', Buffer.from([1, 2, 3])), true);
  assert.deepEqual(await server.received.next(), Buffer.from([1, 2, 3]));

  const ws = await server.clients_.next();
  ws.send('AAPL 100');
  const [, from, message] = await events.nextOf('outboundMessage');
  assert.equal(from.id, 'quotes');
  assert.equal(message, 'AAPL 100');
  ws.send(Buffer.from([9, 8]));
  const [, , binary] = await events.nextOf('outboundMessage');
  assert.ok(Buffer.isBuffer(binary));
  assert.deepEqual(binary, Buffer.from([9, 8]));

  connector.close('quotes', 4000, 'done for today');
  assert.deepEqual(await server.closes.next(), [4000, 'done for today']);
  const [, closed, code, reason] = await events.nextOf('socketClosed');
  assert.equal(closed, from, 'one Socket object per socket');
  assert.equal(code, 4000);
  assert.equal(reason, 'done for today');
});

test('subscribe, unsubscribe, broadcast with filters and its report', async (t) => {
  const server = await peer(t);
  const [connector, events] = await started(t, { host: '127.0.0.1', port: 0, paths: { '/chat/*': ['lobby'] } });
  const base = `ws://127.0.0.1:${connector.port}`;
  const ann = await connect(`${base}/chat/a`);
  const bob = await connect(`${base}/chat/b`);
  const [, annSocket] = await events.nextOf('inboundConnection');
  const [, bobSocket] = await events.nextOf('inboundConnection');
  assert.deepEqual(annSocket.groups, ['lobby']);
  const out = await connector.openOutbound(`${server.url}/`, { groups: ['lobby'] });
  const upstream = await server.clients_.next();

  connector.subscribe(annSocket.id, ['vip', 'vip']);
  connector.unsubscribe(bobSocket.id, 'lobby');
  connector.unsubscribe(bobSocket.id, 'never-joined');
  assert.deepEqual(connector.socket(annSocket.id).groups, ['lobby', 'vip']);
  assert.deepEqual(connector.socket(bobSocket.id).groups, []);

  let report = connector.broadcast('to the lobby', { groups: 'lobby' });
  assert.deepEqual(report, { delivered: 2, droppedOldest: 0, buffered: 0, failures: [] });
  assert.equal(await ann.inbox.next(), 'to the lobby');
  assert.equal(await server.received.next(), 'to the lobby');

  report = connector.broadcast(Buffer.from('inbound only'), { socketType: 'inbound' });
  assert.equal(report.delivered, 2);
  assert.deepEqual(await ann.inbox.next(), Buffer.from('inbound only'));
  assert.deepEqual(await bob.inbox.next(), Buffer.from('inbound only'));

  report = connector.broadcast('path b', { path: '/chat/b' });
  assert.equal(report.delivered, 1);
  assert.equal(await bob.inbox.next(), 'path b');

  report = connector.broadcast('not ann', { groups: 'lobby', exceptSocketIds: [annSocket.id], socketType: 'inbound' });
  assert.equal(report.delivered, 0);
  report = connector.broadcast('lobby vips', { allGroups: ['lobby', 'vip'] });
  assert.equal(report.delivered, 1);
  assert.equal(await ann.inbox.next(), 'lobby vips');
  report = connector.broadcast('no vips', { socketType: 'inbound', exceptGroups: 'vip' });
  assert.equal(report.delivered, 1);
  assert.equal(await bob.inbox.next(), 'no vips');
  assert.throws(() => connector.broadcast('x', { exceptSocketIds: [''] }), InvalidSocketId);

  report = connector.broadcast('outbound', { socketType: 'outbound', groups: ['lobby', 'vip'] });
  assert.equal(report.delivered, 1);
  assert.equal(await server.received.next(), 'outbound');

  assert.equal(connector.sockets().length, 3);
  assert.deepEqual(connector.sockets({ socketType: 'outbound' }).map((s) => s.id), [out]);
  assert.equal(connector.socketCount(), 3);

  // Bulk close by path: both inbound sockets; the outbound one stays.
  assert.equal(connector.bulkClose({ path: '/chat/*', code: 4001, reason: 'bye' }), 2);
  assert.equal((await ann.closed).code, 4001);
  assert.deepEqual(await bob.closed, { code: 4001, reason: 'bye' });
  await events.nextOf('socketClosed');
  await events.nextOf('socketClosed');
  assert.equal(connector.socketCount(), 1);
  upstream.send('still here');
  assert.equal((await events.nextOf('outboundMessage'))[2], 'still here');
});

test('a broadcast report names the sockets that did not get the message', async (t) => {
  const [connector, events] = await started(t, {
    host: '127.0.0.1', port: 0, sendQueueMessages: 1, slowConsumer: 'drop_newest',
  });
  const ws = await connect(`ws://127.0.0.1:${connector.port}/`);
  const [, socket] = await events.nextOf('inboundConnection');
  // The peer stops reading: the socket's queue fills; with one slot, the policy drops the rest.
  ws._socket.pause();
  let report;
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < 64; i++) {
    report = connector.broadcast(big);
    if (report.failures.length > 0) break;
  }
  assert.deepEqual(report.failures.map((f) => [f.socketId, f.reason, f.error]), [[socket.id, 'dropped', null]]);
  assert.equal(report.delivered, 0);
  assert.equal(connector.send(socket.id, 'dropped too'), false);
  ws.terminate();
});

test('metrics count the traffic; a drain closes in batches while new sockets get 503', async (t) => {
  const [connector, events] = await started(t, {
    host: '127.0.0.1', port: 0, metricsPath: '/metrics', healthPath: '/health',
  });
  connector.on('inboundMessage', (socket, message) => socket.send(message));
  const clients = [];
  for (let i = 0; i < 3; i++) {
    clients.push(await connect(`ws://127.0.0.1:${connector.port}/room`));
    await events.nextOf('inboundConnection');
  }
  clients[0].send('hello');
  assert.equal(await clients[0].inbox.next(), 'hello');
  const figures = connector.metrics();
  const open = figures.wsconnector_sockets_open.find((s) => s.labels.type === 'inbound');
  assert.equal(open.value, 3);
  const received = figures.wsconnector_messages_received_total.find((s) => s.labels.kind === 'text');
  assert.equal(received.value, 1);
  assert.match(connector.metricsText(), /^wsconnector_sockets_opened_total\{type="inbound"\} 3$/m);
  const scraped = await fetch(`http://127.0.0.1:${connector.port}/metrics`);
  assert.equal(scraped.status, 200);
  assert.match(await scraped.text(), /^wsconnector_messages_sent_total\{kind="text"\} 1$/m);

  const closed = clients.map((ws) => once(ws, 'close'));
  const progress = await connector.drain({ batchSize: 2, interval: 10, code: 1012, reason: 'restart', timeout: WAIT });
  assert.deepEqual(progress, { matched: 3, requested: 3, closed: 3, batches: 2, finished: true });
  for (const [code] of await Promise.all(closed)) assert.equal(code, 1012);
  assert.equal((await fetch(`http://127.0.0.1:${connector.port}/health`)).status, 503);
  const refused = new WebSocket(`ws://127.0.0.1:${connector.port}/room`);
  const [, response] = await once(refused, 'unexpected-response');
  assert.equal(response.statusCode, 503);
  assert.equal(response.headers['retry-after'], '5');
});

test('compression: permessage-deflate with a ws server, the extension on the socket, per open', async (t) => {
  const server = new WebSocket.WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
  await bounded(once(server, 'listening'), 'the ws server');
  server.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })));
  t.after(() => new Promise((resolve) => {
    server.close(resolve);
    for (const ws of server.clients) ws.terminate();
  }));
  const url = `ws://127.0.0.1:${server.address().port}`;
  const [connector, events] = await started(t, { compression: true, compressionLevel: 6 });
  const id = await connector.openOutbound(url);
  assert.equal(connector.socket(id).extensions, 'permessage-deflate');
  const text = '{"symbol":"ACME","bid":101.25},'.repeat(2000);
  connector.send(id, text);
  const [, , echoed] = await events.nextOf('outboundMessage');
  assert.equal(echoed, text);
  const plain = await connector.openOutbound(url, { compression: false });
  assert.equal(connector.socket(plain).extensions, null);
  assert.throws(() => connector.openOutbound(url, { compression: 'yes' }), TypeError);
  await assert.rejects(new Connector({ serverNoContextTakeover: 1 }).start(), /serverNoContextTakeover/);
  await assert.rejects(new Connector({ clientMaxWindowBits: 16 }).start(), /client_max_window_bits/);
});
