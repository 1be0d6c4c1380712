"""A Redis Cluster entry: sharded pub/sub placed by slot, a slot moved under the layer
(MOVED and the server's unsubscribe followed), and a primary killed under load (its
replica takes over; with redundancy 2 over two entries nothing is lost).

The session's cluster (``redis_cluster`` in conftest) is shared with the conformance tests;
these tests leave it whole (slots moved back, killed nodes restarted).
"""

from __future__ import annotations

import asyncio

import pytest

from realtime.layers.redis_cluster import crc16, key_slot
from tests.support.waiting import async_wait_until, within

INTERVAL = 0.2


def test_slots_are_redis_cluster_slots(redis_cluster):
    assert crc16(b"123456789") == 0x31C3  # the CRC16-XMODEM check value
    node = redis_cluster.nodes[0]
    for name in ("foo", "realtime:g:chat", "{user1000}.following", "a{}b", "x{y}z", "{"):
        assert key_slot(name.encode()) == int(node.call("CLUSTER", "KEYSLOT", name)), name


async def test_channels_use_sharded_pub_sub_on_their_slot_owner(redis_cluster, make_layer):
    receiver = make_layer([redis_cluster.url], health_check_interval=INTERVAL)
    sender = make_layer([redis_cluster.url], health_check_interval=INTERVAL)
    channel = await receiver.new_channel()
    namespaces = [f"ns{n}" for n in range(12)]
    for namespace in namespaces:
        await receiver.group_add(f"{namespace}.x", channel)
    owners = set()
    for namespace in namespaces:
        name = f"{receiver.config.prefix}:g:{namespace}"
        owner = redis_cluster.owner_of(name)
        owners.add(owner.port)
        assert owner.call("PUBSUB", "SHARDNUMSUB", name)[1] == 1, name
        assert all(n.call("PUBSUB", "NUMSUB", name)[1] == 0 for n in redis_cluster.nodes)
    assert len(owners) == 3, "twelve namespaces spread over the three shards"
    for namespace in namespaces:
        await sender.group_send(f"{namespace}.x", {"type": "m", "ns": namespace})
    got = [(await within(receiver.receive(channel), 5, "group message"))["ns"] for _ in namespaces]
    assert sorted(got) == sorted(namespaces)
    (health,) = receiver.health()
    assert (health.kind, health.address, health.healthy) == ("cluster", redis_cluster.url, True)
    assert sorted(health.shards) == sorted(f"127.0.0.1:{p.port}" for p in redis_cluster.primaries())


def _node_id(node) -> str:
    return node.call("CLUSTER", "MYID")


def _move_slot(cluster, slot: int, source, target) -> None:
    """Move an empty slot from ``source`` to ``target`` the way redis-cli reshards."""
    target.call("CLUSTER", "SETSLOT", slot, "IMPORTING", _node_id(source))
    source.call("CLUSTER", "SETSLOT", slot, "MIGRATING", _node_id(target))
    for node in (target, source, *cluster.primaries()):
        node.call("CLUSTER", "SETSLOT", slot, "NODE", _node_id(target))


async def test_a_moved_slot_is_followed(redis_cluster, make_layer):
    receiver = make_layer([redis_cluster.url], health_check_interval=INTERVAL)
    sender = make_layer([redis_cluster.url], health_check_interval=INTERVAL)
    channel = await receiver.new_channel()
    await receiver.group_add("moving.x", channel)
    await sender.group_send("moving.x", {"type": "m", "n": 0})
    assert (await within(receiver.receive(channel), 5, "before the move"))["n"] == 0
    name = f"{receiver.config.prefix}:g:moving"
    slot = key_slot(name.encode())
    source = redis_cluster.owner_of(name)
    target = next(p for p in redis_cluster.primaries() if p is not source)
    _move_slot(redis_cluster, slot, source, target)
    try:
        await async_wait_until(
            lambda: target.call("PUBSUB", "SHARDNUMSUB", name)[1] == 1,
            5,
            "the receiver re-subscribed on the slot's new owner",
        )
        await sender.group_send("moving.x", {"type": "m", "n": 1})  # answered MOVED
        assert (await within(receiver.receive(channel), 5, "after the move"))["n"] == 1
        assert sender.stats().get("group_messages_dropped", 0) == 0
    finally:
        _move_slot(redis_cluster, slot, target, source)
        redis_cluster.wait_ok(10)


