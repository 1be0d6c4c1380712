// Unit tests of realtime/static/realtime/connector.js with a fake WebSocket and mocked timers.
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { describe, it } from "node:test";

import { fakeWebSocketClass, flush } from "./fake-websocket.mjs";

const require = createRequire(import.meta.url);
const WebSocketConnector = require("../../realtime/static/realtime/connector.js");

const LIFECYCLE = [
  "open", "close", "error", "message", "ping", "pong", "pong-timeout", "reconnect", "repeat-limit",
];
const OBJECT_MEMBERS = [
  "constructor", "__proto__", "toString", "toLocaleString", "valueOf", "hasOwnProperty",
  "isPrototypeOf", "propertyIsEnumerable", "__defineGetter__", "__defineSetter__",
  "__lookupGetter__", "__lookupSetter__",
];

/**
 * A connector on a fake WebSocket, with mocked setTimeout and Date (starting at 0), and every
 * lifecycle event recorded in `events` as [name, ...args].
 */
function start(t, options = {}) {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
  const Fake = fakeWebSocketClass();
  const client = new WebSocketConnector({
    url: "ws://test/ws/", WebSocket: Fake, recovery: false, ...options,
  });
  const events = [];
  for (const name of LIFECYCLE) client.on(name, (...args) => events.push([name, ...args]));
  return {
    client,
    Fake,
    events,
    socket: () => Fake.instances.at(-1),
    tick: (ms) => t.mock.timers.tick(ms),
    named: (name) => events.filter((event) => event[0] === name),
  };
}

/** A connector whose first socket is open. */
function opened(t, options) {
  const env = start(t, options);
  env.socket().accept();
  return env;
}

/** A recorder of callback(error, payload) calls. */
function recorder() {
  const calls = [];
  const callback = (error, payload) => calls.push([error, payload]);
  return { calls, callback };
}

describe("options", () => {
  it("has the original's defaults", (t) => {
    const { client, socket, tick, named } = opened(t);
    assert.equal(client.getPingInterval(), 10000);
    assert.equal(socket().url, "ws://test/ws/");
    // pingInterval 10000, pingMsg "" (an empty text frame)
    tick(9999);
    assert.deepEqual(socket().sent, []);
    tick(1);
    assert.deepEqual(socket().sent, [""]);
    // pongTimeout 2000, then close 4002
    tick(1999);
    assert.equal(named("pong-timeout").length, 0);
    tick(1);
    assert.equal(named("pong-timeout").length, 1);
    assert.deepEqual(socket().closeCalls, [{ code: 4002, reason: "pong timeout" }]);
    // fastReconnectInterval 3000 for the first fastReconnectThreshold (3) attempts
    assert.deepEqual(named("reconnect"), [["reconnect", { repeat: 1, timeout: 3000 }]]);
    assert.equal(client.reconnecting, true);
  });

  it("defaults to a 5000 ms callback timeout and a 100 ms pending time", (t) => {
    const { client, tick } = opened(t);
    const { calls, callback } = recorder();
    let pending = 0;
    client.emit("say", {}, callback, { onPending: () => pending++ });
    tick(99);
    assert.equal(pending, 0);
    tick(1);
    assert.equal(pending, 1);
    tick(4899);
    assert.deepEqual(calls, []);
    tick(1);
    assert.equal(calls.length, 1);
    assert.equal(calls[0][0].errorCode, "CALLBACK_TIMEOUT");
  });

  it("computes the default backoff schedule of docs/reference/protocol.md section 6", () => {
    const low = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => WebSocketConnector.reconnectDelay(n, {}, 0));
    assert.deepEqual(low, [3000, 3000, 3000, 6000, 12000, 24000, 48000, 96000, 120000, 120000]);
    const high = [4, 5, 6, 7, 8, 9].map((n) => WebSocketConnector.reconnectDelay(n, {}, 0.9999));
    assert.deepEqual(high, [8999, 14999, 26999, 50999, 98999, 120000]);
    const custom = { fastReconnectThreshold: 1, fastReconnectInterval: 10, reconnectMaxInterval: 50 };
    const delays = [1, 2, 3, 4].map((n) => WebSocketConnector.reconnectDelay(n, custom, 0.5));
    assert.deepEqual(delays, [10, 25, 45, 50]);
  });

  it("form-encodes customParams into the query string", (t) => {
    const customParams = { id: 42, name: "Sam Ü", token: "a b&c=d", list: [1, 2], flag: true };
    const { socket } = start(t, { customParams, url: "ws://h:9/ws/" });
    assert.equal(
      socket().url,
      "ws://h:9/ws/?id=42&name=Sam+%C3%9C&token=a+b%26c%3Dd&list=1%2C2&flag=true",
    );
  });

  it("appends customParams to a query string already in the url, skipping null values", (t) => {
    const { socket } = start(t, { url: "ws://h/ws/?v=1", customParams: { id: "7", gone: null } });
    assert.equal(socket().url, "ws://h/ws/?v=1&id=7");
  });

  it("refuses a missing url and a missing WebSocket implementation with clear errors", () => {
    assert.throws(() => new WebSocketConnector({}), /url option is required/);
    assert.equal(globalThis.WebSocket, undefined);
    assert.throws(() => new WebSocketConnector({ url: "ws://h/" }), /pass the WebSocket option/);
  });

  it("uses the global WebSocket when there is one", () => {
    const Fake = fakeWebSocketClass();
    globalThis.WebSocket = Fake;
    try {
      const client = new WebSocketConnector({ url: "ws://global/" });
      assert.equal(Fake.instances.length, 1);
      client.manualClose();
    } finally {
      delete globalThis.WebSocket;
    }
  });
});

