'use strict';
// The README's Node.js program (examples/readme/app.js, which the README includes verbatim) runs
// as a user would run it: `require('wsconnector')`, a free port instead of 8080, SIGTERM stops it.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { once } = require('node:events');
const { bounded, connect } = require('./helpers');

test('readme: the Node.js program serves a room until SIGTERM', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsc-readme-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(path.resolve(__dirname, '..'), path.join(dir, 'node_modules', 'wsconnector'));
  const source = fs.readFileSync(path.resolve(__dirname, '../../../examples/readme/app.js'), 'utf8');
  fs.writeFileSync(path.join(dir, 'app.js'), source.replace('port: 8080', 'port: 0'));

  const child = spawn(process.execPath, ['app.js'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (data) => { stderr += data; });
  const lines = readline.createInterface({ input: child.stdout });
  const [first] = await bounded(once(lines, 'line'), 'the first line');
  const url = /ws:\/\/127\.0\.0\.1:\d+/.exec(first);
  assert.ok(url, `${first} ${stderr}`);

  const ann = await connect(`${url[0]}/chat/x`);
  const bob = await connect(`${url[0]}/chat/y`);
  ann.send('hello');
  assert.equal(await ann.inbox.next(), 'hello');
  assert.equal(await bob.inbox.next(), 'hello');

  const rest = [];
  lines.on('line', (line) => rest.push(line));
  const exited = once(child, 'close'); // after its output is read
  child.kill('SIGTERM');
  const [code] = await bounded(exited, 'the exit');
  assert.equal(code, 0, stderr);
  assert.deepEqual(rest, ['stopped']);
  assert.equal((await ann.closed).code, 1001);
});
