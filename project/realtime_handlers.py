"""The demo's event handlers, reproducing the original framework's examples.

* connect with ``?id=X`` binds user X; without an id the connection closes with 4011.
* ``say`` replies ``{"msg": ...}``.
* ``joinRoom`` joins namespace ``chat``, room ``payload.roomId`` (default ``"1000"``).
* ``command`` with ``action`` broadcast / toPlayer / toPlayers / toRoom pushes ``say``.
"""

from typing import Any

from realtime import Socket, broadcast, on, on_connect, to_room, to_user, to_users
from realtime.acks import Ack

CHAT_NAMESPACE = "chat"
DEFAULT_ROOM = "1000"


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
