"""The original ws-cross-server scenario (50 clients over three daphne nodes, exact pushes)
over a Redis Cluster entry and over a Sentinel entry instead of standalone servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_cluster import NAMES, run_scenario
from tests.support.cluster import Cluster
from tests.support.sentinel import SentinelGroup

pytestmark = pytest.mark.e2e


@pytest.fixture
def sentinel_group() -> Iterator[SentinelGroup]:
    """A fresh Sentinel group (primary, replica, three sentinels)."""
    group = SentinelGroup()
    try:
        group.start()
        yield group
    finally:
        group.cleanup()


@pytest.mark.parametrize("kind", ["cluster", "sentinel"])
async def test_cross_server_scenario_is_exact(kind, request):
    if kind == "cluster":
        url = request.getfixturevalue("redis_cluster").url
    else:
        url = request.getfixturevalue("sentinel_group").url()
    cluster = Cluster(NAMES, redis_urls=[url]).start()
    try:
        await run_scenario(cluster)
    finally:
        cluster.cleanup()
