// connector.js loads as a plain script (global), as CommonJS and through connector.mjs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import vm from "node:vm";

import DefaultExport, { WebSocketConnector } from "../../realtime/static/realtime/connector.mjs";

const require = createRequire(import.meta.url);
const SOURCE_PATH = new URL("../../realtime/static/realtime/connector.js", import.meta.url);

test("connector.mjs exports the CommonJS class, named and default", () => {
  const required = require("../../realtime/static/realtime/connector.js");
  assert.equal(typeof WebSocketConnector, "function");
  assert.equal(WebSocketConnector, required);
  assert.equal(DefaultExport, required);
  assert.equal(required.WebSocketConnector, required);
});

test("as a plain script it defines the global WebSocketConnector and nothing else", () => {
  const sandbox = { URLSearchParams, setTimeout, clearTimeout };
  vm.createContext(sandbox);
  const before = new Set(Object.keys(sandbox));
  vm.runInContext(readFileSync(SOURCE_PATH, "utf8"), sandbox);
  const added = Object.keys(sandbox).filter((key) => !before.has(key));
  assert.deepEqual(added, ["WebSocketConnector"]);
  const delay = vm.runInContext("WebSocketConnector.reconnectDelay(4, {}, 0)", sandbox);
  assert.equal(delay, 6000);
});
