"""A real Sentinel group for tests: one primary, one replica and three ``redis-sentinel``
processes on free loopback ports, tuned to fail over in a few seconds."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .processes import ServerProcess
from .redis import RedisServer, call_port
from .waiting import wait_until

REDIS_SENTINEL = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
SERVICE = "mymaster"
DOWN_AFTER_MS = 400
FAILOVER_TIMEOUT_MS = 3000


class SentinelProcess(ServerProcess):
    """One ``redis-sentinel`` watching ``SERVICE``; its config file is its own (Sentinel
    rewrites it)."""

    name = "sentinel"

    def __init__(self, primary_port: int) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="sentinel-"))
        self.config_path = self.directory / "sentinel.conf"
        self.config_path.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.directory}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )

    def command(self) -> list[str]:
        """``redis-sentinel <config>``."""
        return [REDIS_SENTINEL, str(self.config_path), "--loglevel", "warning"]

    def call(self, *args: str | int) -> Any:
        """One command on a fresh connection, its reply decoded."""
        return call_port(self.port, *args)

    def cleanup(self) -> None:
        """Stop the sentinel and remove its files."""
        super().cleanup()
        shutil.rmtree(self.directory, ignore_errors=True)


class SentinelGroup:
    """Primary, replica and three sentinels; :meth:`primary_port` asks the sentinels."""

    def __init__(self, password: str | None = None) -> None:
        self.primary = RedisServer(password=password)
        self.replica = RedisServer(
            password=password, extra=["--replicaof", "127.0.0.1", str(self.primary.port)]
        )
        self.primary.extra += ["--repl-diskless-sync-delay", "0"]
        self.replica.extra += ["--repl-diskless-sync-delay", "0"]
        self.sentinels = [SentinelProcess(self.primary.port) for _ in range(3)]
        if password:
            for sentinel in self.sentinels:
                with sentinel.config_path.open("a") as config:
                    config.write(f"sentinel auth-pass {SERVICE} {password}\n")
        self.password = password

    @property
    def servers(self) -> list[RedisServer]:
        """The two Redis servers (whichever is the primary now)."""
        return [self.primary, self.replica]

    def url(self, **query: str) -> str:
        """``redis+sentinel://[:password@]127.0.0.1:p1,.../mymaster``."""
        auth = f":{self.password}@" if self.password else ""
        seeds = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        options = "&".join(f"{key}={value}" for key, value in query.items())
        return f"redis+sentinel://{auth}{seeds}/{SERVICE}" + (f"?{options}" if options else "")

    def start(self, timeout: float = 20.0) -> None:
        """Start everything; return once the sentinels know the replica and each other."""
        self.primary.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.launch()
        for sentinel in self.sentinels:
            sentinel.wait_ready()
        wait_until(self._settled, timeout, "sentinels discovered the replica and each other", 0.1)

    def _settled(self) -> bool:
        for sentinel in self.sentinels:
            others = sentinel.call("SENTINEL", "SENTINELS", SERVICE)
            replicas = sentinel.call("SENTINEL", "REPLICAS", SERVICE)
            if len(others) != 2 or not replicas or "s_down" in _field(replicas[0], "flags"):
                return False
        return self.replica.call("ROLE")[3] == "connected"

    def primary_port(self) -> int | None:
        """The primary's port as the first answering sentinel reports it."""
        for sentinel in self.sentinels:
            try:
                return int(sentinel.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)[1])
            except (OSError, TypeError):
                continue
        return None

    def server_on(self, port: int) -> RedisServer:
        """The Redis server listening on ``port``."""
        return next(server for server in self.servers if server.port == port)

    def wait_failover(self, old_port: int, timeout: float) -> int:
        """Wait until every sentinel names a primary other than ``old_port``; its port."""
        started = time.monotonic()
        wait_until(
            lambda: all(
                int(s.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)[1]) != old_port
                for s in self.sentinels
            ),
            timeout,
            f"sentinels failed over from port {old_port}",
            0.05,
        )
        self.failover_seconds = time.monotonic() - started
        return self.primary_port() or 0

    def cleanup(self) -> None:
        """Stop every process."""
        for process in (*self.sentinels, self.primary, self.replica):
            process.cleanup()


def _field(flat: list[str], name: str) -> str:
    pairs = dict(zip(flat[::2], flat[1::2], strict=False))
    return pairs.get(name, "")
