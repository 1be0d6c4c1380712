"""Connection state recovery through the consumer, in process (in-memory history and
sessions): what is restored, the three ways it is refused, and what other clients see."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import override_settings

from realtime import on, on_connect
from realtime.hub import get_hub
from realtime.metrics import metrics
from realtime.wire.recovery import (
    RECOVERY_PARAM,
    PositionTracker,
    encode_request,
    read_position,
    read_welcome,
)
from tests.support.clients import TestClient

pytestmark = pytest.mark.usefixtures("handlers")


class OurClient:
    """What our clients do, frame by frame: welcome, positions, recovery request."""

    def __init__(self) -> None:
        self.tracker = PositionTracker()
        self.client: TestClient | None = None
        self.pushes: list[tuple[str, Any]] = []

    async def connect(self, user: str = "alice") -> bool:
        query = urlencode({"id": user, RECOVERY_PARAM: encode_request(self.tracker.request())})
        self.client = TestClient(f"/ws/?{query}")
        accepted, _ = await self.client.connect()
        assert accepted
        welcome = read_welcome(await self.client.json())
        assert welcome is not None, "the first frame is the welcome"
        self.tracker.welcome(*welcome)
        return welcome[2]

    async def receive(self, count: int) -> list[tuple[str, Any]]:
        assert self.client is not None
        got = []
        for _ in range(count):
            frame = await self.client.json()
            position = read_position(frame)
            assert position is not None, frame
            assert self.tracker.note(*position), f"duplicate {frame}"
            got.append((frame["event"], frame["payload"]))
        return got

    async def call(self, event: str, payload: Any = None) -> Any:
        assert self.client is not None
        await self.client.emit(event, payload, "c1")
        while True:
            frame = await self.client.json()
            if frame.get("callbackId") == "c1":
                return frame.get("payload")
            self.pushes.append(frame)

    async def drop(self) -> None:
        assert self.client is not None
        await self.client.disconnect()


@pytest.fixture
def app_handlers():
    """An app that joins a room on connect unless the connection was recovered."""
    connects: list[bool] = []

    @on_connect
    async def join_lobby(socket):
        connects.append(socket.recovered)
        if not socket.recovered:
            await socket.join("chat", "lobby")
            socket.state["joined_at"] = len(connects)

    @on("info")
    async def info(socket, data, ack):
        return {"rooms": sorted(list(r) for r in socket.rooms), "state": socket.state}

    return connects


async def pushes_during_gap(count: int = 3) -> None:
    hub = get_hub()
    for n in range(count):
        await hub.to_room("chat", "lobby", "say", n)
    await hub.to_user("alice", "dm", "hi")
    await hub.broadcast("news", "all")


async def test_a_reconnecting_client_gets_its_rooms_state_and_missed_pushes(app_handlers):
    metrics.reset()
    ours = OurClient()
    assert await ours.connect() is False
    await get_hub().to_room("chat", "lobby", "say", "before")
    assert await ours.receive(1) == [("say", "before")]
    await ours.drop()
    await pushes_during_gap()
    assert await ours.connect() is True
    missed = await ours.receive(5)
    assert sorted(missed, key=str) == sorted(
        [("say", 0), ("say", 1), ("say", 2), ("dm", "hi"), ("news", "all")], key=str
    )
    assert [p for e, p in missed if e == "say"] == [0, 1, 2]
    assert app_handlers == [False, True]
    assert metrics.get("recoveries") == 1
    assert await ours.call("info") == {"rooms": [["chat", "lobby"]], "state": {"joined_at": 1}}
    await get_hub().to_room("chat", "lobby", "say", "live")
    assert await ours.receive(1) == [("say", "live")]
    await ours.drop()


async def not_recovered_after(gap: Any, app_handlers: list[bool]) -> None:
    metrics.reset()
    ours = OurClient()
    await ours.connect()
    await ours.drop()
    await gap()
    assert await ours.connect() is False
    assert metrics.get("recovery_refusals") == 1
    assert app_handlers == [False, False]
    # A new connection: the app's own logic ran again (the room comes from the hook).
    assert await ours.call("info") == {"rooms": [["chat", "lobby"]], "state": {"joined_at": 2}}
    await ours.drop()


async def test_not_recovered_once_the_window_passed(app_handlers):
    async def late() -> None:
        sessions = get_hub().history.recovery.sessions
        sessions.clock = lambda: time.monotonic() + 121

    await not_recovered_after(late, app_handlers)


@override_settings(REALTIME={"HISTORY": {"*": {"size": 2, "ttl": 60}}})
async def test_not_recovered_when_history_was_trimmed(app_handlers):
    await not_recovered_after(lambda: pushes_during_gap(3), app_handlers)


async def test_not_recovered_when_the_epoch_changed(app_handlers):
    async def history_lost() -> None:
        await pushes_during_gap(1)
        get_hub().history.recovery.history.streams.clear()  # e.g. a Redis node replaced
        await pushes_during_gap(1)

    await not_recovered_after(history_lost, app_handlers)


async def test_a_wrong_token_does_not_recover(app_handlers):
    ours = OurClient()
    await ours.connect()
    await ours.drop()
    ours.tracker.token = "forged"
    assert await ours.connect() is False
    await ours.drop()


async def test_the_original_client_sees_exactly_what_it_saw_before(app_handlers):
    plain = TestClient("/ws/?id=bob")
    assert (await plain.connect())[0]
    ours = OurClient()
    await ours.connect()
    await get_hub().to_room("chat", "lobby", "say", {"a": 1})
    assert await plain.text() == '{"event":"say","payload":{"a":1}}'
    frame = (await ours.client.json()) if ours.client else None
    assert frame is not None and read_position(frame) is not None
    await plain.disconnect()
    await ours.drop()


@override_settings(REALTIME={"RECOVERY": False})
async def test_with_recovery_off_our_client_is_told_at_once():
    client = TestClient(f"/ws/?{urlencode({'id': 'a', RECOVERY_PARAM: '{}'})}")
    assert (await client.connect())[0]
    assert json.loads(await client.text()) == {
        "rt": {"session": "", "token": "", "recovered": False}
    }
    await get_hub().broadcast("news", 1)
    assert await client.text() == '{"event":"news","payload":1}'
    await client.disconnect()


async def test_a_malformed_request_gets_a_new_session():
    client = TestClient(f"/ws/?{urlencode({'id': 'a', RECOVERY_PARAM: '[1,'})}")
    assert (await client.connect())[0]
    welcome = read_welcome(json.loads(await client.text()))
    assert welcome is not None and welcome[2] is False and welcome[0]
    await client.disconnect()


async def test_pushes_to_several_users_are_recovered_from_each_users_history(app_handlers):
    ours = OurClient()
    await ours.connect()
    await ours.drop()
    await get_hub().to_users(["alice", "bob"], "dm", "to both")
    assert await ours.connect() is True
    assert await ours.receive(1) == [("dm", "to both")]
    await ours.drop()


@override_settings(REALTIME={"HISTORY": {"*": {"size": 100, "ttl": 60}, "cursor": None}})
async def test_a_namespace_without_history_sends_plain_frames_and_recovery_still_works(
    app_handlers,
):
    ours = OurClient()
    await ours.connect()
    await ours.call("info")  # the hook has joined chat/lobby
    hub = get_hub()
    await hub.join_room("cursor", "c1", "alice")
    await hub.to_room("cursor", "c1", "move", 1)
    assert ours.client is not None
    assert await ours.client.text() == '{"event":"move","payload":1}'
    await ours.drop()
    await hub.to_room("cursor", "c1", "move", 2)  # not kept: not replayed
    await hub.to_room("chat", "lobby", "say", "kept")
    assert await ours.connect() is True
    assert await ours.receive(1) == [("say", "kept")]
    assert await ours.client.nothing()
    await ours.drop()
