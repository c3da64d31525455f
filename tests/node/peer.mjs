// An independent WebSocket peer for the interop test: Node's `ws` library, as a client of
// wsconnector's listener or as a server for its outbound sockets. Prints one JSON line of
// results (or an error) and exits 0 on success.
//
//   node peer.mjs client URL     connects, sends text, binary and a fragmented message,
//                                expects each back, then closes with 4001
//   node peer.mjs server         listens on 127.0.0.1:0, prints {"port": N}, echoes every
//                                message, answers "close-me" by closing with 4002
//   ... deflate                  either, with permessage-deflate on and every message
//                                compressed (ws compresses each fragment of one message in
//                                one stream, RSV1 on the first); the client reports the
//                                negotiated extensions
import { WebSocket, WebSocketServer } from "ws";

const args = process.argv.slice(2);
const deflate = args.at(-1) === "deflate";
const [mode, url] = deflate ? args.slice(0, -1) : args;
const perMessageDeflate = deflate ? { threshold: 0 } : false;
const fail = (why) => { console.log(JSON.stringify({ error: String(why) })); process.exit(1); };
setTimeout(() => fail("timed out"), 10_000).unref();

if (mode === "client") {
  const ws = new WebSocket(url, ["chat.v1"], { headers: { "X-Peer": "node-ws" }, perMessageDeflate });
  const got = [];
  ws.on("open", () => {
    ws.send("héllo from node");
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.send("frag", { fin: false });
    ws.send("mented", { fin: true });
    ws.send("x".repeat(70_000));
  });
  ws.on("message", (data, isBinary) => {
    got.push(isBinary ? `binary:${[...data].join(",")}` : `text:${data.toString().slice(0, 20)}:${data.length}`);
    if (got.length === 4) ws.close(4001, "node says bye");
  });
  ws.on("close", (code, reason) => {
    console.log(JSON.stringify({
      got, code, reason: reason.toString(), protocol: ws.protocol, extensions: ws.extensions,
    }));
    process.exit(0);
  });
  ws.on("error", fail);
} else if (mode === "server") {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate }, () => {
    console.log(JSON.stringify({ port: server.address().port }));
  });
  server.on("connection", (ws, request) => {
    ws.on("message", (data, isBinary) => {
      if (!isBinary && data.toString() === "close-me") {
        ws.close(4002, "node server closing");
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
    ws.on("close", () => { server.close(); process.exit(0); });
  });
} else {
  fail(`unknown mode ${mode}`);
}
