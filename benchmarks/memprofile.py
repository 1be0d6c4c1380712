"""Where the memory of an idle connection goes: RSS and tracemalloc of one daphne node.

    python -m benchmarks.memprofile                      # 1000 and 2000 idle connections
    python -m benchmarks.memprofile --levels 0 2000 --traced --top 40
    python -m benchmarks.memprofile --before     # the code before issue 16, then this one

One daphne node of the demo project (no Redis: the embedded single-node layer) serves
idle clients from a separate load process (``benchmarks.loadgen``; every client sends the
empty heartbeat every ``--heartbeat`` seconds). At each level the node's RSS is read once it
settled. With ``--traced`` the node runs under ``benchmarks.traced_settings``: tracemalloc
is on and a snapshot is written at every level; the difference between the first and the
last level is attributed to the code that allocated it (the innermost frame outside the
standard library and asyncio, so an ``asyncio.Task`` counts for whoever created it) and
printed per connection, by module and by allocation site. Tracing slows the node and adds
its own memory, so the RSS figures of a traced run are not the ones to quote.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import linecache
import os
import shutil
import signal
import sys
import sysconfig
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

from .agents import agents
from .nodes import (
    BEFORE_COMMIT,
    REALTIME_APP,
    BenchNode,
    checkout,
    raise_open_file_limit,
    rss_bytes,
)
from .stats import slope

WARMUP = 20
_STDLIB = sysconfig.get_paths()["stdlib"]


def _owner(traceback: tracemalloc.Traceback) -> tracemalloc.Frame:
    """The innermost frame that is not the standard library (asyncio, copy, ...)."""
    for frame in reversed(traceback):  # iteration goes from the oldest frame
        name = frame.filename
        if name.startswith(_STDLIB) and "site-packages" not in name:
            continue
        if name.startswith("<"):
            continue
        return frame
    return traceback[-1]


# Families of the profile table: (family, path part, words of the source line or None).
# The first rule matching the innermost frame outside the standard library decides.
FAMILIES = (
    ("session and user lazies", "django/contrib/", None),
    ("session and user lazies", "django/utils/functional", None),
    ("session and user lazies", "channels/", ("Lazy", "get_user", "session_store")),
    ("session and user lazies", "realtime/routing", ("Lazy", "get_user", "store(")),
    (
        "daphne: application queue and task",
        "daphne/server",
        ("Queue", "ensure_future", "application(", "partial"),
    ),
    (
        "daphne: application queue and task",
        "connection/daphne_memory",
        ("Queue", "future", "application", "partial", "_items"),
    ),
    ("daphne: protocol and request", "connection/daphne_memory", ("__dict__", "Request")),
    ("ASGI scope (dict, headers)", "daphne/server", ("setdefault",)),
    ("ASGI scope (dict, headers)", "daphne/ws_protocol", ("clean_headers.append", "{")),
    ("daphne: protocol and request", "daphne/", None),
    ("daphne: protocol and request", "twisted/web/", None),
    ("autobahn protocol", "autobahn/", None),
    ("autobahn protocol", "txaio/", None),
    ("autobahn protocol", "cffi/", None),
    ("Twisted transport", "twisted/", None),
    ("application task and consumer", "channels/consumer", None),
    ("application task and consumer", "connection/consumer", None),
    ("application task and consumer", "realtime/consumers", None),
    ("Channels middleware: scope copies, frames", "channels/", None),
    ("Channels middleware: scope copies, frames", "realtime/routing", None),
    ("Socket, registry", "connection/socket", None),
    ("Socket, registry", "wire/protocol", None),
    ("Socket, registry", "node/registry", None),
    ("Socket, registry", "realtime/hub", None),
    ("Socket, registry", "project/", None),
    ("flow control and direct writer", "connection/daphne_fixes", None),
    ("rate-limit state", "connection/limits", None),
    ("per-connection timers", "connection/lifecycle", None),
    # Before the architecture split (a --before run of an older checkout).
    ("Socket, registry", "realtime/socket", None),
    ("Socket, registry", "realtime/protocol", None),
    ("Socket, registry", "realtime/registry", None),
    ("flow control and direct writer", "realtime/daphne_compat", None),
    ("rate-limit state", "realtime/ratelimit", None),
    ("per-connection timers", "realtime/lifecycle", None),
)
_SKIPPED = ("asgiref/",)


def family(traceback: tracemalloc.Traceback) -> str:
    """The family of the profile table an allocation belongs to (see ``FAMILIES``)."""
    for frame in reversed(traceback):
        name = frame.filename
        if (name.startswith(_STDLIB) and "site-packages" not in name) or name.startswith("<"):
            continue
        if any(part in name for part in _SKIPPED):
            continue
        line = linecache.getline(name, frame.lineno)
        for label, part, words in FAMILIES:
            if part in name and (words is None or any(word in line for word in words)):
                return label
        return "other"
    return "other"


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/wt-16/", str(Path(__file__).resolve().parents[1]) + "/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def attribute(before: Path, after: Path, connections: int, top: int) -> dict[str, Any]:
    """Per-connection bytes and blocks that grew between two snapshots, by owner."""
    old = tracemalloc.Snapshot.load(str(before))
    new = tracemalloc.Snapshot.load(str(after))
    by_family: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    by_module: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    by_site: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    total = 0
    for diff in new.compare_to(old, "traceback"):
        if not diff.size_diff:
            continue
        frame = _owner(diff.traceback)
        module = _short(frame.filename)
        inner = diff.traceback[-1]
        site = f"{module}:{frame.lineno}"
        if inner is not frame:
            site += f" -> {_short(inner.filename)}:{inner.lineno}"
        tables = ((by_module, module), (by_site, site), (by_family, family(diff.traceback)))
        for table, key in tables:
            table[key][0] += diff.size_diff
            table[key][1] += diff.count_diff
        total += diff.size_diff

    def rows(table: dict[str, list[float]]) -> list[dict[str, Any]]:
        ordered = sorted(table.items(), key=lambda item: -item[1][0])[:top]
        return [
            {
                "owner": key,
                "bytes": round(size / connections, 1),
                "blocks": round(count / connections, 2),
            }
            for key, (size, count) in ordered
        ]

    return {
        "connections": connections,
        "bytes_per_connection": round(total / connections, 1),
        "by_family": rows(by_family),
        "by_module": rows(by_module),
        "by_site": rows(by_site),
    }


async def _snapshot(node: BenchNode, prefix: str, number: int) -> Path:
    done = Path(f"{prefix}.{number}.done")
    os.kill(node.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 120
    while not done.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the node wrote no snapshot within 120 s")
        await asyncio.sleep(0.2)
    return Path(f"{prefix}.{number}.snapshot")


async def measure(args: argparse.Namespace, root: Path | None = None) -> dict[str, Any]:
    """Open the levels of idle connections; RSS (and snapshots) at each."""
    workdir = Path(tempfile.mkdtemp(prefix="realtime-memprofile-"))
    prefix = str(workdir / "node")
    env = dict(item.split("=", 1) for item in args.env)
    if args.traced:
        if root is not None:  # an older checkout may lack the hook: bring this one
            shutil.copy(Path(__file__).with_name("traced_settings.py"), root / "benchmarks")
        env.update(
            {"DJANGO_SETTINGS_MODULE": "benchmarks.traced_settings", "BENCH_TRACEMALLOC": prefix}
        )
    node = BenchNode(REALTIME_APP, "memprofile", [], env, root)
    if args.traced:  # tracing slows handshakes past daphne's default 5 s limit
        node.daphne_args = ["--websocket_connect_timeout", "120"]
    node.start(timeout=60)
    samples, snapshots = [], []
    try:
        async with agents(*(f"idle-{n}" for n in range(args.agents))) as clients:
            open_now = 0
            for level in args.levels:
                target = WARMUP + level
                share = [(target - open_now) // len(clients)] * len(clients)
                share[0] += target - open_now - sum(share)
                started = time.monotonic()
                answers = await asyncio.gather(
                    *(
                        client.request(
                            "open",
                            url=node.ws_url(),
                            count=count,
                            prefix=f"{client.name}-",
                            room=None,
                            heartbeat=args.heartbeat,
                            handshake_timeout=120.0 if args.traced else 10.0,
                        )
                        for client, count in zip(clients, share, strict=True)
                    )
                )
                opened = time.monotonic() - started
                open_now = sum(answer["open"] for answer in answers)
                await asyncio.sleep(args.settle)
                progress = await asyncio.gather(*(c.request("progress") for c in clients))
                closed = sum(answer["closed"] for answer in progress)
                if closed:
                    raise RuntimeError(f"{closed} idle connections were closed by the server")
                samples.append(
                    {"connections": level, "rss_bytes": rss_bytes(node.pid), "open_s": opened}
                )
                if args.traced:
                    snapshots.append(await _snapshot(node, prefix, len(snapshots) + 1))
                print(
                    f"{level} idle: RSS {samples[-1]['rss_bytes'] / 2**20:.1f} MiB",
                    file=sys.stderr,
                )
        xs = [sample["connections"] for sample in samples]
        per = slope(xs, [sample["rss_bytes"] for sample in samples])
        result: dict[str, Any] = {
            "samples": samples,
            "kib_per_connection": round(per / 1024, 2) if per else None,
        }
        if args.traced and len(snapshots) > 1:
            result["traced"] = attribute(snapshots[0], snapshots[-1], xs[-1] - xs[0], args.top)
        return result
    finally:
        node.cleanup()
        if args.keep:
            print(f"snapshots kept in {workdir}", file=sys.stderr)
        else:
            for path in workdir.iterdir():
                path.unlink()
            workdir.rmdir()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, measure, print JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memprofile")
    parser.add_argument("--levels", nargs="+", type=int, default=[0, 1000, 2000])
    parser.add_argument("--settle", type=float, default=6.0)
    parser.add_argument("--heartbeat", type=float, default=5.0)
    parser.add_argument("--agents", type=int, default=1, help="load client processes")
    parser.add_argument("--traced", action="store_true", help="tracemalloc snapshots too")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the snapshot files")
    parser.add_argument("--env", nargs="*", default=[], help="NAME=VALUE for the node")
    parser.add_argument(
        "--before", action="store_true", help=f"first measure commit {BEFORE_COMMIT[:10]} too"
    )
    args = parser.parse_args(argv)
    raise_open_file_limit()
    results: dict[str, Any] = {}
    if args.before:
        with checkout(BEFORE_COMMIT) as root:
            results["before"] = asyncio.run(measure(args, root))
    results["after"] = asyncio.run(measure(args))
    if args.before and results["before"]["kib_per_connection"]:
        ratio = results["after"]["kib_per_connection"] / results["before"]["kib_per_connection"]
        results["after_over_before"] = round(ratio, 3)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
