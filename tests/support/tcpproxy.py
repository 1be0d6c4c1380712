"""A TCP proxy a test can cut: every connection through it dies at once, with no WebSocket
close frame, like a mobile network dropping out; then it may forward to another server."""

from __future__ import annotations

import asyncio
import contextlib


class CuttableProxy:
    """Listens on 127.0.0.1; forwards each connection to ``target`` (a port)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.StreamWriter] = set()
        self._serving: set[asyncio.Task[None]] = set()

    async def start(self) -> CuttableProxy:
        """Listen on a free port (``self.port``)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self._transports.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._transports.discard(writer)

    def cut(self, new_target: int | None = None) -> None:
        """Abort every connection (both sides, no close frame); forward later ones elsewhere."""
        if new_target is not None:
            self.target = new_target
        for writer in list(self._transports):
            writer.transport.abort()
        self._transports.clear()

    async def close(self) -> None:
        """Cut everything, stop listening, and wait until no connection is served."""
        self.cut()
        if self._serving:
            await asyncio.wait(set(self._serving), timeout=5)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
