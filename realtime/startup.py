"""Join the cluster when the server starts, not only when the first client connects.

A node with no connections must still answer cross-server calls and count in membership.
daphne runs no ASGI lifespan, so under daphne (which installs Twisted's asyncio reactor
before Django loads) the node starts as soon as the reactor runs and leaves the cluster
when it shuts down. Servers that speak the ASGI lifespan protocol (uvicorn, hypercorn) get
the same from :class:`LifespanApp` in ``project/asgi.py``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, LifespanScope

from .hub import get_hub

logger = logging.getLogger(__name__)


async def start_node() -> None:
    """Start this process's hub as a server node (listen, join groups, announce)."""
    try:
        await get_hub().start_node()
    except Exception:
        logger.exception("Joining the cluster failed; retrying when the first client connects")


async def stop_node() -> None:
    """Leave the cluster: announce the departure and stop listening."""
    try:
        await get_hub().stop()
    except Exception:
        logger.exception("Leaving the cluster failed")


# Handed over by the app when it is ready (realtime.apps): this module is no glue above
# realtime.checks, so it runs what it is given.
_preflight: Callable[[], None] | None = None


def start_node_when_served(preflight: Callable[[], None] | None = None) -> None:
    """Under daphne: run ``preflight`` (the app's system checks, which raise
    ``ImproperlyConfigured`` on an error), start the node when the reactor runs and stop it
    at shutdown. ``preflight`` is also what :class:`LifespanApp` runs at startup."""
    global _preflight
    _preflight = preflight
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or getattr(reactor, "_realtime_hooked", False):
        return
    # Before anything listens: a broken layer CONFIG would otherwise answer every WebSocket
    # handshake with HTTP 500 and a traceback each.
    if preflight is not None:
        preflight()
    reactor._realtime_hooked = True
    reactor.callWhenRunning(lambda: asyncio.ensure_future(start_node()))

    def before_shutdown() -> Any:
        from twisted.internet.defer import Deferred

        return Deferred.fromFuture(asyncio.ensure_future(stop_node()))

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)


class LifespanApp:
    """ASGI lifespan handler: start the node at startup, leave the cluster at shutdown."""

    async def __call__(
        self, scope: LifespanScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Serve one lifespan scope."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                from django.core.exceptions import ImproperlyConfigured

                try:
                    if _preflight is not None:
                        _preflight()
                except ImproperlyConfigured as error:
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await start_node()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await stop_node()
                await send({"type": "lifespan.shutdown.complete"})
                return
