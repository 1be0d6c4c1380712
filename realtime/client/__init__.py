"""An asyncio client of a ``realtime`` server (protocol v1), on the ``websockets`` library.

It needs no Django settings: services and scripts that are not Django projects use it too.

    async with RealtimeClient("ws://127.0.0.1:8000/ws/", custom_params={"id": "42"}) as client:
        reply = await client.call("say", {"msg": "hi"})

See the Python client reference in the docs for every option and event. It needs the
``client`` extra: ``pip install 'django-realtime-hub[client]'``.
"""

from __future__ import annotations

try:
    import websockets  # noqa: F401
except ImportError as exc:  # the server does not need it: it is the "client" extra
    raise ImportError(
        "The Python client needs the websockets library: pip install 'django-realtime-hub[client]'"
    ) from exc

from .backoff import reconnect_delay_ms
from .client import RealtimeClient
from .errors import (
    CallTimeout,
    ClientClosed,
    ClientError,
    ConnectFailed,
    ConnectionLost,
    NotConnected,
    ServerError,
)
from .frames import LIFECYCLE_EVENTS
from .options import DEFAULT_NO_RECONNECT_CODES, ClientOptions

__all__ = [
    "DEFAULT_NO_RECONNECT_CODES",
    "LIFECYCLE_EVENTS",
    "CallTimeout",
    "ClientClosed",
    "ClientError",
    "ClientOptions",
    "ConnectFailed",
    "ConnectionLost",
    "NotConnected",
    "RealtimeClient",
    "ServerError",
    "reconnect_delay_ms",
]
