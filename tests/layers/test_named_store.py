"""The named-channel store's pure parts (entries, ids, tags) and its copies on Redis."""

from __future__ import annotations

import pytest
from channels.exceptions import ChannelFull

from realtime.layers.named_store import message_id, node_tag, pack_entry, unpack_entry
from realtime.layers.strategies import ring_order
from tests.support.waiting import within


def test_entry_header_is_fixed_width_and_round_trips():
    raw = pack_entry(1_700_000_000_123, message_id("ab" * 8, 5), ["0a1b2c3d", "4e5f6a7b"], b"xy")
    assert raw == (
        b"1700000000123" + b"abababababababab000000000005" + b"02" + b"0a1b2c3d4e5f6a7b" + b"xy"
    )
    entry = unpack_entry(raw)
    assert entry.message_id == "abababababababab000000000005"
    assert entry.tags == ("0a1b2c3d", "4e5f6a7b")
    assert entry.payload == b"xy"


@pytest.mark.parametrize("raw", [b"", b"123", b"1700000000123" + b"a" * 28 + b"03" + b"0a1b"])
def test_a_broken_entry_is_refused(raw):
    with pytest.raises(ValueError):
        unpack_entry(raw)


def test_node_tags_are_short_and_stable():
    assert node_tag("redis://127.0.0.1:6379/0") == node_tag("redis://127.0.0.1:6379/0")
    assert len(node_tag("redis://10.0.0.1:6379/0")) == 8
    assert node_tag("redis://10.0.0.1:6379/0") != node_tag("redis://10.0.0.2:6379/0")


async def test_copies_on_the_first_k_ring_nodes_and_none_left_after_receive(
    make_layer, shared_redis
):
    sender = make_layer(shared_redis, redundancy=2)
    receiver = make_layer(shared_redis, redundancy=2)
    prefix = sender.config.prefix
    await sender.send("jobs", {"type": "job"})
    order = ring_order(tuple(sorted(s.address for s in shared_redis)), "jobs")
    by_address = {s.address: s for s in shared_redis}
    key = f"{prefix}:q:{{jobs}}"
    lengths = [by_address[address].call("LLEN", key) for address in order]
    assert lengths == [1, 1, 0]
    assert (await within(receiver.receive("jobs"), 5, "the job"))["type"] == "job"
    assert [by_address[address].call("LLEN", key) for address in order] == [0, 0, 0]
    assert receiver.stats()["taken"] == 1 and sender.stats()["stored"] == 1


async def test_named_channels_over_a_redis_cluster_entry(make_layer, redis_cluster):
    """The store's keys of one channel share a hash tag: its scripts run on one shard."""
    sender = make_layer([redis_cluster], capacity=2)
    receiver = make_layer([redis_cluster], capacity=2)
    await sender.send("cluster-jobs", {"type": "a"})
    await sender.send("cluster-jobs", {"type": "b"})
    with pytest.raises(ChannelFull):
        await sender.send("cluster-jobs", {"type": "c"})
    got = [(await within(receiver.receive("cluster-jobs"), 5, "a job"))["type"] for _ in "ab"]
    assert got == ["a", "b"]
