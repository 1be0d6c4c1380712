"""Names of history streams and the history policy per stream: pure, no I/O.

A stream is the history of one push target: ``b`` (every connection), ``u.<user>`` (one
user), ``r.<namespace>.<room>`` (one room); ``%`` and ``.`` in names are percent-encoded, so
the name is unambiguous. Clients treat stream names as opaque.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

BROADCAST_STREAM: Final = "b"
# Keys of REALTIME["HISTORY"] for the streams that are not rooms.
USERS_KEY: Final = "@users"
BROADCAST_KEY: Final = "@broadcast"
DEFAULT_KEY: Final = "*"


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace(".", "%2E")


def user_stream(user_id: str) -> str:
    """The stream of pushes to one user."""
    return "u." + _escape(user_id)


def room_stream(namespace: str, room: str) -> str:
    """The stream of pushes to one room."""
    return "r." + _escape(namespace) + "." + _escape(room)


def policy_key(stream: str) -> str:
    """The REALTIME["HISTORY"] key that governs ``stream``: a namespace, @users, @broadcast."""
    if stream == BROADCAST_STREAM:
        return BROADCAST_KEY
    if stream.startswith("u."):
        return USERS_KEY
    return stream[2:].split(".", 1)[0].replace("%2E", ".").replace("%25", "%")


@dataclass(frozen=True, slots=True)
class HistoryPolicy:
    """How much history one stream keeps: ``size`` pushes, for ``ttl`` seconds of silence."""

    size: int
    ttl: int


DEFAULT_POLICY: Final = HistoryPolicy(size=1000, ttl=300)


class Policies:
    """The history policy of every stream, from REALTIME["HISTORY"] (validated first)."""

    def __init__(self, setting: Mapping[str, Any]) -> None:
        base = setting.get(DEFAULT_KEY, {})
        self.default = _merge(DEFAULT_POLICY, base) if base is not None else None
        self._by_key: dict[str, HistoryPolicy | None] = {
            key: (_merge(self.default or DEFAULT_POLICY, value) if value is not None else None)
            for key, value in setting.items()
            if key != DEFAULT_KEY
        }
        self._cache: dict[str, HistoryPolicy | None] = {}

    def of(self, stream: str) -> HistoryPolicy | None:
        """The policy of ``stream``; None when it keeps no history."""
        try:
            return self._cache[stream]
        except KeyError:
            key = policy_key(stream)
            policy = self._by_key.get(key, self.default)
            if len(self._cache) < 10_000:
                self._cache[stream] = policy
            return policy


def _merge(base: HistoryPolicy, values: Mapping[str, int]) -> HistoryPolicy:
    return HistoryPolicy(values.get("size", base.size), values.get("ttl", base.ttl))
