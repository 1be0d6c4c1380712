"""A real cluster for end-to-end tests: redis-server processes and named daphne nodes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.support.processes import DaphneNode, start_all
from tests.support.redis import RedisServer
from tests.support.wsclient import ProtocolClient


class Cluster:
    """``redis_count`` Redis nodes and one daphne node per name, all sharing them."""

    def __init__(
        self,
        names: list[str],
        redis_count: int = 2,
        env: dict[str, str] | None = None,
        redis_urls: list[str] | None = None,
    ):
        # redis_urls: use these entries (a Redis Cluster, a Sentinel group) instead of
        # starting redis_count standalone servers.
        self.redis = [] if redis_urls else [RedisServer() for _ in range(redis_count)]
        self.redis_urls = redis_urls
        self.env = env or {}
        self.nodes: dict[str, DaphneNode] = {}
        self.names = names

    def start(self) -> Cluster:
        """Start Redis, then every daphne node in parallel."""
        start_all(self.redis)
        urls = self.redis_urls or [server.url for server in self.redis]
        self.nodes = {
            name: DaphneNode(server_name=name, redis_nodes=urls, env=self.env)
            for name in self.names
        }
        start_all(list(self.nodes.values()))
        return self

    def url(self, name: str, path: str) -> str:
        """A ws:// URL on node ``name``."""
        return self.nodes[name].ws_url(path)

    async def client(self, name: str, path: str) -> ProtocolClient:
        """A connected protocol client on node ``name``."""
        return await ProtocolClient(self.url(name, path)).connect()

    async def wait_for_members(self, expected: list[str], via: str, timeout: float = 15) -> None:
        """Wait until node ``via`` counts exactly ``expected`` as live nodes."""
        probe = await self.client(via, "/ws/?id=membership-probe")
        try:
            deadline = time.monotonic() + timeout
            seen: Any = None
            while time.monotonic() < deadline:
                seen = (await probe.call("serverCall", "probe", timeout=5))["payload"]
                if seen["nodes"] == expected and seen["success"]:
                    return
                await asyncio.sleep(0.2)
            raise AssertionError(f"{via} never saw exactly {expected}; last answer {seen}")
        finally:
            await probe.close()

    def logs(self) -> str:
        """The tails of every node's log (for failure messages)."""
        return "\n".join(f"--- {name}\n{node.log_tail()}" for name, node in self.nodes.items())

    def cleanup(self) -> None:
        """Stop every process."""
        for node in self.nodes.values():
            node.cleanup()
        for server in self.redis:
            server.cleanup()
