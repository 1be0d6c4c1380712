"""The cluster end to end: 2 real redis-server processes and 3 real daphne nodes with different
REALTIME_SERVER_NAMEs, clients spread over the nodes (issue 5's acceptance)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from tests.support.cluster import Cluster
from tests.support.wsclient import ProtocolClient

pytestmark = pytest.mark.e2e

NAMES = ["n1", "n2", "n3"]
ROOMS = ["1000", "1001", "1002"]


@pytest.fixture
def cluster():
    started = Cluster(NAMES, redis_count=2).start()
    yield started
    started.cleanup()


async def connect_players(cluster: Cluster) -> tuple[dict[int, ProtocolClient], dict[int, str]]:
    """The original ws-cross-server example: 50 clients spread over the nodes, 10 in rooms."""
    players = {}
    for player in range(1, 51):
        players[player] = await cluster.client(NAMES[player % 3], f"/ws/?id={player}")
    chosen = random.Random(7).sample(range(1, 51), 10)
    rooms = {player: ROOMS[index % 3] for index, player in enumerate(chosen)}
    for player, room in rooms.items():
        reply = await players[player].call("joinRoom", {"roomId": room})
        assert reply["payload"] == {"msg": f"Successfully joined the roomId:{room}"}
    return players, rooms


async def boss_command(boss: ProtocolClient, payload: dict) -> None:
    reply = await boss.call("command", payload)
    assert reply["payload"] == {"msg": f"Message sent successfully [action:{payload['action']}] "}


async def assert_exact_pushes(clients: dict, expected: dict, timeout: float = 10) -> None:
    for player, client in clients.items():
        await client.wait_pushes(len(expected[player]), timeout)
    await asyncio.sleep(0.3)  # an extra push would have arrived by now (absence cannot be awaited)
    for player, client in clients.items():
        got = sorted((p["payload"]["action"], p["payload"]["msg"]) for p in client.pushes)
        assert got == sorted(expected[player]), f"player {player} got {got}"


async def run_scenario(cluster: Cluster, between_commands=None) -> None:
    await cluster.wait_for_members(NAMES, via="n1")
    players, rooms = await connect_players(cluster)
    boss = await cluster.client("n1", "/ws/?id=555")
    everyone = {**players, 555: boss}
    expected: dict[int, list] = {player: [] for player in everyone}
    commands = [
        ({"action": "broadcast", "msg": "Hello every one"}, list(everyone)),
        ({"action": "toPlayer", "msg": "Hello player 13 ", "toPlayerId": "13"}, [13]),
        (
            {
                "action": "toPlayers",
                "msg": "Hello group players ",
                "toPlayerIds": ["3", "10", "25", "37"],
            },
            [3, 10, 25, 37],
        ),
        (
            {"action": "toRoom", "msg": "Hello room players ", "roomId": "1000"},
            [p for p, room in rooms.items() if room == "1000"],
        ),
    ]
    try:
        for index, (payload, receivers) in enumerate(commands):
            await boss_command(boss, payload)
            for player in receivers:
                expected[player].append((payload["action"], payload["msg"]))
            await assert_exact_pushes(everyone, expected)
            if between_commands is not None:
                await between_commands(index)
    finally:
        for client in everyone.values():
            await client.close()


async def test_original_ws_cross_server_scenario(cluster):
    await run_scenario(cluster)


async def test_every_push_arrives_with_a_redis_node_killed_mid_scenario(cluster):
    async def kill_first_redis(index: int) -> None:
        if index == 0:
            cluster.redis[0].kill()

    await run_scenario(cluster, kill_first_redis)


async def test_cross_server_call_with_a_dead_node(cluster):
    await cluster.wait_for_members(NAMES, via="n1")
    caller = await cluster.client("n1", "/ws/?id=caller")
    try:
        answer = (await caller.call("serverCall", "all"))["payload"]
        assert answer == {"success": True, "nodes": NAMES, "missing": []}

        cluster.nodes["n3"].kill()
        started = time.monotonic()
        answer = (await caller.call("serverCall", "one dead", timeout=10))["payload"]
        elapsed = time.monotonic() - started
        assert elapsed < 3.0 + 1.0, f"the call took {elapsed:.1f}s with a 3s timeout"
        if not answer["success"]:  # membership had not dropped n3 yet
            assert answer == {"success": False, "nodes": ["n1", "n2"], "missing": ["n3"]}

        await cluster.wait_for_members(["n1", "n2"], via="n1", timeout=3 + 2)
        answer = (await caller.call("serverCall", "after"))["payload"]
        assert answer == {"success": True, "nodes": ["n1", "n2"], "missing": []}
    finally:
        await caller.close()


async def test_client_answered_from_another_node_and_kick_across_nodes(cluster):
    await cluster.wait_for_members(NAMES, via="n1")
    client = await cluster.client("n1", "/ws/?id=asker")
    first = await cluster.client("n1", "/ws/?id=77")
    try:
        reply = await client.call("forward", {"node": "n2", "data": [1, 2]})
        assert reply == {
            "payload": {"answeredBy": "n2", "data": [1, 2]},
            "callbackId": reply["callbackId"],
        }
        assert reply["callbackId"].startswith("t-")

        second = await cluster.client("n3", "/ws/?id=77&kick=1")
        assert await first.wait_closed() == 4012
        assert first.close_reason == "Logged in elsewhere"
        assert (await second.call("echo", "still here"))["payload"] == {"echo": "still here"}
        await second.close()
    finally:
        await client.close()
        await first.close()


async def test_killed_node_disappears_from_cluster_queries(cluster):
    await cluster.wait_for_members(NAMES, via="n2")
    doomed = await cluster.client("n3", "/ws/?id=31")
    survivor = await cluster.client("n1", "/ws/?id=32")
    asker = await cluster.client("n2", "/ws/?id=asker")
    try:
        for client in (doomed, survivor):
            await client.call("joinRoom", {"roomId": "rk"})
        assert (await asker.call("whereIs", "31"))["payload"] == ["n3"]
        assert (await asker.call("roomMembers", {"room": "rk"}))["payload"] == ["31", "32"]

        cluster.nodes["n3"].kill()
        killed = time.monotonic()
        await cluster.wait_for_members(["n1", "n2"], via="n2", timeout=3 + 2)
        assert time.monotonic() - killed < 3 + 2
        assert (await asker.call("whereIs", "31"))["payload"] == []
        assert (await asker.call("roomMembers", {"room": "rk"}))["payload"] == ["32"]
    finally:
        for client in (doomed, survivor, asker):
            await client.close()
