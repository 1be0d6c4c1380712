"""Handlers that make a server node flood, and report its counters, for the hardening tests."""

from __future__ import annotations

import asyncio
from typing import Any

from realtime import broadcast, on
from realtime.connection.acks import Ack
from realtime.connection.socket import Socket
from realtime.hub import get_hub
from realtime.metrics import metrics


@on("flood")
async def flood(socket: Socket, data: Any, ack: Ack) -> Any:
    """Push ``count`` frames of ``size`` characters to this connection or (``"to": "all"``)
    to every connection through the hub, then reply.

    Without ``"paced"`` the frames go out in one burst, without giving the server a chance
    to write in between; with it, each frame is a separate step, as separate events are,
    and with a number of seconds the handler also waits that long between frames.
    """
    pad = "x" * int(data["size"])
    for index in range(int(data["count"])):
        if data.get("to") == "all":
            await broadcast("flood", {"i": index, "pad": pad})
        else:
            await socket.emit("flood", {"i": index, "pad": pad})
        if data.get("paced"):
            await asyncio.sleep(0 if data["paced"] is True else float(data["paced"]))
    return {"sent": int(data["count"])}


@on("stats")
async def stats(socket: Socket, data: Any, ack: Ack) -> Any:
    """The node's limit counters, its connection count and this connection's flow control."""
    return {
        "metrics": metrics.snapshot(),
        "connections": get_hub().connection_count,
        "flowControlled": socket.flow_controlled,
        "user": socket.user_id,
    }
