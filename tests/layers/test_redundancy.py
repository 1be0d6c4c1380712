"""Redundancy: two processes, three Redis nodes, one killed while messages flow."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from realtime.layers.strategies import ring_order
from tests.support.layer_peer import peer_environment
from tests.support.processes import ROOT
from tests.support.waiting import within

COUNT = 5000


async def test_redundancy_two_loses_nothing_and_delivers_once(redis_nodes, make_layer):
    servers = redis_nodes(3)
    receiver = make_layer(servers, capacity=COUNT, redundancy=2)
    channel = await receiver.new_channel()
    await receiver.group_add("r-flow.1", channel)
    prefix = receiver.config.prefix
    by_address = {s.address: s for s in servers}
    # Kill the node that carries the namespace (the first of the two copies).
    victim = by_address[ring_order(tuple(by_address), f"{prefix}:g:r-flow")[0]]

    sender = subprocess.Popen(
        [
            sys.executable, "-m", "tests.support.layer_peer",
            "--nodes", ",".join(s.url for s in servers), "--prefix", prefix,
            "--group", "r-flow.1", "--count", str(COUNT), "--redundancy", "2",
            "--rate", "2500",
        ],
        cwd=ROOT, env=peer_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        received: list[int] = []
        while len(received) < COUNT:
            message = await within(receiver.receive(channel), 10, f"message {len(received)}")
            received.append(message["n"])
            if len(received) == COUNT // 3:
                victim.kill()
        out, err = await asyncio.to_thread(sender.communicate, timeout=30)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait(5)
    assert sender.returncode == 0, err.decode()
    assert sorted(received) == list(range(COUNT))  # every message, exactly once
    try:
        extra = await asyncio.wait_for(receiver.receive(channel), 0.5)
        raise AssertionError(f"a duplicate arrived: {extra}")
    except TimeoutError:
        pass
    assert receiver.stats()["duplicates_dropped"] >= COUNT // 2  # the second copies
    sender_stats = json.loads(out.decode().strip().splitlines()[-1])
    assert sender_stats["published"] == COUNT