async def test_primary_killed_under_load_nothing_lost_with_redundancy_2(
    redis_cluster, redis_nodes, make_layer, health_events
):
    (standalone,) = redis_nodes(1)
    nodes = [redis_cluster.url, standalone.url]
    options = {"health_check_interval": INTERVAL, "redundancy": 2, "capacity": 100_000}
    sender, receiver = make_layer(nodes, **options), make_layer(nodes, **options)
    channel = await receiver.new_channel()
    await receiver.group_add("load.x", channel)
    victim = redis_cluster.owner_of(f"{receiver.config.prefix}:g:load")
    sent = 0
    stop = asyncio.Event()

    async def traffic() -> None:
        nonlocal sent
        while not stop.is_set():
            await sender.group_send("load.x", {"type": "m", "n": sent})
            sent += 1
            await asyncio.sleep(0.005)

    task = asyncio.ensure_future(traffic())
    try:
        await async_wait_until(lambda: sent > 50, 5, "traffic flowing")
        victim.kill()
        await async_wait_until(
            lambda: all(layer.health()[0].failovers >= 1 for layer in (sender, receiver)),
            15,
            "both layers saw the replica take over",
        )
        await async_wait_until(
            lambda: all(layer.health()[0].healthy for layer in (sender, receiver)),
            5,
            "the cluster entry is healthy again",
        )
        count = sent
        await async_wait_until(lambda: sent > count + 50, 5, "traffic continues")
    finally:
        stop.set()
        await task
    received = [
        (await within(receiver.receive(channel), 5, f"message {n}"))["n"] for n in range(sent)
    ]
    assert sorted(received) == list(range(sent)), "each message once, none lost"
    assert f"127.0.0.1:{victim.port}" not in receiver.health()[0].shards
    assert any(e["event"] == "failover" and e["layer"] is receiver for e in health_events)
    await asyncio.to_thread(redis_cluster.restart, victim)


@pytest.mark.parametrize("url", ["redis+cluster://127.0.0.1:1"])
async def test_no_reachable_seed_is_a_clear_error(make_layer, url):
    layer = make_layer([url], health_check_interval=INTERVAL)
    with pytest.raises(ConnectionError, match="No healthy Redis node"):
        await layer.send("somewhere.abc!def", {"type": "x"})
    (health,) = layer.health()
    assert health.kind == "cluster" and not health.publish_ok
    assert "no cluster node answered CLUSTER SLOTS: 127.0.0.1:1" in health.last_error


async def test_keyed_commands_go_to_the_shard_of_their_key(redis_cluster, make_layer):
    """What stored (named) channels need on a Cluster entry: commands routed by key."""
    layer = make_layer([redis_cluster.url], health_check_interval=INTERVAL)
    await layer.new_channel()  # starts the layer's connections
    core = layer._any_core()
    (entry,) = core.transport.nodes.values()
    assert entry.usable
    keys = [f"{layer.config.prefix}:k{n}".encode() for n in range(12)]
    for n, key in enumerate(keys):
        assert await entry.command("SET", key, n) == b"OK"
        assert (
            await entry.command("EVAL", "return redis.call('GET', KEYS[1])", 1, key)
            == str(n).encode()
        )
    assert {redis_cluster.owner_of(key.decode()).port for key in keys} == {
        p.port for p in redis_cluster.primaries()
    }
    for key in keys:
        owner = redis_cluster.owner_of(key.decode())
        assert owner.call("GET", key.decode()) is not None
        assert entry.shard_for(key).config.port == owner.port
        await entry.command("DEL", key)
