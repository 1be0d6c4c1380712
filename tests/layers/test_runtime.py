"""Runtime changes: nodes added and removed while traffic flows, excluded nodes, and
compression settings that differ between processes."""

from __future__ import annotations

import asyncio

import pytest

from realtime.layers.strategies import ring_order
from tests.support.waiting import async_wait_until, within

BIG = {"type": "big", "text": "the quick brown fox jumps over the lazy dog " * 400}


async def pump(sender, group: str, stop: asyncio.Event) -> int:
    sent = 0
    while not stop.is_set():
        await sender.group_send(group, {"type": "m", "n": sent})
        sent += 1
        if sent % 20 == 0:
            await asyncio.sleep(0.005)
    return sent


async def drain(receiver, channel, count: int) -> list[int]:
    return [(await within(receiver.receive(channel), 5, "message"))["n"] for _ in range(count)]


async def test_add_and_remove_nodes_while_traffic_flows(redis_nodes, make_layer, health_events):
    first, second = redis_nodes(2)
    sender = make_layer([first], strategy="round-robin")
    receiver = make_layer([first], strategy="round-robin", capacity=100_000)
    channel = await receiver.new_channel()
    await receiver.group_add("r-live.1", channel)
    stop = asyncio.Event()
    pumping = asyncio.ensure_future(pump(sender, "r-live.1", stop))

    await receiver.add_node(second.url)  # the receiver first, so it hears the new node
    await sender.add_node(second.url)
    assert second.subscribers(f"{receiver.config.prefix}:g:r-live") == 1
    assert [e["event"] for e in health_events if e["port"] == second.port][-1] == "added"
    await async_wait_until(lambda: second.publish_count() > 20, 5, "new node carries traffic")

    await sender.remove_node(first.address)
    count_after_removal = first.publish_count()
    await asyncio.sleep(0.1)  # traffic keeps flowing for a while after the removal
    stop.set()
    sent = await pumping
    assert sorted(await drain(receiver, channel, sent)) == list(range(sent))
    # At most the one publish in flight during the removal reached it (it was re-published
    # on the other node too, and the receiver dropped the copy).
    assert first.publish_count() - count_after_removal <= 1
    assert [n.address for n in sender.health()] == [second.address]
    removed = [e for e in health_events if e["event"] == "removed"]
    assert removed and removed[-1]["port"] == first.port and removed[-1]["node_count"] == 1


async def test_runtime_changes_are_checked(redis_nodes, make_layer):
    (server,) = redis_nodes(1)
    layer = make_layer([server])
    with pytest.raises(ValueError, match="already one of this layer's Redis nodes"):
        await layer.add_node(server.url)
    with pytest.raises(ValueError, match="is not one of this layer's Redis nodes"):
        await layer.remove_node("redis://127.0.0.1:1/0")
    with pytest.raises(RuntimeError, match="zero Redis nodes"):
        await make_layer([]).add_node(server.url)


async def test_excluded_nodes_are_avoided_unless_nothing_else_is_left(redis_nodes, make_layer):
    servers = redis_nodes(2)
    layer = make_layer(servers)
    by_address = {s.address: s for s in servers}
    owner = by_address[ring_order(tuple(by_address), f"{layer.config.prefix}:g:r-ex")[0]]
    other = next(s for s in servers if s is not owner)
    await layer.group_send("r-ex.1", {"type": "warm"})

    layer.set_excluded_nodes([owner.url])
    assert [n.excluded for n in layer.health() if n.port == owner.port] == [True]
    before = owner.publish_count(), other.publish_count()
    for _ in range(10):
        await layer.group_send("r-ex.1", {"type": "x"})
    assert (owner.publish_count() - before[0], other.publish_count() - before[1]) == (0, 10)

    other.kill()
    await async_wait_until(
        lambda: not next(n for n in layer.health() if n.port == other.port).publish_ok, 5, "down"
    )
    before_owner = owner.publish_count()
    await layer.group_send("r-ex.1", {"type": "x"})
    assert owner.publish_count() - before_owner == 1  # the last healthy node, excluded or not
    layer.set_excluded_nodes([])
    with pytest.raises(ValueError):
        layer.set_excluded_nodes(["redis://127.0.0.1:1/0"])


@pytest.mark.parametrize(
    ("sending", "receiving"), [("zstd", None), ("zlib", "zstd"), (None, "zlib"), ("zstd", "zlib")]
)
async def test_mixed_compression_settings_interoperate(
    shared_redis, make_layer, sending, receiving
):
    servers = shared_redis[:1]
    sender = make_layer(servers, compression=sending, compression_threshold=256)
    receiver = make_layer(servers, compression=receiving, compression_threshold=256)
    channel = await receiver.new_channel()
    await receiver.group_add("r-zip.1", channel)
    await sender.group_send("r-zip.1", BIG)
    await sender.group_send("r-zip.1", {"type": "small"})
    assert await within(receiver.receive(channel), 5, "big") == BIG
    assert (await within(receiver.receive(channel), 5, "small"))["type"] == "small"


@pytest.mark.parametrize("codec", ["zstd", "zlib"])
async def test_large_payload_is_smaller_on_the_wire(redis_nodes, make_layer, codec):
    (server,) = redis_nodes(1)
    plain = make_layer([server])
    packed = make_layer([server], compression=codec)

    def received_bytes() -> int:
        info = server.call("INFO", "stats")
        return int(info.split("total_net_input_bytes:")[1].split()[0])

    sizes = {}
    for name, layer in (("plain", plain), ("packed", packed)):
        await layer.group_send("warm.up", {"type": "x"})
        before = received_bytes()
        await layer.group_send("r-wire.1", BIG)
        sizes[name] = received_bytes() - before
    assert sizes["packed"] < sizes["plain"] / 5, sizes


async def test_health_snapshot_from_sync_code(shared_redis, make_layer):
    unused = make_layer(shared_redis[:1])
    assert [(h.publish_ok, h.subscribe_ok, h.since) for h in unused.health()] == [
        (False, None, 0.0)
    ]
    layer = make_layer(shared_redis[:2])
    await layer.group_send("x.y", {"type": "x"})
    snapshot = await asyncio.to_thread(layer.health)  # a thread without an event loop
    assert [(h.port, h.publish_ok) for h in snapshot] == [(s.port, True) for s in shared_redis[:2]]
    assert snapshot[0].as_dict()["healthy"] is True
    assert "password" not in repr(snapshot)
