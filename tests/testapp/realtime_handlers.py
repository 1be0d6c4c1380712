"""Event handlers for tests, loaded into daphne nodes with DJANGO_EXTRA_APPS=tests.testapp.

They exist so that client and cluster tests can make the server echo, wait, push, close and
fail on demand.
"""

from __future__ import annotations

import asyncio
from typing import Any

from realtime import on
from realtime.acks import Ack
from realtime.socket import Socket


@on("echo")
async def echo(socket: Socket, data: Any, ack: Ack) -> Any:
    """Reply with the payload itself."""
    return {"echo": data}


@on("sleep")
async def sleep(socket: Socket, data: Any, ack: Ack) -> Any:
    """Wait ``data`` seconds (at most 30), then reply."""
    await asyncio.sleep(min(float(data or 0), 30.0))
    return {"slept": data}


@on("pushMe")
async def push_me(socket: Socket, data: Any, ack: Ack) -> None:
    """Push ``data["event"]`` with ``data["payload"]`` to this connection, then reply."""
    await socket.emit(data["event"], data.get("payload"))
    await ack({"pushed": data["event"]})


@on("closeMe")
async def close_me(socket: Socket, data: Any, ack: Ack) -> None:
    """Close this connection with ``data["code"]`` and ``data["reason"]``."""
    await socket.close(int(data.get("code", 1000)), str(data.get("reason", "")))


@on("whoami")
async def whoami(socket: Socket, data: Any, ack: Ack) -> Any:
    """Reply with what the server knows of the connection."""
    return {"user": socket.user_id, "params": socket.params, "path": socket.path}


@on("crash")
async def crash(socket: Socket, data: Any, ack: Ack) -> None:
    """Raise, to test HANDLER_ERROR replies."""
    raise RuntimeError("crash requested by the test")
