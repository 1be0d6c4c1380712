"""The lean-connection daphne fix (realtime/connection/daphne_memory.py) against real daphne
processes: what an open connection keeps, with the fix and without it, and that traffic
through a lean connection is unchanged (the rest of tests/e2e runs on lean connections)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.processes import DaphneNode
from tests.support.waiting import within

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lean_off_node() -> Iterator[DaphneNode]:
    """A daphne node with ``DAPHNE_LEAN_CONNECTIONS = False``."""
    node = DaphneNode(
        server_name="lean-off-node", env={"DJANGO_SETTINGS_MODULE": "tests.e2e.lean_off_settings"}
    )
    node.start()
    yield node
    node.cleanup()


async def internals(node: DaphneNode, query: str = "id=lean") -> dict:
    async with connect(node.ws_url(f"/ws/?{query}")) as ws:
        await ws.send('{"event":"daphneInternals","callbackId":"i"}')
        return json.loads(await within(ws.recv(), 2, "no reply"))["payload"]


async def test_a_lean_connection_keeps_no_handshake_leftovers(demo_node):
    found = await internals(demo_node)
    assert found == {
        "daphne": True,
        "queue": "LeanQueue",
        "leftovers": [],
        "options_copied": False,
        "request": "HandshakeRequest",
        "headers": [],
    }


async def test_without_the_switch_daphne_keeps_what_it_always_kept(lean_off_node):
    found = await internals(lean_off_node)
    assert found["queue"] == "Queue"
    assert {"http_headers", "http_request_data", "clean_headers"} <= set(found["leftovers"])
    assert found["options_copied"] is True
    assert found["request"] == "ConnectionRequest"


async def test_traffic_on_a_lean_connection(demo_node):
    async with connect(demo_node.ws_url("/ws/?id=lean-traffic")) as ws:
        for number in range(3):  # several frames after the compaction at accept
            await ws.send("")
            assert await within(ws.recv(), 2, "no heartbeat echo") == ""
            await ws.send(json.dumps({"event": "echo", "payload": number, "callbackId": "e"}))
            reply = json.loads(await within(ws.recv(), 2, "no echo reply"))
            assert reply == {"payload": {"echo": number}, "callbackId": "e"}
        push = {"event": "pushMe", "payload": {"event": "hi", "payload": "x" * 70000}}
        await ws.send(json.dumps({**push, "callbackId": "p"}))  # a chopped-size frame
        frames = [json.loads(await within(ws.recv(), 2, "no push")) for _ in range(2)]
        assert {"event": "hi", "payload": "x" * 70000} in frames
        await ws.send('{"event":"closeMe","payload":{"code":4321,"reason":"bye"}}')
        with pytest.raises(ConnectionClosed) as closed:
            await within(ws.recv(), 2, "not closed")
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4321, "bye")
