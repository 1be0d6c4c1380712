"""Channel layer benchmark: group_send, and send to a named channel, between two processes.

    python -m benchmarks.layer_bench            # full run (about a minute)
    python -m benchmarks.layer_bench --quick    # tiny run (smoke test)

Starts three throwaway redis-server processes, then for every layer runs a receiver process
(one channel in one group) and a sender process, twice:

* throughput: the sender pushes ``--count`` messages with ``--concurrency`` tasks as fast
  as the layer accepts them; delivered messages per second from the first send to the last
  receive.
* latency: the sender sends at a fixed ``--rate`` for ``--seconds``; p50 / p99 of the time
  from ``group_send`` to ``receive`` returning in the other process (median of ``--repeat``
  runs, the layers interleaved).

Layers: this project's ``MultiRedisChannelLayer`` with 1 and 3 Redis nodes (signed, the
default), with 1 node and ``signing: False`` (what signing costs), with one Redis Cluster
entry (3 primaries, 3 replicas: sharded pub/sub) and with one Sentinel entry (1 primary,
1 replica, 3 sentinels), these two started only when selected; and
channels_redis's ``RedisPubSubChannelLayer`` and ``RedisChannelLayer`` on the same Redis (the
latter with ``max_connections`` raised and no socket timeout, as it fails under load at its
defaults). Ratios are against ``RedisPubSubChannelLayer`` measured in the same run.

Rows ending in ``named`` measure Channels' worker pattern instead: ``send`` to a named
channel (``"bench-named"``, no ``!``) that the receiver ``receive``s from, which both layers
store on Redis. Their ratios are against channels_redis's ``RedisChannelLayer`` on the same
kind of channel (``channels_redis core named``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "channels_redis pubsub"
SIGNED, UNSIGNED = "multi-redis 1 node", "multi-redis 1 node unsigned"
CLUSTER, SENTINEL = "multi-redis cluster", "multi-redis sentinel"
NAMED_BASELINE = "channels_redis core named"
NAMED_CHANNEL = "bench-named"
LAYERS = [
    SIGNED,
    "multi-redis 3 nodes",
    UNSIGNED,
    CLUSTER,
    SENTINEL,
    BASELINE,
    "channels_redis core",
    "multi-redis 1 node named",
    "multi-redis 3 nodes named",
    "multi-redis 3 nodes named redundancy 2",
    NAMED_BASELINE,
]
# Between the entries given to --nodes (a Cluster or Sentinel URL has commas of its own).
NODE_SEPARATOR = " "
# Both processes of a run sign with keys derived from this throwaway SECRET_KEY.
SECRET_KEY = "layer-bench: a throwaway key shared by the two processes of a run"
# A typical hub message: one encoded push frame for a room.
FRAME = '{"event":"roomSay","payload":{"from":"user-1234","text":"' + "hello there " * 8 + '"}}'


def build_layer(name: str, nodes: list[str], prefix: str) -> Any:
    """The layer under test, configured for a long burst (large capacities)."""
    if name.startswith("multi-redis"):
        from realtime.layers import MultiRedisChannelLayer

        return MultiRedisChannelLayer(
            nodes=nodes,
            prefix=prefix,
            capacity=1_000_000,
            signing=name != UNSIGNED,
            redundancy=2 if name.endswith("redundancy 2") else 1,
        )
    if name == BASELINE:
        from channels_redis.pubsub import RedisPubSubChannelLayer

        return RedisPubSubChannelLayer(hosts=[nodes[0]], prefix=prefix)
    from channels_redis.core import RedisChannelLayer

    host = {"address": nodes[0], "max_connections": 1000, "socket_timeout": None}
    return RedisChannelLayer(hosts=[host], prefix=prefix, capacity=1_000_000)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def receive_role(args: argparse.Namespace) -> dict[str, Any]:
    """Join the group, say ready, receive until ``expect`` messages or an idle timeout."""
    layer = build_layer(args.layer, args.nodes.split(NODE_SEPARATOR), args.prefix)
    if _named(args.layer):
        channel = NAMED_CHANNEL
    else:
        channel = await layer.new_channel()
        await layer.group_add(args.group, channel)
    print("ready", flush=True)
    latencies: list[float] = []
    first_sent = last_received = 0.0
    cpu_start = cpu_seconds()
    while len(latencies) < args.expect:
        try:
            message = await asyncio.wait_for(layer.receive(channel), args.idle)
        except TimeoutError:
            break
        last_received = time.monotonic()
        if not latencies:
            first_sent = message["t"]
        latencies.append(last_received - message["t"])
    cpu = cpu_seconds() - cpu_start
    latencies.sort()
    count = len(latencies)
    return {
        "delivered": count,
        "throughput": count / (last_received - first_sent) if count > 1 else 0.0,
        "p50_ms": latencies[count // 2] * 1000 if count else None,
        "p99_ms": latencies[min(count - 1, int(count * 0.99))] * 1000 if count else None,
        "receiver_cpu_us": cpu / count * 1e6 if count else None,
    }


async def send_role(args: argparse.Namespace) -> dict[str, Any]:
    """Blast ``count`` messages with ``concurrency`` tasks, or send at ``rate`` per second."""
    layer = build_layer(args.layer, args.nodes.split(NODE_SEPARATOR), args.prefix)
    await layer.group_send(args.group + "-warmup", {"type": "bench", "t": 0.0, "f": ""})
    cpu_start = cpu_seconds()
    started = time.monotonic()
    if args.rate:
        await _paced(layer, args)
    else:
        await asyncio.gather(*(_blast(layer, args, t) for t in range(args.concurrency)))
    elapsed = time.monotonic() - started
    return {"sent": args.count, "elapsed": elapsed, "sender_cpu": cpu_seconds() - cpu_start}


def _named(layer: str) -> bool:
    return " named" in layer


async def _send_one(layer: Any, args: argparse.Namespace) -> None:
    message = {"type": "bench", "t": time.monotonic(), "f": FRAME}
    if _named(args.layer):
        await layer.send(NAMED_CHANNEL, message)
    else:
        await layer.group_send(args.group, message)


async def _blast(layer: Any, args: argparse.Namespace, task: int) -> None:
    for _ in range(task, args.count, args.concurrency):
        await _send_one(layer, args)


async def _paced(layer: Any, args: argparse.Namespace) -> None:
    tick = 0.005
    per_tick = args.rate * tick
    started = time.monotonic()
    sent = 0
    while sent < args.count:
        due = min(args.count, int((time.monotonic() - started) / tick * per_tick) + 1)
        while sent < due:
            await _send_one(layer, args)
            sent += 1
        await asyncio.sleep(tick)


def spawn(role: str, layer: str, nodes: list[str], extra: list[str]) -> subprocess.Popen[str]:
    """A receiver or sender process of this module."""
    command = [
        sys.executable, "-m", "benchmarks.layer_bench", "--role", role, "--layer", layer,
        "--nodes", NODE_SEPARATOR.join(nodes), *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_phase(layer: str, nodes: list[str], count: int, concurrency: int, rate: float) -> dict:
    """One receiver and one sender process for one layer; their merged results."""
    common = ["--prefix", f"bench{secrets.token_hex(3)}", "--group", "bench.group"]
    receiver = spawn("receive", layer, nodes, [*common, "--expect", str(count), "--idle", "10"])
    try:
        ready = receiver.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError(f"{layer} receiver did not start: {receiver.stderr.read()[-2000:]}")
        send_args = [*common, "--count", str(count), "--concurrency", str(concurrency)]
        sender = spawn("send", layer, nodes, [*send_args, "--rate", str(rate)])
        sent_out, sent_err = sender.communicate(timeout=300)
        if sender.returncode:
            raise RuntimeError(f"{layer} sender failed: {sent_err[-2000:]}")
        received_out, received_err = receiver.communicate(timeout=60)
        if receiver.returncode:
            raise RuntimeError(f"{layer} receiver failed: {received_err[-2000:]}")
    finally:
        for process in (receiver,):
            if process.poll() is None:
                process.kill()
                process.wait(5)
    result = json.loads(received_out.strip().splitlines()[-1])
    result.update(json.loads(sent_out.strip().splitlines()[-1]))
    result["sender_cpu_us"] = result.pop("sender_cpu") / count * 1e6
    return result


def start_servers(layers: list[str]) -> tuple[list[Any], dict[str, list[str]]]:
    """Three standalone Redis servers, and a Cluster and a Sentinel group when ``layers``
    need them; the processes to clean up and each layer's ``nodes``."""
    sys.path.insert(0, str(ROOT))
    from tests.support.redis import RedisServer
    from tests.support.redis_cluster import RedisCluster
    from tests.support.sentinel import SentinelGroup

    servers: list[Any] = [RedisServer() for _ in range(3)]
    for server in servers:
        server.start()
    urls = [server.url for server in servers]
    nodes = {
        layer: urls[:3] if layer.startswith("multi-redis 3 nodes") else urls[:1] for layer in LAYERS
    }
    for name, kind in ((CLUSTER, RedisCluster), (SENTINEL, SentinelGroup)):
        if name in layers:
            group = kind()
            servers.append(group)
            group.start()
            nodes[name] = [group.url if isinstance(group.url, str) else group.url()]
    return servers, nodes


