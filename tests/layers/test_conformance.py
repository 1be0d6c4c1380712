"""What Channels code expects of a layer, as the upstream suites check it: channels'
``tests/test_inmemorychannel.py`` and channels_redis's ``tests/test_core.py`` and
``tests/test_pubsub.py``, rewritten for our layer with zero, one and three Redis nodes.

With nodes, ``sender`` and ``receiver`` are two layer instances (two processes, as far as
the layer knows), so a named channel's messages must be stored on Redis to arrive. Expiry
times are scaled down from upstream's seconds; ratios between delays are kept.
"""

from __future__ import annotations

import asyncio
import random

import pytest
from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull

from realtime.layers import MultiRedisChannelLayer
from tests.support.waiting import within


@pytest.fixture
def layers(make_layer, servers):
    """A factory of (sender, receiver) with the same CONFIG: two instances with nodes,
    one in-process layer without."""

    def build(**config):
        receiver = make_layer(servers, **config)
        sender = make_layer(servers, **config) if servers else receiver
        return sender, receiver

    return build


@pytest.fixture
def pair(layers):
    """(sender, receiver) with upstream's test capacity of 3."""
    return layers(capacity=3, channel_capacity={"tiny": 1})


async def receive(layer, channel, what="a message"):
    return await within(layer.receive(channel), 5, what)


async def nothing_arrives(layer, channel, wait=0.3):
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), wait)


# -- named channels: kept until received ---------------------------------------------------


async def test_send_before_first_receive_is_kept(pair):
    sender, receiver = pair
    await sender.send("test-channel-1", {"type": "test.message", "text": "Ahoy-hoy!"})
    message = await receive(receiver, "test-channel-1")
    assert message == {"type": "test.message", "text": "Ahoy-hoy!"}


async def test_several_sends_then_receives_keep_order(pair):
    sender, receiver = pair
    for n in (1, 2, 3):
        await sender.send("test-channel-3", {"type": f"message.{n}"})
    got = [(await receive(receiver, "test-channel-3"))["type"] for _ in range(3)]
    assert got == ["message.1", "message.2", "message.3"]


async def test_receive_waiting_before_the_send(pair):
    sender, receiver = pair
    waiting = asyncio.ensure_future(receiver.receive("test-channel-2"))
    await asyncio.sleep(0.05)  # the receive is parked on an empty channel
    await sender.send("test-channel-2", {"type": "late"})
    assert (await within(waiting, 5, "the waiting receive"))["type"] == "late"


async def test_send_capacity_raises_channel_full(pair):
    sender, _ = pair
    for _ in range(3):
        await sender.send("test-channel-1", {"type": "test.message"})
    with pytest.raises(ChannelFull):
        await sender.send("test-channel-1", {"type": "test.message"})


async def test_specific_capacity(pair):
    sender, receiver = pair
    await sender.send("tiny", {"type": "test.message"})
    with pytest.raises(ChannelFull):
        await sender.send("tiny", {"type": "test.message"})
    await receive(receiver, "tiny")
    await sender.send("tiny", {"type": "room again"})


async def test_capacity_is_shared_by_every_sender(make_layer, servers):
    senders = [make_layer(servers, capacity=2) for _ in range(2 if servers else 1)]
    await senders[0].send("shared-cap", {"type": "a"})
    await senders[-1].send("shared-cap", {"type": "b"})
    with pytest.raises(ChannelFull):
        await senders[0].send("shared-cap", {"type": "c"})


async def test_each_message_received_once_by_competing_receivers(layers):
    sender, receiver = layers(capacity=100)
    others = [receiver] if sender is receiver else [receiver, sender]
    for n in range(30):
        await sender.send("work", {"type": "job", "n": n})
    got = []
    while len(got) < 30:
        results = await asyncio.gather(*(receive(layer, "work") for layer in others))
        got += [message["n"] for message in results]
    assert sorted(got) == list(range(30))
    for layer in others:
        await nothing_arrives(layer, "work", 0.2)


async def test_message_must_be_a_dict(pair):
    sender, _ = pair
    with pytest.raises(TypeError, match="must be a dict"):
        await sender.send("test-channel-1", "not a dict")
    with pytest.raises(TypeError):
        await sender.send("test-channel-1", {"type": "x", "obj": object()})


async def test_rejects_bad_channel_names(pair):
    sender, receiver = pair
    with pytest.raises(TypeError):
        await sender.send("=+135!", {"type": "foom"})
    with pytest.raises(TypeError):
        await receiver.receive("=+135!")


