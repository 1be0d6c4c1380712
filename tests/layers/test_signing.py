"""The signed bus format, pure: key derivation, signing, and every reason to reject."""

from __future__ import annotations

import pytest

from realtime.layers import signing, wire
from realtime.layers.signing import BusSigner, SignatureRejected, derive_key, key_id

CHANNEL = b"realtime:g:chat"
ENVELOPE = wire.pack_envelope(0, "origin1", 7, "chat.1", wire.encode_message({"type": "x"}))
OLD, NEW = derive_key("old secret"), derive_key("new secret")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def rejected_kind(signer: BusSigner, payload: bytes, channel: bytes = CHANNEL) -> str:
    with pytest.raises(SignatureRejected) as error:
        signer.verify(channel, payload)
    return error.value.kind


def test_hkdf_matches_rfc_5869_test_case_1():
    okm = signing.hkdf_sha256(
        bytes.fromhex("0b" * 22), bytes.fromhex("000102030405060708090a0b0c"),
        bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
    )  # fmt: skip
    assert okm.hex() == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"


def test_bus_key_is_derived_with_the_documented_context():
    assert signing.KDF_SALT == b"realtime.layers.MultiRedisChannelLayer"
    assert signing.KDF_INFO == b"realtime bus signing key v1"
    key = derive_key("django-insecure-abc")
    assert key == signing.hkdf_sha256(b"django-insecure-abc", signing.KDF_SALT, signing.KDF_INFO)
    assert len(key) == 32 and b"django-insecure-abc" not in key
    assert derive_key(b"django-insecure-abc") == key  # str and bytes secrets agree


def test_signed_payload_layout():
    clock = Clock(1_700_000_000.25)
    payload = BusSigner([NEW], 60, clock).sign(CHANNEL, ENVELOPE)
    assert payload[:2] == b"\xc1\x01"
    assert payload[2:6] == key_id(NEW)
    assert int.from_bytes(payload[6:14], "big") == 1_700_000_000_250
    assert payload[14:-32] == ENVELOPE  # the bytes as they travel, compressed or not
    assert len(payload) == len(ENVELOPE) + signing.HEAD_SIZE + signing.MAC_SIZE
    assert bytes(BusSigner([NEW], 60, clock).verify(CHANNEL, payload)) == ENVELOPE


def test_unsigned_and_foreign_payloads_are_rejected_as_unsigned():
    signer = BusSigner([NEW], 60)
    for payload in (ENVELOPE, b"", b"\xc1\x01short", b"\xc1\x02" + bytes(60)):
        assert rejected_kind(signer, payload) == signing.UNSIGNED


def test_a_key_this_process_does_not_know_is_rejected():
    payload = BusSigner([OLD], 60).sign(CHANNEL, ENVELOPE)
    assert rejected_kind(BusSigner([NEW], 60), payload) == signing.UNKNOWN_KEY


@pytest.mark.parametrize(
    "position", [2, 6, 13, signing.HEAD_SIZE, signing.HEAD_SIZE + 20, -33, -1],
    ids=["key-id", "timestamp", "timestamp-end", "envelope-start", "body", "envelope-end", "mac"],
)  # fmt: skip
def test_any_changed_byte_is_rejected(position):
    signer = BusSigner([NEW], 60)
    payload = bytearray(signer.sign(CHANNEL, ENVELOPE))
    payload[position] ^= 0x01
    expected = signing.UNKNOWN_KEY if 2 <= position < 6 else signing.FORGED
    assert rejected_kind(signer, bytes(payload)) == expected


def test_a_message_replayed_onto_another_channel_is_rejected():
    signer = BusSigner([NEW], 60)
    payload = signer.sign(CHANNEL, ENVELOPE)
    assert rejected_kind(signer, payload, b"realtime:p:0123456789abcdef") == signing.FORGED


