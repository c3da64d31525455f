'use strict';
// Every error kind that a wrong call can produce, as its Error subclass.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');
const { once } = require('node:events');
const wsc = require('..');
const WebSocket = require('ws');
const { bounded, connect, record } = require('./helpers');

const { Connector } = wsc;

async function started(t, settings = {}) {
  const connector = new Connector(settings);
  const events = record(connector);
  await connector.start();
  t.after(() => connector.stop());
  return [connector, events];
}

/** A TCP server whose connections run `onConnection`; resolves to its port. */
async function tcpServer(t, onConnection) {
  const server = net.createServer(onConnection);
  server.listen(0, '127.0.0.1');
  await bounded(once(server, 'listening'), 'the TCP server');
  const sockets = new Set();
  server.on('connection', (socket) => sockets.add(socket));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return server.address().port;
}

/** Asserts that `fn` throws (or rejects with) the error class `cls`, and returns the error. */
async function fails(fn, cls, message) {
  let error;
  try {
    await fn();
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof cls, `expected ${cls.name}, got ${error && error.stack}`);
  assert.ok(error instanceof wsc.WebSocketError);
  assert.ok(error instanceof Error);
  assert.equal(error.name, cls.name);
  if (message) assert.match(error.message, message);
  return error;
}

test('every error class is named after its kind and carries the C code', () => {
  const kinds = [
    'InvalidArgument', 'NoSuchSocket', 'InvalidSocketId', 'NonUniqueSocketId', 'ConnectivityError',
    'DnsError', 'TlsError', 'HandshakeError', 'Timeout', 'RemotelyClosed', 'LimitExceeded',
    'QueueFull', 'InvalidState', 'Stopped', 'ProtocolError', 'InternalError',
    'RetryExhaustedError', 'BasicAuthenticationError', 'ReconnectingError',
  ];
  for (const kind of kinds) assert.equal(wsc[kind].name, kind);
});

test('InvalidArgument: settings, URLs, close codes, group names, path patterns', async (t) => {
  await fails(() => new Connector({ maxMesageSize: 1 }).start(), wsc.InvalidArgument, /unknown setting maxMesageSize/);
  await fails(() => new Connector({ maxMessageSize: -1 }).start(), wsc.InvalidArgument, /maxMessageSize/);
  await fails(() => new Connector({ slowConsumer: 'later' }).start(), wsc.InvalidArgument, /slowConsumer/);
  await fails(() => new Connector({ tlsCert: '-----BEGIN CERTIFICATE-----' }).start(), wsc.InvalidArgument, /tlsKey/);
  await fails(() => new Connector({ port: 0, maxHandshakeBytes: 1 }).start(), wsc.InvalidArgument, /max_handshake_bytes/);
  const [connector, events] = await started(t, { host: '127.0.0.1', port: 0 });
  await fails(() => connector.openOutbound('http://127.0.0.1/'), wsc.InvalidArgument);
  await connect(`ws://127.0.0.1:${connector.port}/`);
  const [, socket] = await events.nextOf('inboundConnection');
  await fails(() => connector.close(socket.id, 999), wsc.InvalidArgument);
  await fails(() => connector.subscribe(socket.id, ''), wsc.InvalidArgument);
  await fails(() => connector.broadcast('x', { path: 'no-slash[' }), wsc.InvalidArgument);
});

test('NoSuchSocket, InvalidSocketId, NonUniqueSocketId', async (t) => {
  const [connector] = await started(t, { host: '127.0.0.1', port: 0 });
  await fails(() => connector.send('nobody', 'hi'), wsc.NoSuchSocket, /nobody/);
  await fails(() => connector.socket('nobody'), wsc.NoSuchSocket);
  await fails(() => connector.close('nobody'), wsc.NoSuchSocket);
  const url = `ws://127.0.0.1:${connector.port}/`;
  await fails(() => connector.openOutbound(url, { socketId: '  ' }), wsc.InvalidSocketId);
  await connector.openOutbound(url, { socketId: 'taken' });
  await fails(() => connector.openOutbound(url, { socketId: 'taken' }), wsc.NonUniqueSocketId);
});

test('ConnectivityError, DnsError, HandshakeError with its status, Timeout', async (t) => {
  const [connector] = await started(t, { host: '127.0.0.1', port: 0, paths: ['/served'] });
  const silent = await tcpServer(t, () => {}); // accepts, never answers the upgrade
  const refused = net.createServer();
  refused.listen(0, '127.0.0.1');
  await once(refused, 'listening');
  const { port } = refused.address();
  await new Promise((resolve) => refused.close(resolve));
  await fails(() => connector.openOutbound(`ws://127.0.0.1:${port}/`), wsc.ConnectivityError);
  await fails(() => connector.openOutbound('ws://no-such-host.invalid/'), wsc.DnsError);
  const refusal = await fails(() => connector.openOutbound(`ws://127.0.0.1:${connector.port}/other`), wsc.HandshakeError);
  assert.equal(refusal.status, 404);
  await fails(() => connector.openOutbound(`ws://127.0.0.1:${silent}/`, { timeout: 200 }), wsc.Timeout);
});

