'use strict';
// Chat server: rooms are groups. A client joins a room by sending "/join ROOM"; every other
// message goes to everyone in the sender's room.
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
    if (typeof message !== 'string') return;
    const rooms = socket.groups.filter((group) => group.startsWith(ROOM_PREFIX));
    const room = message.startsWith('/join ') ? message.slice('/join '.length).trim() : '';
    if (room) {
      if (rooms.length > 0) socket.unsubscribe(rooms);
      socket.subscribe(ROOM_PREFIX + room);
      socket.send(`you are in room ${room}`);
    } else {
      chat.broadcast(`[${socket.id.slice(0, 8)}] ${message}`, { socketType: 'inbound', groups: rooms });
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
  console.log(`chat server on ws://${address.slice(0, at)}:${chat.port}/  (any path works)`);
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
