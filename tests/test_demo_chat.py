"""The demo chat page's handlers (``chat``, ``announce``) through the full ASGI application."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from project.realtime_handlers import CHAT_MAX_TEXT, ROOM_ID_MAX


async def joined(clients, user_id: str, room: str = "1000", name: str | None = None):
    """A client of ``user_id`` that joined ``room``."""
    path = f"/ws/?id={user_id}" + (f"&name={name}" if name else "")
    client = await clients(path)
    await client.emit("joinRoom", {"roomId": room}, "join")
    assert (await client.json())["callbackId"] == "join"
    return client


def assert_recent(at: str) -> None:
    moment = datetime.fromisoformat(at)
    assert moment.tzinfo is not None
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=10)


class TestChat:
    async def test_message_reaches_the_other_members_and_the_sender_gets_the_ack(self, clients):
        sender = await joined(clients, "1", name="Sam+%C3%9C")
        member = await joined(clients, "2")
        elsewhere = await joined(clients, "3", room="2000")
        await sender.emit("chat", {"roomId": "1000", "text": "  hello room  "}, "c1")
        ack = await sender.json()
        push = await member.json()
        assert ack["callbackId"] == "c1"
        assert ack["payload"]["delivered"] is True
        assert_recent(ack["payload"]["at"])
        assert push == {
            "event": "chatMessage",
            "payload": {
                "from": {"id": "1", "name": "Sam Ü"},
                "roomId": "1000",
                "text": "hello room",
                "at": ack["payload"]["at"],
            },
        }
        assert await sender.nothing(), "the sender got its own message back"
        assert await elsewhere.nothing(), "a member of another room got the message"

    async def test_name_defaults_to_the_user_id_and_numeric_room_ids_work(self, clients):
        sender = await joined(clients, "7", room="42")
        member = await joined(clients, "8", room="42")
        await sender.emit("chat", {"roomId": 42, "text": "hi"}, "c")
        assert (await sender.json())["payload"]["delivered"] is True
        assert (await member.json())["payload"]["from"] == {"id": "7", "name": "7"}

    async def test_text_at_the_length_limit_is_accepted(self, clients):
        sender = await joined(clients, "1")
        member = await joined(clients, "2")
        await sender.emit("chat", {"roomId": "1000", "text": "x" * CHAT_MAX_TEXT}, "c")
        assert (await sender.json())["payload"]["delivered"] is True
        assert (await member.json())["payload"]["text"] == "x" * CHAT_MAX_TEXT

    @pytest.mark.parametrize(
        ("payload", "message"),
        [
            ("just text", "roomId must be"),
            ({"text": "no room"}, "roomId must be"),
            ({"roomId": True, "text": "bool room"}, "roomId must be"),
            ({"roomId": ["1000"], "text": "list room"}, "roomId must be"),
            ({"roomId": "", "text": "empty room"}, "roomId must be"),
            ({"roomId": "r" * (ROOM_ID_MAX + 1), "text": "long room"}, "roomId must be"),
            ({"roomId": "1000"}, "text must be"),
            ({"roomId": "1000", "text": "   "}, "text must be"),
            ({"roomId": "1000", "text": 5}, "text must be"),
            ({"roomId": "1000", "text": "x" * (CHAT_MAX_TEXT + 1)}, "text must be"),
        ],
    )
    async def test_bad_input_gets_a_clear_error_and_sends_nothing(self, clients, payload, message):
        sender = await joined(clients, "1")
        member = await joined(clients, "2")
        await sender.emit("chat", payload, "bad")
        reply = await sender.json()
        assert reply["callbackId"] == "bad"
        assert reply["payload"]["errorCode"] == "INVALID_INPUT"
        assert reply["payload"]["error"].startswith(message)
        assert await member.nothing()
        await sender.emit("chat", {"roomId": "1000", "text": "still here"}, "good")
        assert (await sender.json())["payload"]["delivered"] is True
        assert (await member.json())["payload"]["text"] == "still here"

    async def test_chatting_in_a_room_not_joined_is_refused(self, clients):
        outsider = await clients("/ws/?id=9")
        member = await joined(clients, "2")
        await outsider.emit("chat", {"roomId": "1000", "text": "let me in"}, "c")
        assert (await outsider.json())["payload"] == {
            "error": "join room 1000 before chatting in it",
            "errorCode": "NOT_IN_ROOM",
        }
        assert await member.nothing()


class TestAnnounce:
    async def test_announcement_reaches_everyone_the_sender_included(self, clients):
        sender = await clients("/ws/?id=1&name=Ann")
        others = [await clients(f"/ws/?id={uid}") for uid in ("2", "3")]
        await sender.emit("announce", {"text": "hello all"}, "a")
        frames = [await sender.json(), await sender.json()]
        ack = next(frame for frame in frames if frame.get("callbackId") == "a")
        assert ack["payload"]["delivered"] is True
        push = {
            "event": "announcement",
            "payload": {
                "from": {"id": "1", "name": "Ann"},
                "text": "hello all",
                "at": ack["payload"]["at"],
            },
        }
        assert push in frames
        for other in others:
            assert await other.json() == push

    @pytest.mark.parametrize("payload", [None, {"text": ""}, {"text": "x" * (CHAT_MAX_TEXT + 1)}])
    async def test_bad_text_is_refused(self, clients, payload):
        sender = await clients("/ws/?id=1")
        other = await clients("/ws/?id=2")
        await sender.emit("announce", payload, "a")
        assert (await sender.json())["payload"]["errorCode"] == "INVALID_INPUT"
        assert await other.nothing()
