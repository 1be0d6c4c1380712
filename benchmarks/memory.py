"""Scenario 4, memory per idle connection: RSS of one daphne node as idle clients pile up.

Every client sends the empty heartbeat every 10 s (answered by the server) and nothing else.
The node's RSS (VmRSS from /proc) is read once a few warm-up connections are open (the
first connections load code and fill caches), then at every level of open connections after
it settled; the growth per connection is the least-squares slope. The realtime app, the
same app as it was before the memory work of issue 16 (``realtime-before``: the tree of
``nodes.BEFORE_COMMIT``, so the change shows as a ratio measured in the same run), and the
plain Channels baseline (one layer channel per consumer) are measured the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from .agents import agents
from .nodes import BEFORE_COMMIT, SETUPS, checkout, rss_bytes, running
from .profiles import Profile
from .stats import slope
from .ui import Ui

SETUP_KEYS = ("realtime-before", "realtime-1", "channels-pubsub")
WARMUP_CONNECTIONS = 20


async def run(profile: Profile, ui: Ui) -> dict[str, Any]:
    """RSS at every level of idle connections, for every configuration."""
    results: dict[str, Any] = {}
    with ui.task("memory per connection", len(SETUP_KEYS) * len(profile.memory_levels)):
        for key in SETUP_KEYS:
            setup = SETUPS["realtime-1" if key == "realtime-before" else key]
            ui.note(f"memory, {key}: starting 1 node")
            with contextlib.ExitStack() as stack:
                root = (
                    stack.enter_context(checkout(BEFORE_COMMIT))
                    if key == "realtime-before"
                    else None
                )
                cluster = stack.enter_context(running(setup, 1, root=root))
                node = cluster.nodes[0]
                async with agents("idle-clients") as (clients,):
                    samples = await _levels(profile, node, clients, ui, key)
            xs = [sample["connections"] for sample in samples]
            ys = [sample["rss_bytes"] for sample in samples]
            per_connection = slope(xs, ys)
            label = setup.label
            if key == "realtime-before":
                label = f"{label}, before issue 16 ({BEFORE_COMMIT[:8]})"
            results[key] = {
                "label": label,
                "samples": samples,
                "kib_per_connection": round(per_connection / 1024, 2) if per_connection else None,
                "mib_per_1000": round(per_connection * 1000 / 2**20, 2) if per_connection else None,
            }
            ui.note(f"memory, {key}: {results[key]['kib_per_connection']} KiB per connection")
    before = results["realtime-before"]["kib_per_connection"]
    after = results["realtime-1"]["kib_per_connection"]
    ratio = round(after / before, 3) if before and after else None
    return {
        "heartbeat_seconds": profile.heartbeat_seconds,
        "setups": results,
        "after_over_before": ratio,
    }


async def _levels(profile: Profile, node: Any, clients: Any, ui: Ui, key: str) -> list[dict]:
    samples = []
    open_now = 0
    for level in profile.memory_levels:
        target = WARMUP_CONNECTIONS + level
        answer = await clients.request(
            "open",
            url=node.ws_url(),
            count=target - open_now,
            prefix="idle-",
            room=None,
            heartbeat=profile.heartbeat_seconds,
        )
        open_now = answer["open"]
        await asyncio.sleep(profile.memory_settle)
        progress = await clients.request("progress")
        if progress["closed"]:
            raise RuntimeError(f"{progress['closed']} idle connections were closed by the server")
        samples.append(
            {
                "connections": level,
                "rss_bytes": rss_bytes(node.pid),
                "open_seconds": round(answer["seconds"], 2),
            }
        )
        ui.advance(
            f"{key}: {level} idle connections, RSS {samples[-1]['rss_bytes'] / 2**20:.1f} MiB"
        )
    return samples
