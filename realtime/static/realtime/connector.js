/*!
 * realtime connector.js: the JavaScript client of the realtime wire protocol v1.
 * Same public API as the WebSocketConnector of websocket-cross-server-adapter; our own code.
 * Use it as a plain <script> (global WebSocketConnector), with require() in Node.js, or as an
 * ES module through connector.mjs. MIT licence.
 */
(function (root, factory) {
  "use strict";
  var WebSocketConnector = factory(root);
  if (typeof module === "object" && module && module.exports) {
    module.exports = WebSocketConnector;
    // Named export too, so that Node's ES module loader sees `import { WebSocketConnector }`.
    module.exports.WebSocketConnector = WebSocketConnector;
  } else {
    root.WebSocketConnector = WebSocketConnector;
  }
})(typeof globalThis !== "undefined" ? globalThis : this, function (root) {
  "use strict";

  var OPEN = 1;
  // Node 20's experimental WebSocket reports a refused handshake with an error event and never
  // a close event. A socket that is not open this long after an error counts as closed (1006).
  var CLOSE_AFTER_ERROR_MS = 1000;

  // Events of the connector itself. A server push with one of these names never reaches their
  // listeners: pushes and lifecycle events have separate listener maps.
  var LIFECYCLE = new Set([
    "open", "close", "error", "message", "ping", "pong", "pong-timeout", "reconnect",
    "repeat-limit",
  ]);

  var DEFAULTS = {
    url: "",
    customParams: {},
    pingInterval: 10000,
    pongTimeout: 2000,
    pingMsg: "",
    callbackTimeout: 5000,
    pendingTimeout: 100,
    fastReconnectThreshold: 3,
    fastReconnectInterval: 3000,
    reconnectMaxInterval: 120000,
    repeatLimit: null,
    // Close codes after which the server does not want the client back (manual close, forced
    // logout, authentication failure, kicked).
    noReconnectCodes: [4001, 4010, 4011, 4012],
    // A WebSocket constructor for environments without a global one (Node.js: require("ws")).
    WebSocket: null,
    // Connection state recovery: after a reconnect the server restores the user, rooms and
    // every missed push, and `open` reports {recovered: true}. docs/topics/recovery.md
    recovery: true,
    // How long to wait for the server's welcome frame before `open` fires anyway.
    welcomeTimeout: 5000,
  };

  var RECOVERY_PARAM = "rt-recovery";
  var WINDOW = 32; // holes below the top a client reports (wire/recovery.py WINDOW)

  // Where this client stopped in every stream: the same algorithm as PositionTracker in
  // realtime/wire/recovery.py (the Python client's).
  function PositionTracker() {
    this.session = null;
    this.token = null;
    this.streams = new Map(); // stream -> {epoch, top, first, seen: Set}
  }

  PositionTracker.prototype.welcome = function (session, token, recovered) {
    this.session = session;
    this.token = token;
    if (!recovered) this.streams.clear();
  };

  // False when the push was received already (a duplicate).
  PositionTracker.prototype.note = function (stream, epoch, offset) {
    var known = this.streams.get(stream);
    if (!known || known.epoch !== epoch) {
      this.streams.set(stream, { epoch: epoch, top: offset, first: offset, seen: new Set() });
      return true;
    }
    if (offset === known.top || known.seen.has(offset) || offset <= known.top - WINDOW) {
      return false;
    }
    if (offset < known.top) {
      known.seen.add(offset);
      known.first = Math.min(known.first, offset);
      return true;
    }
    known.seen.add(known.top);
    known.top = offset;
    known.seen.forEach(function (seen) {
      if (seen <= offset - WINDOW) known.seen.delete(seen);
    });
    return true;
  };

  PositionTracker.prototype.request = function () {
    if (!this.session || !this.token) return "{}";
    var streams = {};
    this.streams.forEach(function (known, name) {
      var missing = [];
      for (var o = Math.max(known.first + 1, known.top - WINDOW + 1); o < known.top; o++) {
        if (!known.seen.has(o)) missing.push(o);
      }
      streams[name] = [known.epoch, known.top, missing];
    });
    return JSON.stringify({ id: this.session, token: this.token, streams: streams });
  };

  function isPosition(value) {
    return Array.isArray(value) && value.length === 3 && typeof value[0] === "string" &&
      typeof value[1] === "string" && Number.isInteger(value[2]);
  }

  function welcomeOf(frame) {
    var body = frame && typeof frame === "object" && !("event" in frame) ? frame.rt : null;
    if (!body || typeof body !== "object" || typeof body.session !== "string" ||
        typeof body.token !== "string") {
      return null;
    }
    return body;
  }

  function noop() {}

  function failure(errorCode, error) {
    return { error: error, errorCode: errorCode };
  }

  // Reconnect delay in ms for attempt n (1-based); u is uniform in [0, 1). docs/reference/protocol.md section 6.
  function reconnectDelay(n, options, u) {
    var fast = options.fastReconnectInterval;
    var threshold = options.fastReconnectThreshold;
    if (n <= threshold) return fast;
    var backoff = Math.pow(2, n - threshold) * fast + u * fast;
    return Math.floor(Math.max(fast, Math.min(backoff, options.reconnectMaxInterval)));
  }

  function withParams(url, params) {
    var query = new URLSearchParams();
    Object.keys(params || {}).forEach(function (key) {
      var value = params[key];
      if (value !== undefined && value !== null) query.append(key, String(value));
    });
    var text = query.toString();
    if (!text) return url;
    return url + (url.indexOf("?") === -1 ? "?" : url.slice(-1) === "?" ? "" : "&") + text;
  }

  // A listener that throws must not break the connector nor the other listeners, nor be
  // swallowed: it is rethrown on its own, as an uncaught error of the environment.
  function call(listener, args) {
    try {
      listener.apply(null, args);
    } catch (error) {
      setTimeout(function () {
        throw error;
      }, 0);
    }
  }

  var counter = 0;

  function makeCallbackId() {
    var random = Math.floor(Math.random() * 1679616).toString(36); // 36^4
    var time = Date.now().toString(36);
    return time + "-" + ("000" + random).slice(-4) + "-" + (++counter).toString(36);
  }

  /**
   * A reconnecting WebSocket client with heartbeat, events and acknowledged replies.
   * See docs/reference/javascript-client.md for every option and event.
   */
  class WebSocketConnector {
    #options;
    #lifecycle = new Map();
    #pushes = new Map();
    #pending = new Map();
    #ws = null;
    #manual = false;
    #reconnecting = false;
    #attempt = 0;
    #reconnectTimer = null;
    #pingTimer = null;
    #pongTimer = null;
    #errorTimer = null;
    #pingSentAt = 0;
    #positions = new PositionTracker();
    #welcoming = false;
    #welcomeTimer = null;
    #recovered = false;

    constructor(options) {
      var given = options || {};
      if (typeof given.url !== "string" || !given.url) {
        throw new TypeError("WebSocketConnector: the url option is required");
      }
      var merged = {};
      Object.keys(DEFAULTS).forEach(function (key) {
        merged[key] = given[key] === undefined ? DEFAULTS[key] : given[key];
      });
      merged.noReconnectCodes = new Set(merged.noReconnectCodes);
      this.#options = merged;
      this.#connect();
    }

    /** True when the open connection restored the previous one's session (see `open`). */
    get recovered() {
      return this.#recovered;
    }

    /** True from a lost connection until the next open (or until reconnection stops). */
    get reconnecting() {
      return this.#reconnecting;
    }

    /** Listen to a lifecycle event or to a server push of that name. */
    on(event, listener) {
      return this.#add(event, listener, false);
    }

    /** Like `on`, removed after its first call. */
    once(event, listener) {
      return this.#add(event, listener, true);
    }

    /** Remove one listener of `event`, or all of them when `listener` is omitted. */
    off(event, listener) {
      var map = this.#mapFor(event);
      this.#remove(map, event, function (entry) {
        return listener === undefined || entry.listener === listener;
      });
      return this;
    }

    /**
     * Send an event. With a callback, the server's reply arrives as callback(null, payload),
     * a failure as callback({error, errorCode}, null) with errorCode CALLBACK_TIMEOUT,
     * WS_NOT_OPEN or CONNECTION_LOST. Returns true when the frame was sent.
     */
    emit(event, data, callback, options) {
      if (typeof event !== "string" || !event) {
        throw new TypeError("WebSocketConnector.emit: the event must be a non-empty string");
      }
      var frame = { event: event, payload: data };
      if (typeof callback !== "function") return this.#send(JSON.stringify(frame));
      if (!this.#isOpen()) {
        callback(failure("WS_NOT_OPEN", "the WebSocket is not open"), null);
        return false;
      }
      var id = makeCallbackId();
      frame.callbackId = id;
      var text = JSON.stringify(frame); // may throw (circular data) before anything is tracked
      this.#track(id, callback, options || {});
      if (!this.#send(text)) {
        this.#settle(id, failure("WS_NOT_OPEN", "the WebSocket is not open"), null);
        return false;
      }
      return true;
    }

    /**
     * The promise form of `emit`; never rejects. Resolves to {success: true, data} or
     * {success: false, error, errorCode}.
     */
    emitWithPromise(event, data, options) {
      var self = this;
      return new Promise(function (resolve) {
        self.emit(event, data, function (error, payload) {
          resolve(error ? { success: false, error: error.error, errorCode: error.errorCode }
            : { success: true, data: payload });
        }, options);
      });
    }

    /** Drop the current connection (if any) and schedule the next attempt of the schedule. */
    reconnect() {
      this.#manual = false;
      if (this.#reconnectTimer) return;
      // Outside a series of attempts (first call, after repeat-limit or a no-reconnect close)
      // a new series starts from attempt 1.
      if (!this.#reconnecting) this.#attempt = 0;
      this.#abandon(4001, "reconnect");
      this.#scheduleReconnect();
    }

    /** Close for good: no reconnection until `reconnect()` is called. Emits `close` (4001). */
    manualClose() {
      this.#manual = true;
      this.#reconnecting = false;
      this.#attempt = 0;
      clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = null;
      if (this.#abandon(4001, "manual close")) {
        this.#fire("close", { code: 4001, reason: "manual close", wasClean: true });
      }
    }

    /** Change the heartbeat period; a waiting ping is rescheduled with it. */
    setPingInterval(ms) {
      this.#options.pingInterval = ms;
      if (this.#pingTimer) this.#schedulePing();
    }

    getPingInterval() {
      return this.#options.pingInterval;
    }

    /** The delay in ms before attempt n with these options and u in [0, 1) (pure). */
    static reconnectDelay(n, options, u) {
      var merged = Object.assign({}, DEFAULTS, options);
      return reconnectDelay(n, merged, u === undefined ? Math.random() : u);
    }

    // ---- listeners ------------------------------------------------------------------------

    #mapFor(event) {
      return LIFECYCLE.has(event) ? this.#lifecycle : this.#pushes;
    }

    #add(event, listener, once) {
      if (typeof listener !== "function") {
        throw new TypeError("WebSocketConnector: a listener must be a function");
      }
      var map = this.#mapFor(event);
      var list = map.get(event) || [];
      map.set(event, list.concat({ listener: listener, once: once }));
      return this;
    }

    #remove(map, event, matches) {
      var kept = (map.get(event) || []).filter(function (entry) {
        return !matches(entry);
      });
      if (kept.length) map.set(event, kept);
      else map.delete(event);
    }

    #dispatch(map, event, args) {
      var list = map.get(event);
      if (!list) return;
      var self = this;
      list.forEach(function (entry) {
        if (entry.once) {
          self.#remove(map, event, function (other) {
            return other === entry;
          });
        }
        call(entry.listener, args);
      });
    }

    #fire(event) {
      this.#dispatch(this.#lifecycle, event, Array.prototype.slice.call(arguments, 1));
    }

    // ---- connection -----------------------------------------------------------------------

    #connect() {
      var Impl = this.#options.WebSocket || root.WebSocket;
      if (!Impl) {
        throw new Error("WebSocketConnector: no global WebSocket; pass the WebSocket option");
      }
      var ws;
      var params = this.#options.customParams;
      if (this.#options.recovery) {
        params = Object.assign({}, params);
        params[RECOVERY_PARAM] = this.#positions.request();
      }
      try {
        ws = new Impl(withParams(this.#options.url, params));
      } catch (error) {
        this.#fire("error", error);
        this.#scheduleReconnect();
        return;
      }
      var self = this;
      this.#ws = ws;
      ws.onopen = function () {
        if (self.#ws === ws) self.#opened();
      };
      ws.onmessage = function (event) {
        if (self.#ws === ws) self.#received(event.data);
      };
      ws.onerror = function (event) {
        if (self.#ws !== ws) return;
        self.#fire("error", event);
        clearTimeout(self.#errorTimer);
        self.#errorTimer = setTimeout(function () {
          if (self.#ws !== ws || ws.readyState === OPEN) return;
          self.#abandon(4001, "error");
          self.#closed(1006, "", false);
        }, CLOSE_AFTER_ERROR_MS);
      };
      ws.onclose = function (event) {
        if (self.#ws === ws) self.#closed(event.code, event.reason, event.wasClean);
      };
    }

    #isOpen() {
      return this.#ws !== null && this.#ws.readyState === OPEN;
    }

    #send(text) {
      if (!this.#isOpen()) return false;
      try {
        this.#ws.send(text);
        return true;
      } catch (error) {
        return false;
      }
    }

    #opened() {
      this.#attempt = 0;
      this.#reconnecting = false;
      this.#recovered = false;
      this.#schedulePing();
      if (!this.#options.recovery) {
        this.#fire("open");
        return;
      }
      // `open` waits for the server's welcome frame, which says whether we were recovered.
      var self = this;
      this.#welcoming = true;
      this.#welcomeTimer = setTimeout(function () {
        self.#welcomed(null);
      }, this.#options.welcomeTimeout);
    }

    #welcomed(welcome) {
      if (!this.#welcoming) return;
      this.#welcoming = false;
      clearTimeout(this.#welcomeTimer);
      this.#welcomeTimer = null;
      if (welcome) {
        this.#recovered = welcome.recovered === true;
        this.#positions.welcome(welcome.session, welcome.token, this.#recovered);
      }
      this.#fire("open", { recovered: this.#recovered });
    }

    #closed(code, reason, wasClean) {
      this.#ws = null;
      this.#stopTimers();
      this.#failPending();
      var attempt = this.#attempt;
      this.#fire("close", { code: code, reason: reason || "", wasClean: !!wasClean });
      // A close listener may have called reconnect() or manualClose() already.
      if (this.#manual || this.#ws || this.#reconnectTimer || this.#attempt !== attempt) return;
      if (this.#options.noReconnectCodes.has(code)) {
        this.#reconnecting = false;
        return;
      }
      this.#scheduleReconnect();
    }

    // Detach the current socket so that none of its later events reach us, then close it.
    // Returns true when there was one. Safe while connecting: its error handler stays a no-op,
    // which Node's `ws` needs (an error without a listener would crash the process).
    #abandon(code, reason) {
      var ws = this.#ws;
      this.#stopTimers();
      this.#failPending();
      if (!ws) return false;
      this.#ws = null;
      ws.onopen = ws.onmessage = ws.onclose = null;
      ws.onerror = noop;
      try {
        ws.close(code, reason);
      } catch (error) {
        // Already closing or closed: nothing left to release.
      }
      return true;
    }

    #scheduleReconnect() {
      var limit = this.#options.repeatLimit;
      var repeat = ++this.#attempt;
      if (limit !== null && limit !== undefined && repeat > limit) {
        this.#reconnecting = false;
        this.#fire("repeat-limit", limit);
        return;
      }
      var timeout = reconnectDelay(repeat, this.#options, Math.random());
      var self = this;
      this.#reconnecting = true;
      this.#reconnectTimer = setTimeout(function () {
        self.#reconnectTimer = null;
        self.#connect();
      }, timeout);
      this.#fire("reconnect", { repeat: repeat, timeout: timeout });
    }

    // ---- frames ---------------------------------------------------------------------------

    #received(data) {
      if (data === this.#options.pingMsg) {
        this.#ponged();
        return;
      }
      var frame;
      try {
        frame = JSON.parse(data);
      } catch (error) {
        frame = undefined; // not JSON: dropped below, as the protocol says
      }
      if (this.#welcoming) {
        var welcome = welcomeOf(frame);
        this.#welcomed(welcome);
        if (welcome) return;
      }
      this.#fire("message", data);
      if (!frame || typeof frame !== "object") return;
      if (this.#options.recovery && isPosition(frame.rt) &&
          !this.#positions.note(frame.rt[0], frame.rt[1], frame.rt[2])) {
        return; // received already
      }
      if (frame.callbackId) {
        this.#settle(frame.callbackId, null, frame.payload);
      } else if (typeof frame.event === "string" && frame.event) {
        this.#dispatch(this.#pushes, frame.event, [frame.payload]);
      }
    }

    // ---- callbacks ------------------------------------------------------------------------

    #track(id, callback, options) {
      var self = this;
      var timeout = this.#option(options, "callbackTimeout");
      var pendingAfter = this.#option(options, "pendingTimeout");
      var entry = { callback: callback, timers: [] };
      entry.timers.push(setTimeout(function () {
        self.#settle(id, failure("CALLBACK_TIMEOUT", "no reply within " + timeout + " ms"), null);
      }, timeout));
      if (typeof options.onPending === "function") {
        entry.timers.push(setTimeout(function () {
          call(options.onPending, []); // settling the call clears this timer
        }, pendingAfter));
      }
      this.#pending.set(id, entry);
    }

    #option(overrides, name) {
      return overrides[name] === undefined ? this.#options[name] : overrides[name];
    }

    // Deliver a result once: replies for unknown (settled) ids are dropped.
    #settle(id, error, payload) {
      var entry = this.#pending.get(id);
      if (!entry) return;
      this.#pending.delete(id);
      entry.timers.forEach(clearTimeout);
      call(entry.callback, [error, error ? null : payload]);
    }

    #failPending() {
      var self = this;
      Array.from(this.#pending.keys()).forEach(function (id) {
        var lost = failure("CONNECTION_LOST", "the connection was lost before the reply");
        self.#settle(id, lost, null);
      });
    }

    // ---- heartbeat ------------------------------------------------------------------------

    #schedulePing() {
      var self = this;
      clearTimeout(this.#pingTimer);
      this.#pingTimer = setTimeout(function () {
        self.#pingTimer = null;
        self.#ping();
      }, this.#options.pingInterval);
    }

    #ping() {
      if (!this.#send(this.#options.pingMsg)) return;
      var self = this;
      this.#pingSentAt = Date.now();
      this.#pongTimer = setTimeout(function () {
        self.#pongTimer = null;
        self.#fire("pong-timeout");
        if (self.#abandon(4002, "pong timeout")) self.#closed(4002, "pong timeout", false);
      }, this.#options.pongTimeout);
      this.#fire("ping");
    }

    #ponged() {
      if (!this.#pongTimer) return; // an echo nobody waits for
      clearTimeout(this.#pongTimer);
      this.#pongTimer = null;
      this.#schedulePing();
      this.#fire("pong", Date.now() - this.#pingSentAt);
    }

    // The timers that belong to the current socket.
    #stopTimers() {
      clearTimeout(this.#pingTimer);
      clearTimeout(this.#pongTimer);
      clearTimeout(this.#errorTimer);
      clearTimeout(this.#welcomeTimer);
      this.#pingTimer = this.#pongTimer = this.#errorTimer = this.#welcomeTimer = null;
      this.#welcoming = false;
    }
  }

  return WebSocketConnector;
});