def run(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every layer, both phases, on fresh Redis servers."""
    servers: list[Any] = []
    try:
        servers, nodes_of = start_servers(args.layers)
        results: dict[str, dict[str, Any]] = {}
        for layer in args.layers:
            blast = run_phase(layer, nodes_of[layer], args.count, args.concurrency, 0)
            results[layer] = {
                "throughput": blast["throughput"],
                "delivered": blast["delivered"],
                "sent": blast["sent"],
                "receiver_cpu_us": blast["receiver_cpu_us"],
                "sender_cpu_us": blast["sender_cpu_us"],
                "burst_p99_ms": blast["p99_ms"],
                "paced": [],
            }
        # Latency runs interleave the layers and repeat: one run's p99 on two busy cores
        # swings with scheduling, the median of several is comparable.
        for _ in range(args.repeat):
            for layer in args.layers:
                paced = run_phase(
                    layer, nodes_of[layer], int(args.rate * args.seconds), 1, args.rate
                )
                results[layer]["paced"].append(paced)
        for layer, result in results.items():
            runs = result.pop("paced")
            result["p50_ms"] = statistics.median(run["p50_ms"] for run in runs)
            result["p99_ms"] = statistics.median(run["p99_ms"] for run in runs)
            result["p99_runs_ms"] = [round(run["p99_ms"], 2) for run in runs]
            result["paced_delivered"] = sum(run["delivered"] for run in runs)
            print(f"  {layer}: {_line(result)}", file=sys.stderr, flush=True)
        return results
    finally:
        for server in servers:
            server.cleanup()


def _line(result: dict[str, Any]) -> str:
    return (
        f"{result['throughput']:,.0f} msg/s ({result['delivered']}/{result['sent']} delivered), "
        f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms"
    )


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    """A Markdown table with ratios against the baseline."""
    lines = [
        f"group_send (rows ending in 'named': send to a named channel) between two processes: "
        f"throughput burst of {args.count} messages ({args.concurrency} sending tasks); "
        f"latency at {args.rate:.0f} msg/s, median of {args.repeat} runs of {args.seconds:g} s; "
        f"{os.cpu_count()} CPUs. Ratios: group rows against {BASELINE}, named rows against "
        f"{NAMED_BASELINE}.",
        "",
        "| layer | msg/s | vs baseline | p50 ms | p99 ms | receiver CPU µs/msg "
        "| sender CPU µs/msg |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        base = results.get(NAMED_BASELINE if _named(name) else BASELINE)
        ratio = f"{r['throughput'] / base['throughput']:.2f}x" if base else "-"
        lines.append(
            f"| {name} | {r['throughput']:,.0f} | {ratio} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['receiver_cpu_us']:.0f} | {r['sender_cpu_us']:.0f} |"
        )
    if SIGNED in results and UNSIGNED in results:
        ratio = results[SIGNED]["throughput"] / results[UNSIGNED]["throughput"]
        lines += [
            "",
            f"Signing: the signed 1-node layer runs at {ratio:.2f}x its unsigned throughput.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison (or, with ``--role``, one side of it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--count", type=int, default=30_000, help="messages in the burst")
    parser.add_argument("--concurrency", type=int, default=20, help="sending tasks")
    parser.add_argument("--rate", type=float, default=2000.0, help="msg/s of the latency run")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of a latency run")
    parser.add_argument("--repeat", type=int, default=3, help="latency runs per layer")
    parser.add_argument("--layers", nargs="+", default=LAYERS, choices=LAYERS)
    parser.add_argument("--json", help="also write the results to this file")
    for option in ("--role", "--layer", "--nodes", "--prefix", "--group"):
        parser.add_argument(option, help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--idle", type=float, default=10.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        import django
        from django.conf import settings

        settings.configure(SECRET_KEY=SECRET_KEY)
        django.setup()
        role = receive_role if args.role == "receive" else send_role
        print(json.dumps(asyncio.run(role(args))), flush=True)
        return 0
    if args.quick:
        args.count, args.rate, args.seconds, args.repeat = 300, 500.0, 0.4, 1
    print(f"Running {', '.join(args.layers)}", file=sys.stderr, flush=True)
    results = run(args)
    print(report(results, args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
