"""Channels' worker pattern over the layer: jobs sent to a named channel while no worker
runs wait on Redis; two ``manage.py runworker jobs`` processes (tests.testapp.workers) then
share them, each job handled exactly once, even when a Redis node dies midway."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from realtime.layers.strategies import ring_order
from tests.support.processes import DaphneNode, RunWorker, start_all
from tests.support.redis import RedisServer
from tests.support.waiting import async_wait_until
from tests.support.wsclient import ProtocolClient

pytestmark = pytest.mark.e2e

JOBS = 1000
WORK = 0.002  # seconds per job: long enough that both workers get a share


@pytest.fixture
def processes():
    """Every process a test starts here; all stopped after it."""
    started: list = []
    yield started
    for process in started:
        process.cleanup()


def start_redis(processes: list, count: int) -> list[RedisServer]:
    servers = [RedisServer() for _ in range(count)]
    processes.extend(servers)
    start_all(servers)
    return servers


async def enqueue(processes: list, urls: list[str], redundancy: int) -> None:
    """Send the jobs from a handler of a daphne node, then stop that node."""
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.testapp.worker_settings",
        "REALTIME_TEST_REDUNDANCY": str(redundancy),
    }
    node = DaphneNode(server_name="producer", redis_nodes=urls, env=env)
    processes.append(node)
    await asyncio.to_thread(node.start)
    client = await ProtocolClient(node.ws_url("/ws/?id=producer")).connect()
    try:
        reply = await client.call("enqueueJobs", {"count": JOBS, "work": WORK}, timeout=30)
        assert reply["payload"] == {"sent": JOBS}
    finally:
        await client.close()
    node.stop()


def start_workers(processes: list, urls: list[str], redundancy: int) -> list[RunWorker]:
    env = {"REALTIME_TEST_REDUNDANCY": str(redundancy)}
    workers = [RunWorker(["jobs"], urls, env) for _ in range(2)]
    processes.extend(workers)
    start_all(workers)
    return workers


def handled(workers: list[RunWorker]) -> list[int]:
    return [job for worker in workers for job in worker.jobs()]


async def assert_each_job_once(workers: list[RunWorker]) -> None:
    await async_wait_until(
        lambda: len(handled(workers)) >= JOBS,
        60,
        f"{JOBS} jobs handled; logs:\n" + "\n".join(w.log_tail() for w in workers),
        interval=0.05,
    )
    await asyncio.sleep(0.5)  # a job handled twice would show up by now (absence cannot be awaited)
    jobs = handled(workers)
    twice = [job for job, times in Counter(jobs).items() if times > 1]
    assert twice == [], f"handled more than once: {twice[:20]}"
    assert sorted(jobs) == list(range(JOBS))
    shares = [len(worker.jobs()) for worker in workers]
    assert all(shares), f"both workers should share the jobs: {shares}\n" + "\n".join(
        w.log_tail() for w in workers
    )
    assert all(worker.running for worker in workers)


async def test_jobs_sent_while_no_worker_runs_are_each_handled_once(processes):
    servers = start_redis(processes, 3)
    urls = [server.url for server in servers]
    await enqueue(processes, urls, redundancy=1)
    workers = start_workers(processes, urls, redundancy=1)
    await assert_each_job_once(workers)


async def test_a_redis_node_killed_midway_loses_no_job_with_redundancy_two(processes):
    servers = start_redis(processes, 3)
    urls = [server.url for server in servers]
    await enqueue(processes, urls, redundancy=2)
    by_address = {server.address: server for server in servers}
    # The first copy of every job is on the channel's first ring node, where receivers take
    # from; the second copy is on the next one.
    primary, secondary = (by_address[a] for a in ring_order(tuple(sorted(by_address)), "jobs")[:2])
    workers = start_workers(processes, urls, redundancy=2)
    await async_wait_until(
        lambda: len(handled(workers)) >= JOBS // 3, 60, "a third of the jobs handled", 0.01
    )
    primary.kill()
    waiting = secondary.call("LLEN", "realtime:q:{jobs}")
    assert waiting > JOBS // 10, f"only {waiting} jobs left on Redis when the node died"
    await assert_each_job_once(workers)
