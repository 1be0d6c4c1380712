"""The hub's side of recovery, so the hub only makes one call per step.

:class:`HubRecovery` is built by the hub with callables and values (the hub itself as the
:class:`~realtime.recovery.interfaces.RecoveryHost`, its ``deliver``, the layer and the
settings); it never imports the hub. It builds the coordinator on first use, keeps pushes in
history, fans finished frames out with or without their position, and follows connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from ..wire.recovery import RECOVERY_PARAM, RecoveryRequest, encode_welcome, with_position
from .interfaces import RecoveryHost, RecoverySocket
from .manager import Position, Recovery
from .setup import build_recovery
from .streams import user_stream

logger = logging.getLogger(__name__)

Deliver = Callable[[list[Any], str], Awaitable[int]]


class HubRecovery:
    """Recovery as one hub uses it (``hub.history``).

    ``storage_of`` is the layer's ``storage()`` when it declares that extension;
    ``distributed`` is False for a layer that keeps everything in one process.
    """

    def __init__(
        self,
        host: RecoveryHost,
        deliver: Deliver,
        storage_of: Callable[[], Awaitable[Any]] | None,
        distributed: bool,
        settings: Callable[[], tuple[bool, float, dict[str, Any]]],
    ) -> None:
        self.host = host
        self.deliver = deliver
        self.storage_of = storage_of
        self.distributed = distributed
        self.settings = settings
        #: The coordinator; None when recovery is off (or before first use).
        self.recovery: Recovery | None = None
        self._ready = False
        self._lock = asyncio.Lock()

    async def ready(self) -> Recovery | None:
        """The coordinator, built on first use from the settings and the layer's storage.

        Concurrent first connections wait for one build (an uncontended lock does not
        yield, so a layer without storage costs no extra turn of the loop).
        """
        if self._ready:
            return self.recovery
        async with self._lock:
            if not self._ready:
                try:
                    await self._build()
                except Exception as error:  # e.g. no Redis node reachable yet: retry later
                    logger.warning("Connection state recovery is not available yet: %s", error)
                    return None
        return self.recovery

    async def _build(self) -> None:
        storage_of = self.storage_of
        storage = await storage_of() if storage_of is not None and self.distributed else None
        enabled, window, history = self.settings()
        self.recovery = build_recovery(enabled, window, history, storage, not self.distributed)
        self._ready = True

    async def push(
        self, sockets: list[Any], frame: str, stream: str, excluded: Sequence[str] = ()
    ) -> Position | None:
        """A push sent on this node: the original protocol's connections get it at once,
        then it is kept in history, then our clients' connections get it with its
        position (they must not see a push that history lacks). Returns the position."""
        recovery = self.recovery if self._ready else await self.ready()
        if recovery is None:
            await self.deliver(sockets, frame)
            return None
        plain, ours = recovery.split(sockets)
        if plain:
            await self.deliver(plain, frame)
        position = await recovery.keep(stream, frame, excluded)
        if ours:
            await self.send(ours, frame, position)
        return position

    async def push_users(
        self, user_ids: list[str], frame: str, sockets_of: Callable[[str], Iterable[Any]]
    ) -> dict[str, Position]:
        """:meth:`push` to several users, each in their own stream; their positions."""
        recovery = self.recovery if self._ready else await self.ready()
        everyone = [socket for user_id in user_ids for socket in sockets_of(user_id)]
        if recovery is None:
            await self.deliver(everyone, frame)
            return {}
        plain, _ = recovery.split(everyone)
        if plain:
            await self.deliver(plain, frame)
        positions = {}
        for user_id in user_ids:
            position = await recovery.keep(user_stream(user_id), frame)
            if position is not None:
                positions[user_id] = position
            _, ours = recovery.split(sockets_of(user_id))
            if ours:
                await self.send(ours, frame, position)
        return positions

    async def send(self, sockets: list[Any], frame: str, position: Any) -> int:
        """Deliver a push locally: plain to the original protocol's clients, with its
        position to ours (held for those being restored). Returns how many got it now."""
        recovery = self.recovery
        if recovery is None or not recovery.live:
            return await self.deliver(sockets, frame)
        position = tuple(position) if position else None
        text = with_position(frame, *position) if position else frame
        plain, now = recovery.route(sockets, position, text)
        sent = await self.deliver(plain, frame) if plain else 0
        return sent + (await self.deliver(now, text) if now else 0)

    # -- connections ---------------------------------------------------------------------

    async def follow(self, socket: Any) -> RecoveryRequest | None:
        """Before registering a connection: the recovery request of one of our clients (its
        pushes are then held until :meth:`resume`), None for any other client."""
        recovery = await self.ready()
        if recovery is None:
            if socket.params.pop(RECOVERY_PARAM, None) is not None:
                await socket.send_text(encode_welcome("", "", False))  # recovery is off
            return None
        request = recovery.request_of(socket.params)
        if request is not None:
            recovery.attach(socket)
        return request

    async def resume(self, socket: Any, request: RecoveryRequest, auth_user: Any) -> bool:
        """Welcome a followed connection, restoring its session if it can; True if it did."""
        assert self.recovery is not None
        user = None if auth_user is None else str(auth_user)
        return await self.recovery.resume(socket, request, self.host, user)

    async def suspend(self, socket: RecoverySocket) -> None:
        """Keep a closing connection's session (before it is unregistered)."""
        recovery = self.recovery
        if recovery is not None and socket.id in recovery.live:
            try:
                await recovery.suspend(socket, self.host)
            except Exception:  # the connection still goes; only its recovery is lost
                logger.exception("Keeping the session of %r failed", socket)

    def detach(self, socket: RecoverySocket) -> None:
        """Stop following a connection (after it is unregistered)."""
        if self.recovery is not None:
            self.recovery.detach(socket)
