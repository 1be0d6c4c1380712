"""URL routing of the WebSocket consumer (prefix ``REALTIME["URL"]``, default ``ws/``)."""

from __future__ import annotations

import re

from django.urls import URLPattern, re_path

from .conf import realtime_settings
from .connection.consumer import RealtimeConsumer


def websocket_urlpatterns() -> list[URLPattern]:
    """Routes ``/<URL>`` and every path below it to :class:`RealtimeConsumer`.

    The path the client used stays available to handlers as ``socket.path``.
    """
    prefix = realtime_settings.URL.strip("/")
    pattern = rf"^{re.escape(prefix)}(?:/|$)" if prefix else r""
    return [re_path(pattern, RealtimeConsumer.as_asgi(), name="realtime")]
