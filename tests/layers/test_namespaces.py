"""Group namespaces map onto one Redis channel each; subscriptions follow local members
race-free; user namespaces cannot reach internal channels."""

from __future__ import annotations

import asyncio

from tests.support.waiting import async_wait_until, within


def subscribed(server, layer, namespace: str) -> int:
    return server.subscribers(f"{layer.config.prefix}:g:{namespace}")


async def test_all_groups_of_a_namespace_share_one_redis_channel(shared_redis, make_layer):
    (server,) = shared_redis[:1]
    layer = make_layer([server])
    channel = await layer.new_channel()
    for room in range(5):
        await layer.group_add(f"r-chat.room{room}", channel)
    channels = server.call("PUBSUB", "CHANNELS", f"{layer.config.prefix}:*")
    assert sorted(channels) == sorted(
        [f"{layer.config.prefix}:g:r-chat", f"{layer.config.prefix}:p:{layer._any_core().origin}"]
    )


async def test_auto_unsubscribe_after_the_last_member(shared_redis, make_layer):
    (server,) = shared_redis[:1]
    layer = make_layer([server])
    first, second = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("r-chat.a", first)
    await layer.group_add("r-chat.b", second)
    assert subscribed(server, layer, "r-chat") == 1
    await layer.group_discard("r-chat.a", first)
    assert subscribed(server, layer, "r-chat") == 1  # r-chat.b still has a member
    await layer.group_discard("r-chat.b", second)
    await async_wait_until(lambda: subscribed(server, layer, "r-chat") == 0, 5, "unsubscribed")


async def test_auto_unsubscribe_off_keeps_the_subscription(shared_redis, make_layer):
    (server,) = shared_redis[:1]
    layer = make_layer([server], auto_unsubscribe=False)
    channel = await layer.new_channel()
    await layer.group_add("r-keep.a", channel)
    await layer.group_discard("r-keep.a", channel)
    assert subscribed(server, layer, "r-keep") == 1


async def test_preset_namespaces_subscribed_at_start_and_never_unsubscribed(
    shared_redis, make_layer
):
    (server,) = shared_redis[:1]
    layer = make_layer([server], preset_namespaces=["realtime", "r-lobby"])
    await layer.group_send("other.x", {"type": "start"})
    assert subscribed(server, layer, "realtime") == 1
    assert subscribed(server, layer, "r-lobby") == 1
    channel = await layer.new_channel()
    await layer.group_add("r-lobby.main", channel)
    await layer.group_discard("r-lobby.main", channel)
    await layer.flush()
    assert subscribed(server, layer, "r-lobby") == 1


async def test_leave_then_rejoin_race_never_leaves_the_process_deaf(shared_redis, make_layer):
    (server,) = shared_redis[:1]
    sender, receiver = make_layer([server]), make_layer([server])
    channel = await receiver.new_channel()
    for _ in range(20):
        await receiver.group_add("r-race.1", channel)
        # Leave and rejoin concurrently: the unsubscribe may still be in flight when the
        # rejoin runs.
        await asyncio.gather(
            receiver.group_discard("r-race.1", channel),
            receiver.group_add("r-race.1", channel),
        )
        assert subscribed(server, receiver, "r-race") == 1
        await sender.group_send("r-race.1", {"type": "still.hears"})
        assert (await within(receiver.receive(channel), 5, "message"))["type"] == "still.hears"
        await receiver.group_discard("r-race.1", channel)


async def test_discard_and_rejoin_in_other_order(shared_redis, make_layer):
    (server,) = shared_redis[:1]
    layer = make_layer([server])
    channel = await layer.new_channel()
    await asyncio.gather(
        layer.group_add("r-order.1", channel), layer.group_discard("r-order.1", channel)
    )
    assert subscribed(server, layer, "r-order") == 0
    assert "r-order.1" not in layer._any_core().local.groups