# -- expiry ----------------------------------------------------------------------------------


async def test_unread_message_expires(layers):
    sender, receiver = layers(expiry=0.2)
    await sender.send("test-channel-1", {"type": "message.1"})
    await asyncio.sleep(0.25)  # the message must age past its expiry
    await nothing_arrives(receiver, "test-channel-1")
    await sender.send("test-channel-2", {"type": "message.2"})
    assert (await receive(receiver, "test-channel-2"))["type"] == "message.2"


async def test_expiry_drops_only_the_old_messages(layers):
    sender, receiver = layers(expiry=0.3)
    for n in (1, 2, 3):
        await sender.send("test-channel-1", {"type": f"message.{n}"})
    assert (await receive(receiver, "test-channel-1"))["type"] == "message.1"
    await asyncio.sleep(0.35)  # messages 2 and 3 must age past their expiry
    await sender.send("test-channel-1", {"type": "message.4"})
    assert (await receive(receiver, "test-channel-1"))["type"] == "message.4"
    await nothing_arrives(receiver, "test-channel-1")
    assert receiver.stats()["expired"] + sender.stats()["expired"] >= 2


async def test_earliest_message_expires(layers):
    sender, receiver = layers(expiry=0.6)
    channel = await receiver.new_channel()
    for text in ("First!", "Second!", "Third!"):
        await sender.send(channel, {"type": "test.message", "text": text})
        await asyncio.sleep(0.4 if text != "Third!" else 0)  # First ages past expiry
    assert (await receive(receiver, channel))["text"] == "Second!"
    assert (await receive(receiver, channel))["text"] == "Third!"
    await nothing_arrives(receiver, channel)


async def test_messages_under_expiry_all_arrive(layers):
    sender, receiver = layers(expiry=0.6)
    for text in ("First!", "Second!", "Third!"):
        await sender.send("named-expiry", {"type": "test.message", "text": text})
        await asyncio.sleep(0.1)
    got = [(await receive(receiver, "named-expiry"))["text"] for _ in range(3)]
    assert got == ["First!", "Second!", "Third!"]


async def test_group_messages_expire_and_membership_stays(layers):
    sender, receiver = layers(expiry=0.6)
    channel = await receiver.new_channel()
    await receiver.group_add("test-group", channel)
    for text in ("First!", "Second!", "Third!"):
        await sender.group_send("test-group", {"type": "test.message", "text": text})
        await asyncio.sleep(0.4 if text != "Third!" else 0)  # First ages past expiry
    assert (await receive(receiver, channel))["text"] == "Second!"
    assert (await receive(receiver, channel))["text"] == "Third!"
    await nothing_arrives(receiver, channel)


async def test_one_member_expires_a_message_the_other_keeps_all(layers):
    sender, receiver = layers(expiry=0.6)
    first = await receiver.new_channel()
    second = await receiver.new_channel(prefix="channel_2")
    for channel in (first, second):
        await receiver.group_add("test-group", channel)
    await sender.send(first, {"type": "test.message", "text": "Zero!"})
    await asyncio.sleep(0.4)
    for text in ("First!", "Second!", "Third!"):
        await sender.group_send("test-group", {"type": "test.message", "text": text})
        await asyncio.sleep(0.15)  # Zero! ages past its expiry meanwhile
    for channel in (first, second):
        got = [(await receive(receiver, channel))["text"] for _ in range(3)]
        assert got == ["First!", "Second!", "Third!"]
    await nothing_arrives(receiver, first, 0.2)


# -- groups ------------------------------------------------------------------------------


async def test_groups_basic(pair):
    sender, receiver = pair
    names = [await receiver.new_channel(prefix=f"test-gr-chan-{n}") for n in (1, 2, 3)]
    for name in names:
        await receiver.group_add("test-group", name)
    await receiver.group_discard("test-group", names[1])
    await sender.group_send("test-group", {"type": "message.1"})
    assert (await receive(receiver, names[0]))["type"] == "message.1"
    assert (await receive(receiver, names[2]))["type"] == "message.1"
    await nothing_arrives(receiver, names[1])


async def test_groups_of_named_channels(pair):
    sender, receiver = pair
    for name in ("test-gr-chan-1", "test-gr-chan-2", "test-gr-chan-3"):
        await receiver.group_add("test-group", name)
    await receiver.group_discard("test-group", "test-gr-chan-2")
    await sender.group_send("test-group", {"type": "message.1"})
    assert (await receive(receiver, "test-gr-chan-1"))["type"] == "message.1"
    assert (await receive(receiver, "test-gr-chan-3"))["type"] == "message.1"
    await nothing_arrives(receiver, "test-gr-chan-2")


