"""Lean idle connections under daphne 4.2: the memory side of the daphne fixes.

An idle WebSocket connection under daphne keeps objects that serve only its opening
handshake, or that serve every connection the same way. Profiled with tracemalloc (see
``docs/topics/memory.md``), three of them are large and safe to cut:

1. **The application's input queue.** daphne gives every connection an ``asyncio.Queue``:
   four deques (items, getters, putters, and the waiters of its ``join`` event), about
   3 KiB. The application only ever calls ``receive()`` (``get``) and daphne only
   ``put_nowait``: :class:`LeanQueue` does exactly that with one list and one future, both
   created when first needed.
2. **The protocol's options.** autobahn copies ~30 factory options (timeouts, flags, the
   Flash policy text, the origin patterns...) onto *every* protocol instance, so that a
   later change of the factory does not affect open connections. daphne sets them once,
   before listening. Each daphne factory gets a subclass of its protocol class that holds
   the factory's values as class attributes, so autobahn finds them and copies nothing.
3. **Handshake leftovers.** Once the connection is accepted, autobahn and daphne still hold
   the raw request, the response text, the parsed headers (twice), the query parameters,
   the key, and an empty ``deque`` for chopped sends that a server never makes. They are
   dropped at accept; ``request`` becomes a small object with the ``path`` daphne logs on
   close; the per-connection flags still at their initial value (``wasClean = False``...)
   are read from class attributes of the same value; the instance dict is rebuilt to its
   new size (a dict never shrinks by itself).

What the application sees (``scope``, ``receive``, ``send``) does not change, and neither
does any frame on the wire. Turn this off alone with ``REALTIME["DAPHNE_LEAN_CONNECTIONS"]
= False`` (``DAPHNE_FIXES = False`` turns off every daphne fix). Tested against a real
daphne process in ``tests/e2e/test_daphne_memory.py``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from functools import partial
from typing import Any

logger = logging.getLogger(__name__)

_MARK = "_realtime_lean_installed"
_LEAN_CLASS = "_realtime_lean_class"

# Attributes that serve the opening handshake only (autobahn's server side and daphne's).
HANDSHAKE_ONLY = (
    "http_request_data",
    "http_response_data",
    "http_headers",
    "http_status_line",
    "http_request_uri",
    "http_request_host",
    "http_request_path",
    "http_request_params",
    "websocket_protocols",
    "websocket_extensions",
    "_wskey",
    "clean_headers",
    "_raw_query_string",
    "application_deferred",
)

# Per-connection state autobahn and daphne assign while connecting, with the initial value
# they assign. These become class attributes of the same value; an instance keeps its own
# value only once it differs (any later assignment creates it again, as before).
INITIAL_STATE: dict[str, Any] = (
    {
        name: False
        for name in (
            "triggered",
            "wasMaxFramePayloadSizeExceeded",
            "wasMaxMessagePayloadSizeExceeded",
            "closedByMe",
            "failedByMe",
            "droppedByMe",
            "wasClean",
            "wasServerConnectionDropTimeout",
            "wasOpenHandshakeTimeout",
            "wasCloseHandshakeTimeout",
            "wasServingFlashSocketPolicyFile",
            "inside_message",
        )
    }
    | {
        name: None
        for name in (
            "_perMessageCompress",
            "trackedTimings",
            "wasNotCleanReason",
            "localCloseCode",
            "localCloseReason",
            "remoteCloseCode",
            "remoteCloseReason",
            "openHandshakeTimeoutCall",
            "closeHandshakeTimeoutCall",
            "autoPingTimeoutCall",
            "autoPingPending",
            "autoPingPendingCall",
            "autoPingPendingSent",
            "protocol_to_accept",
            "websocket_protocol_in_use",
            "current_frame",
        )
    }
    | {"autoPingPendingSeq": 0, "send_state": 0}
)


class LeanQueue:
    """The input queue of one connection's application: ``get`` and ``put_nowait`` only.

    Unbounded, like daphne's ``asyncio.Queue()``; one waiting reader at a time (ASGI has
    one ``receive`` caller). The list and the future exist only while needed. daphne also
    gives it to HTTP requests and tests it with ``if queue:``, so, like ``asyncio.Queue``,
    it has no ``__len__`` and is always true.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        """Add ``item`` and wake the reader."""
        if self._items is None:
            self._items = [item]
        else:
            self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        """The oldest item, waiting for one if there is none."""
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        items = self._items
        item = items.pop(0)
        if not items:
            self._items = None
        return item

    def qsize(self) -> int:
        """Items waiting."""
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        """True when no item waits."""
        return not self._items