test('TlsError: an unreadable certificate file, and wss:// to a plain server', async (t) => {
  await fails(() => new Connector({ port: 0, tlsCert: '/nonexistent/missing.pem', tlsKey: '/nonexistent/missing.key' }).start(),
    wsc.TlsError, /missing\.pem/);
  const [connector] = await started(t, { host: '127.0.0.1', port: 0 });
  await fails(() => connector.openOutbound(`wss://127.0.0.1:${connector.port}/`, { timeout: 5000 }), wsc.TlsError);
});

test('LimitExceeded and QueueFull: a send larger than the queue, a full queue', async (t) => {
  const [connector, events] = await started(t, {
    host: '127.0.0.1', port: 0, sendQueueBytes: 1 << 20, sendQueueMessages: 2, slowConsumer: 'fail',
  });
  const ws = await connect(`ws://127.0.0.1:${connector.port}/`);
  const [, socket] = await events.nextOf('inboundConnection');
  await fails(() => socket.send(Buffer.alloc((1 << 20) + 1)), wsc.LimitExceeded);
  await fails(() => connector.broadcast(Buffer.alloc((1 << 20) + 1)), wsc.LimitExceeded);
  ws._socket.pause(); // the peer stops reading: the queue fills
  const big = Buffer.alloc(1 << 19);
  const error = await fails(async () => {
    for (let i = 0; i < 1000; i++) socket.send(big);
  }, wsc.QueueFull);
  assert.equal(error.code, 12);
  assert.equal(error.kind, 'queue_full');
  ws.terminate();
});

test('RemotelyClosed: a send while the peer is closing the socket', async (t) => {
  let serverReplied;
  const replied = new Promise((resolve) => {
    serverReplied = resolve;
  });
  // A hand-written server: the upgrade, one close frame (4000), then it keeps the TCP open.
  const port = await tcpServer(t, (tcp) => {
    let request = '';
    tcp.on('data', (chunk) => {
      if (request.endsWith('\r\n\r\n')) {
        serverReplied(); // the client's close reply
        return;
      }
      request += chunk.toString('latin1');
      if (!request.endsWith('\r\n\r\n')) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(request)[1];
      const accept = crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      tcp.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      tcp.write(Buffer.from([0x88, 0x02, 0x0f, 0xa0]));
    });
  });
  const [connector] = await started(t, { closeTimeout: 5000 });
  const id = await connector.openOutbound(`ws://127.0.0.1:${port}/`);
  await bounded(replied, 'the close reply');
  await fails(() => connector.send(id, 'anyone?'), wsc.RemotelyClosed);
});

test('InvalidState and Stopped: calls before start, without a listener, after stop', async () => {
  const connector = new Connector({ stopTimeout: 1000 });
  await fails(() => connector.send('x', 'y'), wsc.InvalidState, /not started/);
  await fails(() => new Connector({ basePath: '/ws' }).start(), wsc.InvalidState);
  await connector.start();
  assert.equal(connector.port, null);
  await fails(() => connector.start(), wsc.InvalidState);
  await connector.stop();
  await connector.stop();
  await fails(() => connector.send('x', 'y'), wsc.Stopped);
  await fails(() => connector.openOutbound('ws://127.0.0.1:1/'), wsc.Stopped);
  assert.equal(connector.running, false);
});

test('maxInboundConnections and its deprecated alias maxConnections set one limit', async (t) => {
  for (const name of ['maxInboundConnections', 'maxConnections']) {
    const [connector] = await started(t, { host: '127.0.0.1', port: 0, [name]: 1 });
    const held = await connect(`ws://127.0.0.1:${connector.port}/`);
    const refused = new WebSocket(`ws://127.0.0.1:${connector.port}/`);
    const [, response] = await bounded(once(refused, 'unexpected-response'), `${name}: the refusal`);
    assert.equal(response.statusCode, 503, name);
    refused.on('error', () => {}); // terminate() reports the aborted handshake
    refused.terminate();
    held.terminate();
  }
  for (const both of [{ maxConnections: 2, maxInboundConnections: 3 }, { maxInboundConnections: 3, maxConnections: 3 }]) {
    const error = await fails(() => new Connector({ port: 0, ...both }).start(), wsc.InvalidArgument);
    assert.match(error.message, /maxConnections/);
    assert.match(error.message, /maxInboundConnections/);
  }
  // null is not giving it.
  const [connector] = await started(t, { port: 0, maxConnections: null, maxInboundConnections: 1 });
  assert.ok(connector.port > 0);
});
