"""The signed bus: every payload a process publishes carries an HMAC-SHA256, and receivers
drop what they cannot verify, so a process that can reach Redis but does not hold the key
cannot inject messages.

Signed payload (the bytes published on Redis)::

    0xC1 | 0x01 | key id (4 bytes) | timestamp (8 bytes) | envelope | MAC (32 bytes)

* ``0xC1`` is a byte msgpack never uses, so a signed payload is never mistaken for a bare
  envelope (and the reverse); ``0x01`` is the version of this format.
* ``key id``: names the key that signed, so a receiver computes one HMAC whatever the number
  of keys it accepts (the first 4 bytes of HMAC-SHA256(key, ``b"realtime bus key id"``)).
* ``timestamp``: milliseconds since the Unix epoch, big-endian; receivers drop messages
  signed too far from their own clock (a replay of an old capture), and messages signed
  before they started listening (a capture replayed to a receiver that restarted: Redis
  pub/sub never delivers what was published before a subscription).
* ``envelope``: the bytes of :func:`~realtime.layers.wire.pack_envelope`, already compressed.
* ``MAC``: HMAC-SHA256(key, length of the Redis channel name (2 bytes) | channel name |
  everything before the MAC), so a message cannot be replayed onto another Redis channel.

Keys are never the configured secrets themselves: each is derived with HKDF-SHA256
(RFC 5869) using the fixed salt :data:`KDF_SALT` and context :data:`KDF_INFO`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import time
from collections.abc import Callable, Iterable
from typing import Any

KDF_SALT = b"realtime.layers.MultiRedisChannelLayer"
KDF_INFO = b"realtime bus signing key v1"
MARK, FORMAT = 0xC1, 0x01
_KEY_ID_LABEL = b"realtime bus key id"
_HEAD = struct.Struct(">BB4sQ")  # mark, format, key id, timestamp
_SIGNED = bytes((MARK, FORMAT))
HEAD_SIZE = _HEAD.size
MAC_SIZE = 32

UNSIGNED, UNKNOWN_KEY, FORGED, STALE = "unsigned", "unknown_key", "forged", "stale"
REPLAYED = "replayed"
#: The ``stats()`` counter of each kind of rejected payload.
COUNTERS = {kind: f"{kind}_dropped" for kind in (UNSIGNED, UNKNOWN_KEY, FORGED, STALE, REPLAYED)}


class SignatureRejected(ValueError):
    """A payload without a valid signature; ``kind`` says why (one of :data:`COUNTERS`)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def hkdf_sha256(material: bytes, salt: bytes, info: bytes) -> bytes:
    """The first 32 bytes of HKDF-SHA256 (RFC 5869): extract, then one block of expand."""
    pseudo_random_key = hmac.digest(salt, material, hashlib.sha256)
    return hmac.digest(pseudo_random_key, info + b"\x01", hashlib.sha256)


def derive_key(secret: str | bytes) -> bytes:
    """The 32-byte bus key of ``secret`` (HKDF-SHA256 with the fixed salt and context)."""
    material = secret.encode() if isinstance(secret, str) else secret
    return hkdf_sha256(material, KDF_SALT, KDF_INFO)


def key_id(key: bytes) -> bytes:
    """The 4 bytes that name ``key`` in a signed payload (they reveal nothing of it)."""
    return hmac.digest(key, _KEY_ID_LABEL, hashlib.sha256)[:4]


