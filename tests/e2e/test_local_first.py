"""Local connections get a push without waiting for the remote publish: with the only Redis
node frozen (SIGSTOP), room members on the sender's node still get the message at once,
while the sender's reply waits for the publish to give up."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def one_node():
    started = Cluster(["solo"], redis_count=1).start()
    yield started
    redis = started.redis[0]
    if redis.process is not None:
        os.kill(redis.process.pid, signal.SIGCONT)
    started.cleanup()


async def test_members_on_the_same_node_do_not_wait_for_a_frozen_redis(one_node):
    member = await one_node.client("solo", "/ws/?id=2")
    sender = await one_node.client("solo", "/ws/?id=1")
    try:
        await member.call("joinRoom", {"roomId": "r"})
        os.kill(one_node.redis[0].process.pid, signal.SIGSTOP)
        started = time.monotonic()
        reply = asyncio.ensure_future(
            sender.call("command", {"action": "toRoom", "roomId": "r", "msg": "x"}, timeout=15)
        )
        await member.wait_pushes(1, timeout=10)
        pushed_after = time.monotonic() - started
        assert not reply.done(), "the reply came first: the push waited for the publish"
        await reply
        replied_after = time.monotonic() - started
        assert member.pushes == [{"event": "say", "payload": {"action": "toRoom", "msg": "x"}}]
        assert pushed_after < replied_after
    finally:
        await member.close()
        await sender.close()
