"""Scenario 5, failover: steady room traffic across 2 nodes while a Redis node fails.

Three Redis nodes (strategy ``hash``), two daphne nodes, the fan-out room and sender. A
warm-up shows which Redis node carries the room's traffic (the one whose PUBLISH count
grew most); a while into the measured step it is SIGKILLed (``kill``: its connections
close at once, as when a server crashes) or SIGSTOPped (``freeze``: it stops answering and
its connections stay open, as when a machine hangs or the network drops packets; the layer
only learns it from a health check). Reported, with the layer's ``redundancy`` 1 and 2:
frames lost, messages disrupted (not delivered to every client, or
later than 3x the pre-kill p99 and at least 50 ms), the worst latency after the kill, and
the time to recover: from the kill until the last disrupted message was delivered (or, if
lost, sent). No disrupted message means nothing was noticed.
"""

from __future__ import annotations

import asyncio
import signal
import time
from array import array
from pathlib import Path
from typing import Any

from .agents import agents
from .fanout import make_rig
from .nodes import REALTIME_APP, BenchRedis, Setup, running
from .profiles import Profile
from .stats import percentile
from .ui import Ui

MIN_LATE = 0.05


def setup_for(mode: str, redundancy: int) -> Setup:
    """Our layer over 3 Redis nodes with the given redundancy."""
    return Setup(
        f"{mode}-r{redundancy}",
        f"Redis node {'killed' if mode == 'kill' else 'frozen'}, redundancy {redundancy}",
        REALTIME_APP,
        "realtime",
        3,
        redundancy,
    )


def fail(victim: BenchRedis, mode: str) -> None:
    """Kill or freeze a Redis server."""
    if mode == "kill":
        victim.kill()
    else:
        assert victim.process is not None
        victim.process.send_signal(signal.SIGSTOP)


def revive(victim: BenchRedis) -> None:
    """Let a frozen server run again (so that it can be stopped); nothing for a dead one."""
    if victim.running and victim.process is not None:
        victim.process.send_signal(signal.SIGCONT)


async def run(profile: Profile, workdir: Path, ui: Ui) -> dict[str, Any]:
    """Every (failure mode, redundancy) case of the profile."""
    results: dict[str, Any] = {}
    with ui.task("failover", len(profile.failover_cases)):
        for mode, redundancy in profile.failover_cases:
            setup = setup_for(mode, redundancy)
            ui.note(f"failover, {setup.label}: starting 2 nodes and 3 Redis")
            result = await _one(setup, mode, profile, workdir)
            result.update(label=setup.label, mode=mode, redundancy=redundancy)
            results[setup.key] = result
            ui.advance(
                f"{setup.label}: {result['lost']} frames lost, "
                f"{result['disrupted_messages']} messages disrupted, "
                f"recovered in {result['recovery_ms']} ms"
            )
    return {"rate": profile.failover_rate, "setups": results}


async def _one(setup: Setup, mode: str, profile: Profile, workdir: Path) -> dict[str, Any]:
    with running(setup, 2) as cluster:
        async with agents("receivers-1", "receivers-2", "sender") as (one, two, sender):
            rig = await make_rig(cluster, [one, two], sender, profile, workdir)
            before = [server.publish_count() for server in cluster.redis]
            await rig.step(profile.failover_rate, max(1.0, profile.warmup_seconds))
            grown = [s.publish_count() - b for s, b in zip(cluster.redis, before, strict=True)]
            victim = cluster.redis[grown.index(max(grown))]
            failed_at: list[float] = []

            async def failure() -> None:
                await asyncio.sleep(profile.failover_kill_at)
                failed_at.append(time.monotonic())
                fail(victim, mode)

            try:
                step = await rig.step(
                    profile.failover_rate, profile.failover_seconds, during=failure, raw=True
                )
            finally:
                revive(victim)
    return analyse(step, failed_at[0], rig.receivers_total)


def analyse(step: dict[str, Any], failed_at: float, receivers: int) -> dict[str, Any]:
    """Loss, disruption and recovery time of a step with a failure at ``failed_at``.

    Frames of messages the server refused (an error reply to the sender, e.g. ``BUSY``
    when too many of the sender's handlers wait) are counted apart from frames lost in
    transit: only the latter are the layer's to keep.
    """
    seqs, lats, sent_at, refused = step.pop("records")
    count = len(sent_at)
    delivered = array("I", bytes(4 * count))
    worst = array("d", bytes(8 * count))
    for seq, latency in zip(seqs, lats, strict=True):
        delivered[seq] += 1
        worst[seq] = max(worst[seq], latency)
    before = sorted(worst[seq] for seq in range(count) if sent_at[seq] < failed_at)
    late = max(MIN_LATE, 3 * (percentile(before, 0.99) or 0.0))
    disrupted = [seq for seq in range(count) if delivered[seq] < receivers or worst[seq] > late]
    ends = [
        sent_at[seq] + (worst[seq] if delivered[seq] >= receivers else 0.0) for seq in disrupted
    ]
    after = [worst[seq] for seq in range(count) if sent_at[seq] >= failed_at]
    missing = [max(0, receivers - delivered[seq]) for seq in range(count)]
    return {
        "messages": count,
        "frames_expected": count * receivers,
        "delivered": step["delivered"],
        "lost": sum(n for seq, n in enumerate(missing) if seq not in refused),
        "not_delivered": sum(missing),
        "duplicates": step["duplicates"],
        "refused": step["refused"],
        "refused_codes": step["refused_codes"],
        "disrupted_messages": len(disrupted),
        "late_threshold_ms": round(late * 1000, 1),
        "recovery_ms": round(max(0.0, max(ends) - failed_at) * 1000, 1) if ends else 0.0,
        "max_latency_after_failure_ms": round(max(after) * 1000, 1) if after else None,
        "p99_ms": step["p99_ms"],
    }
