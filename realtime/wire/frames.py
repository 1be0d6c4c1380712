"""Finished server frames: one text frame built once and written to many connections."""

from __future__ import annotations

import struct
from typing import Any


def websocket_text_frame(payload: bytes) -> bytes:
    """``payload`` as one final, unmasked RFC 6455 text frame: the bytes a server sends."""
    length = len(payload)
    if length < 126:
        header = bytes((0x81, length))
    elif length < 65536:
        header = struct.pack("!BBH", 0x81, 126, length)
    else:
        header = struct.pack("!BBQ", 0x81, 127, length)
    return header + payload


class OutgoingFrame:
    """One finished text frame for one or many connections.

    ``message`` is the ASGI send message; ``payload`` (UTF-8) and ``wire`` (the whole
    WebSocket frame) are built on first use, once for every connection of a fan-out: a
    server frame is not masked, so every recipient gets the same bytes.
    """

    __slots__ = ("_payload", "_wire", "message")

    def __init__(self, text: str) -> None:
        self.message: dict[str, Any] = {"type": "websocket.send", "text": text}
        self._payload: bytes | None = None
        self._wire: bytes | None = None

    @property
    def payload(self) -> bytes:
        """The text, UTF-8 encoded."""
        if self._payload is None:
            self._payload = self.message["text"].encode("utf-8")
        return self._payload

    @property
    def wire(self) -> bytes:
        """The complete WebSocket frame."""
        if self._wire is None:
            self._wire = websocket_text_frame(self.payload)
        return self._wire


class FrameTooLarge(ValueError):
    """A frame to send is larger than the limit (``MAX_FRAME_BYTES``: clients and daphne
    refuse it)."""


def check_frame_size(frame: OutgoingFrame, limit: int) -> None:
    """Raise :class:`FrameTooLarge` when ``frame``'s UTF-8 payload exceeds ``limit`` bytes
    (checked once per push, before any recipient; small frames are not even encoded)."""
    characters = len(frame.message["text"])
    if characters * 4 <= limit:  # UTF-8 takes at most 4 bytes a character
        return
    if characters > limit or len(frame.payload) > limit:
        raise FrameTooLarge(
            f"a frame of {len(frame.payload)} bytes exceeds MAX_FRAME_BYTES ({limit}); "
            "send less per push"
        )
