"""Scenario: overload. 2 server nodes, 1 Redis, 100 clients per node in one room; room
messages pushed at a rising rate past what the nodes can deliver.

Each step reports what the fan-out scenario reports (delivered frames, latencies, frames
lost per node) plus every drop the nodes counted during the step, per node and per reason:
the limit counters (``realtime.metrics``) and the channel layer's ``stats()``, read from the
nodes' announcements with ``manage.py realtime_status --json``. A frame lost that no counter
explains is a silent loss, and the scenario says so.

    python -m benchmarks run --quick --scenarios overload
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from .agents import agents
from .fanout import make_rig
from .nodes import SETUPS, Cluster, running
from .profiles import Profile
from .ui import Ui

ROOT = Path(__file__).resolve().parents[1]
RATES = {
    "full": (800, 1000, 1200, 1400, 1600, 2000, 2400),
    "quick": (800, 1200, 1600, 2400),
    "smoke": (20, 40),
}
# Counters that are not drops (traffic, retries, re-joins).
NOT_DROPS = {
    "layer_published",
    "layer_received",
    "layer_publish_retries",
    "send_pauses",
    "busy_waits",
}


def node_counters(cluster: Cluster) -> dict[str, dict[str, int]]:
    """Every node's counters as its last announcement said (``realtime_status --json``)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "BENCH_LAYER": cluster.setup.layer,
        "REALTIME_REDIS_NODES": ",".join(server.url for server in cluster.redis),
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "realtime_status", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode:
        raise RuntimeError(f"realtime_status failed: {done.stderr[-2000:]}")
    status = json.loads(done.stdout)
    return {node["name"]: dict(node.get("counters") or {}) for node in status["nodes"]}


def drops_between(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    """What each node counted between two readings, zeros and plain traffic left out."""
    changes: dict[str, dict[str, int]] = {}
    for node, counters in after.items():
        earlier = before.get(node, {})
        moved = {
            name: value - earlier.get(name, 0)
            for name, value in counters.items()
            if name not in NOT_DROPS and value != earlier.get(name, 0)
        }
        changes[node] = dict(sorted(moved.items()))
    return changes


async def run(profile: Profile, workdir: Path, ui: Ui) -> dict[str, Any]:
    """Every rate of the profile, one step each, with the counters of each step, for each
    of the two answers to an event past MAX_PENDING_HANDLERS: refuse it (BUSY), or hold it
    and stop reading the publisher (``REALTIME["WHEN_BUSY"] = "wait"``)."""
    rates = RATES.get(profile.name, RATES["quick"])
    results: dict[str, Any] = {"clients_per_node": profile.clients_per_node, "policies": {}}
    with ui.task("overload", 2 * (len(rates) + 1)):
        for policy in ("refuse", "wait"):
            os.environ["BENCH_WHEN_BUSY"] = policy  # the nodes' settings read it
            try:
                results["policies"][policy] = await _run_policy(policy, rates, profile, workdir, ui)
            finally:
                os.environ.pop("BENCH_WHEN_BUSY", None)
    return results


async def _run_policy(
    policy: str, rates: tuple[int, ...], profile: Profile, workdir: Path, ui: Ui
) -> dict[str, Any]:
    setup = SETUPS["realtime-1"]
    steps: list[dict[str, Any]] = []
    ui.note(f"overload, WHEN_BUSY={policy}: starting 2 nodes and 1 Redis")
    with running(setup, 2) as cluster:
        async with agents("receivers-1", "receivers-2", "sender") as (one, two, sender):
            rig = await make_rig(cluster, [one, two], sender, profile, workdir)
            await rig.step(rates[0] // 2, profile.warmup_seconds)  # warm-up
            ui.advance("warm-up")
            for rate in rates:
                before = await asyncio.to_thread(node_counters, cluster)
                result = await rig.step(rate, profile.step_seconds)
                after = await asyncio.to_thread(node_counters, cluster)
                result["counted"] = drops_between(before, after)
                result["counters_after"] = after
                steps.append(result)
                ui.advance(
                    f"{policy} {rate} msg/s: sent at {result['frames_per_second']:.0f} frames/s, "
                    f"lost {result['lost_by_node']}, counted {result['counted']}"
                )
            logs = {node.server_name: _warnings(node.log_path) for node in cluster.nodes}
    return {"steps": steps, "node_logs": logs}


def _warnings(path: Path, keep: int = 30) -> list[str]:
    """The distinct WARNING and ERROR lines of a node's log (timestamps cut off)."""
    seen: dict[str, None] = {}
    for line in path.read_text(errors="replace").splitlines():
        if " WARNING " in line or " ERROR " in line:
            seen.setdefault(line.split(" ", 2)[-1][:300], None)
    return list(seen)[:keep]
