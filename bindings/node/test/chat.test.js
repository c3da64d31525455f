'use strict';
// The chat scenario (examples/chat.js: rooms as groups) against clients from `ws`.

const test = require('node:test');
const assert = require('node:assert/strict');
const { makeChat } = require('../examples/chat');
const { connect } = require('./helpers');

test('chat: rooms are groups, messages reach the sender room only', async (t) => {
  const chat = makeChat({ host: '127.0.0.1', port: 0 });
  t.mock.method(console, 'log', () => {});
  await chat.start();
  t.after(() => chat.stop());
  const url = `ws://127.0.0.1:${chat.port}/chat`;
  const ann = await connect(`${url}?name=ann`);
  const bob = await connect(url);
  const welcome = 'welcome to the lobby; send /join ROOM to change rooms';
  assert.equal(await ann.inbox.next(), welcome);
  assert.equal(await bob.inbox.next(), welcome);

  ann.send('hello lobby');
  assert.equal(await ann.inbox.next(), '[ann] hello lobby');
  assert.equal(await bob.inbox.next(), '[ann] hello lobby');
  bob.send('/join ');
  assert.equal(await bob.inbox.next(), 'a room needs a name: /join ROOM');
  bob.send('/leave');
  assert.equal(await bob.inbox.next(), 'unknown command /leave; send /join ROOM, or text for your room');

  bob.send('/join kitchen');
  assert.equal(await bob.inbox.next(), 'you are in room kitchen');
  bob.send('only the kitchen hears this');
  assert.match(await bob.inbox.next(), /only the kitchen hears this$/);
  ann.send('still in the lobby');
  // Ann hears herself only: Bob's next message is his own, not Ann's.
  assert.match(await ann.inbox.next(), /still in the lobby$/);
  bob.send('kitchen again');
  assert.match(await bob.inbox.next(), /kitchen again$/);

  ann.send('/join kitchen');
  assert.equal(await ann.inbox.next(), 'you are in room kitchen');
  ann.send('hi bob');
  assert.match(await bob.inbox.next(), /hi bob$/);
  assert.match(await ann.inbox.next(), /hi bob$/);

  const [kitchen] = chat.sockets({ groups: 'room:kitchen' }).map((s) => s.groups);
  assert.deepEqual(kitchen, ['room:kitchen']);
  assert.equal(chat.sockets({ groups: 'room:lobby' }).length, 0);

  await chat.stop();
  assert.equal((await ann.closed).code, 1001);
  assert.equal((await bob.closed).code, 1001);
});