class BusSigner:
    """Signs with the first key, verifies with any of ``keys``; one per event loop.

    ``max_age``: seconds a signed timestamp may differ from this process's clock (``None``:
    no limit); ``not_before``: Unix time before which nothing signed is accepted (when this
    process started listening, less the clock skew allowed; ``None``: no limit); ``clock``
    returns Unix time in seconds.
    """

    def __init__(
        self,
        keys: Iterable[bytes],
        max_age: float | None,
        clock: Callable[[], float] = time.time,
        not_before: float | None = None,
    ) -> None:
        keys = list(dict.fromkeys(keys))
        if not keys:
            raise ValueError("a BusSigner needs at least one key")
        self._max_age_ms = None if max_age is None else max_age * 1000
        self._not_before_ms = None if not_before is None else not_before * 1000
        self._clock = clock
        self._ids = [key_id(key) for key in keys]
        self._signing_id = self._ids[0]
        self._signing = self._keyed(keys[0])
        # A key id shared by two keys (a 1 in 2**32 chance) only costs a second HMAC.
        self._verifying: dict[bytes, list[Any]] = {}
        for identifier, key in zip(self._ids, keys, strict=True):
            self._verifying.setdefault(identifier, []).append(self._keyed(key))

    @staticmethod
    def _keyed(key: bytes) -> Any:
        # Copying a keyed HMAC skips the key schedule: about half the cost of hmac.new().
        return hmac.new(key, digestmod=hashlib.sha256)

    def sign(self, channel: bytes, envelope: bytes) -> bytes:
        """The signed payload of ``envelope`` published on ``channel``."""
        head = _HEAD.pack(MARK, FORMAT, self._signing_id, int(self._clock() * 1000))
        mac = self._signing.copy()
        mac.update(_channel_part(channel) + head)
        mac.update(envelope)
        return b"".join((head, envelope, mac.digest()))

    def verify(self, channel: bytes, payload: bytes) -> bytes:
        """The envelope of a payload signed with one of our keys for ``channel``; raises
        :class:`SignatureRejected` otherwise."""
        if payload[:2] != _SIGNED or len(payload) < HEAD_SIZE + MAC_SIZE:
            raise SignatureRejected(
                UNSIGNED,
                "it is not signed (published by a process that does not sign: signing off, "
                "an older version, or not this layer at all)",
            )
        candidates = self._verifying.get(payload[2:6])
        if candidates is None:
            raise SignatureRejected(
                UNKNOWN_KEY,
                "it is signed with a key this process does not know (another deployment, or "
                "the servers' SECRET_KEY / signing_keys differ)",
            )
        signed, expected = payload[:-MAC_SIZE], payload[-MAC_SIZE:]
        for keyed in candidates:
            mac = keyed.copy()
            mac.update(_channel_part(channel))
            mac.update(signed)
            if hmac.compare_digest(mac.digest(), expected):
                break
        else:
            raise SignatureRejected(
                FORGED, "its signature does not match (the message was altered or forged)"
            )
        timestamp = int.from_bytes(payload[6:HEAD_SIZE], "big")
        if self._max_age_ms is not None:
            self._check_age(timestamp)
        if self._not_before_ms is not None and timestamp < self._not_before_ms:
            raise SignatureRejected(
                REPLAYED,
                f"it was signed {(self._not_before_ms - timestamp) / 1000:.1f} s before this "
                "process started listening (less signing_clock_skew): a replay of a message "
                "captured earlier, e.g. before a restart, or the servers' clocks differ",
            )
        return signed[HEAD_SIZE:]

    def _check_age(self, timestamp: int) -> None:
        skew = self._clock() * 1000 - timestamp
        if abs(skew) > self._max_age_ms:
            raise SignatureRejected(
                STALE,
                f"its signing time is {abs(skew) / 1000:.1f} s "
                f"{'behind' if skew > 0 else 'ahead of'} this server's clock (more than "
                f"signing_max_age, {self._max_age_ms / 1000:g} s: a replay of an old "
                "message, or the servers' clocks differ)",
            )


def unverified_envelope(payload: bytes) -> bytes:
    """The envelope of a payload, signed or not, without checking anything (``signing``
    off: such a process still reads what signing processes publish)."""
    if payload[:2] == _SIGNED and len(payload) >= HEAD_SIZE + MAC_SIZE:
        return payload[HEAD_SIZE:-MAC_SIZE]
    return payload


def _channel_part(channel: bytes) -> bytes:
    return len(channel).to_bytes(2, "big") + channel


# -- sealed secrets: what must cross the bus without being readable on Redis --------------

SEAL_INFO = b"realtime bus sealed secret v1"
_NONCE, _TAG = 16, 16


def _seal_keys(key: bytes) -> tuple[bytes, bytes]:
    return (
        hkdf_sha256(key, KDF_SALT, SEAL_INFO + b" encrypt"),
        hkdf_sha256(key, KDF_SALT, SEAL_INFO + b" authenticate"),
    )


def _keystream(key: bytes, nonce: bytes, size: int) -> bytes:
    # HMAC-SHA256 as a pseudo-random function in counter mode (no third-party cipher needed).
    blocks = (size + 31) // 32
    stream = b"".join(
        hmac.digest(key, nonce + i.to_bytes(4, "big"), "sha256") for i in range(blocks)
    )
    return stream[:size]


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def seal(key: bytes, secret: str) -> str:
    """``secret`` encrypted and authenticated with keys derived from the bus key ``key``
    (a fresh random nonce each time), as URL-safe base64 text."""
    encrypt, authenticate = _seal_keys(key)
    nonce = os.urandom(_NONCE)
    plain = secret.encode()
    sealed = _xor(plain, _keystream(encrypt, nonce, len(plain)))
    tag = hmac.digest(authenticate, nonce + sealed, "sha256")[:_TAG]
    return base64.urlsafe_b64encode(nonce + sealed + tag).decode()


def unseal(keys: Iterable[bytes], token: str) -> str:
    """The secret of a :func:`seal` token made with one of ``keys``; ``ValueError`` else."""
    try:
        data = base64.urlsafe_b64decode(token.encode())
    except (ValueError, AttributeError):
        raise ValueError("not a sealed secret") from None
    if len(data) < _NONCE + _TAG:
        raise ValueError("not a sealed secret")
    nonce, sealed, tag = data[:_NONCE], data[_NONCE:-_TAG], data[-_TAG:]
    for key in keys:
        encrypt, authenticate = _seal_keys(key)
        if hmac.compare_digest(hmac.digest(authenticate, nonce + sealed, "sha256")[:_TAG], tag):
            return _xor(sealed, _keystream(encrypt, nonce, len(sealed))).decode()
    raise ValueError("sealed with a key this process does not know")
