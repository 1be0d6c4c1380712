"""Authentication at connect: the Django session user and an optional token hook.

The authentication step runs when the handshake arrives, before the connection is accepted
and before any ``@on_connect`` hook or client event:

1. With ``REALTIME["BIND_SESSION_USER"]`` and a logged-in session user (``scope["user"]``,
   set by Channels' ``AuthMiddlewareStack``), that user's ``str(pk)`` is bound. The hook
   is not called.
2. Otherwise, with ``REALTIME["AUTHENTICATE"]`` (the dotted path of
   ``async def authenticate(scope, params) -> user id | None``), the hook decides: a user id
   is bound, ``None`` rejects the connection (4011, or HTTP 403 with
   ``REJECT_AT_HANDSHAKE``).
3. With neither, nothing is decided here: the ``@on_connect`` hooks run as before (the
   demo's ``?id=`` hook keeps working).

``@on_connect`` hooks run after this step and see the bound ``socket.user_id``; they may
still close the connection or bind another user.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ..conf import realtime_settings

Authenticator = Callable[[dict[str, Any], dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The outcome of the authentication step."""

    user_id: str | None = None
    rejected: bool = False


UNDECIDED = AuthResult()
REJECTED = AuthResult(rejected=True)


def session_user_id(scope: dict[str, Any]) -> str | None:
    """``str(pk)`` of the logged-in session user in ``scope``, or None."""
    user = scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


async def session_user(scope: dict[str, Any], params: dict[str, Any]) -> str | None:
    """An authenticator that admits logged-in session users only.

    ``REALTIME["AUTHENTICATE"] = "realtime.connection.auth.session_user"`` rejects anonymous
    connections and binds the others to their user's primary key.
    """
    return session_user_id(scope)


@lru_cache(maxsize=8)
def load_authenticator(path: str) -> Authenticator:
    """Import the hook at ``path``; raises ImproperlyConfigured with what is wrong."""
    try:
        hook = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"REALTIME['AUTHENTICATE'] = {path!r}: {exc}") from exc
    if not inspect.iscoroutinefunction(hook):
        raise ImproperlyConfigured(
            f"REALTIME['AUTHENTICATE'] = {path!r} must name an 'async def' function."
        )
    return hook


def _as_user_id(value: Any, path: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{path} returned {value!r}; expected a user id (str or int) or None")
    return str(value)


async def authenticate(scope: dict[str, Any], params: dict[str, Any]) -> AuthResult:
    """Run the authentication step (see the module docstring); the hook may raise."""
    if realtime_settings.BIND_SESSION_USER:
        user_id = session_user_id(scope)
        if user_id is not None:
            return AuthResult(user_id)
    path = realtime_settings.AUTHENTICATE
    if path is None:
        return UNDECIDED
    user_id = _as_user_id(await load_authenticator(path)(scope, params), path)
    return REJECTED if user_id is None else AuthResult(user_id)