describe("frames", () => {
  it("sends events exactly as protocol section 2 says", (t) => {
    const { client, socket } = opened(t);
    assert.equal(client.emit("say", "no-callback"), true);
    client.emit("say", { msg: "hi" }, () => {});
    client.emit("bare");
    assert.equal(socket().sent[0], '{"event":"say","payload":"no-callback"}');
    const withCallback = JSON.parse(socket().sent[1]);
    assert.deepEqual(Object.keys(withCallback), ["event", "payload", "callbackId"]);
    assert.match(withCallback.callbackId, /^[0-9a-z]+-[0-9a-z]{4}-[0-9a-z]+$/);
    assert.equal(socket().sent[2], '{"event":"bare"}');
  });

  it("delivers a reply to its callback once, and drops unknown and late replies", (t) => {
    const { client, socket } = opened(t);
    const first = recorder();
    const second = recorder();
    client.emit("say", 1, first.callback);
    client.emit("say", 2, second.callback);
    const [id1, id2] = socket().frames().map((frame) => frame.callbackId);
    assert.notEqual(id1, id2);
    socket().receive(JSON.stringify({ payload: { ok: 1 }, callbackId: id1 }));
    socket().receive(JSON.stringify({ payload: { ok: 2 }, callbackId: id1 }));
    socket().receive(JSON.stringify({ payload: "stray", callbackId: "unknown" }));
    // A reply without payload; a frame with callbackId is a reply even if it has an event.
    socket().receive(JSON.stringify({ event: "say", callbackId: id2 }));
    assert.deepEqual(first.calls, [[null, { ok: 1 }]]);
    assert.deepEqual(second.calls, [[null, undefined]]);
  });

  it("dispatches pushes to their listeners and drops malformed frames", (t) => {
    const { client, socket, named } = opened(t);
    const got = [];
    client.on("roomSay", (payload) => got.push(payload));
    socket().receive("not json");
    socket().receive("[1,2]");
    socket().receive('{"event":7}');
    socket().receive('{"event":"roomSay","payload":{"a":1}}');
    socket().receive('{"event":"roomSay"}');
    assert.deepEqual(got, [{ a: 1 }, undefined]);
    assert.equal(named("message").length, 5, "every non-heartbeat frame is a message event");
    assert.equal(named("message")[0][1], "not json");
  });
});

