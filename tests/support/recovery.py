"""The recovery scenario of issue 15, shared by the Python-client and the browser tests: two
daphne nodes and two Redis nodes, a sender pushing 100 room, 20 direct and 10 broadcast
messages per second, and a receiver behind a TCP proxy that the test cuts."""

from __future__ import annotations

import asyncio

from realtime.client import RealtimeClient
from realtime.layers.strategies import ring_order
from realtime.recovery.streams import room_stream
from tests.support.cluster import Cluster

SETTINGS = "tests.e2e.recovery_settings"
ROOM = "r1"


def start_cluster(redundancy: int = 1) -> Cluster:
    """Nodes ``a`` and ``b`` over two Redis nodes, hash strategy, ``redundancy`` copies."""
    env = {"DJANGO_SETTINGS_MODULE": SETTINGS, "REALTIME_TEST_REDUNDANCY": str(redundancy)}
    return Cluster(["a", "b"], redis_count=2, env=env).start()


def room_history_owner(cluster: Cluster) -> int:
    """Index in ``cluster.redis`` of the node that owns the room's history."""
    addresses = tuple(server.address for server in cluster.redis)
    return addresses.index(ring_order(addresses, room_stream("rec", ROOM))[0])


async def send_pushes(sender: RealtimeClient, seconds: float, sent: dict[str, int]) -> None:
    """100 room pushes/s, 20 to user alice and 10 broadcasts per second, numbered per kind."""
    for tick in range(int(seconds * 100)):
        await sender.emit("rec.push", {"kind": "room", "to": ROOM, "seq": sent["room"]})
        sent["room"] += 1
        if tick % 5 == 0:
            await sender.emit("rec.push", {"kind": "user", "to": "alice", "seq": sent["user"]})
            sent["user"] += 1
        if tick % 10 == 0:
            await sender.emit("rec.push", {"kind": "all", "seq": sent["all"]})
            sent["all"] += 1
        await asyncio.sleep(0.01)
