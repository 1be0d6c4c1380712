"""What recovery needs from its collaborators, as narrow ``typing.Protocol`` interfaces.

The hub, the sockets and the channel layer's storage satisfy them; recovery imports none of
those modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Entry:
    """One kept push: its offset, the user ids it excluded (room pushes) and the frame."""

    offset: int
    excluded: tuple[str, ...]
    frame: str


class History(Protocol):
    """Bounded history of pushes per stream, with offsets and an epoch."""

    async def append(
        self, stream: str, frame: str, excluded: Sequence[str], size: int, ttl: int
    ) -> tuple[str, int] | None:
        """Keep one push; its ``(epoch, offset)``, or None when it could not be kept."""

    async def top(self, stream: str, ttl: int) -> tuple[str, int] | None:
        """The stream's ``(epoch, last offset)``, None when that cannot be known (storage
        unreachable). A stream with no history gets an empty one (kept ``ttl`` seconds), so
        that losing what is pushed later changes its epoch."""

    async def read(
        self, stream: str, epoch: str, after: int, missing: Sequence[int]
    ) -> tuple[str, list[Entry]] | None:
        """The epoch, and the entries after ``after`` plus the ``missing`` ones, in order;
        None when the history
        cannot tell (another epoch, trimmed, expired, unreachable). ``epoch`` "" means
        "the stream had no history then": any epoch, from its first entry."""


class Sessions(Protocol):
    """Closed sessions kept for the recovery window."""

    async def save(self, session_id: str, record: str, ttl: float) -> None:
        """Keep ``record`` for ``ttl`` seconds."""

    async def take(self, session_id: str) -> str | None:
        """Remove and return the record (at most one caller gets it), None if absent."""


class RecoverySocket(Protocol):
    """The parts of a connection recovery uses."""

    id: str
    user_id: str | None
    state: dict[str, Any]
    closed: bool
    recovered: bool

    async def send_text(self, text: str) -> bool:
        """Send one finished text frame."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection."""


class RecoveryHost(Protocol):
    """The parts of the hub recovery uses to restore a connection."""

    async def bind_user(self, user_id: Any, socket: Any, kick_previous: bool = False) -> None:
        """Bind the connection to a user (joins the user's node-level group)."""

    async def join_room(self, namespace: str, room: Any, user_id: Any) -> None:
        """Join a user of this node to a room (joins the room's node-level group)."""

    async def unbind_socket(self, socket: Any) -> None:
        """Undo a binding."""

    def user_rooms(self, user_id: Any) -> set[tuple[str, str]]:
        """The rooms of a user on this node."""


class StorageNodes(Protocol):
    """Redis commands on the channel layer's nodes (``MultiRedisChannelLayer.storage()``)."""

    redundancy: int
    prefix: str

    def order(self, key: str) -> list[str]:
        """Healthy node addresses for ``key``, its consistent-hash owner first."""

    async def command(self, address: str, *args: Any) -> Any:
        """Run one command on one node; raises ``ConnectionError`` when it is unreachable."""

    def generation(self, address: str) -> int:
        """How many times this process saw the node come back after being down."""
