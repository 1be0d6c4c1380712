"""A token authenticator like an app's: ``?token=valid-<user id>`` authenticates that user.

Three tokens misbehave on purpose: ``hang`` never answers, ``explode`` raises and
``object`` returns something that is not a user id.
"""

from __future__ import annotations

import asyncio
from typing import Any

VALID_PREFIX = "valid-"
# Every call, for tests that check what the hook was given.
calls: list[tuple[dict[str, Any], dict[str, Any]]] = []


async def token(scope: dict[str, Any], params: dict[str, Any]) -> Any:
    """The user id of a valid token, None otherwise."""
    calls.append((scope, params))
    value = params.get("token")
    if value == "hang":
        await asyncio.Event().wait()
    if value == "explode":
        raise RuntimeError("the token service is down")
    if value == "object":
        return object()
    if isinstance(value, str) and value.startswith(VALID_PREFIX) and len(value) > len(VALID_PREFIX):
        return value[len(VALID_PREFIX) :]
    return None


def not_async(scope: dict[str, Any], params: dict[str, Any]) -> None:
    """A synchronous function, which REALTIME["AUTHENTICATE"] refuses (realtime.E002)."""
