"""Fixtures of the channel layer tests: real redis-server processes and layers on them."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from realtime.layers import MultiRedisChannelLayer
from realtime.signals import redis_health_changed
from tests.support.redis import RedisServer


@pytest.fixture(scope="session")
def shared_redis() -> Iterator[list[RedisServer]]:
    """Three Redis servers shared by tests that never stop them (each test uses its own
    channel prefix, so tests cannot hear each other)."""
    servers = [RedisServer() for _ in range(3)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.cleanup()


@pytest.fixture
def redis_nodes() -> Iterator[Callable[[int], list[RedisServer]]]:
    """A factory of fresh Redis servers that a test may kill and restart; all stopped after."""
    made: list[RedisServer] = []

    def start(count: int = 1, **kwargs) -> list[RedisServer]:
        servers = [RedisServer(**kwargs) for _ in range(count)]
        made.extend(servers)
        for server in servers:
            server.start()
        return servers

    yield start
    for server in made:
        server.cleanup()


@pytest.fixture
async def make_layer():
    """A factory of layers (fast health checks, a prefix private to the test); every layer
    is closed after the test."""
    prefix = f"t{secrets.token_hex(4)}"
    made: list[MultiRedisChannelLayer] = []

    def build(servers: list[RedisServer] | list[str] = (), **config) -> MultiRedisChannelLayer:
        nodes = [s if isinstance(s, str) else s.url for s in servers]
        options = {
            "prefix": prefix,
            "health_check_interval": 0.2,
            "health_check_timeout": 0.3,
            **config,
        }
        layer = MultiRedisChannelLayer(nodes=nodes, **options)
        made.append(layer)
        return layer

    yield build
    for layer in made:
        await layer.close()


@pytest.fixture(params=[0, 1, 3, "cluster"], ids=["0-nodes", "1-node", "3-nodes", "cluster"])
def node_count(request) -> int | str:
    """Run a test with zero (in-process), one and three Redis nodes, and one Redis Cluster
    entry."""
    return request.param


@pytest.fixture
def servers(node_count, request) -> list[RedisServer]:
    """The shared servers for ``node_count`` (none for in-process mode)."""
    if node_count == 0:
        return []
    if node_count == "cluster":
        return [request.getfixturevalue("redis_cluster")]
    return request.getfixturevalue("shared_redis")[:node_count]


@pytest.fixture
def health_events():
    """Every redis_health_changed signal sent during the test."""
    events: list[dict] = []

    def record(sender, **kwargs):
        events.append(kwargs)

    redis_health_changed.connect(record)
    yield events
    redis_health_changed.disconnect(record)


def node_health(layer, server):
    """The layer's health entry of one Redis server."""
    return next(n for n in layer.health() if n.port == server.port)
