"""Cross-server events: server nodes call each other and collect the replies::

    @on_cross_server("reindex")
    async def reindex(message, reply):          # message.sender, message.payload
        await reply({"done": True})             # or return the reply value

    result = await emit_cross_server("reindex", {"full": False})
    result.success, result.responses, result.missing

The local node's handler runs in-process, without a round trip through Redis. Replies travel
to the caller's node channel only (never broadcast), each node counts once, and the default
number of expected replies is the number of live target nodes from cluster membership.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from ..conf import realtime_settings
from ..node.identity import NodeIdentity
from ..node.link import NodeLink
from ..wire import codes, names
from ..wire.node_messages import Call, Reply
from ..wire.protocol import MISSING
from .membership import Membership

logger = logging.getLogger(__name__)
SYSTEM_PREFIX = "realtime:"
NO_HANDLER, HANDLER_ERROR = codes.NO_HANDLER, codes.HANDLER_ERROR


@dataclass(frozen=True, slots=True)
class CrossServerMessage:
    """What a cross-server handler receives."""

    event: str
    payload: Any
    sender: str


@dataclass(frozen=True, slots=True)
class CrossServerReply:
    """One node's answer; ``ok`` is False when it had no handler or the handler failed."""

    node: str
    payload: Any = None
    ok: bool = True
    error: str | None = None
    error_code: str | None = None


@dataclass
class CrossServerResult:
    """The outcome of :func:`emit_cross_server`.

    ``success`` is True when at least ``expected`` nodes replied and every reply is ok.
    ``missing`` names the expected live nodes that did not reply in time; ``unknown`` the
    requested targets that are not live cluster members; ``errors`` maps node names to
    ``{"error", "errorCode"}`` for nodes without a handler or whose handler failed.
    """

    success: bool
    expected: int
    responses: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Plan:
    local: bool
    remote: tuple[str, ...]
    broadcast: bool
    unknown: tuple[str, ...]
    expected: int


class CallOptions(TypedDict, total=False):
    """Options of a cross-server call (``emit_cross_server`` and friends).

    ``targets``: node names (default: every live node); ``except_self``: leave this node
    out; ``expected_responses``: replies that complete the call (default: the number of live
    target nodes); ``timeout``: seconds to wait (default ``CROSS_SERVER_TIMEOUT``).
    """

    targets: Iterable[str] | None
    except_self: bool
    expected_responses: int | None
    timeout: float | None


ReplyFunction = Callable[[Any], Awaitable[None]]
Handler = Callable[[CrossServerMessage, ReplyFunction], Awaitable[Any]]
#: An internal handler (``realtime:`` events): gets the payload, returns the reply.
SystemHandler = Callable[[Any], Awaitable[Any]]


