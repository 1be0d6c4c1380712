"""Fixtures shared by the whole suite."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from realtime.events import registry
from tests.support.processes import DaphneNode


@pytest.fixture
def handlers() -> Iterator[object]:
    """The handler registry, restored to its state before the test afterwards."""
    saved = (
        dict(registry.events),
        list(registry.connect_hooks),
        list(registry.disconnect_hooks),
        dict(registry.cross_server),
    )
    yield registry
    registry.events, registry.connect_hooks, registry.disconnect_hooks, registry.cross_server = (
        saved
    )


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
