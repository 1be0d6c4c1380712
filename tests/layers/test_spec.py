"""Channels layer spec conformance, with zero (in-process), one and three Redis nodes.

The behaviours are those of Channels' own in-memory layer tests and channels_redis's
pub/sub layer tests. ``sender`` and ``receiver`` are two layer instances (two processes, as
far as the layer knows) when there are Redis nodes, and one in-process layer otherwise.
"""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull

from realtime.layers import MultiRedisChannelLayer
from realtime.layers.extensions import missing_members
from tests.support.waiting import async_wait_until, within


@pytest.fixture
def pair(make_layer, servers):
    """(sender, receiver): two instances on the same nodes, or one in-process layer."""
    receiver = make_layer(servers)
    sender = make_layer(servers) if servers else receiver
    return sender, receiver


async def nothing_arrives(layer, channel, wait=0.3):
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), wait)


async def test_send_receive_in_order(pair):
    sender, receiver = pair
    channel = await receiver.new_channel()
    for n in range(20):
        await sender.send(channel, {"type": "test.message", "n": n})
    received = [await within(receiver.receive(channel), 5, "message") for _ in range(20)]
    assert [m["n"] for m in received] == list(range(20))


async def test_message_types_survive(pair):
    sender, receiver = pair
    channel = await receiver.new_channel()
    message = {"type": "t", "text": "Ünïcode", "bytes": b"\x00\xff", "list": [1, 2.5, None]}
    await sender.send(channel, message)
    assert await within(receiver.receive(channel), 5, "message") == message


async def test_local_send_receive_process_channel(make_layer, servers):
    layer = make_layer(servers)
    channel = await layer.new_channel("custom-prefix")
    assert channel.startswith("custom-prefix.") and "!" in channel
    await layer.send(channel, {"type": "one"})
    await layer.send(channel, {"type": "two"})
    assert (await layer.receive(channel))["type"] == "one"
    assert (await layer.receive(channel))["type"] == "two"


async def test_normal_channel_name(make_layer, servers):
    """A normal (not process-specific) name reaches the processes receiving on it."""
    receiver = make_layer(servers)
    sender = make_layer(servers) if servers else receiver
    waiting = asyncio.ensure_future(receiver.receive("test-channel-1"))
    redis_channel = f"{receiver.config.prefix}:c:test-channel-1"
    for server in servers:
        await async_wait_until(
            lambda s=server: s.subscribers(redis_channel) == 1,
            5,
            "receiver subscribed",
        )
    await sender.send("test-channel-1", {"type": "plain"})
    assert (await within(waiting, 5, "plain channel message"))["type"] == "plain"


async def test_groups(pair):
    sender, receiver = pair
    channels = [await receiver.new_channel() for _ in range(3)]
    for channel in channels:
        await receiver.group_add("r-chat.room1", channel)
    await receiver.group_discard("r-chat.room1", channels[1])
    await sender.group_send("r-chat.room1", {"type": "message.1"})
    for channel in (channels[0], channels[2]):
        assert (await within(receiver.receive(channel), 5, "group message"))["type"] == "message.1"
    await nothing_arrives(receiver, channels[1])


async def test_groups_of_one_namespace_are_filtered(pair):
    sender, receiver = pair
    first, second = await receiver.new_channel(), await receiver.new_channel()
    await receiver.group_add("r-chat.a", first)
    await receiver.group_add("r-chat.b", second)
    await sender.group_send("r-chat.b", {"type": "for.b"})
    await sender.group_send("r-chat.a", {"type": "for.a"})
    assert (await within(receiver.receive(first), 5, "a"))["type"] == "for.a"
    assert (await within(receiver.receive(second), 5, "b"))["type"] == "for.b"
    await nothing_arrives(receiver, first, 0.2)


async def test_group_send_to_empty_group_is_fine(pair):
    sender, _ = pair
    await sender.group_send("nobody.here", {"type": "x"})


async def test_discard_unknown_member_is_fine(pair):
    _, receiver = pair
    await receiver.group_discard("never.joined", "specific.abc!def")


async def test_flush(make_layer, servers):
    layer = make_layer(servers)
    channel = await layer.new_channel()
    await layer.group_add("r-chat.x", channel)
    await layer.send(channel, {"type": "old"})
    await layer.flush()
    await layer.group_send("r-chat.x", {"type": "after.flush"})
    await layer.send(channel, {"type": "new"})
    assert (await layer.receive(channel))["type"] == "new"
    await nothing_arrives(layer, channel, 0.1)


async def test_capacity_send_raises_group_send_does_not(make_layer, servers):
    layer = make_layer(servers, capacity=3)
    channel = await layer.new_channel()
    await layer.group_add("r-cap.x", channel)
    for n in range(3):
        await layer.send(channel, {"type": "fill", "n": n})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "overflow"})
    await layer.group_send("r-cap.x", {"type": "dropped"})  # must not raise
    assert [(await layer.receive(channel))["n"] for _ in range(3)] == [0, 1, 2]


