"""Membership, cross-server calls and cluster queries with three hubs as three nodes.

The hubs share one in-memory layer; every message between them goes through the layer API,
the same path the Redis layer carries between processes (tests/e2e covers that).
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from django.test import override_settings

from realtime import api as cluster_queries
from realtime import signals
from realtime.cluster.calls import CrossServerResult
from realtime.connection.acks import Ack
from realtime.connection.handlers import Registry
from realtime.hub import Hub, set_hub
from realtime.testing import InProcessLayer as SharedLayer
from realtime.testing import attach as connect
from tests.support.waiting import async_wait_until

FAST = {"NODE_HEARTBEAT_INTERVAL": 0.05, "NODE_MISSED_HEARTBEATS": 3}


def answering_registry() -> Registry:
    registry = Registry()

    async def whoami(message, reply):
        await reply({"node": message.payload["node"], "from": message.sender})

    async def slow(message, reply):
        await asyncio.sleep(message.payload)
        return "late"

    async def explode(message, reply):
        raise RuntimeError("no")

    registry.add_cross_server("whoami", whoami)
    registry.add_cross_server("slow", slow)
    registry.add_cross_server("explode", explode)
    return registry


@pytest.fixture
async def nodes():
    layer = SharedLayer()
    made: list[Hub] = []

    async def start(*names: str, registry: Registry | None = None) -> list[Hub]:
        hubs = [
            Hub(layer=layer, name=name, handlers=registry or answering_registry()) for name in names
        ]
        for hub in hubs:
            await hub.start_node()
        made.extend(hubs)
        return hubs

    with override_settings(REALTIME=FAST):
        yield layer, start
        for hub in made:
            await hub.stop()


async def converged(hubs: list[Hub], names: list[str]) -> None:
    await async_wait_until(
        lambda: all(hub.cluster.live_names() == names for hub in hubs),
        3,
        f"membership did not converge to {names}: {[h.cluster.live_names() for h in hubs]}",
    )


class TestMembership:
    async def test_nodes_see_each_other_with_their_status(self, nodes):
        _, start = nodes
        a, b, c = await start("a", "b", "c")
        await connect(b, "u1")
        await b.join_room("chat", "1", "u1")
        await converged([a, b, c], ["a", "b", "c"])
        await async_wait_until(
            lambda: a.cluster.peers["b"].connections == 1, 3, "a never saw b's connection"
        )
        info = a.cluster.peers["b"]
        assert (info.rooms, info.users, info.instance) == (1, 1, b.instance_id)
        assert info.pid > 0 and info.host and info.version
        assert [n.name for n in a.cluster.live_nodes()] == ["a", "b", "c"]

    async def test_silent_or_leaving_nodes_are_dropped_with_signals(self, nodes):
        _, start = nodes
        joined, left = [], []

        def on_joined(sender, name, info, **kwargs):
            joined.append(name)

        def on_left(sender, name, info, **kwargs):
            left.append(name)

        signals.node_joined.connect(on_joined)
        signals.node_left.connect(on_left)
        try:
            a, b, c = await start("a", "b", "c")
            await converged([a, b, c], ["a", "b", "c"])
            assert {"b", "c"} <= set(joined)
            b.cluster._task.cancel()  # b goes silent as a crashed process would
            await async_wait_until(lambda: "b" not in a.cluster.live_names(), 2, "b not dropped")
            await async_wait_until(lambda: left == ["b", "b"], 2, f"a and c must drop b: {left}")
            await c.stop()  # a graceful stop announces the departure: dropped at once
            assert await async_wait_until(
                lambda: a.cluster.live_names() == ["a"], 0.04, "c not dropped at once"
            )
        finally:
            signals.node_joined.disconnect(on_joined)
            signals.node_left.disconnect(on_left)

    async def test_duplicate_server_names_are_reported(self, nodes, caplog):
        _, start = nodes
        reported = []

        def on_duplicate(sender, name, instances, **kwargs):
            reported.append((name, len(instances)))

        signals.duplicate_server_name.connect(on_duplicate)
        try:
            with caplog.at_level(logging.ERROR, logger="realtime"):
                first, _second = await start("same", "same")
                await async_wait_until(lambda: reported, 3, "no duplicate reported")
        finally:
            signals.duplicate_server_name.disconnect(on_duplicate)
        assert reported[0] == ("same", 2)
        assert "DUPLICATE SERVER NAME 'same'" in caplog.text
        assert "same" in first.cluster.duplicates

    async def test_restart_with_the_same_name_is_not_a_duplicate(self, nodes):
        _, start = nodes
        (a,) = await start("a")
        (b1,) = await start("b")
        await converged([a, b1], ["a", "b"])
        await b1.stop()
        (b2,) = await start("b")
        await async_wait_until(
            lambda: a.cluster.peers.get("b") and a.cluster.peers["b"].instance == b2.instance_id,
            3,
            "the restarted b was not seen",
        )
        await asyncio.sleep(0.2)
        assert a.cluster.duplicates == set()


class TestCrossServer:
    async def test_call_to_all_nodes_collects_every_reply(self, nodes):
        _, start = nodes
        a, b, c = await start("a", "b", "c")
        await converged([a, b, c], ["a", "b", "c"])
        result = await a.cross_server.emit("whoami", {"node": "?"}, timeout=2)
        assert result == CrossServerResult(
            success=True,
            expected=3,
            responses={n: {"node": "?", "from": "a"} for n in ("a", "b", "c")},
        )

    async def test_targets_and_except_self(self, nodes):
        _layer, start = nodes
        a, b, c = await start("a", "b", "c")
        await converged([a, b, c], ["a", "b", "c"])
        only_b = await a.cross_server.emit("whoami", {"node": 1}, targets=["b"])
        assert (only_b.success, list(only_b.responses)) == (True, ["b"])
        others = await a.cross_server.emit("whoami", {"node": 1}, except_self=True)
        assert sorted(others.responses) == ["b", "c"] and others.expected == 2

    async def test_local_handler_runs_without_the_layer(self, nodes):
        layer, start = nodes
        (a,) = await start("a")
        layer.group_sends.clear()
        result = await a.cross_server.emit("whoami", {"node": 1}, targets=["a"])
        assert result.responses == {"a": {"node": 1, "from": "a"}}
        assert layer.carried("realtime.call") == [] and layer.carried("realtime.reply") == []

    async def test_replies_go_to_the_caller_only(self, nodes):
        layer, start = nodes
        a, b, c = await start("a", "b", "c")
        await converged([a, b, c], ["a", "b", "c"])
        await a.cross_server.emit("whoami", {"node": 1})
        replies = layer.carried("realtime.reply")
        assert len(replies) == 2
        assert {to for to, _ in replies} == {a.link.channel}
        assert all(
            to == a.link.channel for to, _ in layer.sends if _.get("type") == "realtime.reply"
        )
        assert not [m for _, m in layer.group_sends if m["type"] == "realtime.reply"]

    async def test_unknown_target_and_missing_handler_are_reported(self, nodes):
        _, start = nodes
        (a,) = await start("a")
        (b,) = await start("b", registry=Registry())  # b has no handlers at all
        await converged([a, b], ["a", "b"])
        result = await a.cross_server.emit(
            "whoami", {"node": 1}, targets=["a", "b", "zed"], timeout=2
        )
        assert result.unknown == ["zed"]
        assert result.errors == {
            "b": {"error": "No handler for 'whoami' on b", "errorCode": "NO_HANDLER"}
        }
        assert result.responses == {"a": {"node": 1, "from": "a"}}
        assert result.expected == 2 and result.missing == [] and not result.success

    async def test_failing_handler_is_reported(self, nodes):
        _, start = nodes
        a, b = await start("a", "b")
        await converged([a, b], ["a", "b"])
        result = await a.cross_server.emit("explode", None)
        assert set(result.errors) == {"a", "b"}
        assert result.errors["b"]["errorCode"] == "HANDLER_ERROR"

    async def test_dead_node_named_in_missing_then_dropped_from_expected(self, nodes):
        _, start = nodes
        a, b, c = await start("a", "b", "c")
        await converged([a, b, c], ["a", "b", "c"])
        await c.stop()
        result = await a.cross_server.emit("whoami", {"node": 1}, timeout=0.1)
        if "c" in a.cluster.live_names():  # not yet dropped by membership
            assert result.missing == ["c"] and not result.success
        await async_wait_until(lambda: a.cluster.live_names() == ["a", "b"], 2, "c not dropped")
        result = await a.cross_server.emit("whoami", {"node": 1}, timeout=1)
        assert result.success and result.expected == 2

    async def test_timeout_names_slow_nodes(self, nodes):
        _, start = nodes
        a, b = await start("a", "b")
        await converged([a, b], ["a", "b"])
        result = await a.cross_server.emit("slow", 0.5, targets=["b"], timeout=0.1)
        assert (result.success, result.missing, result.responses) == (False, ["b"], {})

    async def test_stream_yields_replies_as_they_arrive(self, nodes):
        _, start = nodes
        a, b = await start("a", "b")
        await converged([a, b], ["a", "b"])
        order = [reply.node async for reply in a.cross_server.stream("whoami", {"node": 1})]
        assert order[0] == "a" and sorted(order) == ["a", "b"]

    async def test_duplicate_replies_of_one_node_count_once(self, nodes):
        _, start = nodes
        a, _b1, _b2 = await start("a", "b", "b")  # two processes wrongly share the name "b"
        await converged([a], ["a", "b"])
        result = await a.cross_server.emit("whoami", {"node": 1}, expected_responses=3, timeout=0.3)
        assert sorted(result.responses) == ["a", "b"] and not result.success

    async def test_invalid_arguments(self, nodes):
        _, start = nodes
        (a,) = await start("a")
        with pytest.raises(ValueError, match="non-empty string"):
            await a.cross_server.emit("", 1)
        with pytest.raises(ValueError, match="timeout"):
            await a.cross_server.emit("whoami", 1, timeout=0)
        with pytest.raises(ValueError, match="expected_responses"):
            await a.cross_server.emit("whoami", 1, expected_responses=-1)

    async def test_notify_does_not_wait(self, nodes):
        layer, start = nodes
        a, b = await start("a", "b")
        await converged([a, b], ["a", "b"])
        await a.cross_server.notify("whoami", {"node": 1}, targets=["b"])
        calls = layer.carried("realtime.call")
        assert len(calls) == 1 and "reply" not in calls[0][1]


class TestAcrossNodes:
    async def test_client_answered_from_another_node(self, nodes):
        _, start = nodes
        a, b = await start("a", "b")
        socket, recorder = await connect(a, "u1")
        ack = Ack(socket, "cb-17")
        ref = ack.forward()
        assert ack.done and ref["node"] == "a"
        await b.reply_to_client(ref, {"answer": 42})
        await async_wait_until(lambda: recorder.frames, 2, "the reply never reached the client")
        assert recorder.frames == ['{"payload":{"answer":42},"callbackId":"cb-17"}']

    async def test_where_is_and_cluster_room_members(self, nodes):
        _, start = nodes
        a, b, c = await start("a", "b", "c")
        await converged([a, b, c], ["a", "b", "c"])
        await connect(b, "u1")
        await connect(c, "u1")
        await connect(c, "u2")
        await b.join_room("chat", "r", "u1")
        await c.join_room("chat", "r", "u1")
        await c.join_room("chat", "r", "u2")
        set_hub(a)
        assert await cluster_queries.where_is("u1") == ["b", "c"]
        assert await cluster_queries.where_is("nobody") == []
        assert await cluster_queries.cluster_room_members("chat", "r") == {"u1", "u2"}
        assert await cluster_queries.cluster_room_member_count("chat", "r") == 2
        assert [n.name for n in await cluster_queries.live_nodes()] == ["a", "b", "c"]


async def test_lifespan_starts_and_stops_the_node():
    from channels.testing import ApplicationCommunicator

    from realtime.startup import LifespanApp

    layer = SharedLayer()
    hub = Hub(layer=layer, name="life")
    set_hub(hub)
    with override_settings(REALTIME=FAST):
        app = ApplicationCommunicator(LifespanApp(), {"type": "lifespan"})
        await app.send_input({"type": "lifespan.startup"})
        assert await app.receive_output(2) == {"type": "lifespan.startup.complete"}
        assert hub.link.is_node and hub.cluster._task is not None
        await app.send_input({"type": "lifespan.shutdown"})
        assert await app.receive_output(2) == {"type": "lifespan.shutdown.complete"}
        assert not hub.link.is_node and hub.cluster._task is None


async def test_lifespan_refuses_to_start_with_a_check_error():
    from channels.testing import ApplicationCommunicator

    from realtime.startup import LifespanApp

    broken = {"default": {"BACKEND": "realtime.layers.MultiRedisChannelLayer",
                          "CONFIG": {"nodes": ["http://not-redis"]}}}  # fmt: skip
    with override_settings(REALTIME=FAST, CHANNEL_LAYERS=broken):
        app = ApplicationCommunicator(LifespanApp(), {"type": "lifespan"})
        await app.send_input({"type": "lifespan.startup"})
        reply = await app.receive_output(2)
    assert reply["type"] == "lifespan.startup.failed"
    assert "realtime.E005: CHANNEL_LAYERS['default']" in reply["message"]


async def test_a_redis_health_change_is_announced_at_once():
    layer = SharedLayer()
    a, b = Hub(layer=layer, name="a"), Hub(layer=layer, name="b")
    with override_settings(REALTIME={"NODE_HEARTBEAT_INTERVAL": 30.0}):
        try:
            for hub in (a, b):
                await hub.start_node()
            await async_wait_until(lambda: "a" in b.cluster.peers, 3, "b never heard a")
            first_seen = b.cluster.peers["a"].last_seen
            signals.redis_health_changed.send(sender=object, layer=SharedLayer(), event="down")
            await asyncio.sleep(0.2)
            assert b.cluster.peers["a"].last_seen == first_seen, "another layer's change counted"
            signals.redis_health_changed.send(sender=object, layer=layer, event="down")
            await async_wait_until(
                lambda: b.cluster.peers["a"].last_seen > first_seen,
                2,
                "a did not announce its Redis health change before the 30 s interval",
            )
        finally:
            for hub in (a, b):
                await hub.stop()
