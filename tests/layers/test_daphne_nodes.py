"""Two real daphne processes over two Redis nodes through this layer (the settings' layer)."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect

from tests.support.processes import DaphneNode
from tests.support.waiting import within

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_daphne_nodes(redis_nodes):
    nodes = [server.url for server in redis_nodes(2)]
    daphnes = [DaphneNode(server_name=name, redis_nodes=nodes) for name in ("alpha", "beta")]
    try:
        for daphne in daphnes:
            daphne.start()
        yield daphnes
    finally:
        for daphne in daphnes:
            daphne.cleanup()


async def command(ws, payload: dict, callback: str) -> dict:
    await ws.send(json.dumps({"event": "command", "payload": payload, "callbackId": callback}))
    return json.loads(await within(ws.recv(), 5, f"reply to {callback}"))


async def test_room_user_and_broadcast_pushes_cross_server_nodes(two_daphne_nodes):
    alpha, beta = two_daphne_nodes
    async with (
        connect(alpha.ws_url("/ws/?id=1")) as on_alpha,
        connect(beta.ws_url("/ws/?id=2")) as on_beta,
    ):
        await on_beta.send('{"event":"joinRoom","payload":{"roomId":"1000"},"callbackId":"j"}')
        assert json.loads(await within(on_beta.recv(), 5, "join reply"))["callbackId"] == "j"

        await command(on_alpha, {"action": "toRoom", "roomId": "1000", "msg": "room"}, "c1")
        assert json.loads(await within(on_beta.recv(), 5, "room push from alpha")) == {
            "event": "say",
            "payload": {"action": "toRoom", "msg": "room"},
        }
        await command(on_alpha, {"action": "toPlayer", "toPlayerId": "2", "msg": "dm"}, "c2")
        push = json.loads(await within(on_beta.recv(), 5, "direct push from alpha"))
        assert push["payload"]["msg"] == "dm"

        await command(on_beta, {"action": "broadcast", "msg": "all"}, "c3")
        push = json.loads(await within(on_alpha.recv(), 5, "broadcast from beta"))
        assert push == {"event": "say", "payload": {"action": "broadcast", "msg": "all"}}
