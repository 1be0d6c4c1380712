"""The app's settings: one ``REALTIME`` dict in Django settings, defaults here, read lazily.

Layer options do not live here; they belong to ``CHANNEL_LAYERS[alias]["CONFIG"]``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .history_setting import policy_errors
from .rate_limit_setting import DEFAULT_RATE_LIMIT, rate_limit_errors
from .validators import is_dotted_path, is_positive_int, is_positive_number, none_or

DEFAULTS: dict[str, Any] = {
    # URL prefix (no leading slash) the WebSocket consumer is routed on; "ws/" serves /ws/...
    "URL": "ws/",
    # The heartbeat string: an incoming text frame equal to it is echoed back verbatim.
    "HEARTBEAT_MESSAGE": "",
    # Largest accepted client frame in bytes; bigger frames close the connection with 1009.
    "MAX_FRAME_BYTES": 1024 * 1024,
    # Refuse WebSocket handshakes without an Origin header (browsers always send one).
    "REQUIRE_ORIGIN": False,
    # This node's name in the cluster; "" means "<hostname>-<pid>".
    "SERVER_NAME": "",
    # Alias in CHANNEL_LAYERS that carries traffic between server nodes.
    "CHANNEL_LAYER": "default",
    # Client events of one connection whose handlers may run at the same time.
    "MAX_PENDING_HANDLERS": 64,
    # What an event past MAX_PENDING_HANDLERS gets: "refuse" answers BUSY (counted as a
    # drop); "wait" holds it until a handler finishes and, under daphne, stops reading the
    # connection meanwhile, so the client is slowed down instead (docs/topics/overload.md).
    "WHEN_BUSY": "refuse",
    # Seconds a client event handler may run before it is cancelled (None: no limit).
    "HANDLER_TIMEOUT": 30.0,
    # Call gc.freeze() once the server is up: start-up objects leave the collector's scans,
    # which measurably shortens latency spikes under load.
    "GC_FREEZE": True,
    # At most one log line per this many seconds about dropped malformed frames.
    "BAD_FRAME_LOG_INTERVAL": 10.0,
    # Apply the narrow daphne 4.2 workarounds (empty text frames, clean 1009 close).
    "DAPHNE_FIXES": True,
    # With DAPHNE_FIXES: lean idle connections under daphne (a small input queue, protocol
    # options shared per factory, handshake leftovers dropped at accept; daphne_memory).
    "DAPHNE_LEAN_CONNECTIONS": True,
    # Seconds between a node's presence announcements to the cluster.
    "NODE_HEARTBEAT_INTERVAL": 1.0,
    # Announcements a node may miss before the others consider it dead.
    "NODE_MISSED_HEARTBEATS": 3,
    # Default seconds emit_cross_server waits for replies.
    "CROSS_SERVER_TIMEOUT": 5.0,
    # Store Redis health changes and node joins/leaves in the database (admin event log).
    "HEALTH_LOG": True,
    # Days health events are kept before being pruned.
    "HEALTH_LOG_RETENTION_DAYS": 7,
    # Minutes of Redis latency history each node keeps for the status page chart.
    "LATENCY_HISTORY_MINUTES": 5,
    # -- security and limits (docs/topics/security.md) --
    # Bind the logged-in Django session user (str(user.pk)) when the connection opens.
    "BIND_SESSION_USER": False,
    # Dotted path to ``async def authenticate(scope, params) -> user id | None``; None: off.
    "AUTHENTICATE": None,
    # Refuse failed authentication with HTTP 403 at the handshake instead of 4011 after it.
    "REJECT_AT_HANDSHAKE": False,
    # Keep scope["headers"] (and scope["cookies"]) after the @on_connect hooks ran. False:
    # they are emptied then, to save memory per connection; auth and hooks still see them.
    "KEEP_HANDSHAKE_HEADERS": False,
    # Seconds a connection may stay open without a bound user before 4011 (None: forever).
    "AUTH_TIMEOUT": None,
    # Seconds authentication and the @on_connect hooks may take together before 1011.
    "CONNECT_TIMEOUT": 10.0,
    # Seconds each @on_disconnect hook may take before it is cancelled.
    "DISCONNECT_TIMEOUT": 5.0,
    # Token buckets for client frames (see realtime/connection/limits.py); None: no rate limit.
    "RATE_LIMIT": DEFAULT_RATE_LIMIT,
    # Open connections per client IP address on this node (None: no limit); more get 403.
    "MAX_CONNECTIONS_PER_IP": None,
    # Frames / bytes held for a client that stopped reading before it is closed with 4008.
    "SEND_QUEUE_MAX_FRAMES": 1000,
    "SEND_QUEUE_MAX_BYTES": 1024 * 1024,
    # -- connection state recovery (docs/topics/recovery.md) --
    # Our clients (JS connector, Python client) get a session they can recover on reconnect.
    "RECOVERY": True,
    # Seconds a closed session stays recoverable, on any node.
    "RECOVERY_WINDOW": 120.0,
    # History kept per stream: key "*" (default), a room namespace, "@users", "@broadcast";
    # value {"size": pushes, "ttl": seconds} or None for no history.
    "HISTORY": {"*": {"size": 1000, "ttl": 300}},
}

_Validator = Callable[[Any], bool]

VALIDATORS: dict[str, tuple[_Validator, str]] = {
    "URL": (
        lambda v: isinstance(v, str) and not v.startswith("/"),
        "a string without a leading slash, such as 'ws/'",
    ),
    "HEARTBEAT_MESSAGE": (
        lambda v: isinstance(v, str) and not v.lstrip().startswith(("{", "[", '"')),
        "a string that is not JSON text (it is compared before JSON parsing)",
    ),
    "MAX_FRAME_BYTES": (is_positive_int, "a positive integer"),
    "REQUIRE_ORIGIN": (lambda v: isinstance(v, bool), "True or False"),
    "SERVER_NAME": (
        lambda v: isinstance(v, str) and len(v) <= 64 and v == v.strip(),
        "a string of at most 64 characters without surrounding spaces",
    ),
    "CHANNEL_LAYER": (lambda v: isinstance(v, str) and bool(v), "a channel layer alias"),
    "MAX_PENDING_HANDLERS": (is_positive_int, "a positive integer"),
    "WHEN_BUSY": (lambda v: v in ("refuse", "wait"), "'refuse' or 'wait'"),
    "HANDLER_TIMEOUT": (lambda v: v is None or is_positive_number(v), "None or seconds > 0"),
    "GC_FREEZE": (lambda v: isinstance(v, bool), "True or False"),
    "BAD_FRAME_LOG_INTERVAL": (is_positive_number, "seconds > 0"),
    "DAPHNE_FIXES": (lambda v: isinstance(v, bool), "True or False"),
    "DAPHNE_LEAN_CONNECTIONS": (lambda v: isinstance(v, bool), "True or False"),
    "NODE_HEARTBEAT_INTERVAL": (is_positive_number, "seconds > 0"),
    "NODE_MISSED_HEARTBEATS": (is_positive_int, "a positive integer"),
    "CROSS_SERVER_TIMEOUT": (is_positive_number, "seconds > 0"),
    "BIND_SESSION_USER": (lambda v: isinstance(v, bool), "True or False"),
    "KEEP_HANDSHAKE_HEADERS": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHENTICATE": (
        lambda v: v is None or is_dotted_path(v),
        "None or the dotted path of an async function, such as 'myapp.auth.authenticate'",
    ),
    "REJECT_AT_HANDSHAKE": (lambda v: isinstance(v, bool), "True or False"),
    "AUTH_TIMEOUT": (none_or(is_positive_number), "None or seconds > 0"),
    "CONNECT_TIMEOUT": (is_positive_number, "seconds > 0"),
    "DISCONNECT_TIMEOUT": (is_positive_number, "seconds > 0"),
    "MAX_CONNECTIONS_PER_IP": (none_or(is_positive_int), "None or an integer >= 1"),
    "SEND_QUEUE_MAX_FRAMES": (none_or(is_positive_int), "None or an integer >= 1"),
    "SEND_QUEUE_MAX_BYTES": (none_or(is_positive_int), "None or an integer >= 1"),
    "HEALTH_LOG": (lambda v: isinstance(v, bool), "True or False"),
    "HEALTH_LOG_RETENTION_DAYS": (is_positive_number, "days > 0"),
    "LATENCY_HISTORY_MINUTES": (is_positive_number, "minutes > 0"),
    "RECOVERY": (lambda v: isinstance(v, bool), "True or False"),
    "RECOVERY_WINDOW": (is_positive_number, "seconds > 0"),
}

# Settings with a structure of their own explain every problem themselves.
STRUCTURED_VALIDATORS: dict[str, Callable[[Any], list[str]]] = {
    "RATE_LIMIT": rate_limit_errors,
    "HISTORY": policy_errors,
}


def validation_errors(user_settings: Any) -> list[str]:
    """Describe every problem of a ``REALTIME`` dict; an empty list means it is valid."""
    if not isinstance(user_settings, dict):
        return [f"REALTIME must be a dict, not {type(user_settings).__name__}."]
    errors = []
    for key, value in user_settings.items():
        if key not in DEFAULTS:
            known = ", ".join(sorted(DEFAULTS))
            errors.append(f"Unknown REALTIME setting {key!r}; known settings: {known}.")
            continue
        if key in STRUCTURED_VALIDATORS:
            errors.extend(STRUCTURED_VALIDATORS[key](value))
            continue
        check, expected = VALIDATORS[key]
        if not check(value):
            errors.append(f"REALTIME[{key!r}] must be {expected}, not {value!r}.")
    return errors


class RealtimeSettings:
    """Attribute access to the effective settings: ``realtime_settings.HEARTBEAT_MESSAGE``.

    The dict is read on first access and cached; ``reload()`` (wired to Django's
    ``setting_changed`` signal) drops the cache.
    """

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        user_settings = getattr(settings, "REALTIME", {})
        errors = validation_errors(user_settings)
        if errors:
            raise ImproperlyConfigured(" ".join(errors))
        return {**DEFAULTS, **user_settings}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"No REALTIME setting named {name!r}")
        if self._cache is None:
            self._cache = self._load()
        return self._cache[name]

    def reload(self) -> None:
        """Forget cached values so the next access reads settings again."""
        self._cache = None


realtime_settings = RealtimeSettings()


def server_name() -> str:
    """This node's name: ``REALTIME["SERVER_NAME"]`` or ``<hostname>-<pid>``."""
    return realtime_settings.SERVER_NAME or f"{socket.gethostname()}-{os.getpid()}"


def reload_on_setting_changed(setting: str, **kwargs: Any) -> None:
    """Receiver for ``setting_changed``: drop cached values when ``REALTIME`` changes."""
    if setting == "REALTIME":
        realtime_settings.reload()