def test_rotation_accepts_every_listed_key_and_signs_with_the_first():
    payload_old = BusSigner([OLD], 60).sign(CHANNEL, ENVELOPE)
    payload_new = BusSigner([NEW], 60).sign(CHANNEL, ENVELOPE)
    rotated = BusSigner([NEW, OLD], 60)  # SECRET_KEY = new, SECRET_KEY_FALLBACKS = [old]
    preparing = BusSigner([OLD, NEW], 60)  # SECRET_KEY = old, SECRET_KEY_FALLBACKS = [new]
    for signer in (rotated, preparing):
        assert bytes(signer.verify(CHANNEL, payload_old)) == ENVELOPE
        assert bytes(signer.verify(CHANNEL, payload_new)) == ENVELOPE
    assert rotated.sign(CHANNEL, ENVELOPE)[2:6] == key_id(NEW)
    assert preparing.sign(CHANNEL, ENVELOPE)[2:6] == key_id(OLD)


def test_messages_signed_too_far_from_the_clock_are_stale():
    clock = Clock()
    signer = BusSigner([NEW], 60, clock)
    payload = signer.sign(CHANNEL, ENVELOPE)
    clock.now += 60
    assert bytes(signer.verify(CHANNEL, payload)) == ENVELOPE  # at the limit: accepted
    clock.now += 0.01
    assert rejected_kind(signer, payload) == signing.STALE
    clock.now -= 120.02  # the sender's clock is ahead of ours by more than max_age
    assert rejected_kind(signer, payload) == signing.STALE
    clock.now += 3600
    assert bytes(BusSigner([NEW], None, clock).verify(CHANNEL, payload)) == ENVELOPE


def test_stale_is_checked_only_after_the_signature():
    clock = Clock()
    payload = bytearray(BusSigner([NEW], 60, clock).sign(CHANNEL, ENVELOPE))
    payload[-1] ^= 0x01
    clock.now += 3600
    assert rejected_kind(BusSigner([NEW], 60, clock), bytes(payload)) == signing.FORGED


def test_a_process_without_signing_reads_signed_and_unsigned_envelopes():
    payload = BusSigner([NEW], 60).sign(CHANNEL, ENVELOPE)
    assert bytes(signing.unverified_envelope(payload)) == ENVELOPE
    assert signing.unverified_envelope(ENVELOPE) == ENVELOPE
    assert wire.unpack_envelope(signing.unverified_envelope(payload)).sequence == 7


def test_rejections_name_their_counter():
    assert signing.COUNTERS == {
        "unsigned": "unsigned_dropped", "unknown_key": "unknown_key_dropped",
        "forged": "forged_dropped", "stale": "stale_dropped", "replayed": "replayed_dropped",
    }  # fmt: skip
    with pytest.raises(ValueError, match="at least one key"):
        BusSigner([], 60)


def test_messages_signed_before_the_receiver_listened_are_replays():
    # A receiver that (re)started at t0 was not subscribed before: Redis pub/sub cannot have
    # delivered anything signed earlier, so such a message is a replayed capture.
    clock = Clock()
    sender = BusSigner([NEW], 60, clock)
    captured = sender.sign(CHANNEL, ENVELOPE)
    clock.now += 5  # the receiver restarts 5 s later, allowing 1 s of clock skew
    receiver = BusSigner([NEW], 60, clock, not_before=clock.now - 1)
    assert rejected_kind(receiver, captured) == signing.REPLAYED
    assert bytes(receiver.verify(CHANNEL, sender.sign(CHANNEL, ENVELOPE))) == ENVELOPE
    clock.now -= 0.5  # a sender whose clock is 0.5 s behind: within the allowed skew
    assert bytes(receiver.verify(CHANNEL, sender.sign(CHANNEL, ENVELOPE))) == ENVELOPE


def test_sealed_secrets_open_with_the_bus_key_only():
    url = "redis://:hunter2-long-password@10.0.0.7:6379/0"
    token = signing.seal(NEW, url)
    assert "hunter2" not in token and signing.seal(NEW, url) != token  # a fresh nonce
    assert signing.unseal([OLD, NEW], token) == url
    with pytest.raises(ValueError, match="key this process does not know"):
        signing.unseal([OLD], token)
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(ValueError):
        signing.unseal([NEW], tampered)
    with pytest.raises(ValueError, match="not a sealed secret"):
        signing.unseal([NEW], "short")
