"""A load-generating client process, driven by the harness over stdin/stdout (JSON lines).

    python -m benchmarks.loadgen

Each request is one JSON object on a line; each answer too. Commands:

* ``open`` {url, count, prefix, room, heartbeat[, handshake_timeout]}: open ``count`` more
  connections to ``url`` as users ``<prefix><n>`` (``?id=``), join ``room`` when given,
  send the empty heartbeat every ``heartbeat`` seconds when given. Answers
  ``{"open": total}``.
* ``arm`` {step, count}: record the room pushes of step ``step`` (``count`` messages).
* ``progress``: frames received so far, of the armed step and of any step.
* ``collect`` {path}: write the armed step's message numbers and latencies to
  ``path.seq`` / ``path.lat`` (native ``array`` files) and answer the counts.
* ``send`` {url, room, step, rate, count, path[, action]}: push ``count`` room messages
  (``action`` ``broadcast``: to everybody) at ``rate`` per second through one connection,
  each stamped with its step, number and send time; write the send times to
  ``path.sent``; answer acknowledgements and pacing.
* ``calls`` {url, prefix, concurrency, seconds, path}: ``concurrency`` connections each
  calling ``echo`` in a closed loop for ``seconds``; latencies to ``path.lat``.
* ``cpu``: this process's CPU seconds. ``quit``: close everything and exit.

Room pushes carry ``"msg":"B|<step>|<number>|<send time>"``; the receiver finds that marker in
the raw frame, so it parses no JSON. Times are ``time.monotonic()``, one clock for every
process of the machine.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import resource
import sys
import time
from array import array
from collections import Counter
from typing import Any

from .wsload import LeanSocket, open_socket

MARKER = b'"msg":"B|'
HANDSHAKES_AT_ONCE = 32
ACK_WAIT = 10.0


def cpu_seconds() -> float:
    """User + system CPU seconds of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Recorder:
    """Counts and times the room pushes of the armed step across all connections."""

    def __init__(self) -> None:
        self.step = -1
        self.counts = array("I")
        self.seqs = array("I")
        self.lats = array("d")
        self.frames = 0  # room pushes of any step
        self.foreign = 0  # pushes of the armed step with an impossible number

    def arm(self, step: int, count: int) -> None:
        """Start recording step ``step`` of ``count`` messages."""
        self.step = step
        self.counts = array("I", bytes(4 * count))
        self.seqs = array("I")
        self.lats = array("d")
        self.foreign = 0

    def on_text(self, data: bytes) -> bool:
        """Record ``data`` if it is a room push; False when it is something else."""
        start = data.find(MARKER)
        if start < 0:
            return False
        now = time.monotonic()
        end = data.find(b'"', start + 9)
        step, seq, sent = data[start + 9 : end].split(b"|")
        self.frames += 1
        if int(step) != self.step:
            return True
        number = int(seq)
        if number >= len(self.counts):
            self.foreign += 1
            return True
        self.counts[number] += 1
        self.seqs.append(number)
        self.lats.append(now - float(sent))
        return True


ERROR_REPLY = re.compile(rb'"errorCode":"([^"]*)".*"callbackId":"([^"]*)"')


class Replies:
    """Reply frames of one connection: counts them and wakes one waiter.

    Error replies are also kept by callback id and counted by error code.
    """

    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.error_ids: list[str] = []
        self.error_codes: Counter[str] = Counter()
        self.waiter: asyncio.Future[bytes] | None = None

    def on_frame(self, data: bytes) -> None:
        """Count a reply (frames with a ``callbackId``); ignore everything else."""
        if b'"callbackId"' not in data:
            return
        if b'"errorCode"' in data:
            self.errors += 1
            found = ERROR_REPLY.search(data)
            if found:
                self.error_codes[found.group(1).decode()] += 1
                self.error_ids.append(found.group(2).decode())
        else:
            self.ok += 1
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(data)


