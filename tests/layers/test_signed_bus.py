"""The signed bus against a real Redis: what a process with Redis access but without the key
publishes on the layer's real channels is dropped and counted; keys rotate without loss."""

from __future__ import annotations

import asyncio
import logging
import secrets

import pytest
import redis.asyncio

from realtime.layers import wire
from realtime.layers.signing import BusSigner, derive_key, unverified_envelope
from tests.support.waiting import within

BIG = {"type": "big", "text": "signed as it travels, compressed " * 100}


@pytest.fixture
async def raw(shared_redis):
    """A plain Redis client on the first shared server: the attacker's view of the bus."""
    client = redis.asyncio.Redis.from_url(shared_redis[0].url)
    yield client
    await client.aclose()


async def capture(raw, redis_channel: str, publish) -> bytes:
    """The payload that ``publish()`` puts on ``redis_channel``, as a subscriber sees it."""
    pubsub = raw.pubsub()
    await pubsub.subscribe(redis_channel)
    try:
        await within(pubsub.get_message(timeout=5), 5, "subscribe confirmation")
        await publish()
        message = await within(
            pubsub.get_message(ignore_subscribe_messages=True, timeout=5), 6, "captured payload"
        )
        assert message is not None, f"nothing published on {redis_channel}"
        return message["data"]
    finally:
        await pubsub.aclose()


async def listening_pair(make_layer, servers, group: str, **receiver_config):
    """(sender, receiver, receiver's channel in ``group``)."""
    sender, receiver = make_layer(servers), make_layer(servers, **receiver_config)
    channel = await receiver.new_channel()
    await receiver.group_add(group, channel)
    return sender, receiver, channel


async def next_types(layer, channel, count: int) -> list[str]:
    return [(await within(layer.receive(channel), 5, "message"))["type"] for _ in range(count)]


async def test_injected_envelopes_are_dropped_and_counted(shared_redis, make_layer, raw, caplog):
    sender, receiver, channel = await listening_pair(make_layer, shared_redis[:1], "r-sig.1")
    prefix, origin = receiver.config.prefix, receiver._any_core().origin
    group_channel, process_channel = f"{prefix}:g:r-sig", f"{prefix}:p:{origin}"
    captured = await capture(
        raw, group_channel, lambda: sender.group_send("r-sig.1", {"type": "genuine", "n": 1})
    )
    assert await next_types(receiver, channel, 1) == ["genuine"]

    def crafted(target: str, sequence: int) -> bytes:
        body = wire.encode_message({"type": "injected"})
        return wire.pack_envelope(0, secrets.token_hex(8), sequence, target, body)

    attacker = BusSigner([derive_key("the attacker's own secret")], 60)
    genuine = wire.unpack_envelope(unverified_envelope(captured))
    modified = wire.pack_envelope(
        genuine.flags, genuine.origin, genuine.sequence, genuine.target,
        wire.encode_message({"type": "genuine", "n": 1000}),
    )  # fmt: skip
    injections = {
        "unsigned_dropped": [
            (group_channel, crafted("r-sig.1", 1)),
            (group_channel, crafted("r-sig.1", 2)),
            (group_channel, crafted("r-sig.1", 3)),
            (process_channel, crafted(channel, 1)),
        ],
        "unknown_key_dropped": [
            (group_channel, attacker.sign(group_channel.encode(), crafted("r-sig.1", 4))),
            (process_channel, attacker.sign(process_channel.encode(), crafted(channel, 5))),
        ],
        "forged_dropped": [
            # The real key id and timestamp, a body of the attacker's, a made-up MAC.
            (group_channel, captured[:14] + crafted("r-sig.1", 6) + secrets.token_bytes(32)),
            # A captured genuine message with its body changed, its signature kept.
            (group_channel, captured[:14] + modified + captured[-32:]),
            # The captured message, unchanged, replayed onto another Redis channel.
            (process_channel, captured),
        ],
        "duplicates_dropped": [(group_channel, captured)],  # an exact replay
    }
    with caplog.at_level(logging.WARNING, logger="realtime.layers"):
        for payloads in injections.values():
            for redis_channel, payload in payloads:
                assert await raw.publish(redis_channel, payload) == 1  # the receiver heard it
        await sender.group_send("r-sig.1", {"type": "after"})
        await sender.send(channel, {"type": "after, direct"})
        # Redis delivers in order: anything injected would have arrived before these.
        assert await next_types(receiver, channel, 2) == ["after", "after, direct"]
    stats = receiver.stats()
    assert {counter: stats[counter] for counter in injections} == {
        counter: len(payloads) for counter, payloads in injections.items()
    }
    assert (stats["stale_dropped"], stats.get("malformed_dropped", 0)) == (0, 0)
    assert stats["received"] == 3
    unsigned_lines = [r for r in caplog.records if "it is not signed" in r.getMessage()]
    # Rate-limited: one line per channel and kind, however many were dropped.
    assert sorted(group_channel in r.getMessage() for r in unsigned_lines) == [False, True]
    assert any("signed with a key this process does not know" in r.getMessage()
               for r in caplog.records)  # fmt: skip


