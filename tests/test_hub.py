"""The hub: local registry semantics, and cross-node fan-out over a Channels layer.

Two hubs sharing one in-memory layer behave as two server nodes: everything between them
goes through the layer API, so this is the same path the Redis layer carries.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import InMemoryChannelLayer

from realtime.connection.socket import Socket
from realtime.hub import Hub, UserNotBound, UserNotConnected
from realtime.node.features import LayerFeatures
from realtime.testing import InProcessLayer as SharedLayer
from realtime.testing import attach as connect
from realtime.wire import names
from tests.support.waiting import async_wait_until


@pytest.fixture
async def cluster():
    layer = SharedLayer()
    hubs = [Hub(layer=layer, name="a"), Hub(layer=layer, name="b")]
    yield layer, hubs
    for hub in hubs:
        await hub.stop()


def test_process_local_layers():
    assert LayerFeatures.of(None).process_local
    assert LayerFeatures.of(InMemoryChannelLayer()).process_local
    assert not LayerFeatures.of(SharedLayer()).process_local


class TestLocal:
    async def test_rooms_and_queries(self):
        hub = Hub(layer=None)
        s1, _ = await connect(hub, "u1")
        await connect(hub, "u2")
        await hub.join_room("app:chat:game:hot", "r 1", "u1")
        await hub.join_room("app:chat:game:hot", "r 1", "u2")
        await hub.join_room("chat", 1000, "u1")
        assert hub.room_members("app:chat:game:hot", "r 1") == {"u1", "u2"}
        assert hub.room_member_count("app:chat:game:hot", "r 1") == 2
        assert hub.user_rooms("u1") == {("app:chat:game:hot", "r 1"), ("chat", "1000")}
        assert hub.is_member("chat", "1000", "u1") and not hub.is_member("chat", "1000", "u2")
        await hub.leave_room("chat", "1000", "u1")
        assert hub.room_count == 1
        await hub.remove_room("app:chat:game:hot", "r 1")
        assert hub.room_count == 0 and hub.user_rooms("u1") == set()
        assert s1.rooms == set()

    async def test_join_requires_a_local_connection(self):
        hub = Hub(layer=None)
        with pytest.raises(UserNotConnected):
            await hub.join_room("chat", "1", "ghost")
        socket, _ = await connect(hub)
        with pytest.raises(UserNotBound):
            await socket.join("chat", "1")
        with pytest.raises(ValueError, match="namespace"):
            hub.room_members("", "1")

    async def test_sends(self):
        hub = Hub(layer=None)
        _anonymous, anon_rec = await connect(hub)
        _, rec1 = await connect(hub, "1")
        _, rec1b = await connect(hub, "1")  # a second tab of user 1
        _, rec2 = await connect(hub, "2")
        await hub.join_room("chat", "r", "1")
        await hub.join_room("chat", "r", "2")

        await hub.broadcast("all", 1)
        await hub.to_user(1, "one", 2)
        await hub.to_users(["2", 2, "nobody"], "many", 3)
        await hub.to_room("chat", "r", "room", 4, exclude=["2"])
        assert anon_rec.frames == ['{"event":"all","payload":1}']
        assert (
            rec1.frames
            == rec1b.frames
            == [
                '{"event":"all","payload":1}',
                '{"event":"one","payload":2}',
                '{"event":"room","payload":4}',
            ]
        )
        assert rec2.frames == ['{"event":"all","payload":1}', '{"event":"many","payload":3}']

    async def test_user_leaves_rooms_with_last_connection_only(self):
        hub = Hub(layer=None)
        first, _ = await connect(hub, "1")
        second, _ = await connect(hub, "1")
        await hub.join_room("chat", "r", "1")
        await hub.unregister(first)
        assert hub.is_member("chat", "r", "1")
        await hub.unbind_socket(second)
        assert not hub.is_member("chat", "r", "1") and not hub.is_connected("1")

    async def test_kick_previous_closes_older_connections_4012(self):
        hub = Hub(layer=None)
        _, old = await connect(hub, "1")
        newer, newer_rec = await connect(hub)
        await hub.bind_user("1", newer, kick_previous=True)
        assert old.closes == [(4012, "Logged in elsewhere")]
        assert newer_rec.closes == []
        assert list(hub.local.user_sockets("1")) == [newer]

    async def test_rebinding_a_socket_moves_it(self):
        hub = Hub(layer=None)
        socket, _ = await connect(hub, "1")
        await hub.join_room("chat", "r", "1")
        await hub.bind_user("2", socket)
        assert not hub.is_connected("1") and hub.is_connected("2")
        assert hub.room_members("chat", "r") == set()

    async def test_a_failing_recipient_does_not_stop_fan_out(self):
        hub = Hub(layer=None)

        async def broken(message):
            raise ConnectionError("gone")

        bad = Socket({"type": "websocket", "path": "/", "query_string": b""}, broken, hub)
        await hub.register(bad)
        _, good = await connect(hub)
        await hub.broadcast("x")
        assert good.frames == ['{"event":"x"}']


class TestAcrossNodes:
    async def test_every_send_reaches_the_other_node(self, cluster):
        _layer, (a, b) = cluster
        _, on_a = await connect(a, "1")
        _, on_b = await connect(b, "2")
        await b.join_room("chat", "r", "2")
        await a.broadcast("all")
        await a.to_user("2", "direct")
        await a.to_users(["1", "2"], "many")
        await a.to_room("chat", "r", "room")
        expected_b = [
            '{"event":"all"}',
            '{"event":"direct"}',
            '{"event":"many"}',
            '{"event":"room"}',
        ]
        await async_wait_until(lambda: on_b.frames == expected_b, 2, f"node b got {on_b.frames}")
        # Node a got its own local copies once, never its own publishes back.
        await asyncio.sleep(0.05)
        assert on_a.frames == ['{"event":"all"}', '{"event":"many"}']

    async def test_one_layer_message_per_node_not_per_connection(self, cluster):
        layer, (a, b) = cluster
        receivers = [await connect(b, str(uid)) for uid in range(50)]
        for uid in range(50):
            await b.join_room("chat", "big", str(uid))
        layer.group_sends.clear()
        await a.to_room("chat", "big", "hello", {"n": 1})
        sends = [group for group, msg in layer.group_sends if msg["type"] != "realtime.presence"]
        assert sends == [names.room_group("chat", "big")]
        await async_wait_until(
            lambda: all(rec.frames for _, rec in receivers), 2, "not every member got the frame"
        )
        assert {rec.frames[0] for _, rec in receivers} == {'{"event":"hello","payload":{"n":1}}'}

    async def test_room_exclude_applies_on_every_node(self, cluster):
        _, (a, b) = cluster
        _, rec1 = await connect(b, "1")
        _, rec2 = await connect(b, "2")
        await b.join_room("chat", "r", "1")
        await b.join_room("chat", "r", "2")
        await a.to_room("chat", "r", "x", exclude=["1"])
        await async_wait_until(lambda: rec2.frames, 2, "member 2 got nothing")
        assert rec1.frames == []

    async def test_node_leaves_room_group_with_last_member(self, cluster):
        _, (_a, b) = cluster
        await connect(b, "1")
        group = names.room_group("chat", "r")
        await b.join_room("chat", "r", "1")
        assert group in b.link.groups
        await b.leave_room("chat", "r", "1")
        assert group not in b.link.groups

    async def test_leave_then_rejoin_race_keeps_the_node_subscribed(self, cluster):
        _, (a, b) = cluster
        _, rec = await connect(b, "1")
        await connect(b, "2")
        operations = []
        for i in range(20):
            uid = str(i % 2 + 1)
            operations += [b.join_room("chat", "r", uid), b.leave_room("chat", "r", uid)]
        operations.append(b.join_room("chat", "r", "1"))
        await asyncio.gather(*operations)
        assert b.is_member("chat", "r", "1")
        assert names.room_group("chat", "r") in b.link.groups
        await a.to_room("chat", "r", "after-race")
        await async_wait_until(lambda: rec.frames, 2, "the member was deaf after the race")

    async def test_kick_previous_across_nodes(self, cluster):
        _, (a, b) = cluster
        _, old = await connect(a, "7")
        await a.join_room("chat", "r", "7")
        newer, _ = await connect(b)
        await b.bind_user("7", newer, kick_previous=True)
        await async_wait_until(lambda: old.closes, 2, "the old connection was not kicked")
        assert old.closes == [(4012, "Logged in elsewhere")]
        assert not a.is_connected("7") and not a.is_member("chat", "r", "7")
        assert names.user_group("7") not in a.link.groups
        assert b.is_connected("7")

    async def test_single_node_layer_publishes_nothing(self):
        layer = InMemoryChannelLayer()
        hub = Hub(layer=layer)
        await connect(hub, "1")
        await hub.broadcast("x")
        assert not hub.distributed and hub.link.channel is None
        assert layer.channels == {}


async def test_rebinding_the_same_user_keeps_rooms_and_can_kick():
    hub = Hub(layer=None)
    _, old = await connect(hub, "1")
    newer, _ = await connect(hub, "1")
    await hub.join_room("chat", "r", "1")
    await hub.bind_user("1", newer, kick_previous=True)
    assert old.closes == [(4012, "Logged in elsewhere")]
    assert hub.is_member("chat", "r", "1") and list(hub.local.user_sockets("1")) == [newer]


class TestOversizePushes:
    async def test_refused_once_before_any_recipient(self, settings):
        from realtime.metrics import metrics
        from realtime.wire.frames import FrameTooLarge

        settings.REALTIME = {**settings.REALTIME, "MAX_FRAME_BYTES": 1000}
        hub = Hub(layer=None)
        recorders = [(await connect(hub, f"u{n}"))[1] for n in range(3)]
        with pytest.raises(FrameTooLarge, match="exceeds MAX_FRAME_BYTES"):
            await hub.broadcast("big", "x" * 2000)
        # One that arrives from another node (its limit may differ) is dropped once.
        before = metrics.get("oversize_frames_dropped")
        frame = '{"event":"big","payload":"' + "é" * 600 + '"}'
        assert await hub.deliver(list(hub.local.sockets.values()), frame) == 0
        assert metrics.get("oversize_frames_dropped") == before + 1
        assert all(recorder.frames == [] for recorder in recorders)
        await hub.broadcast("small", "x" * 100)
        assert all(len(recorder.frames) == 1 for recorder in recorders)


async def test_a_single_node_hub_starts_its_node_once():
    hub = Hub(layer=None, name="solo")
    starts = []
    original = hub.start_node

    async def counted() -> None:
        starts.append(1)
        await original()

    hub.start_node = counted  # type: ignore[method-assign]
    for _ in range(3):
        await connect(hub)
    assert starts == [1]
    await hub.stop()
