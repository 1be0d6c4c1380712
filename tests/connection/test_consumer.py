"""RealtimeConsumer over WebsocketCommunicator: sections 2 and 3 of docs/reference/protocol.md,
byte for byte, and every bad-input case of the Foundation issue."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from django.test import override_settings

from realtime import on, on_connect, on_disconnect
from realtime.hub import get_hub
from realtime.wire.protocol import InvalidEventName
from tests.support.waiting import async_wait_until, within

REALTIME_LOGGER = "realtime"


class TestHeartbeat:
    async def test_empty_heartbeat_echoed_as_empty_text_frame(self, clients):
        client = await clients()
        await client.send("")
        assert await client.output() == {"type": "websocket.send", "text": ""}

    @override_settings(REALTIME={"HEARTBEAT_MESSAGE": "ping"})
    async def test_configured_heartbeat_echoed_verbatim_not_pong(self, clients):
        client = await clients()
        await client.send("ping")
        assert await client.text() == "ping"
        # With another heartbeat string, "" is just a malformed frame: dropped.
        await client.send("")
        assert await client.nothing()

    async def test_heartbeat_not_delayed_by_a_slow_handler(self, clients, handlers):
        release = asyncio.Event()

        @on("slow")
        async def slow(socket, data, ack):
            await release.wait()
            await ack("done")

        client = await clients()
        await client.emit("slow", None, "c1")
        await client.send("")
        assert await client.text(timeout=1) == ""
        release.set()
        assert await client.text() == '{"payload":"done","callbackId":"c1"}'


class TestFrames:
    async def test_reply_byte_for_byte(self, clients, handlers):
        @on("greet")
        async def greet(socket, data, ack):
            assert data == {"msg": "hi"}
            await ack({"ok": 1})

        client = await clients()
        await client.send('{"event":"greet","payload":{"msg":"hi"},"callbackId":"mwwicbce-c4hq-1"}')
        assert await client.text() == '{"payload":{"ok":1},"callbackId":"mwwicbce-c4hq-1"}'

    async def test_reply_without_payload(self, clients, handlers):
        @on("noop")
        async def noop(socket, data, ack):
            await ack()

        client = await clients()
        await client.send('{"event":"noop","payload":1,"callbackId":"mwwicbcf-fpcf-2"}')
        assert await client.text() == '{"callbackId":"mwwicbcf-fpcf-2"}'

    async def test_event_without_callback_gets_no_reply(self, clients, handlers):
        seen = []

        @on("note")
        async def note(socket, data, ack):
            seen.append(data)
            assert not ack.wanted
            assert await ack({"ignored": True}) is False

        client = await clients()
        await client.send('{"event":"note","payload":"no-callback"}')
        await async_wait_until(lambda: seen, 2, "handler did not run")
        assert seen == ["no-callback"]
        assert await client.nothing()

    async def test_returned_value_is_the_reply(self, clients, handlers):
        @on("add")
        async def add(socket, data, ack):
            return data["a"] + data["b"]

        client = await clients()
        await client.emit("add", {"a": 2, "b": 3}, "c9")
        assert await client.text() == '{"payload":5,"callbackId":"c9"}'

    async def test_second_reply_is_ignored(self, clients, handlers):
        @on("twice")
        async def twice(socket, data, ack):
            assert await ack(1) is True
            assert await ack(2) is False

        client = await clients()
        await client.emit("twice", None, "c")
        assert await client.text() == '{"payload":1,"callbackId":"c"}'
        assert await client.nothing()

    async def test_push_byte_for_byte(self, clients, handlers):
        @on("poke")
        async def poke(socket, data, ack):
            await socket.emit("roomSay", {"a": 1})
            await socket.emit("bare")

        client = await clients()
        await client.emit("poke")
        assert await client.text() == '{"event":"roomSay","payload":{"a":1}}'
        assert await client.text() == '{"event":"bare"}'

    async def test_reply_frames_have_no_event_and_pushes_no_callback_id(self, clients, handlers):
        @on("both")
        async def both(socket, data, ack):
            await socket.emit("pushed", 1)
            await ack(2)

        client = await clients()
        await client.emit("both", None, "cb")
        push, reply = await client.json(), await client.json()
        assert push == {"event": "pushed", "payload": 1}
        assert reply == {"payload": 2, "callbackId": "cb"}

    async def test_callback_id_echoed_verbatim(self, clients, handlers):
        @on("echo")
        async def echo(socket, data, ack):
            await ack(data)

        client = await clients()
        callback_id = 'ü"\\/<x>' + "z" * 57
        await client.emit("echo", "v", callback_id)
        assert json.loads(await client.text()) == {"payload": "v", "callbackId": callback_id}

    async def test_invalid_callback_id_means_no_reply(self, clients, handlers):
        calls = []

        @on("e")
        async def e(socket, data, ack):
            calls.append(ack.wanted)
            await ack("x")

        client = await clients()
        await client.send('{"event":"e","callbackId":7}')
        await client.send('{"event":"e","callbackId":""}')
        await client.send(json.dumps({"event": "e", "callbackId": "x" * 65}))
        await async_wait_until(lambda: len(calls) == 3, 2, "handlers did not run")
        assert calls == [False, False, False]
        assert await client.nothing()

    async def test_params_and_path_reach_handlers(self, clients, handlers):
        @on("whoami")
        async def whoami(socket, data, ack):
            await ack({"params": socket.params, "path": socket.path, "user": socket.user_id})

        client = await clients("/ws/chat/room?id=42&name=Sam+%C3%9C&tag=a&tag=b&blank=")
        await client.emit("whoami", None, "w")
        assert (await client.json())["payload"] == {
            "params": {"id": "42", "name": "Sam Ü", "tag": ["a", "b"], "blank": ""},
            "path": "ws/chat/room",
            "user": "42",
        }

    async def test_messages_handled_in_order(self, clients, handlers):
        seen = []

        @on("n")
        async def n(socket, data, ack):
            seen.append(data)

        client = await clients()
        for i in range(50):
            await client.emit("n", i)
        await async_wait_until(lambda: len(seen) == 50, 2, "not every event arrived")
        assert seen == list(range(50))


class TestLifecycle:
    async def test_client_frames_never_reach_lifecycle_hooks(self, clients, handlers):
        connects, disconnects = [], []

        @on_connect
        async def count_connect(socket):
            connects.append(socket.id)
            await socket.bind("7")

        @on_disconnect
        async def count_disconnect(socket):
            disconnects.append(socket.id)

        client = await clients("/ws/?id=7")
        for name in ("connect", "connection", "close", "disconnect", "open"):
            await client.emit(name, {"id": "666"}, f"cb-{name}")
            reply = await client.json()
            assert reply["payload"]["errorCode"] == "UNKNOWN_EVENT"
        assert len(connects) == 1 and disconnects == []
        assert get_hub().is_connected("7") and not get_hub().is_connected("666")
        await client.disconnect()
        assert disconnects == connects

    async def test_connect_without_id_closes_4011(self, clients):
        client = await clients("/ws/")
        assert await client.closed_with() == (4011, "Auth failure")

    async def test_frames_after_rejection_are_ignored(self, clients):
        client = await clients("/ws/")
        await client.closed_with()
        await client.emit("say", None, "c")
        assert await client.nothing()

    async def test_failing_connect_hook_closes_1011(self, clients, handlers, caplog):
        @on_connect
        async def broken(socket):
            raise RuntimeError("boom")

        with caplog.at_level(logging.ERROR, logger=REALTIME_LOGGER):
            client = await clients()
            assert (await client.closed_with())[0] == 1011
        assert "Connect hook" in caplog.text and "boom" in caplog.text

    async def test_disconnect_removes_binding_and_rooms(self, clients):
        client = await clients("/ws/?id=5")
        await client.emit("joinRoom", {"roomId": "r1"}, "j")
        await client.json()
        hub = get_hub()
        assert hub.is_member("chat", "r1", "5")
        await client.disconnect()
        assert not hub.is_connected("5")
        assert hub.room_members("chat", "r1") == set()
        assert hub.user_rooms("5") == set()


class TestBadInput:
    @pytest.mark.parametrize(
        "frame", ["not json", "[1]", '"s"', "{}", '{"event":""}', '{"event":3}', "{bad"]
    )
    async def test_malformed_frames_dropped_connection_lives(self, clients, frame):
        client = await clients()
        await client.send(frame)
        assert await client.nothing()
        await client.send("")
        assert await client.text() == ""

    async def test_binary_frame_dropped(self, clients):
        client = await clients()
        await client.send_bytes(b'{"event":"say","callbackId":"x"}')
        assert await client.nothing()
        await client.send("")
        assert await client.text() == ""

    @override_settings(REALTIME={"RATE_LIMIT": None})  # 200 frames at once: not a rate test
    async def test_bad_frames_do_not_flood_the_log(self, clients, caplog, monkeypatch):
        from realtime import throttled_log

        monkeypatch.setattr(throttled_log, "_shared", {})  # a fresh interval
        client = await clients()
        with caplog.at_level(logging.DEBUG, logger=REALTIME_LOGGER):
            for i in range(200):
                await client.send(f"garbage {i}")
            await client.send("")
            assert await client.text() == ""
        dropped = [r for r in caplog.records if "Dropped a client frame" in r.getMessage()]
        assert len(dropped) == 1

    async def test_unknown_event_with_callback(self, clients):
        client = await clients()
        await client.emit("nope", 1, "cb1")
        assert await client.json() == {
            "payload": {"error": "Unknown event 'nope'", "errorCode": "UNKNOWN_EVENT"},
            "callbackId": "cb1",
        }

    async def test_unknown_event_without_callback_is_silent(self, clients):
        client = await clients()
        await client.emit("nope", 1)
        assert await client.nothing()

    async def test_raising_handler_logged_once_error_reply_connection_lives(
        self, clients, handlers, caplog
    ):
        @on("explode")
        async def explode(socket, data, ack):
            raise ValueError("kaboom")

        client = await clients()
        with caplog.at_level(logging.ERROR, logger=REALTIME_LOGGER):
            await client.emit("explode", None, "x1")
            assert await client.json() == {
                "payload": {"error": "Handler for 'explode' failed", "errorCode": "HANDLER_ERROR"},
                "callbackId": "x1",
            }
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and errors[0].exc_info and "kaboom" in caplog.text
        await client.emit("say", None, "after")
        assert (await client.json())["callbackId"] == "after"

    async def test_raising_handler_without_callback_sends_nothing(self, clients, handlers):
        @on("explode")
        async def explode(socket, data, ack):
            raise ValueError("kaboom")

        client = await clients()
        await client.emit("explode")
        assert await client.nothing()
        await client.send("")
        assert await client.text() == ""

    async def test_handler_returning_non_json_gets_handler_error(self, clients, handlers):
        @on("nan")
        async def nan(socket, data, ack):
            return float("nan")

        client = await clients()
        await client.emit("nan", None, "n1")
        assert (await client.json())["payload"]["errorCode"] == "HANDLER_ERROR"

    @override_settings(REALTIME={"HANDLER_TIMEOUT": 0.1})
    async def test_hanging_handler_times_out(self, clients, handlers):
        @on("hang")
        async def hang(socket, data, ack):
            await asyncio.Event().wait()

        client = await clients()
        await client.emit("hang", None, "h1")
        assert await client.json() == {
            "payload": {"error": "Handler for 'hang' timed out", "errorCode": "HANDLER_TIMEOUT"},
            "callbackId": "h1",
        }

    @override_settings(REALTIME={"MAX_PENDING_HANDLERS": 2})
    async def test_too_many_pending_handlers_is_refused_with_busy(self, clients, handlers):
        release = asyncio.Event()

        @on("wait")
        async def wait(socket, data, ack):
            await release.wait()
            await ack(data)

        from realtime.metrics import metrics

        before = metrics.get("busy_refusals")
        client = await clients()
        for i in range(3):
            await client.emit("wait", i, f"w{i}")
        assert (await client.json())["payload"]["errorCode"] == "BUSY"
        assert metrics.get("busy_refusals") == before + 1  # a drop, counted
        release.set()
        replies = {(await client.json())["callbackId"] for _ in range(2)}
        assert replies == {"w0", "w1"}

    @override_settings(REALTIME={"MAX_PENDING_HANDLERS": 2, "WHEN_BUSY": "wait"})
    async def test_when_busy_wait_holds_the_event_instead_of_refusing(self, clients, handlers):
        release = asyncio.Event()

        @on("wait")
        async def wait(socket, data, ack):
            await release.wait()
            await ack(data)

        from realtime.metrics import metrics

        refused, waited = metrics.get("busy_refusals"), metrics.get("busy_waits")
        client = await clients()
        for i in range(3):
            await client.emit("wait", i, f"w{i}")
        assert await client.nothing(0.2)  # no BUSY: the third waits for a slot
        release.set()
        replies = {(await client.json())["callbackId"] for _ in range(3)}
        assert replies == {"w0", "w1", "w2"}
        assert metrics.get("busy_refusals") == refused  # nothing dropped
        assert metrics.get("busy_waits") == waited + 1

    @override_settings(REALTIME={"MAX_FRAME_BYTES": 100})
    async def test_oversize_frame_closes_1009(self, clients):
        client = await clients()
        await client.emit("say", "x" * 200, "big")
        assert await client.closed_with() == (1009, "Frame too large")

    @override_settings(REALTIME={"MAX_FRAME_BYTES": 100})
    async def test_size_limit_counts_utf8_bytes(self, clients):
        client = await clients()
        await client.send(json.dumps({"event": "say", "payload": "😀" * 20}, ensure_ascii=False))
        assert (await client.closed_with())[0] == 1009

    @override_settings(REALTIME={"MAX_FRAME_BYTES": 100})
    async def test_oversize_frame_does_not_affect_others(self, clients):
        bystander = await clients("/ws/?id=2")
        offender = await clients("/ws/?id=3")
        await offender.send("x" * 101)
        assert (await offender.closed_with())[0] == 1009
        await bystander.emit("say", None, "ok")
        assert (await bystander.json())["callbackId"] == "ok"

    async def test_refused_push_name_raises_to_the_caller(self, clients, handlers):
        errors = []

        @on("bad-push")
        async def bad_push(socket, data, ack):
            for name in ("constructor", "open", ""):
                try:
                    await socket.emit(name, 1)
                except InvalidEventName as exc:
                    errors.append(str(exc))
            await ack(len(errors))

        client = await clients()
        await client.emit("bad-push", None, "b")
        assert (await client.json())["payload"] == 3
        assert "refusing to push event 'constructor'" in errors[0]
        with pytest.raises(InvalidEventName):
            await get_hub().broadcast("__proto__", {})
        with pytest.raises(InvalidEventName):
            await get_hub().to_room("chat", "1", "pong")


class TestDemoHandlers:
    async def test_say(self, clients):
        client = await clients("/ws/?id=1")
        await client.emit("say", {"msg": "hello"}, "s1")
        assert await client.json() == {
            "payload": {"msg": "I am a callback for your say event"},
            "callbackId": "s1",
        }

    async def test_join_room_default_and_explicit(self, clients):
        client = await clients("/ws/?id=1")
        await client.emit("joinRoom", {}, "j1")
        assert (await client.json())["payload"] == {"msg": "Successfully joined the roomId:1000"}
        await client.emit("joinRoom", {"roomId": 1001}, "j2")
        assert (await client.json())["payload"] == {"msg": "Successfully joined the roomId:1001"}
        assert get_hub().user_rooms("1") == {("chat", "1000"), ("chat", "1001")}

    async def test_commands_reach_exactly_the_right_users(self, clients):
        users = {uid: await clients(f"/ws/?id={uid}") for uid in ("1", "2", "3", "4")}
        for uid in ("2", "3"):
            await users[uid].emit("joinRoom", {"roomId": "1000"}, "j")
            await users[uid].json()
        boss = users["1"]

        async def command(payload: dict, expected_receivers: set[str]) -> None:
            await boss.emit("command", payload, "cmd")
            frames = {}
            for uid in sorted(expected_receivers | {"1"}):
                expected = 2 if uid == "1" and "1" in expected_receivers else 1
                frames[uid] = [await users[uid].json() for _ in range(expected)]
            for uid, client in users.items():
                assert await client.nothing(0.05), f"user {uid} got an extra frame"
            push = {"event": "say", "payload": {"action": payload["action"], "msg": "m"}}
            for uid in expected_receivers:
                assert push in frames[uid]
            reply = {
                "payload": {"msg": f"Message sent successfully [action:{payload['action']}] "},
                "callbackId": "cmd",
            }
            assert reply in frames["1"]

        await command({"action": "broadcast", "msg": "m"}, {"1", "2", "3", "4"})
        await command({"action": "toPlayer", "msg": "m", "toPlayerId": "3"}, {"3"})
        await command({"action": "toPlayers", "msg": "m", "toPlayerIds": ["2", "4"]}, {"2", "4"})
        await command({"action": "toRoom", "msg": "m", "roomId": "1000"}, {"2", "3"})

    async def test_unknown_command(self, clients):
        client = await clients("/ws/?id=1")
        await client.emit("command", {"action": "dance"}, "c")
        assert (await client.json())["payload"] == {"msg": "Unknown action type"}
        await client.emit("command", "nonsense", "d")
        assert (await client.json())["payload"] == {"msg": "Failed to send message"}


async def test_one_client_flooding_garbage_does_not_delay_another(clients):
    noisy = await clients("/ws/?id=1")
    quiet = await clients("/ws/?id=2")
    for _ in range(500):
        await noisy.send("{not json")
    await quiet.emit("say", None, "q")
    reply = await within(quiet.json(), 2, "the quiet client got no reply")
    assert reply["callbackId"] == "q"
