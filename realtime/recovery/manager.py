"""The coordinator: keeps pushes in history, follows our clients' connections, saves their
session at close and restores it when they come back, on whatever node.

A recovering connect, in order: take the session (once, token checked), restore the user
binding and rooms (which subscribes live delivery: from then on pushes for this connection
are *held*), read every stream's history after where the client stopped, send the welcome
frame, the missed pushes in order, then the held live pushes except those already replayed,
and only then deliver live pushes directly. So nothing falls between history and live, and
nothing is sent twice at the seam.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..metrics import metrics
from ..wire.recovery import (
    RECOVERY_PARAM,
    MalformedRecovery,
    RecoveryRequest,
    StreamPosition,
    decode_request,
    encode_welcome,
    with_position,
)
from .interfaces import Entry, History, RecoveryHost, RecoverySocket, Sessions
from .streams import BROADCAST_STREAM, Policies, room_stream, user_stream

logger = logging.getLogger(__name__)

# Epoch recorded for a stream whose position could not be read at close: never recovers.
UNKNOWN_EPOCH = "!"
# Live pushes held for one connection while its history is replayed, at most; past that the
# connection is closed (4008, as a slow client) and the client recovers again.
MAX_HELD = 10_000
OVERFLOW_CODE = 4008
OVERFLOW_REASON = "Too slow"

Position = tuple[str, str, int]  # stream, epoch, offset
Held = tuple[str | None, str | None, int, str]


@dataclass
class Live:
    """One connection of a client that takes part in recovery."""

    session: str
    token: str
    # stream -> (epoch, offset) of the first push delivered on it to this connection
    first: dict[str, tuple[str, int]] = field(default_factory=dict)
    # Pushes held while replaying (None once live pushes go straight out).
    held: deque[Held] | None = field(default_factory=deque)
    # More than MAX_HELD pushes arrived while replaying: the connection must start over.
    overflowed: bool = False


@dataclass
class Outcome:
    """What a recovering connect found: replayed entries per stream, or why it failed."""

    streams: dict[str, tuple[str, list[Entry]]]
    known: dict[str, StreamPosition]


class Recovery:
    """History, sessions and the connections of our clients on this node."""

    def __init__(
        self, history: History, sessions: Sessions, policies: Policies, window: float
    ) -> None:
        self.history = history
        self.sessions = sessions
        self.policies = policies
        self.window = window
        self.live: dict[str, Live] = {}

    # -- pushes --------------------------------------------------------------------------

    async def keep(self, stream: str, frame: str, excluded: Sequence[str] = ()) -> Position | None:
        """Keep a push in its stream's history; its position, None when it is not kept."""
        policy = self.policies.of(stream)
        if policy is None:
            return None
        kept = await self.history.append(stream, frame, excluded, policy.size, policy.ttl)
        if kept is None:
            metrics.incr("history_failures")
            return None
        return stream, kept[0], kept[1]

    def split(self, sockets: Iterable[Any]) -> tuple[list[Any], list[Any]]:
        """The original protocol's connections, and our clients'."""
        plain, ours = [], []
        live = self.live
        for socket in sockets:
            (ours if socket.id in live else plain).append(socket)
        return plain, ours

    def route(
        self, sockets: Iterable[Any], position: Position | None, text: str
    ) -> tuple[list[Any], list[Any]]:
        """One pass over a push's local recipients: the original protocol's connections
        (they get the plain frame) and our clients' that get ``text`` now; our clients'
        connections being restored hold it instead. Notes where each stream started."""
        plain, now = [], []
        live = self.live
        stream, epoch, offset = position if position is not None else (None, None, 0)
        for socket in sockets:
            state = live.get(socket.id)
            if state is None:
                plain.append(socket)
                continue
            if stream is not None:
                known = state.first.get(stream)
                if known is None or known[0] != epoch:
                    state.first[stream] = (epoch, offset)
            held = state.held
            if held is None:
                now.append(socket)
            elif len(held) < MAX_HELD:
                held.append((stream, epoch, offset, text))
            else:
                metrics.incr("recovery_held_drops")
                state.overflowed = True
        return plain, now

    # -- connect -------------------------------------------------------------------------

    def request_of(self, params: dict[str, Any]) -> RecoveryRequest | None:
        """The recovery request in a connection's params (removed from them), if any."""
        raw = params.pop(RECOVERY_PARAM, None)
        if not isinstance(raw, str):
            return None
        try:
            return decode_request(raw)
        except MalformedRecovery as error:
            logger.info("Ignoring a malformed recovery request: %s", error)
            return RecoveryRequest()

    def attach(self, socket: RecoverySocket) -> None:
        """Follow a connection of our client; its pushes are held until :meth:`resume`."""
        self.live[socket.id] = Live(secrets.token_urlsafe(12), secrets.token_urlsafe(18))

    def detach(self, socket: RecoverySocket) -> None:
        """Stop following a connection."""
        self.live.pop(socket.id, None)

    async def resume(
        self,
        socket: RecoverySocket,
        request: RecoveryRequest,
        host: RecoveryHost,
        auth_user: str | None,
    ) -> bool:
        """Welcome the client, recovering its session when it asked and it can be done."""
        live = self.live[socket.id]
        outcome = None
        if request.session is not None:
            record = await self._take(request, auth_user)
            if record is not None:
                outcome = await self._restore(socket, record, request, host)
            metrics.incr("recoveries" if outcome else "recovery_refusals")
        socket.recovered = outcome is not None
        await socket.send_text(encode_welcome(live.session, live.token, outcome is not None))
        replayed: dict[str, set[int]] = {}
        if outcome is not None:
            replayed = await self._replay(socket, live, outcome)
        await self._release(socket, live, replayed, outcome)
        return outcome is not None

    async def _take(self, request: RecoveryRequest, auth_user: str | None) -> dict[str, Any] | None:
        assert request.session is not None and request.token is not None
        raw = await self.sessions.take(request.session)
        if raw is None:
            return None
        record: dict[str, Any] = json.loads(raw)
        if not hmac.compare_digest(record["token"], request.token):
            logger.info("Refused to recover a session: wrong token")
            return None
        if auth_user is not None and record["user"] not in (None, auth_user):
            logger.info("Refused to recover a session of another user")
            return None
        return record

    async def _restore(
        self,
        socket: RecoverySocket,
        record: dict[str, Any],
        request: RecoveryRequest,
        host: RecoveryHost,
    ) -> Outcome | None:
        user = record["user"]
        if user is not None:
            await host.bind_user(user, socket)
            for namespace, room in record["rooms"]:
                await host.join_room(namespace, room, user)
        outcome = await self._read(record["positions"], request.streams)
        if outcome is None:
            if user is not None:
                await host.unbind_socket(socket)
            return None
        socket.state.update(record["state"])
        return outcome

    async def _read(
        self, positions: dict[str, list[Any]], client: dict[str, StreamPosition]
    ) -> Outcome | None:
        wanted: dict[str, StreamPosition] = {}
        for stream, (epoch, floor) in positions.items():
            wanted[stream] = client.get(stream) or StreamPosition(epoch, floor)
        if any(position.epoch == UNKNOWN_EPOCH for position in wanted.values()):
            return None
        names = list(wanted)
        results = await asyncio.gather(
            *(
                self.history.read(s, wanted[s].epoch, wanted[s].top, wanted[s].missing)
                for s in names
            )
        )
        if any(result is None for result in results):
            return None
        return Outcome(dict(zip(names, results, strict=True)), wanted)  # type: ignore[arg-type]

    async def _replay(
        self, socket: RecoverySocket, live: Live, outcome: Outcome
    ) -> dict[str, set[int]]:
        replayed: dict[str, set[int]] = {}
        user = socket.user_id
        for stream, (epoch, entries) in outcome.streams.items():
            done = replayed.setdefault(stream, set())
            for entry in entries:
                done.add(entry.offset)
                if user is not None and user in entry.excluded:
                    continue
                live.first.setdefault(stream, (epoch, entry.offset))
                await socket.send_text(with_position(entry.frame, stream, epoch, entry.offset))
        return replayed

    async def _release(
        self,
        socket: RecoverySocket,
        live: Live,
        replayed: dict[str, set[int]],
        outcome: Outcome | None,
    ) -> None:
        known = outcome.known if outcome is not None else {}
        while live.held:
            stream, epoch, offset, text = live.held.popleft()
            if stream is not None and (
                offset in replayed.get(stream, ()) or _received(known.get(stream), epoch, offset)
            ):
                continue
            await socket.send_text(text)
        live.held = None  # no await since the last check: nothing can slip in between
        if live.overflowed:  # pushes were dropped: start over, from what the client has
            await socket.close(OVERFLOW_CODE, OVERFLOW_REASON)

    # -- close ---------------------------------------------------------------------------

    def _ttl(self, stream: str) -> int:
        policy = self.policies.of(stream)
        return policy.ttl if policy is not None else 1

    def streams_of(self, socket: RecoverySocket, host: RecoveryHost) -> list[str]:
        """The history streams a connection receives pushes on."""
        streams = [BROADCAST_STREAM]
        if socket.user_id is not None:
            streams.append(user_stream(socket.user_id))
            streams += [
                room_stream(ns, room) for ns, room in sorted(host.user_rooms(socket.user_id))
            ]
        return [stream for stream in streams if self.policies.of(stream) is not None]

    async def suspend(self, socket: RecoverySocket, host: RecoveryHost) -> None:
        """Keep a closing connection's session for the window (call before unregistering)."""
        live = self.live.get(socket.id)
        if live is None or self.window <= 0:
            return
        streams = self.streams_of(socket, host)
        unknown = [stream for stream in streams if stream not in live.first]
        tops = await asyncio.gather(
            *(self.history.top(stream, self._ttl(stream)) for stream in unknown)
        )
        floors = dict(zip(unknown, tops, strict=True))
        positions: dict[str, list[Any]] = {}
        for stream in streams:
            if stream in live.first:
                epoch, offset = live.first[stream]
                positions[stream] = [epoch, offset - 1]
            else:
                top = floors.get(stream)
                positions[stream] = list(top) if top is not None else [UNKNOWN_EPOCH, 0]
        rooms = sorted(host.user_rooms(socket.user_id)) if socket.user_id is not None else []
        record = {
            "token": live.token,
            "user": socket.user_id,
            "rooms": [list(room) for room in rooms],
            "state": _json_state(socket),
            "positions": positions,
        }
        await self.sessions.save(live.session, json.dumps(record), self.window)


def _received(position: StreamPosition | None, epoch: str | None, offset: int) -> bool:
    if position is None or position.epoch != epoch:
        return False
    return offset == position.top or (offset < position.top and offset not in position.missing)


def _json_state(socket: RecoverySocket) -> dict[str, Any]:
    try:
        json.dumps(socket.state, allow_nan=False)
    except (TypeError, ValueError):
        logger.info("%r: socket.state is not JSON-serialisable; it is not kept", socket)
        return {}
    return dict(socket.state)
