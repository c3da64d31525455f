'use strict';
// Chat server: rooms are groups. The protocol of every chat example (the README's Examples):
// "welcome to the lobby; send /join ROOM to change rooms" on connecting; "/join ROOM" answers
// "you are in room ROOM"; other text goes to everyone in the sender's room as "[NAME] text"
// (NAME: the "name" query parameter, or the first 8 characters of the socket ID).
//
// Run: node examples/chat.js [HOST:PORT] (default 127.0.0.1:8080), then connect with any
// WebSocket client. Ctrl-C stops.

const { Connector } = require('wsconnector');

/** Groups that stand for rooms carry this prefix, so other groups are left alone. */
const ROOM_PREFIX = 'room:';

/** A connector whose listeners implement the chat. */
function makeChat(settings) {
  const chat = new Connector(settings);
  chat.on('inboundConnection', (socket) => {
    socket.subscribe(`${ROOM_PREFIX}lobby`);
    socket.send('welcome to the lobby; send /join ROOM to change rooms');
  });
  chat.on('inboundMessage', (socket, message) => {
    if (typeof message !== 'string') {
      socket.send('text only, please');
      return;
    }
    const rooms = socket.groups.filter((group) => group.startsWith(ROOM_PREFIX));
    if (message.startsWith('/')) {
      const [verb, ...rest] = message.split(' ');
      const room = rest.join(' ').trim();
      if (verb !== '/join') {
        socket.send(`unknown command ${verb}; send /join ROOM, or text for your room`);
      } else if (!room) {
        socket.send('a room needs a name: /join ROOM');
      } else {
        if (rooms.length > 0) socket.unsubscribe(rooms);
        socket.subscribe(ROOM_PREFIX + room);
        socket.send(`you are in room ${room}`);
      }
    } else {
      const name = socket.queryParam('name') || socket.id.slice(0, 8);
      chat.broadcast(`[${name}] ${message}`, { socketType: 'inbound', groups: rooms });
    }
  });
  chat.on('socketClosed', (socket, code) => console.log(`${socket.id} left (close code ${code})`));
  return chat;
}

async function main() {
  const address = process.argv[2] || '127.0.0.1:8080';
  const at = address.lastIndexOf(':');
  const chat = makeChat({ host: address.slice(0, at), port: Number(address.slice(at + 1)) });
  await chat.start();
  const url = `ws://${address.slice(0, at)}:${chat.port}/chat`;
  console.log(`chat server on ${url} (any path works; ?name=ann names you)`);
  console.log('connect with any WebSocket client, for example (after `pip install websockets`):');
  console.log(`  python3 -m websockets '${url}?name=ann'`);
  console.log("then type a line to talk to your room, '/join ROOM' to change rooms. Ctrl-C stops.");
  const stop = () => chat.stop().then(() => console.log('stopped'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

module.exports = { makeChat };

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