describe("pushes named like lifecycle events or Object.prototype members", () => {
  it("never fire lifecycle listeners nor crash", (t) => {
    const { client, socket, events } = opened(t);
    events.length = 0;
    for (const name of [...LIFECYCLE, ...OBJECT_MEMBERS]) {
      socket().receive(JSON.stringify({ event: name, payload: { evil: true } }));
    }
    assert.deepEqual(
      events.filter((event) => event[0] !== "message"),
      [],
      "a push reached a lifecycle listener",
    );
    const got = [];
    client.on("afterwards", (payload) => got.push(payload));
    socket().receive('{"event":"afterwards","payload":1}');
    assert.deepEqual(got, [1], "the connector stopped working");
  });

  it("reach listeners registered under those names as push names", (t) => {
    const { client, socket } = opened(t);
    const got = [];
    for (const name of OBJECT_MEMBERS) client.on(name, (payload) => got.push([name, payload]));
    for (const name of OBJECT_MEMBERS) socket().receive(JSON.stringify({ event: name, payload: 1 }));
    assert.deepEqual(got, OBJECT_MEMBERS.map((name) => [name, 1]));
  });
});

describe("on, once, off", () => {
  it("once fires one time; off removes one listener or all of an event", (t) => {
    const { client, socket } = opened(t);
    const got = [];
    const a = (payload) => got.push(["a", payload]);
    const b = (payload) => got.push(["b", payload]);
    const c = (payload) => got.push(["c", payload]);
    client.once("x", a).on("x", b).on("x", c);
    socket().receive('{"event":"x","payload":1}');
    socket().receive('{"event":"x","payload":2}');
    client.off("x", b);
    socket().receive('{"event":"x","payload":3}');
    client.off("x");
    socket().receive('{"event":"x","payload":4}');
    assert.deepEqual(got, [["a", 1], ["b", 1], ["c", 1], ["b", 2], ["c", 2], ["c", 3]]);
  });

  it("removing a once entry keeps the same function's on entry; off cancels a once", (t) => {
    const { client, socket } = opened(t);
    const got = [];
    const listener = (payload) => got.push(payload);
    client.on("x", listener).once("x", listener);
    socket().receive('{"event":"x","payload":1}');
    socket().receive('{"event":"x","payload":2}');
    assert.deepEqual(got, [1, 1, 2]);
    const cancelled = [];
    client.once("open", () => cancelled.push("open"));
    client.off("open");
    client.reconnect();
    t.mock.timers.tick(3000);
    socket().accept();
    assert.deepEqual(cancelled, []);
  });

  it("refuses a listener that is not a function", (t) => {
    const { client } = start(t);
    assert.throws(() => client.on("x", "nope"), /must be a function/);
  });

  it("a throwing listener does not stop the others and is rethrown, not swallowed", (t) => {
    const { client, socket, tick } = opened(t);
    const got = [];
    client.on("x", () => {
      throw new Error("listener bug");
    });
    client.on("x", (payload) => got.push(payload));
    socket().receive('{"event":"x","payload":1}');
    assert.deepEqual(got, [1]);
    assert.throws(() => tick(1), /listener bug/);
  });
});