async def test_layers_with_different_secret_keys_cannot_talk(shared_redis, make_layer, settings):
    servers = shared_redis[:1]
    settings.SECRET_KEY = "deployment-a-" + "a" * 40
    other_deployment = make_layer(servers)
    settings.SECRET_KEY = "deployment-b-" + "b" * 40
    sender, receiver, channel = await listening_pair(make_layer, servers, "r-keys.1")
    await other_deployment.group_send("r-keys.1", {"type": "from a"})
    await other_deployment.send(channel, {"type": "from a, direct"})
    await sender.group_send("r-keys.1", {"type": "from b"})
    assert await next_types(receiver, channel, 1) == ["from b"]
    assert receiver.stats()["unknown_key_dropped"] == 2


async def test_rotating_secret_key_with_fallbacks_loses_nothing(shared_redis, make_layer, settings):
    old, new = "old-" + "o" * 50, "new-" + "n" * 50

    def server(secret_key: str, fallbacks: list[str]):
        settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = secret_key, fallbacks
        return make_layer(shared_redis[:1])

    stages = {
        "before": (old, []),
        # Step 1: the new key is accepted everywhere before anybody signs with it.
        "preparing": (old, [new]),
        # Step 2: servers sign with the new key and still accept the old one.
        "rotated": (new, [old]),
        # Done: the old key is gone.
        "finished": (new, []),
    }
    senders = {stage: server(*keys) for stage, keys in stages.items()}
    receivers = {stage: server(*keys) for stage, keys in stages.items() if stage != "before"}
    channels = {}
    for stage, receiver in receivers.items():
        channels[stage] = await receiver.new_channel()
        await receiver.group_add("r-rot.1", channels[stage])
    for stage, sender in senders.items():
        await sender.group_send("r-rot.1", {"type": stage})

    def heard(stage: str, count: int):
        return next_types(receivers[stage], channels[stage], count)

    # Each step of a rolling rotation hears the servers still at the step before it.
    assert await heard("preparing", 4) == ["before", "preparing", "rotated", "finished"]
    assert await heard("rotated", 4) == ["before", "preparing", "rotated", "finished"]
    assert await heard("finished", 2) == ["rotated", "finished"]
    # Once the old key is gone, what is signed with it is refused.
    assert receivers["finished"].stats()["unknown_key_dropped"] == 2


async def test_dedicated_signing_keys_rotate_the_same_way(shared_redis, make_layer):
    servers = shared_redis[:1]
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    sender = make_layer(servers, signing_keys=[new, old])
    receiver = make_layer(servers, signing_keys=[old, new])
    by_secret_key = make_layer(servers)  # keys from SECRET_KEY: a different key
    channel = await receiver.new_channel()
    await receiver.group_add("r-ded.1", channel)
    await by_secret_key.group_send("r-ded.1", {"type": "secret key"})
    await sender.group_send("r-ded.1", {"type": "dedicated"})
    assert await next_types(receiver, channel, 1) == ["dedicated"]
    assert receiver.stats()["unknown_key_dropped"] == 1


