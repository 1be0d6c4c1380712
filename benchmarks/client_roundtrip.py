"""Round-trip cost of ``RealtimeClient.call`` against a raw ``websockets`` baseline.

Starts one daphne node with the test handlers, then times sequential ``echo`` calls made
with the client and with a bare websockets connection sending the same frames, in
alternating rounds so both see the same machine load. Reports medians and the ratio.

    .venv/bin/python -m benchmarks.client_roundtrip [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from websockets.asyncio.client import ClientConnection, connect

from realtime.client import RealtimeClient
from tests.support.processes import DaphneNode


async def client_round(client: RealtimeClient, calls: int) -> list[float]:
    """Seconds per ``call("echo")`` with the client."""
    timings = []
    for n in range(calls):
        started = time.perf_counter()
        await client.call("echo", n)
        timings.append(time.perf_counter() - started)
    return timings


async def raw_round(ws: ClientConnection, calls: int) -> list[float]:
    """Seconds per echo round trip with hand-written frames on a bare connection."""
    timings = []
    for n in range(calls):
        started = time.perf_counter()
        await ws.send(json.dumps({"event": "echo", "payload": n, "callbackId": f"c-{n}"}))
        json.loads(await ws.recv())
        timings.append(time.perf_counter() - started)
    return timings


async def measure(url: str, calls: int, rounds: int) -> tuple[list[float], list[float]]:
    """Alternating rounds of both; returns all client and raw timings."""
    ours, raw = [], []
    async with (
        RealtimeClient(url + "?id=bench-client") as client,
        connect(url + "?id=bench-raw", ping_interval=None) as ws,
    ):
        await client_round(client, 200)  # warm-up
        await raw_round(ws, 200)
        for _ in range(rounds):
            ours += await client_round(client, calls)
            raw += await raw_round(ws, calls)
    return ours, raw


def main() -> None:
    """Run the benchmark and print medians, p99 and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    node = DaphneNode(server_name="bench-node")
    node.start()
    try:
        ours, raw = asyncio.run(measure(node.ws_url(), args.calls, args.rounds))
    finally:
        node.cleanup()
    for name, timings in (("RealtimeClient.call", ours), ("raw websockets", raw)):
        p50 = statistics.median(timings) * 1e6
        p99 = statistics.quantiles(timings, n=100)[98] * 1e6
        print(f"{name:20} p50 {p50:7.0f} us   p99 {p99:7.0f} us   ({len(timings)} calls)")
    print(f"ratio client/raw (p50): {statistics.median(ours) / statistics.median(raw):.2f}")


if __name__ == "__main__":
    main()
