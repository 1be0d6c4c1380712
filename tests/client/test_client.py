"""The Python client against a real daphne node (the shared ``demo_node``): calls, events,
listeners, heartbeat, close codes, and a clean shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import warnings

import pytest

import realtime
from realtime.client import (
    CallTimeout,
    ClientClosed,
    ConnectFailed,
    ConnectionLost,
    NotConnected,
    RealtimeClient,
    ServerError,
)
from realtime.protocol import PayloadNotJSON
from tests.support.processes import ROOT
from tests.support.waiting import async_wait_until, within

pytestmark = pytest.mark.e2e

FAST = {"fast_reconnect_interval": 0.05, "ping_interval": 30.0}


def url_of(node, user: str | None = None) -> str:
    return node.ws_url("/ws/" if user is None else f"/ws/?id={user}")


# -- connecting -------------------------------------------------------------------------


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


# -- calls ----------------------------------------------------------------------------------


async def test_call_returns_the_reply_payload(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "call"))
    async with client:
        assert await client.call("echo", {"a": [1, "ü"]}) == {"echo": {"a": [1, "ü"]}}
        assert await client.call("say", {"msg": "hi"}) == {
            "msg": "I am a callback for your say event"
        }
        assert client.pending_calls == 0


async def test_error_replies_are_returned_or_raised_on_request(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "err"))
    async with client:
        assert await client.call("nope") == {
            "error": "Unknown event 'nope'",
            "errorCode": "UNKNOWN_EVENT",
        }
        with pytest.raises(ServerError) as error:
            await client.call("crash", raise_server_errors=True)
        assert error.value.error_code == "HANDLER_ERROR"
        assert await client.call("echo", 1, raise_server_errors=True) == {"echo": 1}


async def test_call_timeout(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "slow"))
    async with client:
        with pytest.raises(CallTimeout) as error:
            await client.call("sleep", 2, timeout=0.1)
        assert error.value.error_code == "CALLBACK_TIMEOUT"
        assert client.pending_calls == 0
        assert await client.call("echo", "still fine") == {"echo": "still fine"}


async def test_default_callback_timeout_option(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "slow2"), callback_timeout=0.1)
    async with client:
        with pytest.raises(CallTimeout):
            await client.call("sleep", 2)


async def test_on_pending_fires_once_for_a_slow_reply_only(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "pend"), pending_timeout=0.05)
    pending: list[str] = []
    async with client:
        assert await client.call("echo", 1, on_pending=lambda: pending.append("fast")) == {
            "echo": 1
        }
        # This call outlasts the first one's pending timeout, so "fast" would be there now.
        await client.call("sleep", 0.2, on_pending=lambda: pending.append("slow"))
        assert pending == ["slow"]


async def test_emit_with_callback(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "cb"))
    results: list[tuple[object, object]] = []
    done = asyncio.Event()

    def callback(error, payload):
        results.append((error, payload))
        done.set()

    async with client:
        await client.emit("echo", "x", callback)
        await within(done.wait(), 2, "no callback")
        assert results == [(None, {"echo": "x"})]
        done.clear()
        pendings: list[int] = []
        await client.emit(
            "sleep",
            1,
            callback,
            callback_timeout=0.15,
            pending_timeout=0.05,
            on_pending=lambda: pendings.append(1),
        )
        await within(done.wait(), 2, "no timeout callback")
        error, payload = results[1]
        assert isinstance(error, CallTimeout) and payload is None
        assert error.to_dict()["errorCode"] == "CALLBACK_TIMEOUT"
        assert pendings == [1]
    results.clear()
    await client.emit("echo", "x", callback)  # closed: the callback runs at once
    assert len(results) == 1 and isinstance(results[0][0], NotConnected)
    assert results[0][0].error_code == "WS_NOT_OPEN"


async def test_async_callback_is_awaited(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "acb"))
    got = asyncio.get_running_loop().create_future()

    async def callback(error, payload):
        await asyncio.sleep(0)
        got.set_result(payload)

    async with client:
        await client.emit("echo", 5, callback)
        assert await within(got, 2, "no callback") == {"echo": 5}


async def test_not_connected_and_bad_input(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "bad"))
    with pytest.raises(NotConnected):
        await client.call("echo", 1)
    with pytest.raises(NotConnected):
        await client.emit("echo", 1)
    async with client:
        with pytest.raises(PayloadNotJSON):
            await client.call("echo", float("inf"))
        with pytest.raises(ValueError, match="non-empty string"):
            await client.emit("", 1)
        with pytest.raises(ValueError, match="timeout must be"):
            await client.call("echo", 1, timeout=0)
        with pytest.raises(ValueError, match="need a callback"):
            await client.emit("echo", 1, on_pending=print)
        assert client.pending_calls == 0
        assert await client.call("echo", "ok") == {"echo": "ok"}


# -- pushes and listeners -----------------------------------------------------------------


async def push(client: RealtimeClient, event: str, payload: object = None) -> None:
    assert await client.call("pushMe", {"event": event, "payload": payload}) == {"pushed": event}


async def test_sync_and_async_listeners_get_pushes(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "push"))
    got: list[tuple[str, object]] = []

    @client.on("news")
    def sync_listener(payload):
        got.append(("sync", payload))

    @client.on("news")
    async def async_listener(payload):
        await asyncio.sleep(0)
        got.append(("async", payload))

    async with client:
        await push(client, "news", {"n": 1})
        await async_wait_until(lambda: len(got) == 2, 2, f"both listeners; got {got}")
    assert got == [("sync", {"n": 1}), ("async", {"n": 1})]


async def test_once_and_off(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "once"))
    got: list[str] = []
    client.once("tick", lambda payload: got.append(f"once {payload}"))
    keep = client.on("tick", lambda payload: got.append(f"on {payload}"))
    removed = client.on("tick", lambda payload: got.append(f"removed {payload}"))
    client.off("tick", removed)
    async with client:
        await push(client, "tick", 1)
        await push(client, "tick", 2)
        await async_wait_until(lambda: len(got) == 3, 2, f"three calls; got {got}")
        assert got == ["once 1", "on 1", "on 2"]
        client.off("tick", keep)
        await push(client, "tick", 3)  # its reply follows the push: listeners already ran
    assert got == ["once 1", "on 1", "on 2"]


async def test_off_without_listener_removes_all(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "offall"))
    got: list[object] = []
    client.on("t", got.append)
    client.on("t", got.append)
    client.off("t")
    async with client:
        await push(client, "t", 1)
        await push(client, "marker", 2)  # pushes arrive in order: "t" was already handled
    assert got == []


async def test_failing_listener_is_logged_and_harmless(demo_node, make_client, caplog):
    client, _ = make_client(url_of(demo_node, "fail"))
    got: list[object] = []

    def broken(payload):
        raise RuntimeError("listener bug")

    async def broken_async(payload):
        raise RuntimeError("async listener bug")

    client.on("x", broken)
    client.on("x", broken_async)
    client.on("x", got.append)
    with caplog.at_level(logging.ERROR, logger="realtime.client"):
        async with client:
            await push(client, "x", 1)
            await async_wait_until(
                lambda: "async listener bug" in caplog.text, 2, "the async failure is logged"
            )
            assert await client.call("echo", 2) == {"echo": 2}
    assert got == [1]
    assert "listener bug" in caplog.text


async def test_wait_for_a_push(demo_node, make_client):
    client, _ = make_client(url_of(demo_node, "wf"))
    async with client:
        waiting = asyncio.ensure_future(client.wait_for("hello", timeout=2))
        await push(client, "hello", [1, 2])
        assert await waiting == [1, 2]
        with pytest.raises(TimeoutError):
            await client.wait_for("silence", timeout=0.05)


async def test_pushes_named_like_lifecycle_events_never_reach_lifecycle_listeners(
    scripted_server, make_client
):
    server = await scripted_server(
        [
            '{"event":"open","payload":1}',
            '{"event":"close","payload":[4011,"x"]}',
            '{"event":"pong","payload":1}',
            '{"event":"constructor","payload":"safe in Python"}',
            '{"event":"__proto__"}',
            "not json",
            "[1]",
            b"\x00binary",
            '{"callbackId":"unknown","payload":1}',
            '{"event":"done"}',
        ]
    )
    client, events = make_client(server.url, **FAST)
    pushes: list[tuple[str, object]] = []
    for name in ("constructor", "__proto__", "done"):
        client.on(name, lambda payload, name=name: pushes.append((name, payload)))
    done = asyncio.ensure_future(client.wait_for("done"))  # before the frames can arrive
    await client.connect()
    await within(done, 2, "the last push")
    assert events.names() == ["open"] + ["message"] * 9
    assert pushes == [("constructor", "safe in Python"), ("__proto__", None), ("done", None)]
    assert client.connected


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


async def test_async_listener_may_close_the_client(demo_node, make_client):
    client, events = make_client(url_of(demo_node, "selfclose"))

    async def close_on_push(payload):
        await client.close()

    client.on("bye", close_on_push)
    await client.connect()
    await client.emit("pushMe", {"event": "bye"})
    await events.until("close")
    await async_wait_until(lambda: client.state == "closed", 2, "the client closed")
    assert events.args("close") == [(4001, "client manual close")]


async def test_close_cancels_async_listeners_after_close_timeout(demo_node, make_client, caplog):
    client, _ = make_client(url_of(demo_node, "stuck"), close_timeout=0.1)
    cancelled = asyncio.Event()

    async def stuck_listener(code, reason):
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    client.on("close", stuck_listener)
    await client.connect()
    with caplog.at_level(logging.WARNING, logger="realtime.client"):
        await within(client.close(), 2, "close() waited for a stuck listener")
    assert cancelled.is_set()
    assert "Cancelling 1 async listener" in caplog.text
    assert asyncio.all_tasks() == {asyncio.current_task()}


# -- heartbeat ------------------------------------------------------------------------------


async def test_heartbeat_reports_latency_in_ms(demo_node, make_client):
    client, events = make_client(url_of(demo_node, "hb"), ping_interval=0.05)
    async with client:
        assert client.latency is None
        await events.until("pong", 3)
        assert client.latency == events.args("pong")[-1][0]
    pongs = [(name, args, at) for name, args, at in events.events if name in ("ping", "pong")]
    assert [name for name, _, _ in pongs[:6]] == ["ping", "pong"] * 3
    latencies = [args[0] for name, args, _ in pongs if name == "pong"]
    assert client.latency is None  # closed
    assert all(isinstance(ms, float) and 0 < ms < 2000 for ms in latencies)
    # The next ping waits ping_interval from the previous pong.
    for (_, _, pong_at), (_, _, ping_at) in zip(pongs[1::2], pongs[2::2], strict=False):
        assert ping_at - pong_at >= 0.05 - 0.002
    # Every echo (an empty text frame) is a message event too.
    assert len(events.args("message")) >= len(latencies)
    assert set(events.args("message")) == {("",)}


async def test_pong_timeout_closes_4002_and_reconnects(demo_node, make_client):
    # The server's heartbeat string is "", so it drops "ping?" as a malformed frame.
    client, events = make_client(
        url_of(demo_node, "pt"),
        ping_msg="ping?",
        ping_interval=0.05,
        pong_timeout=0.1,
        fast_reconnect_interval=0.05,
    )
    await client.connect()
    await events.until("open", 2)
    assert events.names("open", "ping", "pong-timeout", "close", "reconnect")[:6] == [
        "open", "ping", "pong-timeout", "close", "reconnect", "open",
    ]  # fmt: skip
    assert events.args("close")[0] == (4002, "pong timeout")
    assert "pong" not in events.names()


# -- no task left behind ---------------------------------------------------------------------


async def test_close_leaves_no_task_and_no_warning(demo_node, make_client, caplog):
    client, events = make_client(
        url_of(demo_node, "tidy"), ping_interval=0.05, fast_reconnect_interval=0.05
    )
    slow_listener_done = asyncio.Event()

    async def slow_close_listener(code, reason):
        await asyncio.sleep(0.05)
        slow_listener_done.set()

    client.on("close", slow_close_listener)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.ERROR, "asyncio"):
        warnings.simplefilter("always")
        await client.connect()
        await events.until("pong")
        client.reconnect()
        await events.until("open", 2)
        pending = asyncio.ensure_future(client.call("sleep", 5))
        await async_wait_until(lambda: client.pending_calls == 1, 2, "the call is sent")
        await client.close()
        with pytest.raises(ConnectionLost):
            await pending
        assert slow_listener_done.is_set(), "close() waits for async listeners"
        assert asyncio.all_tasks() == {asyncio.current_task()}
        await client.close()  # again: nothing to do
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert "Task was destroyed" not in caplog.text
    assert events.args("close") == [(4001, "client reconnect"), (4001, "client manual close")]


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Python client") :]
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
    stdout, stderr = await within(process.communicate(), 30, "the README example hung")
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    reply = "{'msg': 'I am a callback for your say event'}"
    room = "{'action': 'toRoom', 'msg': 'hello'}"
    for expected in (reply, f"callback: {reply}", f"room: {room}", f"pushed: {room}"):
        assert expected in lines, f"{expected!r} not in {lines}"
    assert lines[-1] == "closed 4001 client manual close"
