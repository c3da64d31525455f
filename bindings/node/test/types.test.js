'use strict';
// The TypeScript declarations (index.d.ts) compile, and describe the API as it is used.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

test('tsc --noEmit accepts index.d.ts and test/typecheck.ts', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const output = execFileSync(process.execPath, [tsc, '--noEmit', '-p', path.join(__dirname, 'tsconfig.json')],
    { encoding: 'utf8', timeout: 60000 });
  assert.equal(output, '');
});
