"""The Python client against a real daphne node: connecting, close codes and when it
reconnects, handshake options, and the example of the Python client reference."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

import realtime
from realtime.client import ClientClosed, ConnectFailed, NotConnected, RealtimeClient
from tests.client.helpers import FAST, url_of
from tests.support.processes import ROOT
from tests.support.waiting import async_wait_until, within

pytestmark = pytest.mark.e2e


async def test_async_with_opens_and_closes_with_4001(demo_node, make_client):
    client, events = make_client(demo_node.ws_url(), custom_params={"id": "c1", "name": "Sam Ü"})
    async with client:
        assert (client.state, client.connected, client.reconnecting) == ("open", True, False)
        assert await client.call("whoami") == {
            "user": "c1",
            "params": {"id": "c1", "name": "Sam Ü"},
            "path": "ws/",
        }
    assert client.state == "closed" and not client.connected
    assert events.names() == ["open", "message", "close"]  # the reply is a message too
    assert events.args("close") == [(4001, "client manual close")]


async def test_connect_to_a_path_with_params_in_the_url(demo_node, make_client):
    client, _ = make_client(demo_node.ws_url("/ws/chat/room?id=c2"), custom_params={"x": [1, 2]})
    await client.connect()
    assert await client.call("whoami") == {
        "user": "c2",
        "params": {"id": "c2", "x": ["1", "2"]},
        "path": "ws/chat/room",
    }


async def test_client_needs_no_django_settings(demo_node):
    script = (
        "import asyncio, sys, realtime\n"
        "from django.conf import settings\n"
        "async def main():\n"
        "    async with realtime.RealtimeClient(sys.argv[1]) as client:\n"
        "        print(await client.call('echo', 'no django'))\n"
        "asyncio.run(main())\n"
        "assert not settings.configured\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", script, url_of(demo_node, "nodjango")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'echo': 'no django'}"


async def test_exports_are_lazy_and_complete():
    assert realtime.RealtimeClient is RealtimeClient
    for name in ("CallTimeout", "NotConnected", "ConnectionLost", "ServerError", "ClientError"):
        assert issubclass(getattr(realtime, name), realtime.ClientError)


async def test_no_reconnect_after_4011(demo_node, make_client):
    client, events = make_client(demo_node.ws_url(), **FAST)  # no id: the demo closes 4011
    waiting = asyncio.ensure_future(client.wait_for("never-pushed"))
    await client.connect()  # the handshake succeeds; the close follows
    await events.until("close")
    assert events.args("close") == [(4011, "Auth failure")]
    await async_wait_until(lambda: client.state == "closed", 2, "the client stopped")
    assert "reconnect" not in events.names()
    with pytest.raises(ClientClosed):
        await within(waiting, 2, "wait_for was not released")
    with pytest.raises(NotConnected):
        await client.emit("echo", 1)


@pytest.mark.parametrize("code", [4010, 4012])
async def test_no_reconnect_after_the_other_default_codes(demo_node, make_client, code):
    client, events = make_client(url_of(demo_node, f"nr{code}"), **FAST)
    await client.connect()
    closing = asyncio.ensure_future(client.wait_for("close", 2))
    await client.emit("closeMe", {"code": code, "reason": "bye"})
    assert await closing == (code, "bye")
    assert events.args("close") == [(code, "bye")]
    await async_wait_until(lambda: client.state == "closed", 2, "the client stopped")
    assert "reconnect" not in events.names()


async def test_reconnects_after_any_other_server_close(demo_node, make_client):
    client, events = make_client(url_of(demo_node, "rc"), **FAST)
    await client.connect()
    for round_ in (1, 2):
        await client.emit("closeMe", {"code": 1000 if round_ == 1 else 4000})
        await events.until("open", round_ + 1)
    assert events.names("open", "close", "reconnect") == [
        "open", "close", "reconnect", "open", "close", "reconnect", "open",
    ]  # fmt: skip
    # The attempt counter restarts when a connection opens: both reconnects are attempt 1.
    assert events.args("reconnect") == [({"repeat": 1, "timeout": 50},)] * 2


async def test_no_reconnect_codes_are_configurable(demo_node, make_client):
    client, events = make_client(url_of(demo_node, "cfg"), no_reconnect_codes={4000}, **FAST)
    await client.connect()
    await client.emit("closeMe", {"code": 4010})  # no longer special
    await events.until("open", 2)
    await client.emit("closeMe", {"code": 4000})
    await events.until("close", 2)
    await async_wait_until(lambda: client.state == "closed", 2, "the client stopped")
    assert events.args("close") == [(4010, ""), (4000, "")]


async def test_reconnect_restarts_a_client_that_gave_up(demo_node, make_client):
    client, events = make_client(url_of(demo_node, "again"), **FAST)
    await client.connect()
    await client.emit("closeMe", {"code": 4012})
    await async_wait_until(lambda: client.state == "closed", 2, "the client stopped")
    client.reconnect()
    await events.until("open", 2)
    assert await client.call("echo", 1) == {"echo": 1}


async def test_headers_and_origin_reach_the_server(scripted_server, make_client):
    server = await scripted_server()
    client, _ = make_client(
        server.url, origin="http://app.example", headers={"Authorization": "Bearer t"}
    )
    await client.connect()
    assert server.headers[0]["Origin"] == "http://app.example"
    assert server.headers[0]["Authorization"] == "Bearer t"


async def test_origin_refused_by_the_server_is_an_error_event(demo_node, make_client):
    client, events = make_client(
        url_of(demo_node, "evil"), origin="http://evil.example", repeat_limit=0
    )
    with pytest.raises(ConnectFailed):
        await client.connect()
    (error,) = [args[0] for args in events.args("error")]
    assert "403" in str(error)
    assert events.names() == ["error", "repeat-limit"]


async def test_frames_over_max_frame_bytes_close_1009_and_reconnect(demo_node, make_client):
    client, events = make_client(url_of(demo_node, "big"), max_frame_bytes=1000, **FAST)
    await client.connect()
    got: list[object] = []
    client.on("big", got.append)
    await client.emit("pushMe", {"event": "big", "payload": "x" * 2000})
    await events.until("open", 2)
    assert events.args("close")[0][0] == 1009
    assert got == []


def readme_example() -> str:
    """The first example of the Python client reference (docs/reference/python-client.md)."""
    section = (ROOT / "docs" / "reference" / "python-client.md").read_text()
    return section[section.index("```python\n") + 10 : section.index("```\n")]


async def test_readme_example_runs_against_a_real_node(demo_node):
    example = readme_example().replace("ws://127.0.0.1:8000/ws/", demo_node.ws_url())
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        example,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await within(process.communicate(), 30, "the docs example hung")
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    reply = "{'msg': 'I am a callback for your say event'}"
    room = "{'action': 'toRoom', 'msg': 'hello'}"
    for expected in (reply, f"callback: {reply}", f"room: {room}", f"pushed: {room}"):
        assert expected in lines, f"{expected!r} not in {lines}"
    assert lines[-1] == "closed 4001 client manual close"
