"""Scenario 2, request/ack: clients call ``echo`` with a callback on one node.

Each client waits for its reply before the next call (a closed loop), so the round trip is
the latency and the total is the node's call rate at that concurrency. Runs the realtime
app (the test app's ``echo`` handler) and the plain Channels baseline app on one node each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .agents import agents
from .nodes import SETUPS, running
from .profiles import Profile
from .stats import latency_summary, read_array
from .ui import Ui

SETUP_KEYS = ("realtime-1", "channels-pubsub")


async def run(profile: Profile, workdir: Path, ui: Ui) -> dict[str, Any]:
    """Every concurrency level on every configuration."""
    results: dict[str, Any] = {}
    with ui.task("request/ack", len(SETUP_KEYS) * len(profile.caller_counts)):
        for key in SETUP_KEYS:
            setup = SETUPS[key]
            ui.note(f"request/ack, {setup.label}: starting 1 node")
            levels = []
            with running(setup, 1) as cluster:
                node = cluster.nodes[0]
                async with agents("callers") as (callers,):
                    # Warm-up: the first connections and calls pay for imports and caches.
                    await callers.request(
                        "calls",
                        url=node.ws_url(),
                        prefix="warm-",
                        concurrency=2,
                        seconds=0.3,
                        path=str(workdir / "warm"),
                    )
                    for concurrency in profile.caller_counts:
                        path = str(workdir / f"calls-{key}-{concurrency}")
                        cpu0 = cluster.node_cpu()
                        answer = await callers.request(
                            "calls",
                            url=node.ws_url(),
                            prefix=f"c{concurrency}-",
                            concurrency=concurrency,
                            seconds=profile.call_seconds,
                            path=path,
                        )
                        cpu = cluster.node_cpu() - cpu0
                        level = _level(concurrency, answer, cpu, read_array(path + ".lat", "d"))
                        levels.append(level)
                        ui.advance(
                            f"{key}, {concurrency} callers: {level['calls_per_second']:.0f} "
                            f"calls/s, p50 {level['p50_ms']} ms, p99 {level['p99_ms']} ms"
                        )
            results[key] = {"label": setup.label, "levels": levels}
    return {"setups": results}


def _level(concurrency: int, answer: dict[str, Any], node_cpu: float, lats: Any) -> dict:
    calls = answer["calls"]
    elapsed = answer["elapsed"]
    return {
        "concurrency": concurrency,
        "calls": calls,
        "errors": answer["errors"],
        "calls_per_second": round(calls / elapsed, 1),
        **latency_summary(lats),
        "server_cpu_us_per_call": round(node_cpu / calls * 1e6, 1) if calls else None,
        "client_cpu_share": round(answer["client_cpu"] / elapsed, 3),
    }
