"""Fixtures shared by the whole suite."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from realtime.connection.handlers import registry
from tests.support.processes import DaphneNode, remove_migrated_database
from tests.support.redis_cluster import RedisCluster

# Property-based tests stay quick in `make test`; HYPOTHESIS_PROFILE=thorough digs deeper.
hypothesis_settings.register_profile(
    "realtime", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile(
    "thorough", parent=hypothesis_settings.get_profile("realtime"), max_examples=2000
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "realtime"))


@pytest.fixture
def handlers() -> Iterator[object]:
    """The handler registry, restored to its state before the test afterwards."""
    saved = (
        dict(registry.events),
        dict(registry.timeouts),
        list(registry.connect_hooks),
        list(registry.disconnect_hooks),
        dict(registry.cross_server),
    )
    yield registry
    (
        registry.events,
        registry.timeouts,
        registry.connect_hooks,
        registry.disconnect_hooks,
        registry.cross_server,
    ) = saved


@pytest.fixture(scope="session")
def demo_node() -> Iterator[DaphneNode]:
    """One real daphne process with the demo, shared by the read-only end-to-end tests."""
    node = DaphneNode(server_name="demo-node")
    node.start()
    yield node
    node.cleanup()


@pytest.fixture
async def clients():
    """A factory of connected in-process clients, all disconnected after the test."""
    from tests.support.clients import TestClient

    made: list[TestClient] = []

    async def connect(path: str = "/ws/?id=1", expect_accept: bool = True, **kwargs):
        client = TestClient(path, **kwargs)
        made.append(client)
        accepted, detail = await client.connect()
        if expect_accept:
            assert accepted, f"connection to {path} refused with {detail}"
        return client

    yield connect
    for client in made:
        if client.accepted:
            with contextlib.suppress(Exception):  # already finished, or cancelled by the test
                await client.disconnect()


@pytest.fixture(scope="session", autouse=True)
def _remove_template_database() -> Iterator[None]:
    """The migrated template database daphne nodes copy is removed after the session."""
    yield
    remove_migrated_database()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """One 3-primary, 3-replica Redis Cluster for the session. A test that kills a node
    restarts it and waits until the cluster is whole again."""
    cluster = RedisCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()
