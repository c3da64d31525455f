'use strict';
// A clean exit after stop(), and backpressure from a slow listener.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const { Connector } = require('..');
const { WAIT, bounded, record } = require('./helpers');

test('after stop() the process exits by itself: no handle is left behind', async () => {
  const { stdout } = await new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(__dirname, 'fixtures', 'exit.js')], { timeout: WAIT },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve({ stdout: out })));
  });
  assert.deepEqual(JSON.parse(stdout), []);
});

test('a slow listener stops the sockets reading (backpressure), and nothing is lost', async (t) => {
  const connector = new Connector({
    host: '127.0.0.1', port: 0, eventQueueBytes: 1 << 20, eventQueueCapacity: 64,
  });
  const events = record(connector);
  await connector.start();
  t.after(() => connector.stop());
  // A client on another thread queues COUNT messages of 64 KiB at once and publishes how many
  // MiB have left it (written to the kernel); it signals when every message has left.
  const COUNT = 1536; // 96 MiB
  const shared = new Int32Array(new SharedArrayBuffer(8)); // [drained, MiB flushed]
  const flooder = new Worker(`
    const { workerData } = require('node:worker_threads');
    const WebSocket = require(workerData.ws);
    const shared = new Int32Array(workerData.shared);
    const ws = new WebSocket(workerData.url);
    ws.on('open', () => {
      let flushed = 0;
      for (let i = 0; i < workerData.count; i++) {
        ws.send(Buffer.alloc(1 << 16), () => {
          Atomics.store(shared, 1, ++flushed >> 4);
          if (flushed === workerData.count) {
            Atomics.store(shared, 0, 1);
            Atomics.notify(shared, 0);
          }
        });
      }
    });`, { eval: true, workerData: { ws: require.resolve('ws'), url: `ws://127.0.0.1:${connector.port}/`, shared: shared.buffer, count: COUNT } });
  t.after(() => flooder.terminate());
  let drainedWhileBusy = null;
  let flushedWhileBusy = 0;
  let received = 0;
  connector.on('inboundMessage', () => {
    if (received++ === 0) {
      // The slow listener holds the event loop for a bounded time; with backpressure the
      // client cannot get its messages out meanwhile.
      drainedWhileBusy = Atomics.wait(shared, 0, 0, 2000) !== 'timed-out';
      flushedWhileBusy = Atomics.load(shared, 1);
    }
  });
  while (received < COUNT) await events.nextOf('inboundMessage');
  assert.equal(drainedWhileBusy, false, 'every message left the client while the listener was busy');
  assert.ok(flushedWhileBusy < 48, `${flushedWhileBusy} MiB left the client while the listener was busy`);
  assert.equal(received, COUNT);
  t.diagnostic(`${flushedWhileBusy} MiB of 96 left the client while the listener was busy`);
});