async def test_an_old_capture_replayed_later_is_stale(shared_redis, make_layer, raw):
    sender, receiver, channel = await listening_pair(
        make_layer, shared_redis[:1], "r-old.1", signing_max_age=0.3
    )
    group_channel = f"{receiver.config.prefix}:g:r-old"
    captured = await capture(
        raw, group_channel, lambda: sender.group_send("r-old.1", {"type": "once"})
    )
    assert await next_types(receiver, channel, 1) == ["once"]
    await asyncio.sleep(0.4)  # the passing time itself is what makes the capture stale
    await raw.publish(group_channel, captured)
    await sender.group_send("r-old.1", {"type": "fresh"})
    assert await next_types(receiver, channel, 1) == ["fresh"]
    assert receiver.stats()["stale_dropped"] == 1
    assert "duplicates_dropped" not in receiver.stats()  # refused before de-duplication


async def test_the_compressed_bytes_are_what_is_signed(shared_redis, make_layer, raw):
    sender = make_layer(shared_redis[:1], compression="zstd", compression_threshold=256)
    receiver = make_layer(shared_redis[:1])
    channel = await receiver.new_channel()
    await receiver.group_add("r-zip.1", channel)
    captured = await capture(
        raw, f"{receiver.config.prefix}:g:r-zip", lambda: sender.group_send("r-zip.1", BIG)
    )
    assert wire.unpack_envelope(unverified_envelope(captured)).flags == wire.ZSTD
    assert len(captured) < len(wire.encode_message(BIG)) / 5
    assert await within(receiver.receive(channel), 5, "big message") == BIG


async def test_signing_off_interoperates_one_way(shared_redis, make_layer):
    servers = shared_redis[:1]
    signing, unsigned = make_layer(servers), make_layer(servers, signing=False)
    channels = {}
    for layer in (signing, unsigned):
        channels[layer] = await layer.new_channel()
        await layer.group_add("r-off.1", channels[layer])
    await unsigned.group_send("r-off.1", {"type": "unsigned"})
    await signing.group_send("r-off.1", {"type": "signed"})
    # A process with signing off reads signed messages (without checking them)...
    assert await next_types(unsigned, channels[unsigned], 2) == ["unsigned", "signed"]
    # ...a signing process drops what it cannot verify.
    await unsigned.group_send("r-off.1", {"type": "unsigned again"})
    await make_layer(servers).group_send("r-off.1", {"type": "signed again"})
    assert await next_types(signing, channels[signing], 2) == ["signed", "signed again"]
    assert signing.stats()["unsigned_dropped"] == 2
    assert "unsigned_dropped" not in unsigned.stats()


async def test_a_capture_replayed_to_a_restarted_receiver_is_refused(shared_redis, make_layer, raw):
    servers = shared_redis[:1]
    sender, receiver, channel = await listening_pair(make_layer, servers, "r-boot.1")
    group_channel = f"{receiver.config.prefix}:g:r-boot"
    captured = await capture(
        raw, group_channel, lambda: sender.group_send("r-boot.1", {"type": "kick"})
    )
    assert await next_types(receiver, channel, 1) == ["kick"]
    await asyncio.sleep(0.1)  # the restart comes later than the allowed clock skew
    restarted, channel = (await listening_pair(
        make_layer, servers, "r-boot.1", signing_clock_skew=0.05
    ))[1:]  # fmt: skip
    await raw.publish(group_channel, captured)  # well within signing_max_age (60 s)
    await sender.group_send("r-boot.1", {"type": "fresh"})
    assert await next_types(restarted, channel, 1) == ["fresh"]
    assert restarted.stats()["replayed_dropped"] == 1
