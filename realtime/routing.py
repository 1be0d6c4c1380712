"""URL routing of the WebSocket consumer (prefix ``REALTIME["URL"]``, default ``ws/``).

:func:`websocket_urlpatterns` gives the route for Channels' ``URLRouter``.
:class:`RealtimeStack` is the memory-lean alternative to the whole usual Channels stack:
the WebSocket side of a project's ASGI application in one layer (Origin, session, user).

The usual Channels stack, ``AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(
routes)))``, is six nested applications. Each stays suspended in its own coroutine frame
for the whole life of the connection, and four of them keep their own copy of the scope:
about 4 KiB per idle connection before the consumer even starts (profile in
``docs/topics/memory.md``). :class:`RealtimeStack` does the same work in one frame, on the
scope the server gave:

* the Origin check of :class:`realtime.origin.RealtimeOriginValidator` (HTTP 403 when it
  fails);
* ``scope["cookies"]``, ``scope["session"]`` (the session store of the cookie's key, loaded
  when first used) and ``scope["user"]`` (resolved before the consumer starts, as
  Channels' ``AuthMiddleware`` does);
* the route: paths under ``REALTIME["URL"]`` go to :class:`RealtimeConsumer`; any other
  path goes to ``fallback`` (for instance a ``URLRouter`` of the project's own consumers),
  or is refused with 403 when there is none.

Sessions are not saved from a WebSocket connection (Channels' session middleware saves
only on an HTTP response), so nothing is lost. ``scope["url_route"]`` is not set for
the realtime consumer, which has no URL arguments.
"""

from __future__ import annotations

import re
from importlib import import_module
from typing import Any
from urllib.parse import urlparse

from channels.auth import UserLazyObject, get_user
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http import parse_cookie
from django.urls import URLPattern, re_path
from django.utils.functional import LazyObject

from .conf import realtime_settings
from .connection.consumer import RealtimeConsumer
from .connection.origin import RealtimeOriginValidator


def websocket_urlpatterns() -> list[URLPattern]:
    """Routes ``/<URL>`` and every path below it to :class:`RealtimeConsumer`.

    The path the client used stays available to handlers as ``socket.path``.
    """
    prefix = realtime_settings.URL.strip("/")
    pattern = rf"^{re.escape(prefix)}(?:/|$)" if prefix else r""
    return [re_path(pattern, RealtimeConsumer.as_asgi(), name="realtime")]


Asgi = Any


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


class RealtimeStack:
    """Origin check, cookies, session, user and the realtime route in one ASGI layer."""

    def __init__(self, consumer: Asgi | None = None, fallback: Asgi | None = None) -> None:
        # By default a RealtimeConsumer is made here, not through as_asgi(): one coroutine
        # frame less per connection.
        self.consumer = consumer
        self.fallback = fallback
        self.origins = RealtimeOriginValidator(None)
        self._prefix: tuple[str, re.Pattern[str]] | None = None

    def _matches(self, path: str) -> bool:
        url = realtime_settings.URL  # read every time: tests override settings
        if self._prefix is None or self._prefix[0] != url:
            prefix = url.strip("/")
            pattern = rf"^/?{re.escape(prefix)}(?:/|$)" if prefix else r""
            self._prefix = (url, re.compile(pattern))
        return self._prefix[1].match(path) is not None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Check, enrich the scope, and hand the connection on."""
        if scope["type"] != "websocket":
            raise ValueError("RealtimeStack serves WebSocket connections only")
        origin = _header(scope, b"origin")
        try:
            parsed = urlparse(origin.decode("latin1")) if origin is not None else None
        except UnicodeDecodeError:
            parsed = None
        if self._matches(scope.get("path", "")):
            app = self.consumer or RealtimeConsumer()
        else:
            app = self.fallback
        if app is None or not self.origins.valid_origin(parsed):
            return await WebsocketDenier()(scope, receive, send)
        # Enriched in place, not copied: the server hands each connection its own scope and
        # never reads it again, so a copy would only be a second dict per connection.
        await self._authenticate(scope)
        return await app(scope, receive, send)

    @staticmethod
    async def _authenticate(scope: dict[str, Any]) -> None:
        if "cookies" not in scope:
            cookie = _header(scope, b"cookie")
            scope["cookies"] = parse_cookie(cookie.decode("latin1")) if cookie else {}
        if "session" not in scope:
            store = import_module(settings.SESSION_ENGINE).SessionStore
            session = LazyObject()
            session._wrapped = store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))
            scope["session"] = session
        if "user" not in scope:
            user = UserLazyObject()
            user._wrapped = await get_user(scope)
            scope["user"] = user