class HandshakeRequest:
    """What daphne still reads of the handshake request after accept: its ``path``."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


def create_application(self: Any, protocol: Any, scope: dict[str, Any]) -> LeanQueue | None:
    """daphne's ``Server.create_application`` with a :class:`LeanQueue` as the input queue."""
    assert "application_instance" not in self.connections[protocol]
    input_queue = LeanQueue()
    scope.setdefault("asgi", {"version": "3.0"})
    application_instance = self.application(
        scope=scope, receive=input_queue.get, send=partial(self.handle_reply, protocol)
    )
    if protocol not in self.connections:
        return None
    self.connections[protocol]["application_instance"] = asyncio.ensure_future(
        application_instance, loop=asyncio.get_event_loop()
    )
    return input_queue


def lean_protocol_class(factory: Any) -> type:
    """A subclass of ``factory.protocol`` holding the factory's options as class attributes."""
    base = factory.protocol
    options = {
        # A function stored on a class would become a method: keep it a plain value.
        name: staticmethod(value) if inspect.isfunction(value) else value
        for name in base.CONFIG_ATTRS
        if not hasattr(base, name) and hasattr(factory, name)
        for value in (getattr(factory, name),)
    }
    return type(
        base.__name__, (base,), {**options, "__module__": base.__module__, _LEAN_CLASS: True}
    )


def compact(protocol: Any) -> None:
    """Drop what only the handshake needed and rebuild the instance dict at its new size."""
    state = protocol.__dict__
    request = state.get("request")
    if request is not None and not isinstance(request, HandshakeRequest):
        state["request"] = HandshakeRequest(getattr(request, "path", ""))
    for name in HANDSHAKE_ONLY:
        state.pop(name, None)
    if "send_queue" in state and not state["send_queue"]:
        del state["send_queue"]  # the class attribute () serves until a chopped send
    for name, initial in INITIAL_STATE.items():
        value = state.get(name, state)
        if value is not state and type(value) is type(initial) and value == initial:
            del state[name]
    protocol.__dict__ = dict(state)


def _send_data(original: Any) -> Any:
    def sendData(self: Any, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        if (sync or chopsize) and type(self.send_queue) is tuple:
            self.send_queue = deque()
        original(self, data, sync, chopsize)

    return sendData


def install() -> bool:
    """Apply the three cuts (once); False when daphne is not importable."""
    try:
        from daphne.server import Server
        from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
    except ImportError:  # pragma: no cover - daphne is a dependency
        return False
    if getattr(WebSocketProtocol, _MARK, False):
        return True
    Server.create_application = create_application
    for name, initial in INITIAL_STATE.items():
        setattr(WebSocketProtocol, name, initial)
    WebSocketProtocol.send_queue = ()
    WebSocketProtocol.sendData = _send_data(WebSocketProtocol.sendData)
    original_build = WebSocketFactory.buildProtocol

    def buildProtocol(self: Any, addr: Any) -> Any:
        if not vars(self.protocol).get(_LEAN_CLASS, False):
            self.protocol = lean_protocol_class(self)
        return original_build(self, addr)

    WebSocketFactory.buildProtocol = buildProtocol
    original_reply = WebSocketProtocol.handle_reply

    def handle_reply(self: Any, message: dict[str, Any]) -> None:
        original_reply(self, message)
        if message.get("type") == "websocket.accept" and self.state == self.STATE_OPEN:
            compact(self)

    WebSocketProtocol.handle_reply = handle_reply
    setattr(WebSocketProtocol, _MARK, True)
    return True