class CrossServer:
    """Cross-server calls of one node: sending requests, answering them, collecting replies.

    ``find_handler`` looks up the application's ``@on_cross_server`` handler of an event.
    """

    def __init__(
        self,
        identity: NodeIdentity,
        link: NodeLink,
        membership: Membership,
        find_handler: Callable[[str], Handler | None],
    ) -> None:
        self.identity = identity
        self.link = link
        self.membership = membership
        self.find_app_handler = find_handler
        self._pending: dict[str, asyncio.Queue[CrossServerReply]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.system_handlers: dict[str, SystemHandler] = {}

    def _plan(self, event: str, options: CallOptions, expected: int | None = None) -> _Plan:
        _check_event(event)
        targets = options.get("targets")
        me = self.identity.name
        live = set(self.membership.live_names())
        if targets is None:
            wanted, unknown = live, ()
        else:
            requested = list(dict.fromkeys(str(t) for t in targets))
            wanted = {t for t in requested if t in live}
            unknown = tuple(t for t in requested if t not in live)
        if options.get("except_self", False):
            wanted.discard(me)
        remote = tuple(sorted(wanted - {me}))
        if expected is None:
            expected = options.get("expected_responses")
        if expected is None:
            expected = len(wanted)
        elif not isinstance(expected, int) or isinstance(expected, bool) or expected < 0:
            raise ValueError(f"expected_responses must be an integer >= 0, not {expected!r}")
        return _Plan(me in wanted, remote, targets is None, unknown, expected)

    async def stream(
        self, event: str, data: Any = None, **options: Unpack[CallOptions]
    ) -> AsyncIterator[CrossServerReply]:
        """Yield each node's reply as it arrives, until all expected replied or ``timeout``."""
        plan = self._plan(event, options)
        async for reply in self._call(plan, event, data, options.get("timeout")):
            yield reply

    async def emit(
        self, event: str, data: Any = None, **options: Unpack[CallOptions]
    ) -> CrossServerResult:
        """Send ``event`` to the target nodes (all by default) and collect their replies."""
        plan = self._plan(event, options)
        replies = [reply async for reply in self._call(plan, event, data, options.get("timeout"))]
        result = CrossServerResult(
            success=False, expected=plan.expected, unknown=list(plan.unknown)
        )
        for reply in replies:
            if reply.ok:
                result.responses[reply.node] = reply.payload
            else:
                result.errors[reply.node] = {
                    "error": reply.error or "",
                    "errorCode": reply.error_code or "",
                }
        answered = {reply.node for reply in replies}
        wanted = set(plan.remote) | ({self.identity.name} if plan.local else set())
        result.missing = sorted(wanted - answered)
        result.success = len(replies) >= plan.expected and not result.errors
        return result

    async def notify(
        self, event: str, data: Any = None, targets: Iterable[str] | None = None, **options: Any
    ) -> None:
        """Send ``event`` to the target nodes without waiting for replies (``except_self``
        is the only other option)."""
        plan = self._plan(event, {"targets": targets, **options}, expected=0)
        await self._send_request(plan, event, data, None)

    async def _call(
        self, plan: _Plan, event: str, data: Any, timeout: float | None
    ) -> AsyncIterator[CrossServerReply]:
        timeout = realtime_settings.CROSS_SERVER_TIMEOUT if timeout is None else timeout
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, not {timeout!r}")
        call_id = secrets.token_hex(8)
        queue: asyncio.Queue[CrossServerReply] = asyncio.Queue()
        self._pending[call_id] = queue
        try:
            await self._send_request(plan, event, data, call_id)
            async for reply in self._collect(queue, plan.expected, timeout):
                yield reply
        finally:
            del self._pending[call_id]

    async def _send_request(self, plan: _Plan, event: str, data: Any, call_id: str | None) -> None:
        link = self.link
        if plan.remote:
            reply_channel = None
            if call_id is not None:
                await link.ensure_channel()
                reply_channel = link.channel
            message = Call(event, data, self.identity.name, call_id, reply_channel)
            if plan.broadcast:
                await link.publish(names.ALL_NODES_GROUP, message)
            else:
                for target in plan.remote:
                    await link.publish(names.node_group(target), message)
        if plan.local:
            call = Call(event, data, self.identity.name, call_id, None)
            self._spawn(self._answer(call))

    @staticmethod
    async def _collect(
        queue: asyncio.Queue[CrossServerReply], expected: int, timeout: float
    ) -> AsyncIterator[CrossServerReply]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: set[str] = set()
        while len(seen) < expected:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                reply = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                return
            if reply.node not in seen:  # a node's duplicate replies count once
                seen.add(reply.node)
                yield reply

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_call(self, message: Call) -> None:
        """A request from another node (or to all nodes)."""
        self._spawn(self._answer(message))

    async def on_reply(self, message: Reply) -> None:
        """A reply to one of this node's calls."""
        queue = self._pending.get(message.call_id)
        if queue is None:
            return  # the call timed out already
        queue.put_nowait(
            CrossServerReply(message.node, message.payload, message.ok, message.error, message.code)
        )

    async def _answer(self, call: Call) -> None:
        reply = await self._run_handler(call.event, call.payload, call.sender)
        if call.call_id is None:
            return
        if call.reply_channel is None:
            queue = self._pending.get(call.call_id)
            if queue is not None:
                queue.put_nowait(reply)
            return
        message = Reply(
            call.call_id, reply.node, reply.ok, reply.payload, reply.error, reply.error_code
        )
        try:
            await self.link.send(call.reply_channel, message)
        except Exception:
            logger.exception(
                "Replying to cross-server call %s from %s failed", call.call_id, call.sender
            )

    async def _run_handler(self, event: str, data: Any, sender: str) -> CrossServerReply:
        node = self.identity.name
        handler = self._find_handler(event)
        if handler is None:
            return CrossServerReply(
                node, None, False, f"No handler for {event!r} on {node}", NO_HANDLER
            )
        replies: list[Any] = []

        async def reply(payload: Any = None) -> None:
            if not replies:
                replies.append(payload)

        try:
            async with asyncio.timeout(realtime_settings.HANDLER_TIMEOUT):
                result = await handler(CrossServerMessage(event, data, sender), reply)
        except Exception as exc:
            logger.exception("Cross-server handler for %r failed", event)
            return CrossServerReply(
                node, None, False, f"Handler for {event!r} failed: {exc!r}", HANDLER_ERROR
            )
        payload = replies[0] if replies else result
        return CrossServerReply(node, None if payload is MISSING else payload)

    def _find_handler(self, event: str) -> Handler | None:
        if event.startswith(SYSTEM_PREFIX):
            system = self.system_handlers.get(event)
            if system is None:
                return None

            async def run_system(message: CrossServerMessage, reply: ReplyFunction) -> Any:
                return await system(message.payload)

            return run_system
        return self.find_app_handler(event)

    async def stop(self) -> None:
        """Cancel handlers still running."""
        for task in list(self._tasks):
            task.cancel()


def _check_event(event: Any) -> None:
    if not isinstance(event, str) or not event:
        raise ValueError(f"cross-server event must be a non-empty string, not {event!r}")
