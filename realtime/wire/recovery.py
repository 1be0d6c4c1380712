"""Connection state recovery on the wire: a pure codec shared by the server and our clients.

Everything here is optional for a client. A client that wants recovery says so with one
query-string parameter, :data:`RECOVERY_PARAM` (the original client never sends it, so it
never sees any of the frames below):

* connect: ``rt-recovery={}`` asks for a session; ``rt-recovery={"id":..,"token":..,
  "streams":{"<stream>":["<epoch>",<top>,[<missing>...]]}}`` asks to recover one.
* the server's first frame is then a *welcome* ``{"rt":{"session":..,"token":..,
  "recovered":true|false}}`` (no ``event``, no ``callbackId``).
* every push the server sends such a client carries its place in a history stream:
  ``{"event":..,"payload":..,"rt":["<stream>","<epoch>",<offset>]}``.

:class:`PositionTracker` is what a client keeps per stream: the highest offset received and
which of the :data:`WINDOW` offsets below it arrived (pushes to one stream published by
different server nodes may arrive out of order; the server replays the holes too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from .protocol import ProtocolError

RECOVERY_PARAM: Final = "rt-recovery"
FRAME_KEY: Final = "rt"
# Offsets below a stream's top that a client reports as not received (at most this many).
WINDOW: Final = 32
MAX_STREAMS: Final = 1000
MAX_TEXT: Final = 256


class MalformedRecovery(ProtocolError):
    """A recovery request that does not follow the format (the server ignores it)."""


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where a client stopped in one stream: ``top`` received, ``missing`` holes below it."""

    epoch: str
    top: int
    missing: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RecoveryRequest:
    """What a client sent in :data:`RECOVERY_PARAM`; ``session`` None asks for a new one."""

    session: str | None = None
    token: str | None = None
    streams: dict[str, StreamPosition] = field(default_factory=dict)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_request(request: RecoveryRequest) -> str:
    """The value of :data:`RECOVERY_PARAM` for ``request``."""
    if request.session is None:
        return "{}"
    streams = {
        name: [pos.epoch, pos.top, list(pos.missing)] for name, pos in request.streams.items()
    }
    return _dumps({"id": request.session, "token": request.token, "streams": streams})


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT:
        raise MalformedRecovery(f"{what} must be a string of 1..{MAX_TEXT} characters")
    return value


def _offset(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedRecovery(f"{what} must be an integer >= 0")
    return value


def _position(name: str, value: Any) -> StreamPosition:
    if not isinstance(value, list) or len(value) != 3 or not isinstance(value[2], list):
        raise MalformedRecovery(f"stream {name!r}: expected [epoch, top, [missing]]")
    if len(value[2]) > WINDOW:
        raise MalformedRecovery(f"stream {name!r}: more than {WINDOW} missing offsets")
    missing = tuple(_offset(item, "a missing offset") for item in value[2])
    return StreamPosition(_text(value[0], "an epoch"), _offset(value[1], "a top"), missing)


def decode_request(text: str) -> RecoveryRequest:
    """Parse the value of :data:`RECOVERY_PARAM`; raises :class:`MalformedRecovery`."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedRecovery("not JSON") from None
    if not isinstance(data, dict):
        raise MalformedRecovery("not a JSON object")
    if not data:
        return RecoveryRequest()
    streams = data.get("streams", {})
    if not isinstance(streams, dict) or len(streams) > MAX_STREAMS:
        raise MalformedRecovery(f"streams must be an object of at most {MAX_STREAMS} entries")
    return RecoveryRequest(
        _text(data.get("id"), "id"),
        _text(data.get("token"), "token"),
        {_text(name, "a stream"): _position(name, value) for name, value in streams.items()},
    )


def encode_welcome(session: str, token: str, recovered: bool) -> str:
    """The server's first frame to a client that asked for recovery."""
    body = {"session": session, "token": token, "recovered": recovered}
    return _dumps({FRAME_KEY: body})


def with_position(frame: str, stream: str, epoch: str, offset: int) -> str:
    """A finished push frame (a JSON object) with its place in ``stream`` added."""
    return frame[:-1] + ',"rt":' + _dumps([stream, epoch, offset]) + "}"


def read_position(frame: dict[str, Any]) -> tuple[str, str, int] | None:
    """The ``(stream, epoch, offset)`` of a decoded push frame, None when it has none."""
    return as_position(frame.get(FRAME_KEY))


def as_position(value: Any) -> tuple[str, str, int] | None:
    """``value`` as a ``(stream, epoch, offset)``, None when it is not one."""
    if (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and isinstance(value[1], str)
        and isinstance(value[2], int)
        and not isinstance(value[2], bool)
    ):
        return value[0], value[1], value[2]
    return None


def read_welcome(frame: dict[str, Any]) -> tuple[str, str, bool] | None:
    """The ``(session, token, recovered)`` of a welcome frame, None for any other frame."""
    value = frame.get(FRAME_KEY)
    if "event" in frame or not isinstance(value, dict):
        return None
    session, token = value.get("session"), value.get("token")
    if isinstance(session, str) and isinstance(token, str):
        return session, token, value.get("recovered") is True
    return None


class PositionTracker:
    """A client's place in every stream it received pushes on (see the module docstring)."""

    def __init__(self) -> None:
        self.session: str | None = None
        self.token: str | None = None
        # stream -> [epoch, top, first offset received, offsets received below top]
        self._streams: dict[str, tuple[str, int, int, set[int]]] = {}

    def welcome(self, session: str, token: str, recovered: bool) -> None:
        """A connection opened: keep positions when recovered, else start afresh."""
        self.session, self.token = session, token
        if not recovered:
            self._streams.clear()

    def note(self, stream: str, epoch: str, offset: int) -> bool:
        """Record a received push; False when it is a duplicate (already received)."""
        known = self._streams.get(stream)
        if known is None or known[0] != epoch:
            self._streams[stream] = (epoch, offset, offset, set())
            return True
        _, top, first, seen = known
        if offset == top or offset in seen or offset <= top - WINDOW:
            return False
        if offset < top:
            seen.add(offset)
            self._streams[stream] = (epoch, top, min(first, offset), seen)
            return True
        seen.add(top)
        kept = {o for o in seen if o > offset - WINDOW}
        self._streams[stream] = (epoch, offset, first, kept)
        return True

    def request(self) -> RecoveryRequest:
        """What to send at the next connect: recover the session if there is one."""
        if not self.session or not self.token:
            return RecoveryRequest()
        streams = {}
        for name, (epoch, top, first, seen) in self._streams.items():
            start = max(first + 1, top - WINDOW + 1)
            missing = tuple(o for o in range(start, top) if o not in seen)
            streams[name] = StreamPosition(epoch, top, missing)
        return RecoveryRequest(self.session, self.token, streams)
