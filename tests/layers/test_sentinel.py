"""A Sentinel entry: the primary found through real sentinels, followed across a forced and
a crash failover, never a replica written to.

One group (primary, replica, three sentinels) serves the whole module; the tests run in
order and each leaves a working primary behind (the last one kills the first primary).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from realtime.layers.sentinel import NoPrimaryFound
from tests.support.sentinel import SERVICE, SentinelGroup
from tests.support.waiting import async_wait_until, within

INTERVAL = 0.2


@pytest.fixture(scope="module")
def group() -> Iterator[SentinelGroup]:
    """The module's Sentinel group."""
    sentinels = SentinelGroup(password="s3cret")
    try:
        sentinels.start()
        yield sentinels
    finally:
        sentinels.cleanup()


def our_clients(server, prefix: str) -> int:
    """Connections of layers with ``prefix`` on ``server`` (named ``<prefix>-...``)."""
    if not server.running:
        return 0
    names = [
        line for line in server.call("CLIENT", "LIST").splitlines() if f"name={prefix}-" in line
    ]
    return len(names)


async def exchange(sender, receiver, group_name: str, count: int) -> list[int]:
    """``count`` group messages from sender to receiver; the numbers that arrived."""
    channel = await receiver.new_channel()
    await receiver.group_add(group_name, channel)
    for n in range(count):
        await sender.group_send(group_name, {"type": "m", "n": n})
    return [(await within(receiver.receive(channel), 5, f"message {n}"))["n"] for n in range(count)]


async def test_primary_found_and_reported(group, make_layer):
    sender = make_layer([group.url()], health_check_interval=INTERVAL)
    receiver = make_layer([group.url()], health_check_interval=INTERVAL)
    assert await exchange(sender, receiver, "chat.room", 20) == list(range(20))
    (health,) = receiver.health()
    assert health.kind == "sentinel" and health.healthy
    assert health.primary == f"127.0.0.1:{group.primary_port()}"
    assert health.address == (
        "redis+sentinel://" + ",".join(f"127.0.0.1:{s.port}" for s in group.sentinels)
        + f"/{SERVICE}/0"
    )  # fmt: skip
    replica = next(s for s in group.servers if s.port != group.primary_port())
    assert our_clients(replica, receiver.config.prefix) == 0, "a connection to the replica"


async def test_unknown_service_is_a_clear_connection_error(group, make_layer):
    url = group.url().replace(f"/{SERVICE}", "/nosuchservice")
    layer = make_layer([url], health_check_interval=INTERVAL)
    with pytest.raises(ConnectionError, match="No healthy Redis node"):
        await layer.send("somewhere.abc!def", {"type": "x"})
    (health,) = layer.health()
    assert not health.publish_ok and "does not know 'nosuchservice'" in health.last_error
    assert NoPrimaryFound.__doc__


async def test_forced_failover_moves_every_connection_off_the_demoted_primary(
    group, make_layer, health_events
):
    sender = make_layer([group.url()], health_check_interval=INTERVAL)
    receiver = make_layer([group.url()], health_check_interval=INTERVAL)
    assert await exchange(sender, receiver, "chat.before", 5) == list(range(5))
    old_port = group.primary_port()
    old = group.server_on(old_port)
    group.sentinels[0].call("SENTINEL", "FAILOVER", SERVICE)
    new_port = group.wait_failover(old_port, 15)
    await async_wait_until(
        lambda: all(
            layer.health()[0].primary == f"127.0.0.1:{new_port}" for layer in (sender, receiver)
        ),
        5 + 2 * INTERVAL,
        "both layers use the new primary",
    )
    await async_wait_until(
        lambda: our_clients(old, receiver.config.prefix) == 0,
        5,
        "no connection left on the demoted primary (now a replica)",
    )
    await async_wait_until(
        lambda: all(layer.health()[0].healthy for layer in (sender, receiver)), 5, "healthy again"
    )
    assert await exchange(sender, receiver, "chat.after", 5) == list(range(5))
    assert receiver.health()[0].failovers == 1
    failovers = [e for e in health_events if e["event"] == "failover" and e["layer"] is receiver]
    assert len(failovers) == 1
    assert f"to 127.0.0.1:{new_port}" in failovers[0]["error"]


async def test_primary_killed_under_traffic_is_followed(group, make_layer):
    sender = make_layer([group.url()], health_check_interval=INTERVAL)
    receiver = make_layer([group.url()], health_check_interval=INTERVAL, capacity=100_000)
    channel = await receiver.new_channel()
    await receiver.group_add("chat.live", channel)
    old_port = group.primary_port()
    sent: list[int] = []
    stop = asyncio.Event()

    async def traffic() -> None:
        n = 0
        while not stop.is_set():
            await sender.group_send("chat.live", {"type": "m", "n": n})
            sent.append(n)
            n += 1
            await asyncio.sleep(0.01)

    task = asyncio.ensure_future(traffic())
    await async_wait_until(lambda: len(sent) > 20, 5, "traffic flowing")
    at_kill = len(sent)
    group.server_on(old_port).kill()
    new_port = await asyncio.to_thread(group.wait_failover, old_port, 15)
    # Following: within one health interval (plus a connection set-up) of the switch.
    await async_wait_until(
        lambda: all(
            layer.health()[0].primary == f"127.0.0.1:{new_port}" and layer.health()[0].healthy
            for layer in (sender, receiver)
        ),
        INTERVAL + 2.0,
        "both layers follow the new primary",
    )
    count = len(sent)
    await async_wait_until(lambda: len(sent) > count + 20, 5, "traffic flows again")
    stop.set()
    await task
    received = []
    while True:
        try:
            received.append((await asyncio.wait_for(receiver.receive(channel), 1))["n"])
        except TimeoutError:
            break
    assert received == sorted(received), "order kept"
    assert set(range(count, len(sent))) <= set(received), "everything after the switch arrived"
    # Pub/sub loses what is published while a subscriber is away: only inside the failover
    # window (the publishes that failed outright were counted).
    lost = set(range(len(sent))) - set(received)
    assert all(at_kill - 10 <= n < count for n in lost), f"lost outside the failover: {lost}"
    assert sender.stats()["group_messages_dropped"] > 0