async def test_channel_capacity_patterns(make_layer, servers):
    layer = make_layer(servers, capacity=100, channel_capacity={"tight*": 1})
    assert layer.get_capacity("tight.abc") == 1 and layer.get_capacity("other") == 100
    channel = await layer.new_channel("tight")
    await layer.send(channel, {"type": "a"})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "b"})


async def test_remote_messages_to_a_full_channel_are_dropped_and_counted(make_layer, shared_redis):
    receiver = make_layer(shared_redis[:1], capacity=2)
    sender = make_layer(shared_redis[:1])
    channel = await receiver.new_channel()
    for n in range(4):
        await sender.send(channel, {"type": "m", "n": n})
    await async_wait_until(
        lambda: receiver.stats().get("channel_full_drops") == 2, 5, "two drops counted"
    )
    assert [(await receiver.receive(channel))["n"] for _ in range(2)] == [0, 1]


@pytest.mark.parametrize(
    "name", ["", "a" * 100, "spaces are bad", "semi;colon", "ünïcode", 5, None, b"bytes"]
)
async def test_invalid_names_raise_type_error(make_layer, name):
    layer = make_layer()
    with pytest.raises(TypeError):
        await layer.send(name, {"type": "x"})
    with pytest.raises(TypeError):
        await layer.group_add(name, "ok-channel")
    with pytest.raises(TypeError):
        await layer.group_send(name, {"type": "x"})
    with pytest.raises(TypeError):
        await layer.receive(name)


async def test_message_must_be_a_serializable_dict(make_layer, servers):
    layer = make_layer(servers)
    channel = await layer.new_channel()
    with pytest.raises(TypeError, match="must be a dict"):
        await layer.send(channel, ["not", "a", "dict"])
    with pytest.raises(TypeError):
        await layer.send(channel, {"type": "x", "obj": object()})
    with pytest.raises(TypeError):
        await layer.group_send("g.x", {"type": "x", "obj": object()})


async def test_expiry(make_layer, servers):
    layer = make_layer(servers, expiry=0.05)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "stale"})
    await asyncio.sleep(0.1)  # the message must age past its expiry
    await layer.send(channel, {"type": "fresh"})
    assert (await layer.receive(channel))["type"] == "fresh"
    assert layer.stats()["expired"] == 1


async def test_expired_unread_channel_leaves_its_groups(make_layer, servers):
    layer = make_layer(servers, expiry=0.05)
    channel = await layer.new_channel()
    await layer.group_add("r-dead.x", channel)
    await layer.send(channel, {"type": "never.read"})
    # The message must age past its expiry, and the channel go unread for twice as long.
    await asyncio.sleep(0.15)
    await layer.group_send("r-dead.x", {"type": "sweeps"})
    core = layer._any_core()
    assert "r-dead.x" not in core.local.groups


async def test_reader_behind_its_backlog_keeps_its_groups(make_layer, servers):
    # A live receiver whose backlog ages past expiry (a node reader under load) is behind,
    # not dead: it must keep every membership and hear the group again.
    layer = make_layer(servers, expiry=0.05)
    channel = await layer.new_channel()
    await layer.group_add("r-behind.x", channel)
    await layer.send(channel, {"type": "first"})
    await layer.send(channel, {"type": "expires.unread"})
    assert (await within(layer.receive(channel), 5, "first"))["type"] == "first"
    await asyncio.sleep(0.1)  # handling "first" outlasts expiry: the next message expires
    later = asyncio.ensure_future(layer.receive(channel))  # back for more: sweeps first
    await asyncio.sleep(0)
    await layer.group_send("r-behind.x", {"type": "after.backlog"})
    assert (await within(later, 5, "group message after the backlog"))["type"] == "after.backlog"
    assert channel in layer._any_core().local.groups["r-behind.x"]
    assert layer.stats()["expired"] == 1 and layer.stats()["dead_channels_swept"] == 0


async def test_idle_channels_are_forgotten_and_still_reachable(make_layer, servers):
    layer = make_layer(servers, expiry=0.05)
    channel = await layer.new_channel()
    named = asyncio.ensure_future(layer.receive("named-channel"))
    await asyncio.sleep(0.01)
    named.cancel()
    await asyncio.gather(named, return_exceptions=True)
    local = layer._any_core().local

    async def swept() -> bool:
        # Sends sweep channels idle for longer than the expiry; a loaded machine may need a
        # few rounds before both have been idle long enough.
        await layer.group_send("sweep.now", {"type": "x"})
        return channel not in local.channels and "named-channel" not in local.channels

    deadline = asyncio.get_running_loop().time() + 5
    while not await swept():
        assert asyncio.get_running_loop().time() < deadline, f"never swept: {local.channels}"
        await asyncio.sleep(0.02)
    await layer.send(channel, {"type": "specific"})
    await layer.send("named-channel", {"type": "named"})
    assert (await layer.receive(channel))["type"] == "specific"
    assert (await layer.receive("named-channel"))["type"] == "named"


