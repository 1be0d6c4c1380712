"""The handler registry: client events, lifecycle hooks and cross-server events.

Client events and lifecycle hooks live in separate registries, so a client frame named
``connect``/``connection``/``close``/``disconnect`` can never run a lifecycle hook (the seed's
identity-hijack defect). Handlers are registered with decorators in a ``realtime_handlers``
module of any installed app; those modules are imported when Django starts::

    from realtime import on, on_connect

    @on_connect
    async def authenticate(socket):
        if not socket.params.get("id"):
            await socket.close(4011, "Auth failure")
            return
        await socket.bind(socket.params["id"])

    @on("say")
    async def say(socket, data, ack):
        await ack({"msg": data})
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from .acks import Ack
    from .socket import Socket

HANDLERS_MODULE = "realtime_handlers"

# Names that look like lifecycle hooks; registering them with @on is refused with a hint.
LIFECYCLE_NAMES = frozenset({"connect", "connection", "disconnect", "close", "open"})

EventHandler = Callable[["Socket", Any, "Ack"], Awaitable[Any]]
LifecycleHook = Callable[["Socket"], Awaitable[Any]]
CrossServerHandler = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=Callable[..., Any])
# The default of ``@on(..., timeout=)``: the handler follows REALTIME["HANDLER_TIMEOUT"].
DEFAULT: Any = object()


def _require_coroutine_function(func: Any, decorator: str) -> None:
    if not inspect.iscoroutinefunction(func):
        name = getattr(func, "__qualname__", repr(func))
        raise ImproperlyConfigured(f"{decorator} needs an 'async def' function; {name} is not.")


def _same_function(a: Callable[..., Any], b: Callable[..., Any]) -> bool:
    # A module imported twice (autoreload, tests) registers an equal function again.
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


class Registry:
    """Holds every handler of the process; one instance, :data:`registry`."""

    def __init__(self) -> None:
        self.events: dict[str, EventHandler] = {}
        # Events whose handler has a timeout of its own (None: no limit).
        self.timeouts: dict[str, float | None] = {}
        self.connect_hooks: list[LifecycleHook] = []
        self.disconnect_hooks: list[LifecycleHook] = []
        self.cross_server: dict[str, CrossServerHandler] = {}

    def add_event(self, event: str, handler: EventHandler, timeout: Any = DEFAULT) -> None:
        """Register the handler of client event ``event`` (one handler per event).

        ``timeout`` (seconds, or None for no limit) replaces ``HANDLER_TIMEOUT`` for it.
        """
        if not isinstance(event, str) or not event:
            raise ImproperlyConfigured(f"@on needs a non-empty event name, not {event!r}.")
        if event in LIFECYCLE_NAMES:
            raise ImproperlyConfigured(
                f"@on({event!r}) would look like a lifecycle hook; use @on_connect or "
                f"@on_disconnect for those, and another name for client events."
            )
        _require_coroutine_function(handler, "@on")
        if timeout is not DEFAULT and not (
            timeout is None
            or (isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0)
        ):
            raise ImproperlyConfigured(
                f"@on({event!r}, timeout=...) must be seconds > 0 or None, not {timeout!r}."
            )
        self._add_unique(self.events, event, handler, "client event")
        if timeout is DEFAULT:
            self.timeouts.pop(event, None)
        else:
            self.timeouts[event] = timeout

    def add_cross_server(self, event: str, handler: CrossServerHandler) -> None:
        """Register the handler of cross-server event ``event``."""
        if not isinstance(event, str) or not event:
            raise ImproperlyConfigured(f"@on_cross_server needs an event name, not {event!r}.")
        if event.startswith("realtime:"):
            raise ImproperlyConfigured(
                f"Cross-server event names starting with 'realtime:' are reserved ({event!r})."
            )
        _require_coroutine_function(handler, "@on_cross_server")
        self._add_unique(self.cross_server, event, handler, "cross-server event")

    @staticmethod
    def _add_unique(table: dict[str, Any], event: str, handler: Any, kind: str) -> None:
        existing = table.get(event)
        if existing is not None and not _same_function(existing, handler):
            raise ImproperlyConfigured(
                f"Two handlers for {kind} {event!r}: {existing.__module__}."
                f"{existing.__qualname__} and {handler.__module__}.{handler.__qualname__}."
            )
        table[event] = handler

    def add_hook(self, hooks: list[LifecycleHook], hook: LifecycleHook, name: str) -> None:
        """Append a lifecycle hook unless an equal one is already registered."""
        _require_coroutine_function(hook, name)
        hooks[:] = [h for h in hooks if not _same_function(h, hook)]
        hooks.append(hook)

    def clear(self) -> None:
        """Forget every handler (for tests)."""
        self.__init__()


registry = Registry()


def on(event: str, *, timeout: Any = DEFAULT) -> Callable[[F], F]:
    """Decorator: ``async def handler(socket, data, ack)`` handles client event ``event``.

    ``ack(payload)`` replies to the client when it asked for a reply; a handler that
    returns a value without calling ``ack`` replies with that value. ``timeout`` (seconds,
    or None for no limit) replaces ``REALTIME["HANDLER_TIMEOUT"]`` for this event.
    """

    def decorator(handler: F) -> F:
        registry.add_event(event, handler, timeout)
        return handler

    return decorator


def on_connect(hook: F) -> F:
    """Decorator: ``async def hook(socket)`` runs when a connection opens, before any event.

    It may bind the user (``await socket.bind(user_id)``) or reject the connection
    (``await socket.close(4011, "Auth failure")``).
    """
    registry.add_hook(registry.connect_hooks, hook, "@on_connect")
    return hook


def on_disconnect(hook: F) -> F:
    """Decorator: ``async def hook(socket)`` runs after a connection closed."""
    registry.add_hook(registry.disconnect_hooks, hook, "@on_disconnect")
    return hook


def on_cross_server(event: str) -> Callable[[F], F]:
    """Decorator: ``async def handler(message, reply)`` handles a cross-server event.

    ``message`` has ``event``, ``payload`` and ``sender`` (the calling node's name);
    ``await reply(payload)`` answers once, or the handler returns the answer.
    """

    def decorator(handler: F) -> F:
        registry.add_cross_server(event, handler)
        return handler

    return decorator
