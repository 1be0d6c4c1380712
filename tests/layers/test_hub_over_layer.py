"""The hub over this layer: two hubs with their own layer instance on three Redis nodes
behave as two server nodes; with zero nodes the hub publishes nothing."""

from __future__ import annotations

import asyncio

from realtime.hub import Hub
from realtime.testing import attach as connect
from tests.support.waiting import async_wait_until


async def test_two_nodes_over_three_redis_nodes(shared_redis, make_layer):
    a = Hub(layer=make_layer(shared_redis), name="a")
    b = Hub(layer=make_layer(shared_redis), name="b")
    try:
        _, on_a = await connect(a, "1")
        _, on_b = await connect(b, "2")
        await b.join_room("app:chat:game:hot", "r 1", "2")
        await a.broadcast("all")
        await a.to_user("2", "direct")
        await a.to_users(["1", "2"], "many")
        await a.to_room("app:chat:game:hot", "r 1", "room")
        expected = ['{"event":"all"}', '{"event":"direct"}', '{"event":"many"}', '{"event":"room"}']
        # Order is kept per group namespace (one Redis channel); these use three namespaces.
        await async_wait_until(
            lambda: sorted(on_b.frames) == sorted(expected), 5, f"node b got {on_b.frames}"
        )
        await b.broadcast("back")
        await async_wait_until(lambda: len(on_a.frames) == 3, 5, f"node a got {on_a.frames}")
        # Node a got its local copies once and never its own publishes back.
        assert sorted(on_a.frames) == ['{"event":"all"}', '{"event":"back"}', '{"event":"many"}']
        assert a.link._send_to_others is not None  # group_send_remote is used
    finally:
        await a.stop()
        await b.stop()


async def test_zero_nodes_is_a_single_node(make_layer):
    layer = make_layer([])
    hub = Hub(layer=layer, name="solo")
    _, recorder = await connect(hub, "1")
    await hub.broadcast("x")
    assert not hub.distributed and hub.link.channel is None
    assert recorder.frames == ['{"event":"x"}']
    await asyncio.sleep(0)
    assert layer.stats() == {}  # the layer was never even started


async def test_node_rejoins_groups_the_layer_dropped(shared_redis, make_layer):
    # What the layer's sweep once did to a node channel far behind its backlog: leave every
    # group. The node link notices within its re-assert period and joins them again.
    from realtime.metrics import metrics

    a = Hub(layer=make_layer(shared_redis), name="a")
    b = Hub(layer=make_layer(shared_redis), name="b")
    try:
        await connect(a, "1")
        _, on_b = await connect(b, "2")
        await b.join_room("chat", "r", "2")
        before = metrics.get("node_groups_rejoined")
        local = b.link.layer._any_core().local
        local.leave_all(b.link.channel)
        assert not await b.link.layer.group_has_member("realtime.all", b.link.channel)
        await async_wait_until(
            lambda: metrics.get("node_groups_rejoined") - before == len(b.link.groups),
            5,
            "node b re-added its memberships",
        )
        await a.broadcast("all")
        await a.to_room("chat", "r", "room")
        await async_wait_until(
            lambda: sorted(on_b.frames) == ['{"event":"all"}', '{"event":"room"}'],
            5,
            f"node b got {on_b.frames}",
        )
    finally:
        await a.stop()
        await b.stop()
