// connector.js in Node.js against a real server, driven by tests/e2e/test_node_connector.py.
// Prints one JSON line per event. Scenario: on the first open, an echo and a long call that
// stays pending (the test then kills the server and starts a new one on the same port); on the
// second open, another echo, then manualClose(), after which the process must exit by itself.
// Usage: node --experimental-websocket tests/js/live-client.mjs ws://127.0.0.1:PORT/ws/
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const WebSocketConnector = require("../../realtime/static/realtime/connector.js");

const print = (line) => console.log(JSON.stringify(line));
const client = new WebSocketConnector({
  url: process.argv[2],
  customParams: { id: "node-1" },
  pingInterval: 200,
  fastReconnectInterval: 200,
});
let opens = 0;

client.on("pong", (latency) => print({ event: "pong", latency }));
client.on("close", ({ code }) => print({ event: "close", code }));
client.on("reconnect", (info) => print({ event: "reconnect", ...info }));
client.on("open", async () => {
  opens += 1;
  print({ event: "open", opens });
  if (opens === 1) {
    print({ event: "echo", result: await client.emitWithPromise("echo", "first") });
    const pending = client.emitWithPromise("sleep", 25, { callbackTimeout: 60000 });
    print({ event: "pending" });
    print({ event: "lost", result: await pending });
  } else {
    print({ event: "echo", result: await client.emitWithPromise("echo", "second") });
    client.manualClose();
  }
});
