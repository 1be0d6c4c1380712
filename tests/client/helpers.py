"""Helpers shared by the Python client tests."""

from __future__ import annotations

from realtime.client import RealtimeClient

# Small reconnect delays; no heartbeat within a test unless it asks for one.
FAST = {"fast_reconnect_interval": 0.05, "ping_interval": 30.0}


def url_of(node, user: str | None = None) -> str:
    """The node's WebSocket URL, with ``?id=user`` when a user is given."""
    return node.ws_url("/ws/" if user is None else f"/ws/?id={user}")


async def push(client: RealtimeClient, event: str, payload: object = None) -> None:
    """Make the server push ``event`` to ``client``; its listeners ran when this returns.

    The test handler pushes before it replies, and frames arrive in order.
    """
    assert await client.call("pushMe", {"event": event, "payload": payload}) == {"pushed": event}
