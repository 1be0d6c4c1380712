"""The demo's event handlers, reproducing the original framework's examples.

* connect with ``?id=X`` binds user X; without an id the connection closes with 4011.
* ``say`` replies ``{"msg": ...}``.
* ``joinRoom`` joins namespace ``chat``, room ``payload.roomId`` (default ``"1000"``).
* ``command`` with ``action`` broadcast / toPlayer / toPlayers / toRoom pushes ``say``.
* ``chat`` {roomId, text} pushes ``chatMessage`` to the room's other members (the demo page).
* ``announce`` {text} pushes ``announcement`` to everyone (the demo page).
"""

from datetime import UTC, datetime
from typing import Any

from realtime import Socket, broadcast, on, on_connect, to_room, to_user, to_users
from realtime.connection.acks import Ack

CHAT_NAMESPACE = "chat"
DEFAULT_ROOM = "1000"
CHAT_MAX_TEXT = 500
ROOM_ID_MAX = 64
NAME_MAX = 40


def _first(value: Any) -> Any:
    # A key given twice in the query string arrives as a list; the last one wins.
    return value[-1] if isinstance(value, list) else value


@on_connect
async def identify(socket: Socket) -> None:
    """Bind the user named by ``?id=``; refuse the connection without one.

    A connection already authenticated (``REALTIME["AUTHENTICATE"]`` or
    ``BIND_SESSION_USER``) keeps its user.
    """
    if socket.user_id is not None:
        return
    user_id = _first(socket.params.get("id"))
    if not user_id:
        await socket.close(4011, "Auth failure")
        return
    await socket.bind(user_id)


@on("say")
async def say(socket: Socket, data: Any, ack: Ack) -> None:
    """Reply to a ``say`` event."""
    await ack({"msg": "I am a callback for your say event"})


@on("joinRoom")
async def join_room(socket: Socket, data: Any, ack: Ack) -> None:
    """Join room ``roomId`` (default "1000") of the ``chat`` namespace."""
    room_id = data.get("roomId") if isinstance(data, dict) else None
    room_id = DEFAULT_ROOM if room_id in (None, "") else str(room_id)
    await socket.join(CHAT_NAMESPACE, room_id)
    await ack({"msg": f"Successfully joined the roomId:{room_id}"})


async def _send_command(action: str, data: dict[str, Any]) -> bool:
    push = {"action": action, "msg": data.get("msg")}
    if action == "broadcast":
        await broadcast("say", push)
    elif action == "toPlayer":
        if data.get("toPlayerId") not in (None, ""):
            await to_user(str(data["toPlayerId"]), "say", push)
    elif action == "toPlayers":
        if isinstance(data.get("toPlayerIds"), list):
            await to_users([str(pid) for pid in data["toPlayerIds"]], "say", push)
    elif action == "toRoom":
        if data.get("roomId") not in (None, ""):
            await to_room(CHAT_NAMESPACE, str(data["roomId"]), "say", push)
    else:
        return False
    return True


@on("command")
async def command(socket: Socket, data: Any, ack: Ack) -> None:
    """Push ``say`` to everyone, one player, several players or a room."""
    if not isinstance(data, dict) or not isinstance(data.get("action"), str):
        await ack({"msg": "Failed to send message"})
        return
    action = data["action"]
    if not await _send_command(action, data):
        await ack({"msg": "Unknown action type"})
        return
    await ack({"msg": f"Message sent successfully [action:{action}] "})


# ---- the demo chat page ------------------------------------------------------------------


def _input_error(message: str, code: str = "INVALID_INPUT") -> dict[str, str]:
    """An error reply in the shape of the framework's own (``error`` and ``errorCode``)."""
    return {"error": message, "errorCode": code}


def _chat_text(data: Any) -> str | None:
    """The stripped ``text`` of a chat payload, or None when it is missing, blank or too long."""
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > CHAT_MAX_TEXT:
        return None
    return text.strip()


def _room_id(data: Any) -> str | None:
    """The ``roomId`` of a payload as a string (numbers allowed), or None when invalid."""
    room_id = data.get("roomId") if isinstance(data, dict) else None
    if isinstance(room_id, bool) or not isinstance(room_id, str | int):
        return None
    room_id = str(room_id)
    return room_id if 0 < len(room_id) <= ROOM_ID_MAX else None


def _sender(socket: Socket) -> dict[str, str]:
    """Who sent a chat message: the bound id and the ``name`` query parameter (or the id)."""
    name = _first(socket.params.get("name"))
    name = name.strip()[:NAME_MAX] if isinstance(name, str) and name.strip() else socket.user_id
    return {"id": str(socket.user_id), "name": str(name)}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@on("chat")
async def chat(socket: Socket, data: Any, ack: Ack) -> None:
    """Send ``text`` to the other members of room ``roomId``; the reply confirms delivery."""
    room_id, text = _room_id(data), _chat_text(data)
    if room_id is None:
        await ack(_input_error(f"roomId must be a string or number of 1..{ROOM_ID_MAX} characters"))
        return
    if text is None:
        await ack(_input_error(f"text must be a non-blank string of at most {CHAT_MAX_TEXT} chars"))
        return
    if (CHAT_NAMESPACE, room_id) not in socket.rooms:
        await ack(_input_error(f"join room {room_id} before chatting in it", "NOT_IN_ROOM"))
        return
    at = _now()
    message = {"from": _sender(socket), "roomId": room_id, "text": text, "at": at}
    await to_room(CHAT_NAMESPACE, room_id, "chatMessage", message, exclude=[socket.user_id])
    await ack({"delivered": True, "at": at})


@on("announce")
async def announce(socket: Socket, data: Any, ack: Ack) -> None:
    """Send ``text`` to every connection on every node, the sender's included."""
    text = _chat_text(data)
    if text is None:
        await ack(_input_error(f"text must be a non-blank string of at most {CHAT_MAX_TEXT} chars"))
        return
    at = _now()
    await broadcast("announcement", {"from": _sender(socket), "text": text, "at": at})
    await ack({"delivered": True, "at": at})
