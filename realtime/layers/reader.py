"""Opening what arrives from Redis: check the signature, unpack the envelope, and count and
log (rate-limited) every payload refused on the way."""

from __future__ import annotations

import logging
from collections import Counter

from .signing import COUNTERS, REPLAYED, BusSigner, SignatureRejected, unverified_envelope
from .throttle import throttled
from .wire import Deduplicator, Envelope, MalformedMessage, unpack_envelope


class EnvelopeReader:
    """Opens payloads for one layer instance; refusals go to its ``stats``.

    ``key_source`` says where the signing keys come from, for the log messages.
    """

    def __init__(self, stats: Counter[str], key_source: str) -> None:
        self.stats = stats
        self.key_source = key_source

    def open(
        self, redis_channel: bytes, payload: bytes, signer: BusSigner | None
    ) -> Envelope | None:
        """The envelope of a payload, or None (counted and logged) if it is refused."""
        try:
            if signer is None:
                signed = unverified_envelope(payload)
            else:
                signed = signer.verify(redis_channel, payload)
        except SignatureRejected as rejected:
            self.rejected(redis_channel, rejected)
            return None
        try:
            return unpack_envelope(signed)
        except MalformedMessage as error:
            self.malformed(redis_channel, error)
            return None

    def malformed(self, redis_channel: bytes, error: Exception) -> None:
        """Count and log a payload that is not a message of this layer."""
        self.stats["malformed_dropped"] += 1
        throttled(
            ("malformed", redis_channel),
            logging.WARNING,
            "Dropping a malformed message on %s: %s",
            redis_channel.decode(errors="replace"),
            error,
        )

    def repeated(self, redis_channel: bytes, seen: int, window: int) -> None:
        """Count a copy already seen or, on a signed bus, count and log a sequence older
        than the de-duplication ``window`` (a replay of a capture)."""
        if seen == Deduplicator.DUPLICATE:
            self.stats["duplicates_dropped"] += 1
            return
        self.rejected(
            redis_channel,
            SignatureRejected(
                REPLAYED,
                f"its origin published more than {window} messages since (a replay of a "
                "message captured earlier)",
            ),
        )

    def rejected(self, redis_channel: bytes, rejected: SignatureRejected) -> None:
        """Count and log a payload whose signature was refused."""
        counter = COUNTERS[rejected.kind]
        self.stats[counter] += 1
        throttled(
            ("signature", rejected.kind, redis_channel),
            logging.WARNING,
            "Dropping a message on %s: %s. Keys from %s; %s so far: %d",
            redis_channel.decode(errors="replace"),
            rejected,
            self.key_source,
            counter,
            self.stats[counter],
        )