async def test_concurrent_joins_subscribe_once_and_all_hear(shared_redis, make_layer):
    (server,) = shared_redis[:1]
    sender, receiver = make_layer([server]), make_layer([server])
    channels = [await receiver.new_channel() for _ in range(10)]
    await asyncio.gather(*(receiver.group_add(f"r-many.{i}", c) for i, c in enumerate(channels)))
    assert subscribed(server, receiver, "r-many") == 1
    for index in range(10):
        await sender.group_send(f"r-many.{index}", {"type": "x", "i": index})
    for index, channel in enumerate(channels):
        assert (await within(receiver.receive(channel), 5, "message"))["i"] == index


async def test_namespaces_cannot_reach_internal_channels(shared_redis, make_layer):
    (server,) = shared_redis[:1]
    sender, receiver = make_layer([server]), make_layer([server])
    channel = await receiver.new_channel()
    origin = receiver._any_core().origin
    # A group whose namespace is the receiver's instance id, and groups named like the
    # internal kinds: none of them is the receiver's process channel.
    member = await receiver.new_channel()
    await receiver.group_add(f"{origin}.x", member)
    await receiver.group_add("p.x", member)
    await sender.group_send(f"{origin}.x", {"type": "group"})
    await sender.group_send("p.x", {"type": "group"})
    await sender.send(channel, {"type": "direct"})
    assert (await within(receiver.receive(channel), 5, "direct"))["type"] == "direct"
    assert [(await within(receiver.receive(member), 5, "group"))["type"] for _ in range(2)] == [
        "group",
        "group",
    ]
    for name in (f"{receiver.config.prefix}:g:{origin}", f"{receiver.config.prefix}:g:p"):
        assert server.subscribers(name) == 1
    assert server.subscribers(f"{receiver.config.prefix}:p:{origin}") == 1
    try:
        await asyncio.wait_for(receiver.receive(channel), 0.2)
        raise AssertionError("a group message reached a process channel")
    except TimeoutError:
        pass


async def test_foreign_payloads_on_our_channels_are_dropped_and_counted(shared_redis, make_layer):
    # Without signing (with it, these never get past the signature: test_signing.py).
    (server,) = shared_redis[:1]
    sender, receiver = make_layer([server], signing=False), make_layer([server], signing=False)
    channel = await receiver.new_channel()
    await receiver.group_add("r-bad.1", channel)
    redis_channel = f"{receiver.config.prefix}:g:r-bad"
    for garbage in ("not msgpack \xc1", "\x96\x01\x00\xa1o\x01\xa7r-bad.1\xc4\x01\xc1"):
        server.call("PUBLISH", redis_channel, garbage)
    await sender.group_send("r-bad.1", {"type": "fine"})
    assert (await within(receiver.receive(channel), 5, "good message"))["type"] == "fine"
    assert receiver.stats()["malformed_dropped"] == 2


async def test_unhashable_map_keys_are_malformed_not_fatal(shared_redis, make_layer):
    # A msgpack body whose map has an array key ({[1]: 1}) cannot become a dict: dropped and
    # counted, while the subscriber connection and everything after it on that read survive.
    import msgpack

    (server,) = shared_redis[:1]
    sender, receiver = make_layer([server], signing=False), make_layer([server], signing=False)
    channel = await receiver.new_channel()
    await receiver.group_add("r-keys.1", channel)
    await sender.group_send("r-keys.1", {"type": "first"})
    assert (await within(receiver.receive(channel), 5, "first"))["type"] == "first"
    redis_channel = f"{receiver.config.prefix}:g:r-keys".encode()
    transport = sender._any_core().transport
    for sequence, body in enumerate((b"\x81\x91\x01\x01", b"\x81\x81\x01\x01\x01"), 1):
        payload = msgpack.packb([1, 0, "hostile", sequence, "r-keys.1", body])
        assert await transport.publish(redis_channel, payload)
    await sender.group_send("r-keys.1", {"type": "after"})
    assert (await within(receiver.receive(channel), 5, "message after"))["type"] == "after"
    assert receiver.stats()["malformed_dropped"] == 2