describe("emit results", () => {
  it("fails at once with WS_NOT_OPEN when not connected", async (t) => {
    const { client, socket } = start(t);
    const { calls, callback } = recorder();
    assert.equal(client.emit("say", 1, callback), false);
    assert.deepEqual(calls, [[{ error: "the WebSocket is not open", errorCode: "WS_NOT_OPEN" }, null]]);
    assert.equal(client.emit("say", 1), false);
    assert.deepEqual(await client.emitWithPromise("say", 1), {
      success: false,
      error: "the WebSocket is not open",
      errorCode: "WS_NOT_OPEN",
    });
    assert.deepEqual(socket().sent, []);
  });

  it("times out with CALLBACK_TIMEOUT after callbackTimeout, then ignores the late reply", (t) => {
    const { client, socket, tick } = opened(t, { callbackTimeout: 300 });
    const { calls, callback } = recorder();
    client.emit("slow", null, callback);
    tick(299);
    assert.deepEqual(calls, []);
    tick(1);
    assert.deepEqual(calls, [[{ error: "no reply within 300 ms", errorCode: "CALLBACK_TIMEOUT" }, null]]);
    socket().receive(JSON.stringify({ payload: 1, callbackId: socket().frames()[0].callbackId }));
    assert.equal(calls.length, 1);
  });

  it("takes a per-call callbackTimeout", (t) => {
    const { client, tick } = opened(t, { callbackTimeout: 300 });
    const { calls, callback } = recorder();
    client.emit("slow", null, callback, { callbackTimeout: 50 });
    tick(50);
    assert.equal(calls[0][0].errorCode, "CALLBACK_TIMEOUT");
  });

  it("calls onPending once after pendingTimeout when the reply is late, never when it is quick", (t) => {
    const { client, socket, tick } = opened(t);
    let late = 0;
    let quick = 0;
    const lateResult = recorder();
    client.emit("late", null, lateResult.callback, { pendingTimeout: 40, onPending: () => late++ });
    client.emit("quick", null, () => {}, { pendingTimeout: 40, onPending: () => quick++ });
    const [lateId, quickId] = socket().frames().map((frame) => frame.callbackId);
    tick(39);
    socket().receive(JSON.stringify({ payload: "q", callbackId: quickId }));
    tick(1);
    assert.equal(late, 1);
    tick(500);
    socket().receive(JSON.stringify({ payload: "l", callbackId: lateId }));
    assert.equal(late, 1);
    assert.equal(quick, 0);
    assert.deepEqual(lateResult.calls, [[null, "l"]]);
  });

  it("emitWithPromise resolves to {success, data}", async (t) => {
    const { client, socket } = opened(t);
    const promise = client.emitWithPromise("say", { msg: "hi" });
    socket().receive(JSON.stringify({ payload: { ok: 1 }, callbackId: socket().frames()[0].callbackId }));
    assert.deepEqual(await promise, { success: true, data: { ok: 1 } });
  });

  it("emitWithPromise passes onPending and callbackTimeout", async (t) => {
    const { client, tick } = opened(t);
    let pending = 0;
    const promise = client.emitWithPromise("say", 1, {
      callbackTimeout: 200,
      pendingTimeout: 10,
      onPending: () => pending++,
    });
    tick(200);
    assert.deepEqual(await promise, {
      success: false,
      error: "no reply within 200 ms",
      errorCode: "CALLBACK_TIMEOUT",
    });
    assert.equal(pending, 1);
  });

  it("throws on data JSON cannot encode and leaves no pending call behind", (t) => {
    const { client, socket, tick } = opened(t);
    const { calls, callback } = recorder();
    const circular = {};
    circular.self = circular;
    const ws = socket();
    assert.throws(() => client.emit("x", circular, callback), TypeError);
    tick(6000);
    assert.deepEqual(calls, [], "a failed emit left a pending call that timed out");
    assert.deepEqual(ws.sent, []);
  });

  it("refuses an event name that is not a non-empty string", (t) => {
    const { client } = opened(t);
    assert.throws(() => client.emit("", 1), /non-empty string/);
    assert.throws(() => client.emit(7, 1), /non-empty string/);
  });
});

