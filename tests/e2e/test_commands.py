"""Management commands as subprocesses against live daphne nodes, with real clients asserting
they received exactly what was emitted (issue 6)."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from tests.support.cluster import Cluster
from tests.support.processes import run_manage
from tests.support.redis import RedisServer

pytestmark = pytest.mark.e2e


def manage(
    cluster: Cluster, *args: str, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    urls = [server.url for server in cluster.redis] + list(extra)
    return run_manage(*args, redis_urls=urls)


@pytest.fixture(scope="module")
def cluster():
    started = Cluster(["n1", "n2"], redis_count=2).start()
    yield started
    started.cleanup()


@pytest.fixture
async def players(cluster):
    clients = {
        "5": await cluster.client("n2", "/ws/?id=5"),
        "6": await cluster.client("n1", "/ws/?id=6"),
    }
    await cluster.wait_for_members(["n1", "n2"], via="n1")
    yield clients
    for client in clients.values():
        await client.close()


async def test_push_commands_reach_exactly_their_targets(cluster, players):
    for client in players.values():
        await client.call("joinRoom", {"roomId": "r"})
    runs = [
        (("broadcast", "hello", '{"x": 1}'), "Sent 'hello' to every connection."),
        (("user", "5", "dm"), "Sent 'dm' to user 5."),
        (("users", "5,6", "multi", "[1, 2]"), "Sent 'multi' to users 5, 6."),
        (
            ("room", "chat", "r", "roomEvt", '"hi"', "--exclude", "6"),
            "Sent 'roomEvt' to room chat/r.",
        ),
    ]
    for argv, output in runs:
        done = manage(cluster, "realtime_emit", *argv)
        assert (done.returncode, done.stdout.strip()) == (0, output), done.stderr
    await players["5"].wait_pushes(4)
    await players["6"].wait_pushes(2)
    assert players["5"].pushes == [
        {"event": "hello", "payload": {"x": 1}},
        {"event": "dm"},
        {"event": "multi", "payload": [1, 2]},
        {"event": "roomEvt", "payload": "hi"},
    ]
    assert players["6"].pushes == [
        {"event": "hello", "payload": {"x": 1}},
        {"event": "multi", "payload": [1, 2]},
    ]


async def test_server_command_shows_every_reply(cluster, players):
    done = manage(cluster, "realtime_emit", "--json", "server", "ping", '{"a": 1}')
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["success"] and result["missing"] == [] and result["expected"] == 2
    assert {node: reply["node"] for node, reply in result["responses"].items()} == {
        "n1": "n1",
        "n2": "n2",
    }
    table = manage(cluster, "realtime_emit", "server", "ping", "--timeout", "2")
    assert table.returncode == 0 and "Replies (2 of 2 expected)" in table.stdout


@pytest.mark.parametrize("first", [True, False], ids=["json-first", "json-last"])
async def test_every_command_prints_json_with_the_flag_before_or_after(cluster, players, first):
    def json_of(name: str, *argv: str):
        line = ["--json", *argv] if first else [*argv, "--json"]
        done = manage(cluster, name, *line)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert json_of("realtime_emit", "user", "5", "dm", '{"n": 1}') == {
        "event": "dm",
        "sent": True,
        "to": "user 5",
    }
    await players["5"].wait_pushes(1)
    assert players["5"].pushes == [{"event": "dm", "payload": {"n": 1}}]
    called = json_of("realtime_emit", "server", "ping", "--timeout", "3")
    assert called["success"] and sorted(called["responses"]) == ["n1", "n2"]
    status = json_of("realtime_status", "--wait", "1.5")
    assert sorted(node["name"] for node in status["nodes"]) == ["n1", "n2"]


async def test_status_command(cluster, players):
    done = manage(cluster, "realtime_status", "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    nodes = {node["name"]: node for node in status["nodes"]}
    assert sorted(nodes) == ["n1", "n2"]
    assert nodes["n1"]["connections"] >= 1 and nodes["n2"]["connections"] >= 1
    assert status["redis_nodes"] == sorted(s.address for s in cluster.redis)
    assert all(entry["healthy"] for node in nodes.values() for entry in node["redis"])
    table = manage(cluster, "realtime_status")
    assert "Server nodes (2 live)" in table.stdout and "healthy" in table.stdout


async def test_redis_add_and_remove_on_every_node(cluster, players):
    extra = RedisServer()
    extra.start()
    try:
        added = manage(cluster, "realtime_redis", "add", extra.url)
        assert added.returncode == 0, added.stdout + added.stderr
        assert added.stdout.count("3 Redis nodes now") == 2
        status = manage(cluster, "realtime_status", "--json", extra=(extra.url,))
        assert extra.address in json.loads(status.stdout)["redis_nodes"]
        # While the nodes use it, the commands must read it too (announcements and replies
        # may travel through it): their settings list it, as the docs say.
        removed = manage(
            cluster, "realtime_redis", "remove", extra.url, "--json", extra=(extra.url,)
        )
        assert removed.returncode == 0, removed.stdout + removed.stderr
        result = json.loads(removed.stdout)
        assert result["success"] and sorted(result["responses"]) == ["n1", "n2"]
        assert {reply["nodes"] for reply in result["responses"].values()} == {2}
        status = json.loads(manage(cluster, "realtime_status", "--json", "--wait", "3").stdout)
        assert extra.address not in status["redis_nodes"]
        again = manage(cluster, "realtime_redis", "--json", "add", extra.url)
        assert again.returncode == 0, again.stdout + again.stderr
        assert {r["nodes"] for r in json.loads(again.stdout)["responses"].values()} == {3}
        manage(cluster, "realtime_redis", "remove", extra.url, extra=(extra.url,))
    finally:
        extra.cleanup()


async def test_server_command_names_a_killed_node_as_missing():
    patient = {"DJANGO_SETTINGS_MODULE": "tests.e2e.patient_membership_settings"}
    cluster = Cluster(["k1", "k2", "k3"], redis_count=1, env=patient).start()
    try:
        await cluster.wait_for_members(["k1", "k2", "k3"], via="k1")
        cluster.nodes["k3"].kill()
        done = manage(cluster, "realtime_emit", "server", "ping", "--timeout", "1")
        assert done.returncode == 1
        assert "k3" in done.stdout and "MISSING" in done.stdout
        assert "Cross-server call incomplete: no reply from k3" in done.stderr
    finally:
        cluster.cleanup()


async def test_redis_passwords_never_shown_nor_readable_on_the_bus(cluster, players):
    import secrets

    import redis.asyncio

    password = f"pw-{secrets.token_hex(8)}"
    extra = RedisServer(password=password)
    extra.start()
    listeners = [redis.asyncio.Redis.from_url(server.url) for server in cluster.redis]
    seen: list[bytes] = []
    pubsubs = [listener.pubsub() for listener in listeners]

    async def record(pubsub) -> None:
        async for message in pubsub.listen():
            if message["type"] == "pmessage":
                seen.append(message["data"])

    for pubsub in pubsubs:
        await pubsub.psubscribe("*")
    tasks = [asyncio.ensure_future(record(pubsub)) for pubsub in pubsubs]

    async def run(*args: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(manage, cluster, "realtime_redis", *args, extra=extra)

    try:
        added = await run("add", extra.url)
        assert added.returncode == 0, added.stdout + added.stderr
        assert added.stdout.count("3 Redis nodes now") == 2  # the nodes could log in
        assert password not in added.stdout + added.stderr
        assert f"add redis://:***@127.0.0.1:{extra.port}/0" in added.stdout
        # Once added, the nodes may announce themselves on it: a later command knows it too.
        removed = await run("remove", extra.url, extra=(extra.url,))
        assert removed.returncode == 0, removed.stdout + removed.stderr
        assert password not in removed.stdout + removed.stderr
        assert seen, "the bus carried nothing: the recorder heard no message"
        assert not [payload for payload in seen if password.encode() in payload]
        # A wrong password (the node cannot log in) is not shown either, whatever happens.
        wrong = extra.url.replace(password, "wrong-" + password)
        failed = await run("add", wrong, "--timeout", "3")
        assert "wrong-" + password not in failed.stdout + failed.stderr
    finally:
        for task in tasks:
            task.cancel()
        for listener in listeners:
            await listener.aclose()
        extra.cleanup()
