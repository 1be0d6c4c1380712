// A stand-in for the WebSocket class, injected into the connector through its WebSocket
// option. The test plays the server: accept(), receive(), serverClose(), refuse().
// Unit level only; tests/browser/ runs the connector against a real server.

/** A new fake WebSocket class with its own list of created sockets. */
export function fakeWebSocketClass() {
  class FakeWebSocket {
    static instances = [];

    constructor(url) {
      this.url = url;
      this.readyState = 0; // CONNECTING
      this.sent = [];
      this.closeCalls = [];
      this.onopen = this.onmessage = this.onerror = this.onclose = null;
      FakeWebSocket.instances.push(this);
    }

    send(text) {
      if (this.readyState !== 1) throw new Error("InvalidStateError: not open");
      this.sent.push(text);
    }

    // As in browsers and Node's `ws`, the events of close() arrive later, never inside it.
    // Closing a socket that is still connecting reports an error first, and, as with `ws` (an
    // EventEmitter), an error nobody listens to is thrown: the original client crashed a Node
    // process this way.
    close(code, reason) {
      this.closeCalls.push({ code, reason });
      if (this.readyState >= 2) return;
      const connecting = this.readyState === 0;
      this.readyState = 2;
      queueMicrotask(() => {
        if (connecting) this.#error();
        this.readyState = 3;
        const event = connecting
          ? { code: 1006, reason: "", wasClean: false }
          : { code, reason, wasClean: true };
        if (this.onclose) this.onclose(event);
      });
    }

    // ---- the server's side ----

    accept() {
      this.readyState = 1;
      if (this.onopen) this.onopen({ type: "open" });
    }

    receive(data) {
      if (this.onmessage) this.onmessage({ type: "message", data });
    }

    /** The connection ends from the far side (no error event): a server close or a cut link. */
    serverClose(code = 1006, reason = "") {
      this.readyState = 3;
      if (this.onclose) this.onclose({ code, reason, wasClean: code !== 1006 });
    }

    /** The handshake fails, as when nothing listens on the port. */
    refuse() {
      this.readyState = 3;
      this.#error();
      if (this.onclose) this.onclose({ code: 1006, reason: "", wasClean: false });
    }

    /** A failed handshake as Node 20's experimental WebSocket reports it: an error, no close. */
    failWithoutClose() {
      this.#error();
    }

    /** The frames the client sent, decoded. */
    frames() {
      return this.sent.map((text) => JSON.parse(text));
    }

    #error() {
      if (!this.onerror) throw new Error("unhandled 'error' event");
      this.onerror({ type: "error" });
    }
  }
  return FakeWebSocket;
}

/** Let queued microtasks (the fake's close events) run. */
export function flush() {
  return new Promise((resolve) => setImmediate(resolve));
}
