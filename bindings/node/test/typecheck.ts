// Compiled by `tsc --noEmit` (test/types.test.js), never run: the declarations describe the
// API as the tests use it, and reject wrong uses.
import { Connector, Socket, HandshakeError, WebSocketError, CloseCode, BroadcastReport } from 'wsconnector';

async function main(): Promise<void> {
  const chat = new Connector({ host: '127.0.0.1', port: 0, paths: { '/chat/*': ['lobby'] }, pingInterval: null });
  chat.on('inboundMessage', (socket: Socket, message: string | Buffer) => {
    const report: BroadcastReport = chat.broadcast(message, { groups: socket.groups, socketType: 'inbound' });
    socket.send(`${report.delivered}`);
  });
  chat.on('socketClosed', (socket, code, reason) => console.log(socket.id, code + 1, reason.length));
  await chat.start();
  const port: number | null = chat.port;
  try {
    const id: string = await chat.openOutbound(`ws://127.0.0.1:${port}/chat/a`, { groups: 'x', timeout: 500 });
    chat.close(id, CloseCode.NORMAL, 'bye');
  } catch (error) {
    if (error instanceof HandshakeError) console.log(error.status, error.kind, error.code);
    else if (error instanceof WebSocketError) console.log(error.message);
  }
  const closed: number = chat.bulkClose({ path: '/chat/*', code: 4000 });
  console.log(closed, chat.sockets({ socketType: 'outbound' }).map((s) => s.uri));
  // @ts-expect-error: an unknown setting
  new Connector({ maxMesageSize: 1 });
  // @ts-expect-error: not an event of a connector
  chat.on('message', () => {});
  // @ts-expect-error: a message is text or bytes
  chat.send('id', 42);
  await chat.stop();
}

void main();
