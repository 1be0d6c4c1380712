"""connector.js in Node.js (its own WebSocket, no npm package) against real daphne processes:
the original client stayed disconnected after an abrupt close in Node.js; ours reconnects."""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

import pytest

from tests.support.processes import ROOT, DaphneNode
from tests.support.waiting import within

pytestmark = pytest.mark.e2e

SCRIPT = ROOT / "tests" / "js" / "live-client.mjs"


class NodeClient:
    """The live-client.mjs process; its JSON lines are read one at a time with a deadline."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[dict[str, Any]] = []

    async def next_line(self) -> dict[str, Any]:
        raw = await self.process.stdout.readline()
        assert raw, f"node exited early; its output: {self.lines}"
        line = json.loads(raw)
        self.lines.append(line)
        return line

    async def until(self, *events: str, timeout: float = 20) -> dict[str, dict[str, Any]]:
        """Read lines until each of ``events`` was seen (in any order); the first of each."""
        seen: dict[str, dict[str, Any]] = {}

        async def read() -> None:
            while set(events) - seen.keys():
                line = await self.next_line()
                if line["event"] in events:
                    seen.setdefault(line["event"], line)

        await within(read(), timeout, f"node did not report {events}; its output: {self.lines}")
        return seen


@pytest.fixture
async def node_client():
    """Starts live-client.mjs against a URL; the process is killed after the test if alive."""
    made: list[asyncio.subprocess.Process] = []

    async def start(url: str) -> NodeClient:
        node = shutil.which("node")
        assert node, "node is missing (make system-deps installs it)"
        process = await asyncio.create_subprocess_exec(
            node, "--experimental-websocket", "--no-warnings", str(SCRIPT), url,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        made.append(process)
        return NodeClient(process)

    yield start
    for process in made:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_node_client_survives_a_killed_server(node_client):
    server = DaphneNode(server_name="node-client-1")
    restarted = DaphneNode(port=server.port, server_name="node-client-2")
    try:
        await asyncio.to_thread(server.start)
        client = await node_client(server.ws_url("/ws/"))
        first = await client.until("open", "echo", "pong", "pending")
        assert first["open"] == {"event": "open", "opens": 1}
        assert first["echo"]["result"] == {"success": True, "data": {"echo": "first"}}
        assert first["pong"]["latency"] >= 0  # the empty heartbeat echo reaches Node too

        await asyncio.to_thread(server.kill)  # no close frame: the TCP connection just ends
        lost = await client.until("close", "lost", "reconnect")
        assert lost["close"]["code"] == 1006
        assert lost["lost"]["result"]["errorCode"] == "CONNECTION_LOST"
        assert lost["reconnect"] == {"event": "reconnect", "repeat": 1, "timeout": 200}
        await asyncio.to_thread(restarted.start)

        second = await client.until("open", "echo")
        assert second["open"] == {"event": "open", "opens": 2}
        assert second["echo"]["result"] == {"success": True, "data": {"echo": "second"}}
        # manualClose() leaves no timer nor socket behind: the process ends by itself.
        code = await within(client.process.wait(), 10, "node did not exit after manualClose()")
        assert code == 0
    finally:
        await asyncio.to_thread(server.cleanup)
        await asyncio.to_thread(restarted.cleanup)
