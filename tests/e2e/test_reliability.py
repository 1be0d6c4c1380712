"""Reliability under daphne (issue 13): a node far behind its backlog stays in its groups,
closes use codes autobahn can send, a closing connection never floods the log."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def short_expiry_cluster():
    started = Cluster(
        ["a", "b"], redis_count=1, env={"DJANGO_SETTINGS_MODULE": "tests.e2e.short_expiry_settings"}
    ).start()
    yield started
    started.cleanup()


async def test_node_behind_its_backlog_keeps_hearing_other_nodes(short_expiry_cluster):
    cluster = short_expiry_cluster
    await cluster.wait_for_members(["a", "b"], via="a")
    sender = await cluster.client("a", "/ws/?id=1")
    listener = await cluster.client("b", "/ws/?id=2")
    try:
        await sender.call("command", {"action": "broadcast", "msg": "before"})
        await listener.wait_pushes(1)
        # b's reader spends 3 s on one message while the rest of its backlog ages past the
        # layer's 1 s expiry (what a node far behind under load goes through).
        await listener.call("stallNodeReader", 3)
        stall_end = time.monotonic() + 3
        while time.monotonic() < stall_end:
            await sender.call("command", {"action": "broadcast", "msg": "during"})
            await asyncio.sleep(0.2)
        # The backlog is gone; within a few seconds b's client hears a's broadcasts again.
        deadline = time.monotonic() + 8
        while not any(p["payload"]["msg"] == "after" for p in listener.pushes):
            assert time.monotonic() < deadline, (
                f"node b went deaf: {listener.pushes[-3:]}\n{cluster.logs()}"
            )
            await sender.call("command", {"action": "broadcast", "msg": "after"})
            await asyncio.sleep(0.3)
    finally:
        await sender.close()
        await listener.close()
