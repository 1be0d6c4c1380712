"""Scenario 1, fan-out: 2 server nodes, C clients per node in one room, one sender.

The sender pushes room messages (the demo's ``command`` ``toRoom``; the baseline app speaks
the same frames) at a fixed rate, stamped with their send time; every client records when
each push arrives. One *step* = one rate for a few seconds, then a wait until every frame
arrived (or none came for a second). A step reports delivered frames/s, p50/p95/p99/max
latency, server CPU per delivered frame (utime+stime of the daphne processes from /proc
across the step), Redis CPU, the client processes' CPU, lost and duplicate frames, and
whether it *passed*: p99 under the limit, nothing lost or refused, the sender kept the rate.

Each configuration runs the fixed load (4 000 delivered frames/s by default), then searches
the highest passing rate: doubling until a step fails, then bisecting, within a bounded
number of steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .agents import Agent, agents, wait_delivered, wait_quiet
from .nodes import SETUPS, Cluster, running
from .profiles import Profile
from .stats import latency_summary, read_array
from .ui import Ui

ROOM = "bench"
CLIENT_BOUND_SHARE = 0.9  # a client process using this much of a core may cap the run


@dataclass
class FanoutRig:
    """A running configuration: its cluster, receiver processes and sender."""

    cluster: Cluster
    receivers: list[Agent]
    sender: Agent
    receivers_total: int
    workdir: Path
    profile: Profile
    step_no: int = 0

    async def step(
        self,
        rate: int,
        seconds: float,
        during: Callable[[], Awaitable[Any]] | None = None,
        raw: bool = False,
    ) -> dict[str, Any]:
        """One step at ``rate`` room messages/s for ``seconds``; its measurements.

        ``during`` runs while the sender sends (the failover scenario kills a Redis node
        there); with ``raw`` the result also has the records under ``"records"``: message
        numbers and latencies of every delivered frame, and every message's send time.
        """
        self.step_no += 1
        step = self.step_no
        count = max(2, round(rate * seconds))
        await wait_quiet(self.receivers, quiet=0.3, bound=20.0)
        for agent in self.receivers:
            await agent.request("arm", step=step, count=count)
        client0 = [(await agent.request("cpu"))["cpu"] for agent in self.receivers]
        node0, redis0, started = self.cluster.node_cpu(), self.cluster.redis_cpu(), time.monotonic()
        prefix = str(self.workdir / f"step{step}")
        sending = self.sender.request(
            "send",
            url=self.cluster.nodes[0].ws_url(),
            room=ROOM,
            step=step,
            rate=rate,
            count=count,
            path=prefix,
        )
        if during is None:
            sent = await sending
        else:
            sent, _ = await asyncio.gather(sending, during())
        expected = count * self.receivers_total
        done = await wait_delivered(self.receivers, expected, quiet=1.0, bound=10.0 + seconds)
        node_cpu = self.cluster.node_cpu() - node0
        redis_cpu = self.cluster.redis_cpu() - redis0
        latencies, seqs = array("d"), array("I")
        lost = duplicates = 0
        lost_by_node: list[int] = []
        client_share = 0.0
        for number, agent in enumerate(self.receivers):
            counts = await agent.request("collect", path=f"{prefix}.r{number}")
            latencies.extend(read_array(f"{prefix}.r{number}.lat", "d"))
            if raw:
                seqs.extend(read_array(f"{prefix}.r{number}.seq", "I"))
            lost += counts["lost"]
            lost_by_node.append(counts["lost"])
            duplicates += counts["duplicates"] + counts["foreign"]
            client_share = max(client_share, (counts["cpu"] - client0[number]) / (done - started))
        sent_at = read_array(f"{prefix}.sent", "d") if raw else None
        _remove(prefix)
        result = _judge(
            rate,
            count,
            sent,
            latencies,
            lost,
            duplicates,
            node_cpu,
            redis_cpu,
            client_share,
            self.profile.p99_limit_ms,
        )
        result["lost_by_node"] = lost_by_node
        if raw:
            result["records"] = (seqs, latencies, sent_at, set(sent["refused_ids"]))
        return result


async def make_rig(
    cluster: Cluster, receivers: list[Agent], sender: Agent, profile: Profile, workdir: Path
) -> FanoutRig:
    """Open the room's clients, one receiver process per node, and return the rig."""
    for number, agent in enumerate(receivers):
        await agent.request(
            "open",
            url=cluster.nodes[number].ws_url(),
            count=profile.clients_per_node,
            prefix=f"n{number + 1}-",
            room=ROOM,
            heartbeat=profile.heartbeat_seconds,
        )
    total = len(receivers) * profile.clients_per_node
    return FanoutRig(cluster, receivers, sender, total, workdir, profile)


