"""The processes of a benchmark: redis-server and daphne nodes, and what /proc says of them.

Every process is started by a :class:`Cluster` (a context manager that stops all of them,
also on errors and Ctrl-C) and dies with the harness even if the harness is killed
(``PR_SET_PDEATHSIG``), so no run leaves a server behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import ROOT, DaphneNode, start_all
from tests.support.redis import RedisServer

REALTIME_APP = "project.asgi:application"
# The code measured as "before" by the memory scenarios: main before the memory work of
# issue 16 (override with BENCH_BEFORE=<commit>).
BEFORE_COMMIT = os.environ.get("BENCH_BEFORE", "eeda5e84abb8379d4dffdb7edc28b75170ee2173")
BASELINE_APP = "benchmarks.baseline:application"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child before exec: get SIGTERM when the harness dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def raise_open_file_limit() -> int:
    """Raise this process's (and so its children's) open-file limit to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) from /proc, in seconds."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of a process from /proc, in bytes."""
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class BenchRedis(RedisServer):
    """A throwaway redis-server for one benchmark configuration (dies with the harness)."""

    preexec = staticmethod(die_with_parent)


class BenchNode(DaphneNode):
    """A daphne node serving ``app`` under ``benchmarks.settings`` (dies with the harness)."""

    preexec = staticmethod(die_with_parent)

    def __init__(
        self,
        app: str,
        server_name: str,
        redis_nodes: list[str],
        env: dict[str, str],
        root: Path | None = None,
    ) -> None:
        super().__init__(server_name=server_name, redis_nodes=redis_nodes, env=env)
        self.app = app
        if root is not None:
            self.cwd = root  # daphne imports the project from its working directory

    def command(self) -> list[str]:
        """daphne on 127.0.0.1 with the chosen application."""
        return [*super().command()[:-1], self.app]

    def environment(self) -> dict[str, str]:
        """The node's settings: the benchmark module, the test handlers, our choices."""
        env = super().environment()
        env["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
        env["REALTIME_LOG_LEVEL"] = "WARNING"
        env.update(self.extra_env)
        return env

    @property
    def pid(self) -> int:
        """The daphne process id."""
        assert self.process is not None
        return self.process.pid


@contextlib.contextmanager
def checkout(commit: str) -> Iterator[Path]:
    """The tree of ``commit`` of this repository in a temporary folder (removed after)."""
    folder = Path(tempfile.mkdtemp(prefix="realtime-before-"))
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Setup:
    """One server configuration: which app, which layer, how many Redis nodes."""

    key: str
    label: str
    app: str
    layer: str
    redis: int
    redundancy: int = 1

    def env(self) -> dict[str, str]:
        """The environment that makes ``benchmarks.settings`` choose this configuration."""
        return {"BENCH_LAYER": self.layer, "BENCH_REDUNDANCY": str(self.redundancy)}


SETUPS = {
    setup.key: setup
    for setup in (
        Setup("realtime-1", "realtime, our layer, 1 Redis", REALTIME_APP, "realtime", 1),
        Setup("realtime-3", "realtime, our layer, 3 Redis", REALTIME_APP, "realtime", 3),
        Setup("channels-core", "Channels + channels_redis core", BASELINE_APP, "channels-core", 1),
        Setup(
            "channels-pubsub",
            "Channels + channels_redis pub/sub",
            BASELINE_APP,
            "channels-pubsub",
            1,
        ),
    )
}


@dataclass
class Cluster:
    """Redis servers and daphne nodes of one configuration, started and stopped together."""

    setup: Setup
    node_count: int
    redis_count: int | None = None
    root: Path | None = None  # where the nodes' code comes from (None: this tree)
    redis: list[BenchRedis] = field(default_factory=list)
    nodes: list[BenchNode] = field(default_factory=list)

    def start(self) -> Cluster:
        """Start the Redis servers, then the daphne nodes in parallel."""
        self.redis = [BenchRedis() for _ in range(self.redis_count or self.setup.redis)]
        start_all(list(self.redis))
        urls = [server.url for server in self.redis]
        self.nodes = [
            BenchNode(self.setup.app, f"bench-{n + 1}", urls, self.setup.env(), self.root)
            for n in range(self.node_count)
        ]
        start_all(list(self.nodes), timeout=60)
        return self

    def stop(self) -> None:
        """Stop every process and remove its files (best effort, all of them)."""
        for process in [*self.nodes, *self.redis]:
            with contextlib.suppress(Exception):
                process.cleanup()

    def node_cpu(self) -> float:
        """CPU seconds used so far by all daphne nodes together."""
        return sum(cpu_seconds(node.pid) for node in self.nodes)

    def redis_cpu(self) -> float:
        """CPU seconds used so far by the live Redis servers together."""
        return sum(
            cpu_seconds(server.process.pid)
            for server in self.redis
            if server.running and server.process is not None
        )


@contextlib.contextmanager
def running(
    setup: Setup, node_count: int, redis_count: int | None = None, root: Path | None = None
) -> Iterator[Cluster]:
    """A started :class:`Cluster` (code from ``root``), stopped on leaving the block."""
    cluster = Cluster(setup, node_count, redis_count, root=root)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