async def test_timed_out_receives_leave_no_waiters(make_layer, servers):
    layer = make_layer(servers)
    channel = await layer.new_channel()
    for _ in range(20):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(layer.receive(channel), 0.001)
    assert len(layer._any_core().local.channels[channel].waiters) == 0


async def test_cancelled_receive_loses_nothing(pair):
    sender, receiver = pair
    channel = await receiver.new_channel()
    waiting = asyncio.ensure_future(receiver.receive(channel))
    await asyncio.sleep(0)
    waiting.cancel()
    await sender.send(channel, {"type": "kept"})
    assert (await within(receiver.receive(channel), 5, "kept message"))["type"] == "kept"


async def test_concurrent_receivers_each_get_one(pair):
    sender, receiver = pair
    channel = await receiver.new_channel()
    receivers = [asyncio.ensure_future(receiver.receive(channel)) for _ in range(3)]
    for n in range(3):
        await sender.send(channel, {"type": "m", "n": n})
    results = await within(asyncio.gather(*receivers), 5, "three receivers")
    assert sorted(m["n"] for m in results) == [0, 1, 2]


async def test_sync_callers_through_async_to_sync(make_layer, servers):
    """Sends from sync code (new event loops in other threads) reach this loop's channel,
    and every connection those loops opened is closed when they end."""
    receiver = make_layer(servers)
    channel = await receiver.new_channel()
    await receiver.group_add("r-sync.x", channel)
    sync_layer = receiver  # the one settings layer, used from the server loop and sync code
    # The receiver's own publishers and subscribers (one each on a standalone node; per
    # shard on a Cluster).
    before = [_client_count(server, receiver.config.prefix) for server in servers]

    def sync_code() -> None:
        for n in range(3):
            async_to_sync(sync_layer.send)(channel, {"type": "direct", "n": n})
            async_to_sync(sync_layer.group_send)("r-sync.x", {"type": "group", "n": n})

    await asyncio.to_thread(sync_code)
    got = [await within(receiver.receive(channel), 5, "sync message") for _ in range(6)]
    assert sorted((m["type"], m["n"]) for m in got) == sorted(
        (kind, n) for kind in ("direct", "group") for n in range(3)
    )
    assert all(count >= 2 for count in before)
    for server, count in zip(servers, before, strict=True):
        # Only the receiver's own publishers and subscribers stay connected.
        await async_wait_until(
            lambda s=server, c=count: _client_count(s, receiver.config.prefix) == c,
            5,
            "connections of finished loops closed",
        )


def _client_count(server, prefix: str) -> int:
    """Publishing and subscribing connections of layers with ``prefix``."""
    clients = server.call("CLIENT", "LIST").splitlines()
    names = [part for line in clients for part in line.split() if part.startswith("name=")]
    return sum(1 for n in names if n.startswith(f"name={prefix}-") and n.endswith(("-pub", "-sub")))


def test_close_leaves_no_tasks_or_warnings(servers):
    nodes = [s.url for s in servers]
    problems: list[object] = []

    async def scenario() -> set[asyncio.Task]:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: problems.append(ctx))
        layer = MultiRedisChannelLayer(nodes=nodes, prefix="closing", health_check_interval=0.05)
        channel = await layer.new_channel()
        await layer.group_add("r-close.x", channel)
        await layer.group_send("r-close.x", {"type": "x"})
        await layer.receive(channel)
        await asyncio.sleep(0.12)  # let a health check run before closing
        await layer.close()
        return asyncio.all_tasks() - {asyncio.current_task()}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        leftover = asyncio.run(scenario())
        gc.collect()
    assert leftover == set()
    assert problems == []
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_loop_ended_by_asyncio_run_without_close(servers):
    nodes = [s.url for s in servers]
    problems: list[object] = []
    layer = MultiRedisChannelLayer(nodes=nodes, prefix="noclose", health_check_interval=0.05)

    async def scenario() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: problems.append(ctx))
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "x"})
        await layer.receive(channel)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(scenario())
        gc.collect()
    assert problems == []
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    for server in servers:
        from tests.support.waiting import wait_until

        wait_until(lambda s=server: _client_count(s, "noclose") == 0, 5, "connections closed")


def test_extensions_and_process_local_flag(make_layer, servers):
    layer = make_layer(servers)
    assert layer.extensions == [
        "groups",
        "flush",
        "realtime.locality",
        "realtime.remote_send",
        "realtime.health",
        "realtime.runtime_nodes",
        "realtime.membership",
        "realtime.storage",
    ]
    assert missing_members(layer) == []
    assert layer.is_process_local is (not servers)
