"""connector.js in headless Chromium recovers across a cut link (issue 15): it comes back on
the other daphne node with every missed push exactly once, in order, and says it recovered."""

from __future__ import annotations

import asyncio

import pytest

from realtime.client import RealtimeClient
from tests.support.recovery import ROOM, send_pushes, start_cluster
from tests.support.tcpproxy import CuttableProxy

pytestmark = pytest.mark.browser

SETUP = """
({url}) => {
  window.got = {room: [], user: [], all: []};
  window.opens = [];
  window.connector = new WebSocketConnector({url, fastReconnectInterval: 1000});
  window.connector.on("open", (info) => window.opens.push(info));
  window.connector.on("recRoom", (p) => window.got.room.push(p.seq));
  window.connector.on("recUser", (p) => window.got.user.push(p.seq));
  window.connector.on("recAll", (p) => window.got.all.push(p.seq));
}
"""


@pytest.fixture
async def cluster():
    started = start_cluster()
    proxy = await CuttableProxy(started.nodes["a"].port).start()
    yield started, proxy
    await proxy.close()
    started.cleanup()


async def test_the_js_client_recovers_on_the_other_node_with_nothing_missed(pages, cluster):
    nodes, proxy = cluster
    page = await pages.new_page()
    await page.goto(nodes.nodes["a"].http_url("/"))
    await page.evaluate(SETUP, {"url": f"ws://127.0.0.1:{proxy.port}/ws/?id=alice"})
    await page.wait_for_function("window.opens.length === 1", timeout=10_000)
    joined = await page.evaluate("(r) => window.connector.emitWithPromise('rec.join', r)", ROOM)
    assert joined["success"], joined
    sender = RealtimeClient(nodes.url("b", "/ws/?id=bob"), recovery=False)
    sent = {"room": 0, "user": 0, "all": 0}
    try:
        await sender.connect(timeout=10)
        pushing = asyncio.get_running_loop().create_task(send_pushes(sender, 3.0, sent))
        await asyncio.sleep(1.0)
        proxy.cut(new_target=nodes.nodes["b"].port)
        await page.wait_for_function("window.opens.length === 2", timeout=10_000)
        await pushing
    finally:
        await sender.close()
    assert await page.evaluate("window.opens") == [{"recovered": False}, {"recovered": True}]
    await page.wait_for_function(
        "(sent) => Object.keys(sent).every((k) => window.got[k].length >= sent[k])",
        arg=sent,
        timeout=10_000,
    )
    got = await page.evaluate("window.got")
    for kind, count in sent.items():
        assert got[kind] == list(range(count)), kind