def _remove(prefix: str) -> None:
    folder, stem = os.path.split(prefix)
    for name in os.listdir(folder):
        if name.startswith(os.path.basename(stem) + "."):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def _judge(
    rate: int,
    count: int,
    sent: dict[str, Any],
    latencies: array,
    lost: int,
    duplicates: int,
    node_cpu: float,
    redis_cpu: float,
    client_share: float,
    limit_ms: float,
) -> dict[str, Any]:
    delivered = len(latencies)
    seconds = count / sent["achieved_rate"] if sent["achieved_rate"] else count / rate
    summary = latency_summary(latencies)
    problems = []
    if summary["p99_ms"] is None or summary["p99_ms"] >= limit_ms:
        problems.append(f"p99 {summary['p99_ms']} ms")
    if lost:
        problems.append(f"{lost} frames lost")
    if sent["refused"]:
        problems.append(f"{sent['refused']} messages refused")
    if sent["acked"] + sent["refused"] < count:
        problems.append(f"{count - sent['acked'] - sent['refused']} messages unanswered")
    if sent["achieved_rate"] < 0.95 * rate:
        problems.append(f"sender reached only {sent['achieved_rate']:.0f} msg/s")
    return {
        "rate": rate,
        "messages": count,
        "delivered": delivered,
        "frames_per_second": round(delivered / seconds, 1),
        **summary,
        "server_cpu_us_per_frame": round(node_cpu / delivered * 1e6, 2) if delivered else None,
        "server_cpu_seconds": round(node_cpu, 3),
        "redis_cpu_us_per_frame": round(redis_cpu / delivered * 1e6, 2) if delivered else None,
        "client_cpu_share": round(client_share, 3),
        "client_bound": client_share >= CLIENT_BOUND_SHARE,
        "lost": lost,
        "duplicates": duplicates,
        "refused": sent["refused"],
        "refused_codes": sent["refused_codes"],
        "sender_max_lag_ms": round(sent["max_lag"] * 1000, 2),
        "passed": not problems,
        "problems": problems,
    }


async def search(rig: FanoutRig, profile: Profile, fixed: int, ui: Ui) -> list[dict[str, Any]]:
    """The fixed rate, then the highest passing rate: double, then bisect (bounded)."""
    steps: list[dict[str, Any]] = []
    good: int | None = None
    bad: int | None = None

    async def attempt(rate: int) -> bool:
        nonlocal good, bad
        result = await rig.step(rate, profile.step_seconds)
        steps.append(result)
        ui.advance(f"{rate} msg/s: p99 {result['p99_ms']} ms, {_verdict(result)}")
        if result["passed"]:
            good = rate if good is None else max(good, rate)
        else:
            bad = rate if bad is None else min(bad, rate)
        return result["passed"]

    rate = fixed
    passed = await attempt(rate)
    tries = 0
    ramping_up = passed
    while tries < profile.search_steps and passed == ramping_up:
        if (ramping_up and rate >= profile.max_rate) or (not ramping_up and rate <= 1):
            break
        rate = min(rate * 2, profile.max_rate) if ramping_up else max(1, rate // 2)
        passed = await attempt(rate)
        tries += 1
    for _ in range(profile.bisections):
        if good is None or bad is None or bad - good <= max(1, good // 20):
            break
        await attempt((good + bad) // 2)
    return steps


def _verdict(result: dict[str, Any]) -> str:
    return "pass" if result["passed"] else "fail (" + ", ".join(result["problems"]) + ")"


def max_passing(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The passing step with the highest rate, if any."""
    passing = [step for step in steps if step["passed"]]
    return max(passing, key=lambda step: step["rate"]) if passing else None


async def run_setup(
    key: str,
    profile: Profile,
    workdir: Path,
    ui: Ui,
    root: Path | None = None,
    search_rate: bool = True,
) -> dict[str, Any]:
    """Every step of one configuration (nodes running the code in ``root``, if given);
    without ``search_rate`` only the fixed load."""
    setup = SETUPS[key]
    per_node = profile.clients_per_node
    fixed = max(1, round(profile.fixed_frames_per_second / (2 * per_node)))
    ui.note(f"fan-out, {setup.label}: starting 2 nodes and {setup.redis} Redis")
    with running(setup, 2, root=root) as cluster:
        async with agents("receivers-1", "receivers-2", "sender") as (one, two, sender):
            rig = await make_rig(cluster, [one, two], sender, profile, workdir)
            await rig.step(fixed, profile.warmup_seconds)  # warm-up, not reported
            if search_rate:
                steps = await search(rig, profile, fixed, ui)
            else:
                steps = [await rig.step(fixed, profile.step_seconds)]
    best = max_passing(steps)
    return {
        "label": setup.label,
        "clients": 2 * per_node,
        "fixed": steps[0],
        "steps": steps,
        "max_rate": best["rate"] if best else None,
        "max_frames_per_second": best["frames_per_second"] if best else None,
        "max_step": best,
    }


def steps_budget(profile: Profile) -> int:
    """Steps one configuration takes at most (for the progress bar)."""
    return 1 + profile.search_steps + profile.bisections


async def run(profile: Profile, setups: list[str], workdir: Path, ui: Ui) -> dict[str, Any]:
    """The fan-out scenario for every configuration, one after the other."""
    results: dict[str, Any] = {}
    for key in setups:
        with ui.task(f"fan-out {key}", steps_budget(profile)):
            results[key] = await run_setup(key, profile, workdir, ui)
    return {
        "clients_per_node": profile.clients_per_node,
        "p99_limit_ms": profile.p99_limit_ms,
        "setups": results,
    }
