"""The caller of the cross-server benchmark: an observer hub outside the server nodes.

    DJANGO_SETTINGS_MODULE=benchmarks.settings REALTIME_REDIS_NODES=... \\
        python -m benchmarks.cross_agent --nodes 3 --calls 1000 --concurrency 16 --seconds 5

Joins the cluster as an observer (it hears the nodes' announcements, answers nothing and is
not counted), waits until ``--nodes`` nodes are live, then calls the test app's ``ping``
cross-server handler on all of them: ``--calls`` sequential calls (latency until every
node's reply arrived), then ``--concurrency`` callers for ``--seconds`` (calls per second).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import django

from .stats import latency_summary

TIMEOUT = 2.0


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Sequential, then concurrent calls to every node."""
    from realtime.hub import Hub, set_hub

    hub = Hub(name=f"bench-caller-{os.getpid()}", role="observer")
    set_hub(hub)
    try:
        await hub.observe(wait=0.1)
        deadline = time.monotonic() + 15
        while len(hub.cluster.live_names()) < args.nodes:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {hub.cluster.live_names()} became live")
            await asyncio.sleep(0.05)
        for number in range(20):  # warm-up
            await hub.cross_server.emit("ping", {"n": number}, timeout=TIMEOUT)
        sequential, failures = [], 0
        for number in range(args.calls):
            started = time.monotonic()
            result = await hub.cross_server.emit("ping", {"n": number}, timeout=TIMEOUT)
            sequential.append(time.monotonic() - started)
            failures += not (result.success and len(result.responses) == args.nodes)
        concurrent = await _concurrent(hub, args)
        return {
            "nodes": args.nodes,
            "sequential": {
                "calls": args.calls,
                "failures": failures,
                **latency_summary(sequential),
            },
            "concurrent": concurrent,
        }
    finally:
        await hub.stop()
        close = getattr(hub.link.layer, "close", None)
        if close is not None:
            await close()


async def _concurrent(hub: Any, args: argparse.Namespace) -> dict[str, Any]:
    latencies: list[float] = []
    failures = 0
    stop_at = time.monotonic() + args.seconds

    async def caller() -> None:
        nonlocal failures
        while time.monotonic() < stop_at:
            started = time.monotonic()
            result = await hub.cross_server.emit("ping", None, timeout=TIMEOUT)
            latencies.append(time.monotonic() - started)
            failures += not (result.success and len(result.responses) == args.nodes)

    started = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(args.concurrency)))
    elapsed = time.monotonic() - started
    return {
        "concurrency": args.concurrency,
        "calls": len(latencies),
        "failures": failures,
        "calls_per_second": round(len(latencies) / elapsed, 1),
        **latency_summary(latencies),
    }


def main() -> None:
    """Parse the arguments, set Django up, measure, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    django.setup()
    print(json.dumps(asyncio.run(measure(args))), flush=True)


if __name__ == "__main__":
    main()
