"""A lean asyncio WebSocket client for load generation (RFC 6455, text frames only).

Load clients must not be the bottleneck of a benchmark, so this client does the least work
a correct client can: one ``asyncio.Protocol`` per connection, the handshake written by
hand, incoming frames cut out of the byte stream and handed over as ``bytes`` without UTF-8
decoding or JSON parsing (the caller looks for what it needs), pings answered, close frames
echoed. Outgoing frames are masked as the RFC requires. No fragmentation, no extensions.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import struct
from collections.abc import Callable
from urllib.parse import urlsplit

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
OnText = Callable[[bytes], None]


def mask_frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame: header, a random mask key, the masked payload."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    key = random.getrandbits(32).to_bytes(4, "big")
    if not length:
        return header + key
    # XOR the whole payload at once as one big integer: far cheaper than a byte loop.
    repeated = (key * (length // 4 + 1))[:length]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return header + key + masked.to_bytes(length, "big")


class LeanSocket(asyncio.Protocol):
    """One client connection; ``on_text`` gets the raw bytes of every text frame."""

    def __init__(self, on_text: OnText, handshake: bytes, accept_key: bytes) -> None:
        self.on_text = on_text
        self._handshake = handshake
        self._accept_key = accept_key
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._open = False

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the opening handshake."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._handshake)

    def data_received(self, data: bytes) -> None:
        """Finish the handshake, then cut frames out of the stream."""
        self._buffer += data
        if not self._open and not self._read_handshake():
            return
        self._read_frames()

    def connection_lost(self, exc: Exception | None) -> None:
        """Resolve both futures so that nobody waits forever."""
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost in handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- parsing -----------------------------------------------------------------------------

    def _read_handshake(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" " or self._accept_key not in head:
            self.opened.set_exception(ConnectionError(f"handshake refused: {status!r}"))
            self.transport.close()
            return False
        self._open = True
        self.opened.set_result(None)
        return True

    def _read_frames(self) -> None:
        buffer = self._buffer
        size = len(buffer)
        pos = 0
        while size - pos >= 2:
            first, second = buffer[pos], buffer[pos + 1]
            length = second & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length = (buffer[pos + 2] << 8) | buffer[pos + 3]
                start = pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = struct.unpack_from("!Q", buffer, pos + 2)[0]
                start = pos + 10
            if second & 0x80:  # a masked server frame is a protocol error; not expected here
                start += 4
            end = start + length
            if end > size:
                break
            opcode = first & 0x0F
            if opcode == TEXT:
                self.on_text(bytes(buffer[start:end]))
            elif opcode == PING:
                self.send_frame(PONG, bytes(buffer[start:end]))
            elif opcode == CLOSE:
                self._on_close(bytes(buffer[start:end]))
            pos = end
        if pos:
            del buffer[:pos]

    def _on_close(self, payload: bytes) -> None:
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        if not self.closed.done():
            self.closed.set_result(code)
        self.send_frame(CLOSE, payload[:2])
        self.transport.close()

    # -- sending -----------------------------------------------------------------------------

    def send_text(self, text: bytes) -> None:
        """Send one text frame (already UTF-8 encoded)."""
        self.send_frame(TEXT, text)

    def send_frame(self, opcode: int, payload: bytes) -> None:
        """Send one frame unless the connection is gone."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(mask_frame(opcode, payload))

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake (the server closes the TCP connection)."""
        self.send_frame(CLOSE, struct.pack("!H", code))

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        if self.transport is not None:
            self.transport.abort()


async def open_socket(url: str, on_text: OnText, timeout: float = 10.0) -> LeanSocket:
    """Connect to a ``ws://`` URL and wait for the handshake to complete."""
    parts = urlsplit(url)
    if parts.scheme != "ws":
        raise ValueError(f"only ws:// URLs are supported, not {url!r}")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    key = base64.b64encode(os.urandom(16))
    handshake = (
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
        f"Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    accept = _accept_key(key)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        _, protocol = await loop.create_connection(
            lambda: LeanSocket(on_text, handshake, accept), host, port
        )
        await protocol.opened
    return protocol


def _accept_key(key: bytes) -> bytes:
    import hashlib

    digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return base64.b64encode(digest)
