"""Another process on the same Redis nodes, for the layer's multi-process tests.

    python -m tests.support.layer_peer --nodes URL,URL --prefix P --group G --count N
        [--redundancy K] [--rate PER_SECOND] [--padding BYTES]

Sends ``{"type": "m", "n": i}`` (with ``BYTES`` of text in ``"pad"``: a heavier load) for i in
0..N-1 to the group at about the given rate,
prints one JSON line with the layer's counters and exits; it gives up after 60 s. It signs
with the ``SECRET_KEY`` given in the environment variable ``DJANGO_SECRET_KEY`` (the test's
own, from :func:`peer_environment`), as a server of the same deployment would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import django
from django.conf import settings


async def send_all(args: argparse.Namespace) -> dict[str, int]:
    """Send the messages at the requested pace; the layer's counters."""
    from realtime.layers import MultiRedisChannelLayer

    layer = MultiRedisChannelLayer(
        nodes=args.nodes.split(","),
        prefix=args.prefix,
        redundancy=args.redundancy,
        health_check_interval=0.2,
        health_check_timeout=0.3,
    )
    started = time.monotonic()
    batch = 25
    extra = {"pad": "x" * args.padding} if args.padding else {}
    for first in range(0, args.count, batch):
        for n in range(first, min(first + batch, args.count)):
            await layer.group_send(args.group, {"type": "m", "n": n, **extra})
        ahead = started + (first + batch) / args.rate - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)  # pacing: the test kills a node mid-stream
    stats = layer.stats()
    await layer.close()
    return stats


def peer_environment() -> dict[str, str]:
    """The environment of a peer process: this process's, with its ``SECRET_KEY``."""
    return {**os.environ, "DJANGO_SECRET_KEY": settings.SECRET_KEY}


def main() -> int:
    """Parse the arguments, send, print the counters."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--redundancy", type=int, default=1)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--padding", type=int, default=0)
    args = parser.parse_args()
    settings.configure(SECRET_KEY=os.environ["DJANGO_SECRET_KEY"])
    django.setup()
    stats = asyncio.run(asyncio.wait_for(send_all(args), 60))
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
