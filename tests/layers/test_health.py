"""Health checks, failover and reconnects against real redis-server processes that the
tests kill, pause, slow down and restart."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from realtime.layers import NoHealthyRedisNode
from realtime.layers.strategies import ring_order
from tests.layers.conftest import node_health
from tests.support.waiting import async_wait_until, within

INTERVAL, TIMEOUT = 0.2, 0.3
DETECTION_BOUND = 2 * TIMEOUT + INTERVAL


async def receive_all(layer, channel, count, what="messages"):
    return [await within(layer.receive(channel), 5, what) for _ in range(count)]


async def test_killed_node_is_detected_traffic_flows_and_it_comes_back(
    redis_nodes, make_layer, health_events
):
    servers = redis_nodes(3)
    sender = make_layer(servers, strategy="round-robin")
    receiver = make_layer(servers, strategy="round-robin")
    channel = await receiver.new_channel()
    await receiver.group_add("r-chat.1", channel)
    await sender.group_send("r-chat.1", {"type": "warm-up"})
    await receive_all(receiver, channel, 1)
    victim = servers[0]
    health_events.clear()

    victim.kill()
    await async_wait_until(
        lambda: (
            not node_health(sender, victim).publish_ok
            and node_health(receiver, victim).subscribe_ok is False
        ),
        DETECTION_BOUND,
        "killed node marked unhealthy by publisher and subscriber checks",
    )
    down = [e for e in health_events if e["event"] == "down" and e["port"] == victim.port]
    assert {e["connection_type"] for e in down} == {"publisher", "subscriber"}
    assert all(e["healthy"] is False and e["node_count"] == 3 for e in down)
    assert all(e["host"] == "127.0.0.1" and e["error"] for e in down)
    assert all(e["server_name"] for e in down)
    assert min(e["healthy_publishers"] for e in down) == 2
    assert node_health(sender, victim).last_error

    for n in range(30):
        await sender.group_send("r-chat.1", {"type": "during", "n": n})
    # round-robin spreads over nodes, so only the set is kept, not the order
    assert sorted(m["n"] for m in await receive_all(receiver, channel, 30)) == list(range(30))

    victim.start()
    await async_wait_until(
        lambda: (
            node_health(sender, victim).healthy
            and node_health(receiver, victim).subscribe_ok is True
        ),
        10,
        "restarted node healthy again",
    )
    prefix = receiver.config.prefix
    assert victim.subscribers(f"{prefix}:g:r-chat") == 1  # resubscribed
    assert any(e["event"] == "up" and e["port"] == victim.port for e in health_events)
    before = victim.publish_count()
    for n in range(30):
        await sender.group_send("r-chat.1", {"type": "after", "n": n})
    assert sorted(m["n"] for m in await receive_all(receiver, channel, 30)) == list(range(30))
    assert victim.publish_count() - before >= 10  # its round-robin share


async def test_broken_subscription_alone_is_detected_and_repaired(
    redis_nodes, make_layer, health_events
):
    (server,) = redis_nodes(1)
    sender, receiver = make_layer([server]), make_layer([server])
    channel = await receiver.new_channel()
    await receiver.group_add("r-sub.1", channel)
    health_events.clear()
    server.call("CLIENT", "KILL", "TYPE", "pubsub")
    await async_wait_until(
        lambda: (
            [(e["event"], e["connection_type"]) for e in health_events]
            == [("down", "subscriber"), ("up", "subscriber")]
        ),
        5,
        "subscriber loss noticed, then reconnected",
    )
    assert server.subscribers(f"{receiver.config.prefix}:g:r-sub") == 1  # resubscribed
    assert node_health(receiver, server).publish_ok  # the publisher was never touched
    await sender.group_send("r-sub.1", {"type": "after"})
    assert (await within(receiver.receive(channel), 5, "message"))["type"] == "after"


async def test_unanswered_ping_marks_both_connections_down(redis_nodes, make_layer):
    (server,) = redis_nodes(1)
    layer = make_layer([server])
    channel = await layer.new_channel()  # starts the subscriber
    assert node_health(layer, server).subscribe_ok is True
    server.call("CLIENT", "PAUSE", "1500", "ALL")
    await async_wait_until(
        lambda: (
            not node_health(layer, server).publish_ok
            and node_health(layer, server).subscribe_ok is False
        ),
        DETECTION_BOUND + INTERVAL,
        "paused node marked down by PING timeouts",
    )
    assert "PING not answered" in node_health(layer, server).last_error
    await async_wait_until(lambda: node_health(layer, server).healthy, 10, "back after pause")
    await layer.send(channel, {"type": "ok"})
    assert (await layer.receive(channel))["type"] == "ok"


async def test_fastest_prefers_the_node_that_answers_faster(redis_nodes, make_layer):
    slow, fast = redis_nodes(2)
    layer = make_layer([slow, fast], strategy="fastest", health_check_interval=0.1)
    await layer.group_send("warm.up", {"type": "x"})
    stop = threading.Event()

    def keep_slow() -> None:
        # Redis blocks for each DEBUG SLEEP: every PING to it waits up to 300 ms, far more
        # than a pause of this process's loop (a collection in a long suite) adds to the fast
        # node's samples, and under the 0.5 s health timeout.
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            slow.call("DEBUG", "SLEEP", "0.3")

    sleeper = threading.Thread(target=keep_slow, daemon=True)
    sleeper.start()
    try:
        await async_wait_until(
            lambda: (
                (node_health(layer, slow).latency_ms or 0)
                > 5 * (node_health(layer, fast).latency_ms or 1e9)
            ),
            5,
            "latency of the slowed node measured as higher",
        )
        before = slow.publish_count(), fast.publish_count()
        for n in range(50):
            await layer.group_send(f"ns{n}.g", {"type": "x"})
        assert fast.publish_count() - before[1] == 50
        assert slow.publish_count() - before[0] == 0
    finally:
        stop.set()
        await asyncio.to_thread(sleeper.join, 5)


async def test_hash_keeps_a_namespace_on_its_node_and_fails_over(redis_nodes, make_layer):
    servers = redis_nodes(3)
    sender, receiver = make_layer(servers), make_layer(servers)
    channel = await receiver.new_channel()
    await receiver.group_add("r-chat.1", channel)
    by_address = {s.address: s for s in servers}
    order = ring_order(tuple(by_address), f"{sender.config.prefix}:g:r-chat")
    owner, successor = by_address[order[0]], by_address[order[1]]

    counts = {s.port: s.publish_count() for s in servers}
    for n in range(20):
        await sender.group_send("r-chat.1", {"n": n, "type": "x"})
    assert [m["n"] for m in await receive_all(receiver, channel, 20)] == list(range(20))
    assert owner.publish_count() - counts[owner.port] == 20

    owner.kill()
    await async_wait_until(lambda: not node_health(sender, owner).publish_ok, 5, "owner down")
    counts = {s.port: s.publish_count() for s in servers if s is not owner}
    for n in range(20):
        await sender.group_send("r-chat.1", {"n": n, "type": "x"})
    assert [m["n"] for m in await receive_all(receiver, channel, 20)] == list(range(20))
    assert successor.publish_count() - counts[successor.port] == 20


async def test_failed_publish_is_retried_on_the_next_node(redis_nodes, make_layer):
    refusing, working = redis_nodes(2)
    # A real PUBLISH failure: this node's user may do anything but publish.
    refusing.call("ACL", "SETUSER", "nopub", "on", ">pw", "~*", "&*", "+@all", "-publish")
    nodes = [f"redis://nopub:pw@127.0.0.1:{refusing.port}/0", working.url]
    sender = make_layer(nodes, strategy="round-robin")
    receiver = make_layer([working])
    channel = await receiver.new_channel()
    await receiver.group_add("r-retry.1", channel)
    for n in range(10):
        await sender.group_send("r-retry.1", {"type": "x", "n": n})
    assert sorted(m["n"] for m in await receive_all(receiver, channel, 10)) == list(range(10))
    assert sender.stats()["publish_retries"] == 5


async def test_no_healthy_node(redis_nodes, make_layer, caplog):
    (server,) = redis_nodes(1)
    sender, receiver = make_layer([server]), make_layer([server])
    channel = await receiver.new_channel()
    server.kill()
    await async_wait_until(lambda: not node_health(sender, server).publish_ok, 5, "down")
    with pytest.raises(NoHealthyRedisNode, match=f"127.0.0.1:{server.port}/0 \\(down"):
        await sender.send(channel, {"type": "x"})
    with caplog.at_level(logging.ERROR, logger="realtime.layers"):
        await sender.group_send("r-any.1", {"type": "x"})  # does not raise
        await sender.group_send("r-any.1", {"type": "x"})
    assert sender.stats()["group_messages_dropped"] == 2
    assert any("No healthy Redis node" in r.getMessage() for r in caplog.records)


async def test_on_health_change_callback(redis_nodes, make_layer, settings):
    (server,) = redis_nodes(1)
    calls.clear()
    layer = make_layer([server], on_health_change=f"{__name__}.remember")
    await layer.group_send("x.y", {"type": "x"})
    assert [(c["event"], c["connection_type"]) for c in calls] == [("up", "publisher")]
    assert calls[0]["layer"] is layer and calls[0]["healthy"] is True


calls: list[dict] = []


def remember(**kwargs):
    """on_health_change target of the test above."""
    calls.append(kwargs)
