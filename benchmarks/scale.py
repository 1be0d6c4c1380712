"""Scenario 6 (``--full``; tiny in the smoke run), scale: how many connections one node holds.

1. **Idle connections.** One daphne node (1 Redis) gets ``scale_connections`` idle clients
   from several client processes (a room's worth of them joined to one room), every client
   sending the empty heartbeat every ``heartbeat_seconds``. The count is capped by the
   open-file limit the harness can raise (``RLIMIT_NOFILE``'s hard limit, minus a margin
   for the node's own files). Reported: connections opened per second, RSS per connection
   (growth from a few warm-up connections), and the node's CPU spent while nothing but
   heartbeats flows, per connection and minute.
2. **Pushes.** A few broadcasts to everybody, then a few room pushes to the room's members,
   one per second: delivery time p50/p99 over every delivered frame, and nothing lost.
3. **Fan-out, 1 000 clients in one room over 2 nodes** (the fan-out scenario with more
   clients): the fixed load, then the highest rate with p99 under the limit. The same fixed
   load also runs against the code before issue 16 (``nodes.BEFORE_COMMIT``), so the server
   CPU per delivered frame of both is compared in the same run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import resource
import time
from array import array
from pathlib import Path
from typing import Any

from . import fanout
from .agents import Agent, agents, wait_delivered
from .nodes import BEFORE_COMMIT, SETUPS, Cluster, checkout, rss_bytes, running
from .profiles import Profile
from .stats import latency_summary, read_array
from .ui import Ui

ROOM = "scale"
IDLE_PROCESSES = 4
WARMUP = 20
# Files a node needs besides its connections: listening socket, Redis, database, logs...
FILE_MARGIN = 100


def connection_budget(wanted: int) -> int:
    """``wanted``, or fewer when the open-file limit cannot hold that many connections."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, hard - FILE_MARGIN - WARMUP))


async def run(profile: Profile, workdir: Path, ui: Ui) -> dict[str, Any]:
    """The idle connections and pushes on one node, then the 2-node fan-out comparison."""
    total = connection_budget(profile.scale_connections)
    room = min(profile.scale_room, total)
    parts = 3 + (3 if profile.scale_fanout_clients else 0)
    with ui.task("scale", parts):
        result = await _one_node(profile, total, room, workdir, ui)
        if profile.scale_fanout_clients:
            result["fanout"] = await _fanout(profile, workdir, ui)
    return result


async def _one_node(
    profile: Profile, total: int, room: int, workdir: Path, ui: Ui
) -> dict[str, Any]:
    ui.note(f"scale: 1 node, {total} idle connections ({room} in one room)")
    names = ["scale-room", *(f"scale-idle-{n}" for n in range(IDLE_PROCESSES)), "scale-sender"]
    with running(SETUPS["realtime-1"], 1) as cluster:
        node = cluster.nodes[0]
        async with agents(*names) as started:
            room_agent, *idle, sender = started
            receivers = [room_agent, *idle]
            await _open(node.ws_url(), idle[:1], WARMUP, None, profile, "warm")
            await asyncio.sleep(1.0)
            rss0, opened = rss_bytes(node.pid), time.monotonic()
            await asyncio.gather(
                _open(node.ws_url(), [room_agent], room, ROOM, profile, "room"),
                _open(node.ws_url(), idle, total - room, None, profile, "idle"),
            )
            connect_seconds = time.monotonic() - opened
            ui.advance(f"scale: {total} open in {connect_seconds:.1f} s")
            await asyncio.sleep(max(2.0, profile.heartbeat_seconds))  # a round of heartbeats
            rss1 = rss_bytes(node.pid)
            idle_cpu = await _idle_cpu(cluster, profile.scale_idle_seconds)
            await _check_open(receivers)
            ui.advance(f"scale: RSS {(rss1 - rss0) / total / 1024:.1f} KiB per connection")
            url = node.ws_url()
            pushes = profile.scale_pushes
            everybody = await _pushes(
                cluster, receivers, sender, url, "broadcast", total + WARMUP, pushes, workdir
            )
            members = await _pushes(
                cluster, [room_agent], sender, url, "toRoom", room, pushes, workdir
            )
            await _check_open(receivers)
            ui.advance(f"scale: broadcast p99 {everybody['p99_ms']} ms, lost {everybody['lost']}")
    return {
        "connections": total,
        "wanted": profile.scale_connections,
        "room_members": room,
        "heartbeat_seconds": profile.heartbeat_seconds,
        "connect_seconds": round(connect_seconds, 2),
        "connections_per_second": round(total / connect_seconds, 1),
        "rss_start_mib": round(rss0 / 2**20, 1),
        "rss_end_mib": round(rss1 / 2**20, 1),
        "kib_per_connection": round((rss1 - rss0) / total / 1024, 2),
        "heartbeat_cpu_ms_per_connection_minute": round(
            idle_cpu * 1000 / (total + WARMUP) / (profile.scale_idle_seconds / 60), 4
        ),
        "node_cpu_share_idle": round(idle_cpu / profile.scale_idle_seconds, 3),
        "broadcast": everybody,
        "room_push": members,
    }