async def test_group_send_to_a_full_named_channel_does_not_raise(pair):
    sender, receiver = pair
    await receiver.group_add("test-group", "test-gr-chan-1")
    for _ in range(5):
        await sender.group_send("test-group", {"type": "message.1"})
    got = [await receive(receiver, "test-gr-chan-1") for _ in range(3)]
    assert [m["type"] for m in got] == ["message.1"] * 3
    await nothing_arrives(receiver, "test-gr-chan-1")


async def test_group_send_skips_full_members(pair):
    sender, receiver = pair
    first = await receiver.new_channel()
    second = await receiver.new_channel(prefix="channel_2")
    for channel in (first, second):
        await receiver.group_add("test-group", channel)
    await receiver.send(second, {"type": "message.0"})
    for n in (1, 2, 3):
        await sender.group_send("test-group", {"type": f"message.{n}"})
    assert [(await receive(receiver, first))["type"] for _ in range(3)] == [
        "message.1",
        "message.2",
        "message.3",
    ]
    assert [(await receive(receiver, second))["type"] for _ in range(3)] == [
        "message.0",
        "message.1",
        "message.2",
    ]
    await nothing_arrives(receiver, second)
    assert receiver.stats()["channel_full_drops"] >= 1


async def test_groups_same_prefix(pair):
    sender, receiver = pair
    names = [await receiver.new_channel(prefix="test-gr-chan") for _ in range(3)]
    for name in names:
        await receiver.group_add("test-group", name)
    await sender.group_send("test-group", {"type": "message.1"})
    for name in names:
        assert (await receive(receiver, name))["type"] == "message.1"


@pytest.mark.parametrize("count", [1, 10, 100])
async def test_group_send_reaches_many_members(layers, count):
    sender, receiver = layers(capacity=100)
    names = [await receiver.new_channel(prefix=f"channel{n}") for n in range(count)]
    for name in names:
        await receiver.group_add("test-group", name)
    await sender.group_send("test-group", {"type": "message.1"})
    for name in names:
        assert (await receive(receiver, name))["type"] == "message.1"


# -- names, cancellation, flush, sync use --------------------------------------------------


async def test_new_channel_names_ignore_the_random_seed(pair):
    _, receiver = pair
    random.seed(1)
    first = await receiver.new_channel()
    random.seed(1)
    assert await receiver.new_channel() != first


async def test_cancelled_receives_lose_nothing(pair):
    sender, receiver = pair
    for name in (await receiver.new_channel(), "named-cancel"):
        sent = 0
        for delay in (0, 0.001, 0.002, 0.005, 0.01):
            await sender.send(name, {"type": "test.message", "n": sent})
            sent += 1
            task = asyncio.ensure_future(receiver.receive(name))
            await asyncio.sleep(delay)
            task.cancel()
            got = await asyncio.gather(task, return_exceptions=True)
            if not isinstance(got[0], BaseException):
                sent -= 1  # this one arrived before the cancel
            while sent > 2:  # keep below capacity
                await receive(receiver, name)
                sent -= 1
        for _ in range(sent):
            await receive(receiver, name, "a message a cancelled receive left")


async def test_flush_drops_stored_messages(pair):
    sender, receiver = pair
    await sender.send("flushed", {"type": "old"})
    await receiver.flush()
    await nothing_arrives(receiver, "flushed")
    await sender.send("flushed", {"type": "new"})
    assert (await receive(receiver, "flushed"))["type"] == "new"


def test_receives_from_two_event_loops(servers):
    """``async_to_sync`` callers (a new event loop each) send and receive."""
    layer = MultiRedisChannelLayer(
        nodes=[s.url for s in servers], prefix=f"loops{random.randrange(10**6)}", capacity=3
    )
    first = async_to_sync(layer.new_channel)()
    second = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)("sync-named", {"type": "named"})

    async def listen(channel: str) -> str:
        return (await asyncio.wait_for(layer.receive(channel), 5))["type"]

    if servers:  # stored on the nodes: another loop (or process) receives it
        assert async_to_sync(listen)("sync-named") == "named"
    else:  # in-process: each loop has its own queues

        async def send_and_listen(channel: str) -> str:
            await layer.send(channel, {"type": "in-loop"})
            return await listen(channel)

        assert async_to_sync(send_and_listen)("sync-named") == "in-loop"
    assert first != second
    async_to_sync(layer.flush)()
