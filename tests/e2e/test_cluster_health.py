"""Cluster-wide subscriber health: a Redis node that one server node cannot read from is
avoided by every publisher (the original silently lost that node's traffic)."""

from __future__ import annotations

import json

import pytest

from tests.support.processes import DaphneNode, run_manage, start_all
from tests.support.redis import RedisServer
from tests.support.waiting import async_wait_until
from tests.support.wsclient import ProtocolClient

pytestmark = pytest.mark.e2e


def status_json(redis_urls: list[str]) -> dict:
    done = run_manage("realtime_status", "--json", redis_urls=redis_urls)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def half_deaf_cluster():
    """n1 reads both Redis nodes; n2 connects to the second with an ACL user that may not
    subscribe, so n2 cannot read anything published there."""
    redis = [RedisServer(), RedisServer()]
    nodes: list[DaphneNode] = []
    try:
        start_all(redis)
        redis[1].call("ACL", "SETUSER", "deaf", "on", ">pw", "~*", "&nothing", "+@all")
        full = [server.url for server in redis]
        deaf = [redis[0].url, f"redis://deaf:pw@127.0.0.1:{redis[1].port}/0"]
        nodes = [
            DaphneNode(server_name="n1", redis_nodes=full),
            DaphneNode(server_name="n2", redis_nodes=deaf),
        ]
        start_all(nodes)
        yield redis, nodes
    finally:
        for node in nodes:
            node.cleanup()
        for server in redis:
            server.cleanup()


async def test_publishers_avoid_a_redis_node_another_node_cannot_read(half_deaf_cluster):
    redis, (n1, n2) = half_deaf_cluster
    full = [server.url for server in redis]
    avoided = redis[1].address

    def n1_avoids_it() -> bool:
        status = status_json(full)
        n1_view = next((n for n in status["nodes"] if n["name"] == "n1"), None)
        n2_view = next((n for n in status["nodes"] if n["name"] == "n2"), None)
        if n1_view is None or n2_view is None:
            return False
        deaf = next(e for e in n2_view["redis"] if e["key"] == avoided)
        excluded = next(e for e in n1_view["redis"] if e["key"] == avoided)
        return deaf["subscribe_ok"] is False and excluded["excluded"] is True

    await async_wait_until(n1_avoids_it, 20, "n1 never avoided the node n2 cannot read")

    listener = await ProtocolClient(n2.ws_url("/ws/?id=2")).connect()
    sender = await ProtocolClient(n1.ws_url("/ws/?id=1")).connect()
    try:
        await listener.call("joinRoom", {"roomId": "r"})
        for round_ in range(5):
            for payload in (
                {"action": "toPlayer", "toPlayerId": "2", "msg": f"dm{round_}"},
                {"action": "toRoom", "roomId": "r", "msg": f"room{round_}"},
                {"action": "broadcast", "msg": f"all{round_}"},
            ):
                await sender.call("command", payload)
        pushes = await listener.wait_pushes(15, timeout=10)
        assert sorted(p["payload"]["msg"] for p in pushes) == sorted(
            f"{kind}{round_}" for kind in ("dm", "room", "all") for round_ in range(5)
        )
    finally:
        await listener.close()
        await sender.close()