async def _open(
    url: str, procs: list[Agent], count: int, room: str | None, profile: Profile, prefix: str
) -> None:
    shares = [count // len(procs)] * len(procs)
    shares[0] += count - sum(shares)
    await asyncio.gather(
        *(
            proc.request(
                "open",
                url=url,
                count=share,
                prefix=f"{prefix}-{proc.name}-",
                room=room,
                heartbeat=profile.heartbeat_seconds,
                handshake_timeout=60.0,  # tens of thousands of handshakes queue up
                timeout=900.0,
            )
            for proc, share in zip(procs, shares, strict=True)
            if share
        )
    )


async def _idle_cpu(cluster: Cluster, seconds: float) -> float:
    before = cluster.node_cpu()
    await asyncio.sleep(seconds)
    return cluster.node_cpu() - before


async def _check_open(receivers: list[Agent]) -> None:
    progress = await asyncio.gather(*(agent.request("progress") for agent in receivers))
    closed = sum(answer["closed"] for answer in progress)
    if closed:
        raise RuntimeError(f"{closed} idle connections were closed by the server")


_steps = iter(range(1_000_000, 2_000_000))


async def _pushes(
    cluster: Cluster,
    receivers: list[Agent],
    sender: Agent,
    url: str,
    action: str,
    each: int,
    count: int,
    workdir: Path,
) -> dict[str, Any]:
    """``count`` pushes, one per second; each of the ``each`` recipients must get them all."""
    step = next(_steps)
    for agent in receivers:
        await agent.request("arm", step=step, count=count)
    client0 = [(await agent.request("cpu"))["cpu"] for agent in receivers]
    node0, started = cluster.node_cpu(), time.monotonic()
    prefix = str(workdir / f"scale{step}")
    sent = await sender.request(
        "send", url=url, room=ROOM, step=step, rate=1.0, count=count, path=prefix, action=action
    )
    done = await wait_delivered(receivers, count * each, quiet=3.0, bound=60.0)
    node_cpu, seconds = cluster.node_cpu() - node0, done - started
    latencies, lost, duplicates, client_share = array("d"), 0, 0, 0.0
    for number, agent in enumerate(receivers):
        counts = await agent.request("collect", path=f"{prefix}.r{number}")
        client_share = max(client_share, (counts["cpu"] - client0[number]) / seconds)
        latencies.extend(read_array(f"{prefix}.r{number}.lat", "d"))
        lost += counts["lost"]
        duplicates += counts["duplicates"] + counts["foreign"]
    return {
        "messages": count,
        "recipients": each,
        "delivered": len(latencies),
        "lost": lost,
        "duplicates": duplicates,
        "refused": sent["refused"],
        **latency_summary(latencies),
        "seconds": round(seconds, 2),
        # CPU share of the node, and of the busiest client process, while the pushes went
        "node_cpu_share": round(node_cpu / seconds, 3) if seconds > 0 else None,
        "node_cpu_us_per_frame": round(node_cpu / len(latencies) * 1e6, 2) if latencies else None,
        "client_cpu_share": round(client_share, 3),
    }


async def _fanout(profile: Profile, workdir: Path, ui: Ui) -> dict[str, Any]:
    """1 000 clients in one room over 2 nodes: before vs now at the fixed load, then the
    highest passing rate now."""
    sized = dataclasses.replace(profile, clients_per_node=profile.scale_fanout_clients // 2)
    with checkout(BEFORE_COMMIT) as root:
        before = await fanout.run_setup("realtime-1", sized, workdir, ui, root, search_rate=False)
    ui.advance(f"scale fan-out before: {before['fixed']['server_cpu_us_per_frame']} µs/frame")
    now = await fanout.run_setup("realtime-1", sized, workdir, ui)
    ui.advance(f"scale fan-out now: {now['fixed']['server_cpu_us_per_frame']} µs/frame")
    cpu_before = before["fixed"]["server_cpu_us_per_frame"]
    cpu_now = now["fixed"]["server_cpu_us_per_frame"]
    return {
        "clients": sized.clients_per_node * 2,
        "before_commit": BEFORE_COMMIT,
        "before": before,
        "now": now,
        "cpu_now_over_before": round(cpu_now / cpu_before, 3) if cpu_before and cpu_now else None,
    }