class Agent:
    """The state of this process: connections, the recorder, the sender's connection."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.sockets: list[LeanSocket] = []
        self.stopping = False
        self.sender: LeanSocket | None = None
        self.sender_replies = Replies()

    async def open(
        self,
        url: str,
        count: int,
        prefix: str,
        room: str | None,
        heartbeat: float | None,
        handshake_timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Open ``count`` more connections (bounded concurrency), joined to ``room``."""
        gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
        first = len(self.sockets)
        started = time.monotonic()

        async def one(number: int) -> LeanSocket:
            async with gate:
                joiner = "&" if "?" in url else "?"
                return await self._connect(
                    f"{url}{joiner}id={prefix}{number}", room, heartbeat, handshake_timeout
                )

        opened = await asyncio.gather(*(one(n) for n in range(first, first + count)))
        self.sockets.extend(opened)
        return {"open": len(self.sockets), "seconds": time.monotonic() - started}

    async def _connect(
        self, url: str, room: str | None, heartbeat: float | None, timeout: float
    ) -> LeanSocket:
        replies = Replies()
        recorder = self.recorder

        def on_text(data: bytes) -> None:
            if not recorder.on_text(data):
                replies.on_frame(data)

        socket = await open_socket(url, on_text, timeout)
        if room is not None:
            replies.waiter = asyncio.get_running_loop().create_future()
            join = {"event": "joinRoom", "payload": {"roomId": room}, "callbackId": "join"}
            socket.send_text(json.dumps(join).encode())
            async with asyncio.timeout(30):
                await replies.waiter
        if heartbeat:
            self._heartbeat(socket, heartbeat, random.uniform(0, heartbeat))
        return socket

    def _heartbeat(self, socket: LeanSocket, every: float, delay: float) -> None:
        loop = asyncio.get_running_loop()

        def beat() -> None:
            if not self.stopping and not socket.closed.done():
                socket.send_text(b"")
                loop.call_later(every, beat)

        loop.call_later(delay, beat)

    def progress(self) -> dict[str, Any]:
        """Frames of the armed step and of any step so far."""
        recorder = self.recorder
        closed = sum(1 for socket in self.sockets if socket.closed.done())
        return {"step_frames": len(recorder.seqs), "frames": recorder.frames, "closed": closed}

    def collect(self, path: str) -> dict[str, Any]:
        """Write the armed step's records; answer per-process counts."""
        recorder = self.recorder
        with open(path + ".seq", "wb") as file:
            recorder.seqs.tofile(file)
        with open(path + ".lat", "wb") as file:
            recorder.lats.tofile(file)
        connections = len(self.sockets)
        lost = sum(max(0, connections - count) for count in recorder.counts)
        dupes = sum(max(0, count - connections) for count in recorder.counts)
        return {
            "records": len(recorder.seqs),
            "connections": connections,
            "lost": lost,
            "duplicates": dupes,
            "foreign": recorder.foreign,
            "cpu": cpu_seconds(),
        }

    async def send(
        self,
        url: str,
        room: str,
        step: int,
        rate: float,
        count: int,
        path: str,
        action: str = "toRoom",
    ) -> dict[str, Any]:
        """Push ``count`` room messages (or broadcasts) at ``rate`` per second; wait for
        their replies."""
        if self.sender is None:
            joiner = "&" if "?" in url else "?"
            self.sender = await open_socket(
                f"{url}{joiner}id=bench-sender", self.sender_replies.on_frame
            )
        replies = self.sender_replies
        ok0, errors0 = replies.ok, replies.errors
        ids0, codes0 = len(replies.error_ids), replies.error_codes.copy()
        sent_at = array("d", bytes(8 * count))
        started = time.monotonic()
        max_lag = 0.0
        if action == "broadcast":
            head = b'{"event":"command","payload":{"action":"broadcast'
        else:
            head = b'{"event":"command","payload":{"action":"toRoom","roomId":"' + room.encode()
        sent = 0
        while sent < count:
            now = time.monotonic()
            due = min(count, int((now - started) * rate) + 1)
            max_lag = max(max_lag, now - (started + sent / rate))
            while sent < due:
                stamp = time.monotonic()
                frame = b'%s","msg":"B|%d|%d|%r"},"callbackId":"%d"}' % (
                    head,
                    step,
                    sent,
                    stamp,
                    sent,
                )
                self.sender.send_text(frame)
                sent_at[sent] = stamp
                sent += 1
            await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
        elapsed = sent_at[-1] - started if count > 1 else 0.0
        deadline = time.monotonic() + ACK_WAIT
        while replies.ok + replies.errors - ok0 - errors0 < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        with open(path + ".sent", "wb") as file:
            sent_at.tofile(file)
        return {
            "sent": count,
            "elapsed": elapsed,
            "achieved_rate": (count - 1) / elapsed if elapsed > 0 else float(rate),
            "max_lag": max_lag,
            "acked": replies.ok - ok0,
            "refused": replies.errors - errors0,
            "refused_codes": dict(replies.error_codes - codes0),
            "refused_ids": [int(i) for i in replies.error_ids[ids0:] if i.isdigit()],
            "sender_closed": self.sender.closed.done(),
            "cpu": cpu_seconds(),
        }

    async def calls(
        self, url: str, prefix: str, concurrency: int, seconds: float, path: str
    ) -> dict[str, Any]:
        """``concurrency`` closed loops of ``echo`` calls for ``seconds``."""
        lats = array("d")
        errors = 0
        connections = []
        for n in range(concurrency):
            replies = Replies()
            socket = await open_socket(f"{url}?id={prefix}{n}", replies.on_frame)
            connections.append((socket, replies))
        cpu0, started = cpu_seconds(), time.monotonic()
        stop_at = started + seconds

        async def loop(socket: LeanSocket, replies: Replies) -> None:
            nonlocal errors
            number = 0
            while time.monotonic() < stop_at:
                replies.waiter = asyncio.get_running_loop().create_future()
                begun = time.monotonic()
                socket.send_text(
                    b'{"event":"echo","payload":%d,"callbackId":"%d"}' % (number, number)
                )
                async with asyncio.timeout(ACK_WAIT):
                    reply = await replies.waiter
                lats.append(time.monotonic() - begun)
                errors += b'"errorCode"' in reply
                number += 1

        await asyncio.gather(*(loop(socket, replies) for socket, replies in connections))
        elapsed = time.monotonic() - started
        for socket, _ in connections:
            socket.abort()
        with open(path + ".lat", "wb") as file:
            lats.tofile(file)
        return {
            "calls": len(lats),
            "errors": errors,
            "elapsed": elapsed,
            "client_cpu": cpu_seconds() - cpu0,
        }

    def quit(self) -> None:
        """Stop the heartbeats and drop every connection."""
        self.stopping = True
        for socket in self.sockets:
            socket.abort()
        if self.sender is not None:
            self.sender.abort()


async def serve() -> None:
    """Answer the harness's requests until ``quit`` or end of input."""
    agent = Agent()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while line := await reader.readline():
        request = json.loads(line)
        command = request.pop("cmd")
        try:
            answer = await _dispatch(agent, command, request)
        except Exception as exc:  # the harness shows it and stops the run
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)
        if command == "quit":
            break
    agent.quit()


async def _dispatch(agent: Agent, command: str, request: dict[str, Any]) -> dict[str, Any]:
    if command == "open":
        return await agent.open(**request)
    if command == "arm":
        agent.recorder.arm(request["step"], request["count"])
        return {"armed": request["step"]}
    if command == "progress":
        return agent.progress()
    if command == "collect":
        return agent.collect(request["path"])
    if command == "send":
        return await agent.send(**request)
    if command == "calls":
        return await agent.calls(**request)
    if command == "cpu":
        return {"cpu": cpu_seconds()}
    if command == "quit":
        return {"bye": True}
    raise ValueError(f"unknown command {command!r}")


if __name__ == "__main__":
    asyncio.run(serve())
