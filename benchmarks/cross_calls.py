"""Scenario 3, cross-server calls: ``emit_cross_server`` to all of 3 nodes.

Three daphne nodes with the test app's ``ping`` handler; the caller is an observer hub in
its own process (``benchmarks.cross_agent``), so each call crosses Redis to every node and
back. Runs with 1 and with 3 Redis nodes.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from tests.support.processes import ROOT

from .nodes import SETUPS, die_with_parent, running
from .profiles import Profile
from .ui import Ui

NODES = 3
SETUP_KEYS = ("realtime-1", "realtime-3")


async def run(profile: Profile, ui: Ui) -> dict[str, Any]:
    """The calls on every configuration."""
    results: dict[str, Any] = {}
    with ui.task("cross-server calls", len(SETUP_KEYS)):
        for key in SETUP_KEYS:
            setup = SETUPS[key]
            ui.note(f"cross-server, {setup.label}: starting {NODES} nodes")
            with running(setup, NODES) as cluster:
                cpu0 = cluster.node_cpu()
                result = await _call(profile, [server.url for server in cluster.redis], setup)
                result["server_cpu_seconds"] = round(cluster.node_cpu() - cpu0, 3)
            result["label"] = setup.label
            results[key] = result
            sequential = result["sequential"]
            ui.advance(
                f"{key}: p50 {sequential['p50_ms']} ms, p99 {sequential['p99_ms']} ms, "
                f"{result['concurrent']['calls_per_second']:.0f} calls/s concurrently"
            )
    return {"nodes": NODES, "setups": results}


async def _call(profile: Profile, redis_urls: list[str], setup: Any) -> dict[str, Any]:
    env = {
        **os.environ,
        **setup.env(),
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "REALTIME_REDIS_NODES": ",".join(redis_urls),
        "REALTIME_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.cross_agent",
        "--nodes",
        str(NODES),
        "--calls",
        str(profile.cross_calls),
        "--concurrency",
        str(profile.cross_concurrency),
        "--seconds",
        str(profile.cross_seconds),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=die_with_parent,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 300)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode:
        raise RuntimeError(f"the cross-server caller failed:\n{err.decode()[-3000:]}")
    return json.loads(out.decode().strip().splitlines()[-1])
