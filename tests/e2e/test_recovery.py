"""Connection state recovery end to end (issue 15): 2 daphne nodes, 2 Redis nodes, the Python
client cut without a close frame while pushes flow, reconnecting to the other node."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest

from realtime.client import RealtimeClient
from tests.support.cluster import Cluster
from tests.support.recovery import ROOM, room_history_owner, send_pushes, start_cluster
from tests.support.tcpproxy import CuttableProxy
from tests.support.waiting import async_wait_until

pytestmark = pytest.mark.e2e

KINDS = {"recRoom": "room", "recUser": "user", "recAll": "all"}


class Receiver:
    """A Python client behind a cuttable proxy that records every push it gets."""

    def __init__(self, proxy: CuttableProxy) -> None:
        self.got: dict[str, list[int]] = defaultdict(list)
        self.client = RealtimeClient(
            f"ws://127.0.0.1:{proxy.port}/ws/?id=alice",
            fast_reconnect_interval=1.0,
            ping_interval=30.0,
        )
        for event, kind in KINDS.items():
            self.client.on(event, self._recorder(kind))

    def _recorder(self, kind: str) -> Any:
        def record(payload: dict[str, Any]) -> None:
            self.got[kind].append(payload["seq"])

        return record


async def cut_and_recover(
    cluster: Cluster, proxy: CuttableProxy, during_gap: Any = None
) -> tuple[Receiver, dict]:
    """Alice on node a through the proxy; cut; she comes back on node b ~1 s later."""
    receiver = Receiver(proxy)
    sender = RealtimeClient(cluster.url("b", "/ws/?id=bob"), recovery=False)
    sent = {"room": 0, "user": 0, "all": 0}
    try:
        await receiver.client.connect(timeout=10)
        await sender.connect(timeout=10)
        assert receiver.client.recovered is False
        await receiver.client.call("rec.join", ROOM)
        await receiver.client.call("rec.info", {"note": "kept"})
        pushing = asyncio.get_running_loop().create_task(send_pushes(sender, 3.0, sent))
        await asyncio.sleep(1.0)
        reopened = asyncio.get_running_loop().create_future()
        receiver.client.once("open", lambda: reopened.set_result(receiver.client.recovered))
        proxy.cut(new_target=cluster.nodes["b"].port)
        if during_gap is not None:
            during_gap()
        await asyncio.wait_for(reopened, 10)
        await pushing
        return receiver, sent
    finally:
        await sender.close()


async def assert_everything_once(receiver: Receiver, sent: dict[str, int]) -> None:
    await async_wait_until(
        lambda: all(len(receiver.got[kind]) >= count for kind, count in sent.items()),
        10,
        lambda: f"all pushes; sent {sent}, got { {k: len(v) for k, v in receiver.got.items()} }",
    )
    info = await receiver.client.call("rec.info")
    assert info["server"] == "b"
    assert info["recovered"] is True
    assert info["rooms"] == [["rec", "r1"]]
    assert info["state"] == {"note": "kept"}
    for kind, count in sent.items():
        assert receiver.got[kind] == list(range(count)), kind


@pytest.fixture
async def run():
    """Start a cluster, cut a receiver and let it come back; everything stops afterwards."""
    made: list[Any] = []

    async def scenario(redundancy: int = 1, kill_history_node: bool = False) -> tuple:
        cluster = start_cluster(redundancy)
        made.append(cluster)
        proxy = await CuttableProxy(cluster.nodes["a"].port).start()
        made.append(proxy)
        victim = cluster.redis[room_history_owner(cluster)].kill if kill_history_node else None
        receiver, sent = await cut_and_recover(cluster, proxy, victim)
        made.append(receiver.client)
        return receiver, sent

    yield scenario
    for item in reversed(made):
        if isinstance(item, Cluster):
            item.cleanup()
        else:
            await item.close()


async def test_a_cut_client_recovers_on_the_other_node_with_nothing_missed(run):
    receiver, sent = await run()
    assert receiver.client.recovered is True
    await assert_everything_once(receiver, sent)


async def test_with_redundancy_2_killing_the_history_node_loses_nothing(run):
    receiver, sent = await run(redundancy=2, kill_history_node=True)
    assert receiver.client.recovered is True
    await assert_everything_once(receiver, sent)


async def test_with_redundancy_1_killing_the_history_node_never_leaves_a_silent_gap(run):
    receiver, sent = await run(redundancy=1, kill_history_node=True)
    if receiver.client.recovered:
        await assert_everything_once(receiver, sent)
    else:
        info = await receiver.client.call("rec.info")
        assert info["recovered"] is False and info["rooms"] == []
