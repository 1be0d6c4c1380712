"""What travels over Redis: a msgpack envelope around a msgpack message body.

Envelope: ``[1, flags, origin, sequence, target, body]``

* ``flags``: how ``body`` is compressed (0 none, 1 zlib, 2 zstd). It is set per message, so
  processes with different ``compression`` settings read each other's messages.
* ``origin``: the publishing layer instance; a process drops its own publishes.
* ``sequence``: increases per origin; receivers drop copies of one (origin, sequence) pair,
  which ``redundancy`` and re-publishing after a failure produce.
* ``target``: the group or channel name the message is for.
* ``body``: the message, msgpack-encoded, decoded only if a local member will get it.
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from typing import Any, NamedTuple

import msgpack

VERSION = 1
NONE, ZLIB, ZSTD = 0, 1, 2
_CODEC_NAMES = {None: NONE, "zlib": ZLIB, "zstd": ZSTD}
# A compressed body never expands past this (a corrupt or hostile one cannot exhaust memory).
MAX_BODY = 64 * 1024 * 1024


class MalformedMessage(ValueError):
    """A Redis payload that is not an envelope of this layer."""


class Envelope(NamedTuple):
    """A decoded envelope; ``body`` is still encoded (and maybe compressed)."""

    flags: int
    origin: str
    sequence: int
    target: str
    body: bytes


def encode_message(message: dict[str, Any]) -> bytes:
    """The msgpack body of a message; raises ``TypeError`` for values msgpack cannot carry."""
    if not isinstance(message, dict):
        raise TypeError(f"a channel layer message must be a dict, not {type(message).__name__}")
    return msgpack.packb(message, use_bin_type=True)


def decode_message(body: bytes) -> dict[str, Any]:
    """The message of an uncompressed body."""
    return msgpack.unpackb(body, raw=False, strict_map_key=False)


def pack_envelope(flags: int, origin: str, sequence: int, target: str, body: bytes) -> bytes:
    """The bytes published on Redis."""
    return msgpack.packb([VERSION, flags, origin, sequence, target, body], use_bin_type=True)


def unpack_envelope(payload: bytes) -> Envelope:
    """Decode the envelope of a Redis payload (not its body)."""
    try:
        fields = msgpack.unpackb(payload, raw=False)
    except Exception as error:
        raise MalformedMessage(f"not msgpack: {error}") from None
    if not isinstance(fields, list) or len(fields) != 6 or fields[0] != VERSION:
        raise MalformedMessage("not a version 1 envelope")
    _, flags, origin, sequence, target, body = fields
    if not (
        isinstance(flags, int)
        and isinstance(origin, str)
        and isinstance(sequence, int)
        and isinstance(target, str)
        and isinstance(body, bytes)
    ):
        raise MalformedMessage("envelope fields have the wrong types")
    return Envelope(flags, origin, sequence, target, body)


class Compressor:
    """Compresses bodies of at least ``threshold`` bytes with ``codec``; decompresses any.

    One per event loop: zstandard's (de)compressor objects must not be shared by threads.
    """

    def __init__(self, codec: str | None, threshold: int, max_body: int = MAX_BODY) -> None:
        self.flag = _CODEC_NAMES[codec]
        self.threshold = threshold
        self.max_body = max_body
        self._zstd_compressor: Any = None
        self._zstd_decompressor: Any = None

    def compress(self, body: bytes) -> tuple[int, bytes]:
        """``(flags, wire_body)``: compressed only when configured, large enough and smaller."""
        if self.flag == NONE or len(body) < self.threshold:
            return NONE, body
        if self.flag == ZLIB:
            packed = zlib.compress(body, 1)
        else:
            if self._zstd_compressor is None:
                import zstandard

                self._zstd_compressor = zstandard.ZstdCompressor(level=3)
            packed = self._zstd_compressor.compress(body)
        return (self.flag, packed) if len(packed) < len(body) else (NONE, body)

    def decompress(self, flags: int, body: bytes) -> bytes:
        """The plain body of a wire body with ``flags``."""
        if flags == NONE:
            return body
        try:
            if flags == ZLIB:
                return _inflate(body, self.max_body)
            if flags == ZSTD:
                return self._unzstd(body)
        except MalformedMessage:
            raise
        except Exception as error:
            raise MalformedMessage(f"cannot decompress the body: {error}") from None
        raise MalformedMessage(f"unknown compression flag {flags}")

    def _unzstd(self, body: bytes) -> bytes:
        import zstandard

        if self._zstd_decompressor is None:
            self._zstd_decompressor = zstandard.ZstdDecompressor()
        if zstandard.frame_content_size(body) > self.max_body:
            raise MalformedMessage(f"the body would exceed {self.max_body} bytes")
        return self._zstd_decompressor.decompress(body, max_output_size=self.max_body)

    def decode(self, flags: int, body: bytes) -> dict[str, Any]:
        """The message of a wire body; :class:`MalformedMessage` for anything msgpack
        refuses or cannot make a dict of (e.g. an unhashable map key: ``TypeError``)."""
        plain = self.decompress(flags, body)
        try:
            message = decode_message(plain)
        except Exception as error:
            raise MalformedMessage(f"not a msgpack message: {error!r}") from None
        if not isinstance(message, dict):
            raise MalformedMessage("the body is not a dict")
        return message


def _inflate(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj()
    plain = inflater.decompress(body, limit)
    if inflater.unconsumed_tail:
        raise MalformedMessage(f"the body would exceed {limit} bytes")
    return plain


class _Window:
    __slots__ = ("floor", "last_seen", "order", "seen")

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.order: deque[int] = deque()
        self.last_seen = 0.0
        self.floor = 0  # the highest sequence that left the window


class Deduplicator:
    """Remembers the last ``window`` sequences seen per origin to drop repeated copies.

    Copies of a message (redundancy, re-publish after a failure) arrive within milliseconds
    of each other, far inside the window. A sequence at or below one that left the window
    is :attr:`TOO_OLD` with ``refuse_older`` (a signed bus: only a replay of a capture can be
    that late), and new otherwise (an unsigned bus keeps a very late copy rather than lose
    a message).
    """

    MAX_ORIGINS = 4096
    ORIGIN_IDLE = 600.0
    NEW, DUPLICATE, TOO_OLD = 0, 1, 2

    def __init__(self, window: int = 16384, refuse_older: bool = False) -> None:
        self.window = window
        self.refuse_older = refuse_older
        self._origins: dict[str, _Window] = {}

    def is_duplicate(self, origin: str, sequence: int) -> bool:
        """True if (origin, sequence) was seen before (or is too old); records it otherwise."""
        return self.classify(origin, sequence) != self.NEW

    def classify(self, origin: str, sequence: int) -> int:
        """:attr:`NEW` (recorded now), :attr:`DUPLICATE` or :attr:`TOO_OLD`."""
        entry = self._origins.get(origin)
        if entry is None:
            if len(self._origins) >= self.MAX_ORIGINS:
                self.forget_idle(time.monotonic())
            entry = self._origins[origin] = _Window()
        entry.last_seen = time.monotonic()
        if sequence in entry.seen:
            return self.DUPLICATE
        if sequence <= entry.floor and self.refuse_older:
            return self.TOO_OLD
        entry.seen.add(sequence)
        entry.order.append(sequence)
        if len(entry.order) > self.window:
            left = entry.order.popleft()
            entry.seen.discard(left)
            entry.floor = max(entry.floor, left)
        return self.NEW

    def forget_idle(self, now: float) -> None:
        """Drop the windows of origins that published nothing for a long time (longer than
        ``signing_max_age``: what they signed is refused as stale by then)."""
        for origin, entry in list(self._origins.items()):
            if now - entry.last_seen > self.ORIGIN_IDLE:
                del self._origins[origin]
        if len(self._origins) >= self.MAX_ORIGINS:
            oldest = sorted(self._origins, key=lambda o: self._origins[o].last_seen)
            for origin in oldest[: len(oldest) // 2]:
                del self._origins[origin]