describe("connection loss", () => {
  it("fails pending callbacks at once with CONNECTION_LOST", async (t) => {
    const { client, socket } = opened(t, { callbackTimeout: 60000 });
    const { calls, callback } = recorder();
    client.emit("a", 1, callback);
    const promise = client.emitWithPromise("b", 2);
    socket().serverClose(1006);
    const lost = { error: "the connection was lost before the reply", errorCode: "CONNECTION_LOST" };
    assert.deepEqual(calls, [[lost, null]]);
    assert.deepEqual(await promise, { success: false, ...lost });
  });

  it("fails pending callbacks on manualClose and on reconnect", (t) => {
    const { client } = opened(t);
    const first = recorder();
    client.emit("a", 1, first.callback);
    client.reconnect();
    assert.equal(first.calls[0][0].errorCode, "CONNECTION_LOST");
  });

  it("reconnects after an abrupt close that had no error event", (t) => {
    const { Fake, socket, tick, named } = opened(t);
    socket().serverClose(1006);
    assert.deepEqual(named("error"), []);
    assert.deepEqual(named("close"), [["close", { code: 1006, reason: "", wasClean: false }]]);
    tick(3000);
    assert.equal(Fake.instances.length, 2);
  });

  it("reconnects after a clean server close such as a restart (1001, 1012, 1000)", (t) => {
    const { Fake, socket, tick } = opened(t);
    for (const code of [1001, 1012, 1000]) {
      socket().serverClose(code, "restart");
      tick(3000);
      socket().accept();
    }
    assert.equal(Fake.instances.length, 4);
  });

  it("counts an error without a close event as a close (1006) after one second", (t) => {
    const { client, Fake, socket, tick, named } = start(t);
    const first = socket();
    first.failWithoutClose();
    tick(999);
    assert.deepEqual(named("close"), []);
    tick(1);
    assert.deepEqual(named("close"), [["close", { code: 1006, reason: "", wasClean: false }]]);
    assert.deepEqual(first.closeCalls, [{ code: 4001, reason: "error" }]);
    assert.equal(client.reconnecting, true);
    tick(3000);
    assert.equal(Fake.instances.length, 2);
  });

  it("reports an error followed by its close as one close", (t) => {
    const { socket, tick, named } = start(t);
    socket().refuse();
    tick(1000);
    assert.equal(named("error").length, 1);
    assert.equal(named("close").length, 1);
    assert.equal(named("reconnect").length, 1);
  });

  for (const code of [4001, 4010, 4011, 4012]) {
    it(`never reconnects after ${code}`, (t) => {
      const { client, Fake, socket, tick, named } = opened(t);
      socket().serverClose(code, "Auth failure");
      assert.deepEqual(named("close"), [["close", { code, reason: "Auth failure", wasClean: true }]]);
      assert.equal(client.reconnecting, false);
      tick(10 * 60 * 1000);
      assert.equal(Fake.instances.length, 1);
      assert.deepEqual(named("reconnect"), []);
    });
  }

  it("takes its own set of no-reconnect codes", (t) => {
    const { Fake, socket, tick } = opened(t, { noReconnectCodes: [4999] });
    socket().serverClose(4011);
    tick(3000);
    assert.equal(Fake.instances.length, 2);
    socket().accept();
    socket().serverClose(4999);
    tick(10 * 60 * 1000);
    assert.equal(Fake.instances.length, 2);
  });
});

describe("reconnection schedule", () => {
  it("waits the exact delays, resets the counter on open", (t) => {
    t.mock.method(Math, "random", () => 0.5);
    const options = { fastReconnectThreshold: 2, fastReconnectInterval: 100, reconnectMaxInterval: 1000 };
    const { client, Fake, socket, tick, named } = start(t, options);
    const expected = [100, 100, 250, 450, 850, 1000, 1000];
    for (const [index, delay] of expected.entries()) {
      socket().refuse();
      assert.deepEqual(named("reconnect").at(-1), ["reconnect", { repeat: index + 1, timeout: delay }]);
      assert.equal(client.reconnecting, true);
      tick(delay - 1);
      assert.equal(Fake.instances.length, index + 1, `attempt ${index + 1} came early`);
      tick(1);
      assert.equal(Fake.instances.length, index + 2, `attempt ${index + 1} did not come`);
    }
    socket().accept();
    assert.equal(client.reconnecting, false);
    socket().serverClose(1006);
    assert.deepEqual(named("reconnect").at(-1), ["reconnect", { repeat: 1, timeout: 100 }]);
  });

  it("stops after repeatLimit attempts with a repeat-limit event", (t) => {
    const { client, Fake, socket, tick, named } = start(t, { repeatLimit: 2, fastReconnectInterval: 10 });
    socket().refuse();
    tick(10);
    socket().refuse();
    tick(10);
    socket().refuse();
    assert.deepEqual(named("repeat-limit"), [["repeat-limit", 2]]);
    assert.equal(client.reconnecting, false);
    tick(60000);
    assert.equal(Fake.instances.length, 3);
    // reconnect() after the limit starts a new series.
    client.reconnect();
    assert.deepEqual(named("reconnect").at(-1), ["reconnect", { repeat: 1, timeout: 10 }]);
  });

  it("is not doubled by a close listener that calls reconnect() as the original's docs advise", (t) => {
    const { client, Fake, socket, tick, named } = opened(t, { repeatLimit: 1 });
    client.on("close", (event) => {
      if ([4001, 4010, 4011, 4012].includes(event.code)) client.manualClose();
      else client.reconnect();
    });
    socket().serverClose(1006);
    assert.deepEqual(named("reconnect"), [["reconnect", { repeat: 1, timeout: 3000 }]]);
    tick(3000);
    socket().refuse();
    assert.deepEqual(named("repeat-limit"), [["repeat-limit", 1]]);
    tick(60000);
    assert.equal(Fake.instances.length, 2);
  });

  it("reconnect() while connecting replaces the socket safely and ignores the old one", async (t) => {
    const { client, Fake, tick, named } = start(t);
    const first = Fake.instances[0];
    client.reconnect();
    assert.deepEqual(first.closeCalls, [{ code: 4001, reason: "reconnect" }]);
    await flush();
    first.accept(); // a late open of the abandoned socket changes nothing
    assert.deepEqual(named("open"), []);
    assert.deepEqual(named("close"), []);
    client.reconnect(); // already scheduled: no second attempt
    tick(3000);
    assert.equal(Fake.instances.length, 2);
    Fake.instances[1].accept();
    assert.equal(named("open").length, 1);
  });
});

