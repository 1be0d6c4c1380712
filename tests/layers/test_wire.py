"""The wire format: envelope, per-message compression flag, de-duplication window."""

from __future__ import annotations

import os

import pytest

from realtime.layers import wire
from realtime.layers.wire import Compressor, Deduplicator, MalformedMessage

LARGE = {"type": "big", "text": "lorem ipsum dolor " * 500}


def test_envelope_round_trip_keeps_the_body_encoded():
    body = wire.encode_message({"type": "x", "n": 1})
    payload = wire.pack_envelope(0, "origin1", 42, "r-chat.1", body)
    envelope = wire.unpack_envelope(payload)
    assert envelope == wire.Envelope(0, "origin1", 42, "r-chat.1", body)
    assert wire.decode_message(envelope.body) == {"type": "x", "n": 1}


@pytest.mark.parametrize("payload", [b"", b"\xc1", b"\x93\x01\x02\x03", b"plain text"])
def test_malformed_payloads_raise(payload):
    with pytest.raises(MalformedMessage):
        wire.unpack_envelope(payload)


@pytest.mark.parametrize(
    "body", [b"\x81\x91\x01\x01", b"\x81\x81\x01\x01\x01", b"\xc1", b"\x93\x01\x02\x03"]
)
def test_bodies_that_are_no_message_are_malformed(body):
    # Map keys that are arrays or maps are unhashable: msgpack raises TypeError for them.
    with pytest.raises(MalformedMessage):
        Compressor(None, 0).decode(0, body)


def test_wrong_version_or_types():
    import msgpack

    with pytest.raises(MalformedMessage, match="version 1"):
        wire.unpack_envelope(msgpack.packb([2, 0, "o", 1, "t", b""]))
    with pytest.raises(MalformedMessage, match="wrong types"):
        wire.unpack_envelope(msgpack.packb([1, 0, "o", "1", "t", b""]))


@pytest.mark.parametrize("codec", ["zlib", "zstd"])
def test_large_payload_is_smaller_on_the_wire_and_flagged(codec):
    body = wire.encode_message(LARGE)
    flags, packed = Compressor(codec, 1024).compress(body)
    assert flags == {"zlib": wire.ZLIB, "zstd": wire.ZSTD}[codec]
    assert len(packed) < len(body) / 5
    # Any receiver decodes it, whatever its own setting.
    for setting in (None, "zlib", "zstd"):
        assert Compressor(setting, 10).decode(flags, packed) == LARGE


def test_small_or_incompressible_bodies_stay_plain():
    compressor = Compressor("zstd", 1024)
    small = wire.encode_message({"type": "small"})
    assert compressor.compress(small) == (wire.NONE, small)
    random_body = wire.encode_message({"type": "noise", "b": os.urandom(4096)})
    assert compressor.compress(random_body) == (wire.NONE, random_body)
    assert Compressor(None, 1).compress(random_body) == (wire.NONE, random_body)


def test_corrupt_compressed_body():
    with pytest.raises(MalformedMessage, match="cannot decompress"):
        Compressor(None, 1).decode(wire.ZSTD, b"not zstd")
    with pytest.raises(MalformedMessage, match="unknown compression flag 7"):
        Compressor(None, 1).decode(7, b"x")


def test_deduplicator_drops_repeats_per_origin():
    seen = Deduplicator(window=3)
    assert [seen.is_duplicate("a", n) for n in (1, 2, 1, 3, 2)] == [
        False, False, True, False, True,
    ]  # fmt: skip
    assert seen.is_duplicate("b", 1) is False  # origins are independent
    assert seen.is_duplicate("a", 4) is False
    # 1 left the 3-entry window: a copy that late counts as new rather than lost.
    assert seen.is_duplicate("a", 1) is False


@pytest.mark.parametrize("flag", [wire.ZLIB, wire.ZSTD])
def test_decompression_is_bounded(flag):
    bomb_size = 2 * 1024 * 1024
    plain = b"\x00" * bomb_size
    if flag == wire.ZLIB:
        import zlib

        packed = zlib.compress(plain)
    else:
        import zstandard

        packed = zstandard.ZstdCompressor().compress(plain)
    assert len(Compressor(None, 1).decompress(flag, packed)) == bomb_size
    with pytest.raises(MalformedMessage, match="would exceed"):
        Compressor(None, 1, max_body=bomb_size - 1).decompress(flag, packed)


def test_sequences_older_than_the_window_are_replays_on_a_signed_bus():
    signed, unsigned = Deduplicator(window=3, refuse_older=True), Deduplicator(window=3)
    for seen in (signed, unsigned):
        assert [seen.classify("a", n) for n in (1, 2, 3, 4, 2)] == [0, 0, 0, 0, 1]
    # 1 left the window when 4 arrived: 3 newer messages from its origin came since.
    assert signed.classify("a", 1) == Deduplicator.TOO_OLD
    assert unsigned.classify("a", 1) == Deduplicator.NEW  # a very late copy is kept
    assert signed.classify("a", 5) == Deduplicator.NEW
