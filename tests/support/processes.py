"""Real server processes for tests: daphne nodes (and, elsewhere, redis-server).

Every process writes its output to a log file whose tail is shown when it fails to start.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Server processes (daphne nodes, management commands) of one test session share a secret
# key that is not a development one: with Redis nodes, realtime.E008 refuses those, and
# daphne would not start.
os.environ.setdefault("DJANGO_SECRET_KEY", f"realtime tests {secrets.token_hex(16)}")


def start_all(processes: list[ServerProcess], timeout: float = 30.0) -> None:
    """Start several processes in parallel and wait until all accept connections."""
    for process in processes:
        process.launch()
    for process in processes:
        process.wait_ready(timeout)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class ServerProcess:
    """A subprocess listening on a port; ``start()`` waits until it accepts connections."""

    name = "server"
    # Run in the child before it starts (e.g. to die with the parent); None: nothing.
    preexec: Callable[[], None] | None = None
    # The working directory of the process (the checkout, unless a test needs it elsewhere).
    cwd: Path = ROOT

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"{self.name}-", suffix=".log")[1])

    def command(self) -> list[str]:
        """The command line of the process."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """The environment of the process."""
        return dict(os.environ)

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and wait until its port accepts connections."""
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting (several can then start in parallel)."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self.preexec,
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the launched process accepts connections."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.name} did not listen within {timeout}s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the process output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after ``timeout``)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def cleanup(self) -> None:
        """Stop the process and remove its log."""
        self.stop()
        self.log_path.unlink(missing_ok=True)


_migrated_template: Path | None = None


def migrated_database() -> Path:
    """A SQLite file with every migration applied, made once per test session."""
    global _migrated_template
    if _migrated_template is None or not _migrated_template.exists():
        path = Path(tempfile.mkstemp(prefix="realtime-template-", suffix=".sqlite3")[1])
        env = {
            **os.environ,
            "DJANGO_DB_PATH": str(path),
            "DJANGO_SETTINGS_MODULE": "project.settings",
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        _migrated_template = path
    return _migrated_template


def remove_migrated_database() -> None:
    """Delete the session's template database (end of the test session)."""
    global _migrated_template
    if _migrated_template is not None:
        _migrated_template.unlink(missing_ok=True)
        _migrated_template = None


class DaphneNode(ServerProcess):
    """A daphne process serving ``project.asgi:application`` on 127.0.0.1.

    With ``test_handlers`` (the default) it also loads ``tests.testapp``'s handlers
    (echo, sleep, pushMe, closeMe, whoami, crash) next to the demo's.
    """

    name = "daphne"

    def __init__(
        self,
        port: int | None = None,
        server_name: str = "node-test",
        redis_nodes: list[str] | None = None,
        env: dict[str, str] | None = None,
        daphne_args: list[str] | None = None,
        test_handlers: bool = True,
        application: str = "project.asgi:application",
    ) -> None:
        super().__init__(port)
        self.application = application
        self.test_handlers = test_handlers
        self.server_name = server_name
        self.redis_nodes = redis_nodes or []
        self.extra_env = env or {}
        self.daphne_args = daphne_args or []

    @property
    def db_path(self) -> Path:
        """This node's own SQLite database (a copy of the migrated template)."""
        return self.log_path.with_suffix(".sqlite3")

    def launch(self) -> None:
        """Give the node a migrated database, then start it."""
        if not self.db_path.exists():
            shutil.copyfile(migrated_database(), self.db_path)
        super().launch()

    def command(self) -> list[str]:
        """``python -m daphne -b 127.0.0.1 -p PORT project.asgi:application`` (or the
        ``application`` given)."""
        return [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            *self.daphne_args,
            self.application,
        ]

    def environment(self) -> dict[str, str]:
        """Settings through the environment, as in production."""
        env = super().environment()
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "project.settings",
                "REALTIME_SERVER_NAME": self.server_name,
                "REALTIME_REDIS_NODES": " ".join(self.redis_nodes),
                "DJANGO_DB_PATH": str(self.db_path),
                "PYTHONUNBUFFERED": "1",
                "DJANGO_EXTRA_APPS": "tests.testapp" if self.test_handlers else "",
            }
        )
        env.update(self.extra_env)
        return env

    def ws_url(self, path: str = "/ws/") -> str:
        """A ws:// URL on this node."""
        return f"ws://127.0.0.1:{self.port}{path}"

    def http_url(self, path: str = "/") -> str:
        """An http:// URL on this node."""
        return f"http://127.0.0.1:{self.port}{path}"

    def cleanup(self) -> None:
        """Stop the process and remove its log and database."""
        super().cleanup()
        self.db_path.unlink(missing_ok=True)


class RunWorker(ServerProcess):
    """``manage.py runworker CHANNEL...``: a Channels background worker process, with the
    settings of :mod:`tests.testapp.worker_settings`. It listens on no port: it is ready when
    it runs, and what it did is read from the jobs it logged (``job_log``)."""

    name = "runworker"

    def __init__(
        self, channels: list[str], redis_nodes: list[str], env: dict[str, str] | None = None
    ) -> None:
        super().__init__(port=0)
        self.channels = channels
        self.redis_nodes = redis_nodes
        self.extra_env = env or {}
        self.job_log = self.log_path.with_suffix(".jobs")
        self.job_log.touch()

    def command(self) -> list[str]:
        """``python manage.py runworker CHANNEL...``."""
        return [sys.executable, "manage.py", "runworker", *self.channels]

    def environment(self) -> dict[str, str]:
        """The worker settings, the Redis nodes and where to log the jobs."""
        env = super().environment()
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.testapp.worker_settings",
                "REALTIME_REDIS_NODES": ",".join(self.redis_nodes),
                "DJANGO_DB_PATH": str(migrated_database()),
                "DJANGO_EXTRA_APPS": "tests.testapp",
                "REALTIME_TEST_JOB_LOG": str(self.job_log),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Nothing to wait for but a process that did not exit at once."""
        assert self.process is not None, "launch() first"
        if self.process.poll() is not None:
            raise RuntimeError(f"runworker exited:\n{self.log_tail()}")

    def jobs(self) -> list[int]:
        """The numbers of the jobs this worker handled, in order."""
        return [int(line) for line in self.job_log.read_text().split()]

    def cleanup(self) -> None:
        """Stop the process and remove its logs."""
        super().cleanup()
        self.job_log.unlink(missing_ok=True)


def run_manage(
    *args: str, redis_urls: list[str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` of the demo project as a separate process (as an operator would),
    with ``redis_urls`` as its ``REALTIME_REDIS_NODES`` when given; output captured."""
    env = dict(os.environ)
    if redis_urls is not None:
        env["REALTIME_REDIS_NODES"] = ",".join(redis_urls)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