describe("manualClose", () => {
  it("while connecting neither throws nor reconnects, and emits one close", async (t) => {
    const { client, Fake, tick, named } = start(t);
    client.manualClose();
    await flush();
    assert.deepEqual(Fake.instances[0].closeCalls, [{ code: 4001, reason: "manual close" }]);
    assert.deepEqual(named("close"), [["close", { code: 4001, reason: "manual close", wasClean: true }]]);
    assert.deepEqual(named("error"), []);
    tick(10 * 60 * 1000);
    assert.equal(Fake.instances.length, 1);
    client.manualClose(); // idempotent
    assert.equal(named("close").length, 1);
  });

  it("when open closes with 4001, stops the heartbeat; reconnect() starts again", (t) => {
    const { client, Fake, socket, tick, named } = opened(t);
    client.manualClose();
    assert.deepEqual(socket().closeCalls, [{ code: 4001, reason: "manual close" }]);
    tick(60000);
    assert.deepEqual(socket().sent, [], "a ping went out after manualClose");
    assert.equal(Fake.instances.length, 1);
    client.reconnect();
    assert.deepEqual(named("reconnect"), [["reconnect", { repeat: 1, timeout: 3000 }]]);
    tick(3000);
    assert.equal(Fake.instances.length, 2);
  });

  it("cancels a scheduled reconnection", (t) => {
    const { client, Fake, socket, tick } = opened(t);
    socket().serverClose(1006);
    client.manualClose();
    assert.equal(client.reconnecting, false);
    tick(60000);
    assert.equal(Fake.instances.length, 1);
  });
});

