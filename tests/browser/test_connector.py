"""connector.js in headless Chromium against a real daphne process (the demo's and the test
handlers: say, echo, sleep, closeMe)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

pytestmark = pytest.mark.browser

# A connector (window.connector), every lifecycle event recorded in window.events as [name, arg].
# Its WebSocket subclass counts the sockets it opens, so that a reconnect shows as a count.
SETUP = """
({url, options}) => {
  window.events = [];
  window.sockets = 0;
  class CountingWebSocket extends WebSocket {
    constructor(address) { super(address); window.sockets += 1; }
  }
  const Connector = window.ModuleConnector || WebSocketConnector;
  window.connector = new Connector({url, WebSocket: CountingWebSocket, ...options});
  for (const name of ["open", "close", "error", "ping", "pong", "pong-timeout", "reconnect"]) {
    window.connector.on(name, (arg) => window.events.push([name, arg === undefined ? null : arg]));
  }
}
"""


async def connector_page(pages, node, path: str = "/", **options) -> Page:
    """A page of ``node`` with a connector to ``/ws/<query>`` made with ``options``."""
    page = await pages.new_page()
    await page.goto(node.http_url(path))
    await page.evaluate(SETUP, {"url": node.ws_url("/ws/"), "options": options})
    return page


async def wait_for_event(page: Page, name: str, count: int = 1, timeout_ms: int = 10_000) -> list:
    """The first ``count`` ``name`` events' arguments, once that many have happened."""
    await page.wait_for_function(
        "([name, count]) => window.events.filter((e) => e[0] === name).length >= count",
        arg=[name, count],
        timeout=timeout_ms,
    )
    return await page.evaluate(
        "(name) => window.events.filter((e) => e[0] === name).map((e) => e[1])", name
    )


async def test_heartbeat_echo_fires_pong_with_the_latency(pages, demo_node):
    page = await connector_page(
        pages, demo_node, customParams={"id": "hb"}, pingInterval=100, pongTimeout=2000
    )
    latencies = await wait_for_event(page, "pong", count=3)
    assert all(isinstance(ms, int) and 0 <= ms < 2000 for ms in latencies), latencies
    assert await wait_for_event(page, "ping", count=3)
    assert await page.evaluate("window.events.filter((e) => e[0] === 'pong-timeout').length") == 0


async def test_emit_with_promise_and_callback_get_the_replies(pages, demo_node):
    page = await connector_page(pages, demo_node, customParams={"id": "p1", "name": "Sam Ü"})
    await wait_for_event(page, "open")
    result = await page.evaluate("connector.emitWithPromise('say', {msg: 'hi'})")
    assert result == {"success": True, "data": {"msg": "I am a callback for your say event"}}
    who = await page.evaluate("connector.emitWithPromise('whoami')")
    assert who["data"]["params"] == {"id": "p1", "name": "Sam Ü"}
    echoed = await page.evaluate(
        """() => new Promise((resolve) =>
             connector.emit('echo', [1, 'ü'], (error, data) => resolve({error, data})))"""
    )
    assert echoed == {"error": None, "data": {"echo": [1, "ü"]}}
    timed_out = await page.evaluate("connector.emitWithPromise('sleep', 2, {callbackTimeout: 200})")
    assert timed_out["errorCode"] == "CALLBACK_TIMEOUT"


async def test_close_4011_without_id_never_reconnects(pages, demo_node):
    page = await connector_page(pages, demo_node, fastReconnectInterval=50)
    closes = await wait_for_event(page, "close")
    assert (closes[0]["code"], closes[0]["reason"]) == (4011, "Auth failure")
    # 20 times the reconnect delay later there is still one socket and no reconnect event.
    await page.wait_for_timeout(1000)
    assert await page.evaluate("window.sockets") == 1
    assert await page.evaluate("connector.reconnecting") is False
    assert await page.evaluate("window.events.filter((e) => e[0] === 'reconnect').length") == 0


async def test_other_server_close_reconnects_and_fails_pending_calls_at_once(pages, demo_node):
    page = await connector_page(
        pages, demo_node, customParams={"id": "rc"}, fastReconnectInterval=50
    )
    await wait_for_event(page, "open")
    result = await page.evaluate(
        """async () => {
             const started = Date.now();
             const pending = connector.emitWithPromise('sleep', 20, {callbackTimeout: 30000});
             connector.emit('closeMe', {code: 4000, reason: 'test'});
             const outcome = await pending;
             return {outcome, elapsed: Date.now() - started};
           }"""
    )
    assert result["outcome"]["errorCode"] == "CONNECTION_LOST"
    assert result["elapsed"] < 10_000, "the pending call waited instead of failing at once"
    reconnects = await wait_for_event(page, "reconnect")
    assert reconnects[0] == {"repeat": 1, "timeout": 50}
    await wait_for_event(page, "open", count=2)
    assert await page.evaluate("window.sockets") == 2
    after = await page.evaluate("connector.emitWithPromise('echo', 'again')")
    assert after == {"success": True, "data": {"echo": "again"}}


async def test_es_module_import(pages, demo_node):
    # A page without the classic script: only the ES module entry is loaded.
    page = await pages.new_page()
    await page.goto(demo_node.http_url("/static/realtime/connector.mjs"))
    exported = await page.evaluate(
        """async () => {
             const module = await import('/static/realtime/connector.mjs');
             window.ModuleConnector = module.WebSocketConnector;
             return {named: typeof module.WebSocketConnector,
                     same: module.default === module.WebSocketConnector};
           }"""
    )
    assert exported == {"named": "function", "same": True}
    await page.evaluate(
        SETUP, {"url": demo_node.ws_url("/ws/"), "options": {"customParams": {"id": "m"}}}
    )
    await wait_for_event(page, "open")
    assert await page.evaluate("connector.emitWithPromise('echo', 1)") == {
        "success": True,
        "data": {"echo": 1},
    }
