"""The harness's side of the load-generating client processes (``benchmarks.loadgen``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from tests.support.processes import ROOT

from .nodes import die_with_parent

REQUEST_TIMEOUT = 300.0


class AgentError(RuntimeError):
    """A client process failed or answered with an error."""


class Agent:
    """One ``benchmarks.loadgen`` process: send a request, get its answer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> Agent:
        """Start the process and wait until it is ready."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.loadgen",
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent,
            limit=1 << 20,
        )
        await self._read(30.0)
        return self

    async def request(self, cmd: str, timeout: float = REQUEST_TIMEOUT, **args: Any) -> dict:
        """Send one command; its answer (raises :class:`AgentError` on an error answer)."""
        assert self.process is not None and self.process.stdin is not None
        async with self._lock:
            self.process.stdin.write(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
            await self.process.stdin.drain()
            answer = await self._read(timeout)
        if "error" in answer:
            raise AgentError(f"client process {self.name}: {cmd} failed: {answer['error']}")
        return answer

    async def _read(self, timeout: float) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            raise AgentError(f"client process {self.name} did not answer in {timeout}s") from None
        if not line:
            raise AgentError(f"client process {self.name} exited ({self.process.returncode})")
        return json.loads(line)

    async def stop(self) -> None:
        """Ask the process to quit; kill it if it does not."""
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self.request("quit", timeout=5.0)
        with contextlib.suppress(ProcessLookupError):
            try:
                await asyncio.wait_for(self.process.wait(), 5.0)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@contextlib.asynccontextmanager
async def agents(*names: str) -> AsyncIterator[Sequence[Agent]]:
    """Started client processes, stopped on leaving the block."""
    started = [Agent(name) for name in names]
    try:
        await asyncio.gather(*(agent.start() for agent in started))
        yield started
    finally:
        await asyncio.gather(*(agent.stop() for agent in started), return_exceptions=True)


async def wait_quiet(receivers: Sequence[Agent], quiet: float, bound: float) -> None:
    """Wait until no room push arrives at any receiver for ``quiet`` s (at most ``bound`` s)."""
    deadline = time.monotonic() + bound
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        frames = await _total(receivers, "frames")
        if frames != last:
            last, since = frames, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        await asyncio.sleep(0.1)


async def wait_delivered(
    receivers: Sequence[Agent], expected: int, quiet: float, bound: float
) -> float:
    """Wait until the armed step's ``expected`` frames arrived, or none came for ``quiet``
    seconds, or ``bound`` seconds passed; returns when it stopped waiting (monotonic)."""
    deadline = time.monotonic() + bound
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        got = await _total(receivers, "step_frames")
        now = time.monotonic()
        if got >= expected:
            return now
        if got != last:
            last, since = got, now
        elif now - since >= quiet:
            return since
        await asyncio.sleep(0.02)
    return time.monotonic()


async def _total(receivers: Sequence[Agent], key: str) -> int:
    answers = await asyncio.gather(*(agent.request("progress") for agent in receivers))
    return sum(answer[key] for answer in answers)
