// A real browser as the peer: headless Chromium (Debian's, driven by playwright-core) opens a
// WebSocket to wsconnector's listener from a page, receives the server's push, sends text and
// binary and reads their echoes, then sees the server close. Prints one JSON line.
//
//   node browser.mjs URL
import { chromium } from "playwright-core";

const url = process.argv[2];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const result = await page.evaluate((url) => new Promise((resolve, reject) => {
    const seen = [];
    const ws = new WebSocket(url, ["push.v1"]);
    ws.binaryType = "arraybuffer";
    setTimeout(() => reject(new Error(`timed out; seen ${JSON.stringify(seen)}`)), 10000);
    ws.onmessage = (e) => {
      seen.push(typeof e.data === "string" ? `text:${e.data}` : `binary:${[...new Uint8Array(e.data)].join(",")}`);
      if (seen.length === 1) {
        ws.send("hello from the browser");
        ws.send(new Uint8Array([1, 2, 3, 250]).buffer);
      }
    };
    ws.onclose = (e) => resolve({ seen, code: e.code, reason: e.reason, protocol: ws.protocol, extensions: ws.extensions });
    ws.onerror = () => seen.push("error");
  }), url);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