describe("heartbeat", () => {
  it("measures latency and pings pingInterval after the previous pong", (t) => {
    const { socket, tick, named } = opened(t, { pingInterval: 1000, pongTimeout: 500 });
    tick(1000);
    assert.deepEqual(named("ping"), [["ping"]]);
    tick(37);
    socket().receive("");
    assert.deepEqual(named("pong"), [["pong", 37]]);
    tick(999);
    assert.equal(socket().sent.length, 1);
    tick(1);
    assert.deepEqual(socket().sent, ["", ""]);
    assert.equal(named("message").length, 0, "the echo is not a message");
  });

  it("closes with 4002 and reconnects when the echo does not come within pongTimeout", (t) => {
    const { client, Fake, socket, tick, named } = opened(t, { pingInterval: 1000, pongTimeout: 500 });
    const { calls, callback } = recorder();
    tick(1000);
    client.emit("a", 1, callback);
    tick(499);
    assert.deepEqual(named("pong-timeout"), []);
    tick(1);
    assert.deepEqual(named("pong-timeout"), [["pong-timeout"]]);
    assert.deepEqual(socket().closeCalls, [{ code: 4002, reason: "pong timeout" }]);
    assert.deepEqual(named("close"), [["close", { code: 4002, reason: "pong timeout", wasClean: false }]]);
    assert.equal(calls[0][0].errorCode, "CONNECTION_LOST");
    tick(3000);
    assert.equal(Fake.instances.length, 2);
  });

  it("uses pingMsg as the heartbeat string", (t) => {
    const { socket, tick, named } = opened(t, { pingMsg: "ping", pingInterval: 100 });
    tick(100);
    assert.deepEqual(socket().sent, ["ping"]);
    socket().receive("");
    assert.deepEqual(named("pong"), []);
    socket().receive("ping");
    assert.equal(named("pong").length, 1);
  });

  it("setPingInterval reschedules the waiting ping", (t) => {
    const { client, socket, tick } = opened(t);
    tick(5000);
    client.setPingInterval(200);
    assert.equal(client.getPingInterval(), 200);
    tick(199);
    assert.deepEqual(socket().sent, []);
    tick(1);
    assert.deepEqual(socket().sent, [""]);
  });
});

describe("connection state recovery", () => {
  const WELCOME = '{"rt":{"session":"s1","token":"t1","recovered":false}}';

  function query(socket) {
    return new URL(socket.url).searchParams;
  }

  it("asks for a session and fires open once the welcome says it was not recovered", (t) => {
    const env = start(t, { recovery: true, customParams: { id: 7 } });
    assert.equal(query(env.socket()).get("rt-recovery"), "{}");
    assert.equal(query(env.socket()).get("id"), "7");
    env.socket().accept();
    assert.deepEqual(env.named("open"), []);
    env.socket().receive(WELCOME);
    assert.deepEqual(env.named("open"), [["open", { recovered: false }]]);
    assert.deepEqual(env.named("message"), []); // the welcome is the connector's own
    assert.equal(env.client.recovered, false);
  });

  it("reconnects with its place in every stream, drops duplicates, reports recovery", (t) => {
    const env = start(t, { recovery: true });
    const got = [];
    env.client.on("say", (payload) => got.push(payload));
    env.socket().accept();
    env.socket().receive(WELCOME);
    for (const offset of [1, 2, 4, 2]) {
      env.socket().receive(JSON.stringify({ event: "say", payload: offset, rt: ["r", "E", offset] }));
    }
    assert.deepEqual(got, [1, 2, 4]);
    env.socket().serverClose(1006);
    env.tick(3000);
    const request = JSON.parse(query(env.socket()).get("rt-recovery"));
    assert.deepEqual(request, { id: "s1", token: "t1", streams: { r: ["E", 4, [3]] } });
    env.socket().accept();
    env.socket().receive('{"rt":{"session":"s2","token":"t2","recovered":true}}');
    assert.deepEqual(env.named("open").at(-1), ["open", { recovered: true }]);
    assert.equal(env.client.recovered, true);
    env.socket().receive(JSON.stringify({ event: "say", payload: 3, rt: ["r", "E", 3] }));
    env.socket().receive(JSON.stringify({ event: "say", payload: 4, rt: ["r", "E", 4] }));
    assert.deepEqual(got, [1, 2, 4, 3]);
  });

  it("opens at the first frame when a server sends no welcome", (t) => {
    const env = start(t, { recovery: true, welcomeTimeout: 500 });
    const got = [];
    env.client.on("say", (payload) => got.push(payload));
    env.socket().accept();
    env.socket().receive('{"event":"say","payload":1}');
    assert.deepEqual(env.named("open"), [["open", { recovered: false }]]);
    assert.deepEqual(got, [1]);
  });

  it("opens after welcomeTimeout when a server sends nothing", (t) => {
    const quiet = start(t, { recovery: true, welcomeTimeout: 500 });
    quiet.socket().accept();
    quiet.tick(499);
    assert.deepEqual(quiet.named("open"), []);
    quiet.tick(1);
    assert.deepEqual(quiet.named("open"), [["open", { recovered: false }]]);
  });
});
