const { Connector } = require('wsconnector'); // npm install dist/wsconnector-0.1.0.tgz

async function main() {
  const chat = new Connector({ host: '127.0.0.1', port: 8080, paths: { '/chat/*': ['lobby'] } });
  chat.on('inboundMessage', (socket, message) => chat.broadcast(message, { groups: socket.groups }));
  await chat.start();
  console.log(`listening on ws://127.0.0.1:${chat.port}/chat/ROOM; Ctrl-C stops`);
  const stop = () => chat.stop().then(() => console.log('stopped'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
});
