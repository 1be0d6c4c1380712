"""The messages server nodes send each other over the channel layer: one schema, one codec.

Each message type is a frozen dataclass with named fields; :func:`encode` turns it into the
compact dict that travels (short keys: a fan-out message is published once per send, and the
frame it carries dominates its size), :func:`decode` turns a received dict back into the
dataclass or raises :class:`MalformedNodeMessage`. The sending node's instance id travels
under ``"o"`` (added by the node link) so that a node skips its own publishes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, TypeAlias, TypeVar, dataclass_transform

from .recovery import as_position

ORIGIN_KEY: Final = "o"


class _Message:
    """What every node message has: its wire ``TYPE``."""

    __slots__ = ()
    TYPE: ClassVar[str]


_M = TypeVar("_M", bound=_Message)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def _message(type_name: str) -> Callable[[type[_M]], type[_M]]:
    """Make a frozen, slotted dataclass of a message class with its wire ``TYPE``."""

    def make(cls: type[_M]) -> type[_M]:
        cls.TYPE = type_name
        return dataclass(frozen=True, slots=True)(cls)

    return make


class MalformedNodeMessage(ValueError):
    """A node message of a known type lacks a field or has one of the wrong kind."""


# A push's place in its history stream: (stream, epoch, offset); see realtime.wire.recovery.
Position: TypeAlias = tuple[str, str, int]


@_message("realtime.all")
class ToAll(_Message):
    """Deliver ``frame`` to every connection of every node (kept at ``position``)."""

    frame: str
    position: Position | None = None


@_message("realtime.users")
class ToUsers(_Message):
    """Deliver ``frame`` to every connection of these users (each user's position)."""

    user_ids: list[str]
    frame: str
    positions: dict[str, Position] | None = None


@_message("realtime.room")
class ToRoom(_Message):
    """Deliver ``frame`` to every member of a room, except the ``exclude`` user ids."""

    namespace: str
    room: str
    frame: str
    exclude: list[str] = field(default_factory=list)
    position: Position | None = None


@_message("realtime.kick")
class Kick(_Message):
    """Close every connection of ``user_id`` (it logged in elsewhere)."""

    user_id: str


@_message("realtime.ack")
class ClientReply(_Message):
    """A reply frame for one connection of one process (``ack.forward()``)."""

    instance: str
    socket_id: str
    frame: str


@_message("realtime.presence")
class Presence(_Message):
    """A node's announcement (``leaving``: it is shutting down)."""

    node: dict[str, Any]
    leaving: bool = False


@_message("realtime.call")
class Call(_Message):
    """A cross-server call; ``call_id`` and ``reply_channel`` are None for a notification."""

    event: str
    payload: Any
    sender: str
    call_id: str | None = None
    reply_channel: str | None = None


@_message("realtime.reply")
class Reply(_Message):
    """One node's reply to a cross-server call."""

    call_id: str
    node: str
    ok: bool = True
    payload: Any = None
    error: str | None = None
    code: str | None = None


NodeMessage: TypeAlias = ToAll | ToUsers | ToRoom | Kick | ClientReply | Presence | Call | Reply


def _encode_call(m: Call) -> dict[str, Any]:
    out = {"event": m.event, "p": m.payload, "from": m.sender}
    if m.call_id is not None:
        out.update(id=m.call_id, reply=m.reply_channel)
    return out


def _encode_reply(m: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"id": m.call_id, "node": m.node, "ok": m.ok}
    if m.ok:
        out["p"] = m.payload
    else:
        out.update(error=m.error, code=m.code)
    return out


def _encode_presence(m: Presence) -> dict[str, Any]:
    return {"node": m.node, "leaving": True} if m.leaving else {"node": m.node}


def _with_position(out: dict[str, Any], position: Any) -> dict[str, Any]:
    # Only pushes kept in history carry "h"; older nodes ignore the key.
    if position:
        out["h"] = list(position) if isinstance(position, tuple) else position
    return out


_ENCODERS: Final[dict[type, Callable[[Any], dict[str, Any]]]] = {
    ToAll: lambda m: _with_position({"f": m.frame}, m.position),
    ToUsers: lambda m: _with_position(
        {"ids": m.user_ids, "f": m.frame},
        {uid: list(p) for uid, p in m.positions.items()} if m.positions else None,
    ),
    ToRoom: lambda m: _with_position(
        {"ns": m.namespace, "room": m.room, "x": m.exclude, "f": m.frame}, m.position
    ),
    Kick: lambda m: {"user": m.user_id},
    ClientReply: lambda m: {"i": m.instance, "s": m.socket_id, "f": m.frame},
    Presence: _encode_presence,
    Call: _encode_call,
    Reply: _encode_reply,
}

_DECODERS: Final[dict[str, Callable[[dict[str, Any]], NodeMessage]]] = {
    ToAll.TYPE: lambda d: ToAll(_str(d, "f"), _position(d, d.get("h"))),
    ToUsers.TYPE: lambda d: ToUsers(_str_list(d, "ids"), _str(d, "f"), _positions(d)),
    ToRoom.TYPE: lambda d: ToRoom(
        _str(d, "ns"),
        _str(d, "room"),
        _str(d, "f"),
        _str_list(d, "x", []),
        _position(d, d.get("h")),
    ),
    Kick.TYPE: lambda d: Kick(_str(d, "user")),
    ClientReply.TYPE: lambda d: ClientReply(_str(d, "i"), _str(d, "s"), _str(d, "f")),
    Presence.TYPE: lambda d: Presence(_dict(d, "node"), bool(d.get("leaving"))),
    Call.TYPE: lambda d: Call(
        _str(d, "event"), d.get("p"), _str(d, "from"), _opt_str(d, "id"), _opt_str(d, "reply")
    ),
    Reply.TYPE: lambda d: Reply(
        _str(d, "id"),
        _str(d, "node"),
        bool(d.get("ok", True)),
        d.get("p"),
        _opt_str(d, "error"),
        _opt_str(d, "code"),
    ),
}

KNOWN_TYPES: Final = frozenset(_DECODERS)


def encode(message: NodeMessage) -> dict[str, Any]:
    """The compact dict of ``message``, ready for ``group_send`` / ``send``."""
    return {"type": message.TYPE, **_ENCODERS[type(message)](message)}


def decode(data: dict[str, Any]) -> NodeMessage:
    """The message a received dict holds.

    Raises :class:`MalformedNodeMessage` for an unknown type or a missing or mistyped field.
    """
    decoder = _DECODERS.get(data.get("type"))  # type: ignore[arg-type]
    if decoder is None:
        raise MalformedNodeMessage(f"unknown node message type {data.get('type')!r}")
    return decoder(data)


def _field(data: dict[str, Any], key: str) -> Any:
    try:
        return data[key]
    except KeyError:
        raise MalformedNodeMessage(f"{data.get('type')} message without {key!r}") from None


def _str(data: dict[str, Any], key: str) -> str:
    value = _field(data, key)
    if not isinstance(value, str):
        raise MalformedNodeMessage(f"{data.get('type')} field {key!r} is not a string")
    return value


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if value is None else _str(data, key)


def _str_list(data: dict[str, Any], key: str, default: list[str] | None = None) -> list[str]:
    value = data.get(key, default) if default is not None else _field(data, key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MalformedNodeMessage(f"{data.get('type')} field {key!r} is not a list of strings")
    return value


def _position(data: dict[str, Any], value: Any) -> Position | None:
    if value is None:
        return None
    position = as_position(list(value) if isinstance(value, tuple) else value)
    if position is not None:
        return position
    raise MalformedNodeMessage(f"{data.get('type')} field 'h' is not [stream, epoch, offset]")


def _positions(data: dict[str, Any]) -> dict[str, Position] | None:
    value = data.get("h")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedNodeMessage(f"{data.get('type')} field 'h' is not a map")
    return {str(uid): _position(data, item) for uid, item in value.items()}  # type: ignore[misc]


def _dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = _field(data, key)
    if not isinstance(value, dict):
        raise MalformedNodeMessage(f"{data.get('type')} field {key!r} is not a map")
    return value
