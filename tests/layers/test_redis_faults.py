"""Redis faults that are not a clean crash, against real redis-server processes: a node that
hangs (``DEBUG SLEEP``, ``CLIENT PAUSE``) while traffic flows, and Redis disconnecting a
subscriber that reads too slowly (``client-output-buffer-limit pubsub``).

(test_health.py covers detection of a paused node and of a killed subscription; here the
traffic around those faults is checked.)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest

from realtime.signals import redis_health_changed
from tests.layers.conftest import node_health
from tests.support.layer_peer import peer_environment
from tests.support.processes import ROOT
from tests.support.waiting import async_wait_until, wait_until, within

HANG_SECONDS = 2.5
OUTPUT_BUFFER_LIMIT = "pubsub 256kb 0 0"  # a hard limit, no soft one
CLOSED_FOR_OUTPUT_BUFFER = "for overcoming of output buffer limits"


def publishers_avoid_what_receiver_cannot_hear(receiver, senders):
    """What the cluster does with its members' announcements (realtime/cluster.py), at once:
    publishers avoid the Redis nodes whose subscription the receiver lost."""

    def share(sender, layer, **kwargs):
        if layer is receiver:
            deaf = [n.address for n in receiver.health() if n.subscribe_ok is False]
            for publisher in senders:
                publisher.set_excluded_nodes(deaf)

    redis_health_changed.connect(share, weak=False)
    return lambda: redis_health_changed.disconnect(share)


class Pump:
    """Sends numbered messages to a group, one after another, until stopped."""

    def __init__(self, sender, group: str) -> None:
        self.sender, self.group, self.sent = sender, group, 0
        self.stop = asyncio.Event()

    async def run(self) -> int:
        while not self.stop.is_set():
            await self.sender.group_send(self.group, {"type": "m", "n": self.sent})
            self.sent += 1
            if self.sent % 20 == 0:
                await asyncio.sleep(0.005)  # a steady stream, not a flood
        return self.sent


class Collector:
    """Receives on a channel in the background; remembers what arrived and when."""

    def __init__(self, layer, channel: str) -> None:
        self.layer, self.channel = layer, channel
        self.received: list[tuple[int, float]] = []

    async def run(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            self.received.append((message["n"], time.monotonic()))

    def numbers(self) -> list[int]:
        return [n for n, _ in self.received]


def hang(server, how: str, seconds: float) -> threading.Thread:
    """Make ``server`` stop answering for ``seconds`` (DEBUG SLEEP blocks the caller)."""
    if how == "DEBUG SLEEP":
        command = ("DEBUG", "SLEEP", str(seconds))
    else:
        command = ("CLIENT", "PAUSE", str(int(seconds * 1000)), "ALL")
    thread = threading.Thread(target=server.call, args=command, kwargs={"timeout": seconds + 10})
    thread.start()
    return thread


@pytest.mark.parametrize("how", ["DEBUG SLEEP", "CLIENT PAUSE"])
async def test_traffic_flows_through_the_other_node_during_a_hang_and_nothing_is_lost(
    redis_nodes, make_layer, how
):
    hung, other = redis_nodes(2)
    sender = make_layer([hung, other], strategy="round-robin")
    receiver = make_layer([hung, other], strategy="round-robin", capacity=100_000)
    channel = await receiver.new_channel()
    await receiver.group_add("r-hang.1", channel)
    stop_sharing = publishers_avoid_what_receiver_cannot_hear(receiver, [sender])
    pump, collector = Pump(sender, "r-hang.1"), Collector(receiver, channel)
    pumping = asyncio.ensure_future(pump.run())
    collecting = asyncio.ensure_future(collector.run())
    sleeper = None
    try:
        await async_wait_until(lambda: len(collector.received) >= 50, 5, "traffic before")
        hang_ends = time.monotonic() + HANG_SECONDS
        sleeper = hang(hung, how, HANG_SECONDS)
        await async_wait_until(
            lambda: (
                not node_health(sender, hung).publish_ok
                and node_health(receiver, hung).subscribe_ok is False
            ),
            HANG_SECONDS,
            "the hang detected by the publisher's and the subscriber's PINGs",
        )
        sent_at_detection = pump.sent
        await async_wait_until(
            lambda: any(n >= sent_at_detection + 50 for n in collector.numbers()),
            HANG_SECONDS,
            "messages sent after the detection arrive",
        )
        arrived_at = next(t for n, t in collector.received if n >= sent_at_detection + 50)
        assert arrived_at < hang_ends, "they arrived through the other node, during the hang"
        assert sleeper.is_alive() or how == "CLIENT PAUSE"
        await async_wait_until(
            lambda: node_health(sender, hung).healthy and node_health(receiver, hung).healthy,
            10,
            "the node is used again after the hang",
        )
        before = hung.publish_count()
        await async_wait_until(lambda: hung.publish_count() - before >= 20, 5, "its share again")
        pump.stop.set()
        sent = await within(pumping, 5, "the pump to stop")
        await async_wait_until(lambda: len(collector.received) >= sent, 10, "every message")
        await asyncio.sleep(0.3)  # room for a late copy to show up (none may)
    finally:
        stop_sharing()
        pump.stop.set()
        collecting.cancel()
        await asyncio.gather(pumping, collecting, return_exceptions=True)
        if sleeper is not None:
            await asyncio.to_thread(sleeper.join, HANG_SECONDS + 10)
    numbers = collector.numbers()
    assert sorted(numbers) == list(range(sent)), "every message exactly once"
    assert receiver.stats().get("channel_full_drops", 0) == 0


async def test_a_subscriber_too_slow_for_its_output_buffer_is_detected_and_resubscribed(
    redis_nodes, make_layer, health_events
):
    (server,) = redis_nodes(1)
    server.call("CONFIG", "SET", "client-output-buffer-limit", OUTPUT_BUFFER_LIMIT)
    sender, receiver = make_layer([server]), make_layer([server])
    channel = await receiver.new_channel()
    await receiver.group_add("r-flood.mine", channel)
    prefix = receiver.config.prefix
    health_events.clear()
    # Another process publishes about 8 MB to a group of the same namespace, which this
    # process hears (and would drop: it has no member there).
    flood = subprocess.Popen(
        [
            sys.executable, "-m", "tests.support.layer_peer", "--nodes", server.url,
            "--prefix", prefix, "--group", "r-flood.other", "--count", "4000",
            "--padding", "2000", "--rate", "1000000",
        ],
        cwd=ROOT, env=peer_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # This process's event loop is blocked for real (a synchronous wait): its
        # subscriber reads nothing until Redis gives up on it.
        wait_until(
            lambda: CLOSED_FOR_OUTPUT_BUFFER in server.log_tail(),
            30,
            "Redis closing the slow subscriber for its output buffer",
        )
        _, err = await asyncio.to_thread(flood.communicate, timeout=60)
    finally:
        if flood.poll() is None:
            flood.kill()
            flood.wait(5)
    assert flood.returncode == 0, err.decode()[-2000:]
    assert f"name={prefix}-" in server.log_tail() and "-sub " in server.log_tail()
    await async_wait_until(
        lambda: (
            [(e["event"], e["connection_type"]) for e in health_events]
            == [("down", "subscriber"), ("up", "subscriber")]
        ),
        10,
        "the lost subscription reported, then the subscriber reconnected",
    )
    down = health_events[0]
    assert down["error"] and down["healthy"] is False and down["healthy_subscribers"] == 0
    (health,) = receiver.health()
    assert health.subscribe_ok is True and health.publish_ok
    assert health.last_error == down["error"] and "RedisConnectionLost" in health.last_error
    assert server.subscribers(f"{prefix}:g:r-flood") == 1  # resubscribed
    await sender.group_send("r-flood.mine", {"type": "after"})
    assert (await within(receiver.receive(channel), 5, "message after"))["type"] == "after"


async def test_a_node_refusing_subscribe_does_not_fail_join_room(redis_nodes, make_layer):
    # An ACL on one Redis node forbids the group channels: SUBSCRIBE there is refused
    # (NOPERM). Joining a room must still work through the other node, and the refusing
    # node's subscriber is reported down (with the reason) instead of raising.
    from realtime.hub import Hub
    from tests.test_hub import connect

    open_node, strict = redis_nodes(2)
    a = Hub(layer=make_layer([open_node, strict]), name="a")
    b = Hub(layer=make_layer([open_node, strict]), name="b")
    prefix = a.link.layer.config.prefix
    strict.call("ACL", "SETUSER", "default", "resetchannels", f"&{prefix}:p:*", f"&{prefix}:c:*")
    try:
        await connect(a, "1")
        _, on_b = await connect(b, "2")
        await within(b.join_room("chat", "r", "2"), 10, "join_room returned")
        await a.to_room("chat", "r", "room")
        await async_wait_until(lambda: on_b.frames == ['{"event":"room"}'], 5, f"{on_b.frames}")
        health = {n.address: n for n in b.link.layer.health()}
        assert health[strict.address].subscribe_ok is False
        assert "NOPERM" in (health[strict.address].last_error or "")
    finally:
        await a.stop()
        await b.stop()
