"""What connection state recovery costs (issue 15), measured in one run.

    python -m benchmarks.recovery_cost [--rounds 3] [--seconds 3]

1. Server CPU per delivered frame in the fan-out scenario (2 daphne nodes, 1 Redis, 100
   clients per node in one room, 4 000 delivered frames/s), in three configurations started
   one after the other, ``--rounds`` times alternated: recovery off; recovery on with the
   original protocol's clients (pushes are kept in history, frames unchanged); recovery on
   with clients that take part in recovery (``rt-recovery`` in their URL: every frame
   carries its offset). Reported as medians and as ratios against "off".
2. Redis memory per 1 000 kept pushes: ``used_memory`` before and after keeping 10 000
   pushes of a 100-byte frame in 10 streams, through the same code the server runs.

Prints a Markdown table (for docs/topics/recovery.md) and writes nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .agents import agents
from .fanout import make_rig
from .nodes import REALTIME_APP, BenchRedis, Setup, running
from .profiles import QUICK

FRAMES_PER_SECOND = 4000
OURS = "/ws/?rt-recovery=%7B%7D"


@dataclass(frozen=True)
class RecoverySetup(Setup):
    """The realtime setup with recovery on or off."""

    recovery: bool = True

    def env(self) -> dict[str, str]:
        """``benchmarks.settings`` reads BENCH_RECOVERY."""
        return {**super().env(), "BENCH_RECOVERY": "1" if self.recovery else "0"}


CONFIGS = {
    "off": (
        RecoverySetup("rec-off", "recovery off", REALTIME_APP, "realtime", 1, 1, False),
        "/ws/",
    ),
    "on, original clients": (
        RecoverySetup("rec-on", "recovery on", REALTIME_APP, "realtime", 1, 1, True),
        "/ws/",
    ),
    "on, our clients": (
        RecoverySetup("rec-ours", "recovery on", REALTIME_APP, "realtime", 1, 1, True),
        OURS,
    ),
}


async def cpu_per_frame(setup: Setup, path: str, seconds: float, workdir: Path) -> dict[str, Any]:
    """One fixed-rate fan-out step (after a warm-up) in one configuration."""
    profile = QUICK
    rate = max(1, round(FRAMES_PER_SECOND / (2 * profile.clients_per_node)))
    with running(setup, 2) as cluster:
        async with agents("receivers-1", "receivers-2", "sender") as (one, two, sender):
            for node in cluster.nodes:  # receivers connect with ``path``
                node.ws_url = _with_path(node.ws_url, path)  # type: ignore[method-assign]
            rig = await make_rig(cluster, [one, two], sender, profile, workdir)
            await rig.step(rate, 1.0)
            return await rig.step(rate, seconds)


def _with_path(original: Any, path: str) -> Any:
    def ws_url(wanted: str = "/ws/") -> str:
        return original(path if wanted == "/ws/" else wanted)

    return ws_url


async def redis_memory_per_1000() -> dict[str, float]:
    """Bytes of Redis memory per 1 000 kept pushes (100-byte frames, 10 streams)."""
    from realtime.layers import MultiRedisChannelLayer
    from realtime.recovery.redis_store import RedisHistory

    server = BenchRedis()
    server.start()
    layer = MultiRedisChannelLayer(nodes=[server.url], signing=False)
    try:
        storage = await layer.storage()
        assert storage is not None
        history = RedisHistory(storage)
        frame = '{"event":"say","payload":{"text":"' + "x" * 66 + '"}}'
        await history.append("r.warm.up", frame, [], 1000, 300)
        before = _used_memory(server)
        for stream in range(10):
            for _ in range(1000):
                await history.append(f"r.bench.{stream}", frame, [], 1000, 300)
        after = _used_memory(server)
        key_bytes = server.call("MEMORY", "USAGE", f"{storage.prefix}:h:r.bench.0")
        return {
            "frame_bytes": len(frame),
            "used_memory_per_1000": (after - before) / 10,
            "memory_usage_of_one_stream": int(key_bytes),
        }
    finally:
        await layer.close()
        server.cleanup()


def _used_memory(server: BenchRedis) -> int:
    info = server.call("INFO", "memory")
    text = info.decode() if isinstance(info, bytes) else info
    return int(text.split("used_memory:")[1].split("\r\n")[0])


async def main(rounds: int, seconds: float) -> None:
    """Measure, then print the table."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as folder:
        for round_no in range(rounds):
            for name, (setup, path) in CONFIGS.items():
                step = await cpu_per_frame(setup, path, seconds, Path(folder))
                results[name].append(step)
                print(
                    f"round {round_no + 1} {name}: {step['server_cpu_us_per_frame']} µs/frame, "
                    f"p99 {step['p99_ms']} ms, lost {step['lost']}"
                )
    off = statistics.median(s["server_cpu_us_per_frame"] for s in results["off"])
    print("\n| recovery | server CPU µs / delivered frame (median) | ratio to off | p99 ms |")
    print("|---|---|---|---|")
    for name, steps in results.items():
        cpu = statistics.median(s["server_cpu_us_per_frame"] for s in steps)
        p99 = statistics.median(s["p99_ms"] for s in steps)
        print(f"| {name} | {cpu:.1f} | {cpu / off:.2f} | {p99:.1f} |")
    memory = await redis_memory_per_1000()
    print(f"\nRedis memory: {memory}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.seconds))
