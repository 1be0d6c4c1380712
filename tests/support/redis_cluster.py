"""A real Redis Cluster for tests: three primaries and three replicas on free loopback ports
(``redis-server --cluster-enabled yes`` and ``redis-cli --cluster create``), with a short
node timeout so a killed primary's replica takes over in a couple of seconds."""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import Any

from .processes import free_port
from .redis import RedisServer, call_port
from .waiting import wait_until

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
NODE_TIMEOUT_MS = 1000


class ClusterNodeServer(RedisServer):
    """One cluster-enabled redis-server; its nodes.conf survives kill() and start()."""

    name = "redis-cluster"

    def __init__(self) -> None:
        super().__init__(
            extra=[
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                "--cluster-port", str(free_port()),
                "--cluster-replica-validity-factor", "0",
                "--repl-diskless-sync-delay", "0",
                # Replicas show in CLUSTER SLOTS once their offset moved: ping them often.
                "--repl-ping-replica-period", "1",
            ]
        )  # fmt: skip


class RedisCluster:
    """Six nodes in one cluster. Stands in for a RedisServer in layer tests: ``url``,
    ``subscribers`` (sharded, summed over the primaries) and ``call`` (on every live node,
    text replies joined)."""

    def __init__(self) -> None:
        self.nodes = [ClusterNodeServer() for _ in range(6)]

    @property
    def url(self) -> str:
        """``redis+cluster://`` with two seeds."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:2])

    @property
    def address(self) -> str:
        """The layer's name for this entry."""
        return self.url

    @property
    def port(self) -> int:
        """The first seed's port (the entry's ``port`` in the layer's health)."""
        return self.nodes[0].port

    def start(self, timeout: float = 30.0) -> None:
        """Start the six nodes, create the cluster and wait until every node says ok."""
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_ready()
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self.wait_ok(timeout)

    def wait_ok(self, timeout: float) -> None:
        """Wait until every running node reports ``cluster_state:ok`` and sees 3 primaries
        with a replica each."""
        wait_until(self._ok, timeout, "the cluster is ok with 3 primaries and 3 replicas", 0.1)

    def _ok(self) -> bool:
        for node in self.nodes:
            if not node.running:
                continue
            if "cluster_state:ok" not in node.call("CLUSTER", "INFO"):
                return False
            slots = node.call("CLUSTER", "SLOTS")
            if len(slots) != 3 or any(len(entry) < 4 for entry in slots):
                return False
        return True

    def primaries(self) -> list[ClusterNodeServer]:
        """The nodes that are primaries now (as a live node sees it)."""
        live = next(n for n in self.nodes if n.running)
        ports = {int(entry[2][1]) for entry in live.call("CLUSTER", "SLOTS")}
        return [n for n in self.nodes if n.port in ports]

    def owner_of(self, channel: str) -> ClusterNodeServer:
        """The primary that serves ``channel``'s slot now."""
        live = next(n for n in self.nodes if n.running)
        slot = int(live.call("CLUSTER", "KEYSLOT", channel))
        for start, end, primary, *_ in live.call("CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return next(n for n in self.nodes if n.port == int(primary[1]))
        raise AssertionError(f"no primary for slot {slot}")

    def subscribers(self, channel: str) -> int:
        """Sharded subscribers of ``channel`` on every primary."""
        return sum(
            int(call_port(n.port, "PUBSUB", "SHARDNUMSUB", channel)[1]) for n in self.primaries()
        )

    def call(self, *args: str | int) -> Any:
        """Run a command on every live node; text replies joined by newlines."""
        replies = [n.call(*args) for n in self.nodes if n.running]
        if all(isinstance(reply, str) for reply in replies):
            return "\n".join(replies)
        return replies

    def restart(self, node: ClusterNodeServer, timeout: float = 30.0) -> None:
        """Bring a killed node back (it rejoins as a replica) and wait for a full cluster."""
        node.start()
        started = time.monotonic()
        self.wait_ok(max(1.0, timeout - (time.monotonic() - started)))

    def cleanup(self) -> None:
        """Stop every node and remove its files."""
        for node in self.nodes:
            node.cleanup()
