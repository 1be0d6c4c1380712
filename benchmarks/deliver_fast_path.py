"""Cost of the bounded send queue on the hub's fast path, against a baseline in the same run.

``Hub.deliver`` hands one finished frame to every local connection through
``Socket.transmit``. With flow control, ``transmit`` also checks whether frames are being
held for a client that stopped reading. This measures ``Hub.deliver`` to N sockets whose
clients keep up, against the same loop over sockets whose ``transmit`` is the one before
flow control (closed check, then send), and reports the ratio.

    .venv/bin/python benchmarks/deliver_fast_path.py [connections] [rounds]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

import django

django.setup()

from channels.layers import InMemoryChannelLayer  # noqa: E402

from realtime.connection.socket import Socket  # noqa: E402
from realtime.hub import Hub  # noqa: E402


async def sink(message: dict[str, Any]) -> None:
    """An ASGI send that, like daphne's, returns without waiting."""


class BaselineSocket:
    """``Socket.transmit`` as it was before the bounded queue."""

    __slots__ = ("_send", "closed")

    def __init__(self) -> None:
        self._send = sink
        self.closed = False

    async def transmit(self, message: dict[str, Any]) -> bool:
        if self.closed:
            return False
        await self._send(message)
        return True


async def baseline_deliver(sockets: list[BaselineSocket], frame: str) -> int:
    """``Hub.deliver``'s loop over baseline sockets."""
    message = {"type": "websocket.send", "text": frame}
    sent = 0
    for socket in sockets:
        try:
            if await socket.transmit(message):
                sent += 1
        except Exception:
            pass
    return sent


async def timed(deliver: Any, sockets: list[Any], rounds: int) -> float:
    """Best of five runs, in nanoseconds per delivered frame."""
    frame = '{"event":"say","payload":{"msg":"hello"}}'
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter_ns()
        for _ in range(rounds):
            await deliver(sockets, frame)
        best = min(best, (time.perf_counter_ns() - started) / (rounds * len(sockets)))
    return best


async def main(connections: int, rounds: int) -> None:
    hub = Hub(layer=InMemoryChannelLayer(), name="bench")
    scope = {"type": "websocket", "path": "/ws/", "query_string": b""}
    sockets = [Socket(scope, sink, hub) for _ in range(connections)]
    baseline = [BaselineSocket() for _ in range(connections)]
    base_ns = await timed(baseline_deliver, baseline, rounds)
    real_ns = await timed(hub.deliver, sockets, rounds)
    assert all(socket._backlog is None for socket in sockets), "a socket left the fast path"
    print(f"{connections} connections x {rounds} frames (best of 5)")
    print(f"  baseline transmit (no queue check): {base_ns:7.1f} ns per delivered frame")
    print(f"  Socket.transmit with bounded queue: {real_ns:7.1f} ns per delivered frame")
    print(f"  ratio: {real_ns / base_ns:.3f}")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    asyncio.run(main(count, repeat))
