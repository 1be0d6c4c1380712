"""Rate limits and connections per address, through the full ASGI application."""

from __future__ import annotations

import logging

import pytest
from django.test import override_settings

from realtime import on
from realtime.hub import get_hub
from realtime.metrics import metrics

RATE_LIMITED = {"error": "Rate limit exceeded", "errorCode": "RATE_LIMITED"}


@pytest.fixture(autouse=True)
def fresh_counters():
    metrics.reset()
    yield
    metrics.reset()


@pytest.fixture
def calls(handlers):
    """Client events that reached their handler."""
    seen: list[object] = []

    @on("note")
    async def note(socket, data, ack):
        seen.append(data)
        return data

    @on("talk")
    async def talk(socket, data, ack):
        seen.append(("talk", data))
        return data

    return seen


async def read_replies(client, count: int) -> list[dict]:
    return [await client.json() for _ in range(count)]


def limit(**setting) -> override_settings:
    return override_settings(REALTIME={"RATE_LIMIT": {"close_after": None, **setting}})


class TestRateLimit:
    @limit(rate=0.001, burst=3)
    async def test_over_the_limit_replies_rate_limited(self, clients, calls):
        client = await clients()
        for index in range(5):
            await client.emit("note", index, f"c{index}")
        replies = {reply["callbackId"]: reply["payload"] for reply in await read_replies(client, 5)}
        # Refusals are answered at once, possibly before the admitted handlers reply.
        assert replies == {"c0": 0, "c1": 1, "c2": 2, "c3": RATE_LIMITED, "c4": RATE_LIMITED}
        assert calls == [0, 1, 2], "refused events never reach their handler"
        assert metrics.get("rate_limited_frames") == 2

    @limit(rate=0.001, burst=2)
    async def test_without_callback_refused_events_are_dropped(self, clients, calls):
        client = await clients()
        for index in range(4):
            await client.emit("note", index)
        assert await client.nothing(0.2)
        assert calls == [0, 1]

    @limit(rate=0.001, burst=2)
    async def test_heartbeats_do_not_count(self, clients, calls):
        client = await clients()
        for _ in range(50):
            await client.send("")
            assert await client.text() == ""
        await client.emit("note", 1, "a")
        await client.emit("note", 2, "b")
        assert [(await client.json())["payload"] for _ in range(2)] == [1, 2]

    @limit(rate=0.001, burst=2)
    async def test_malformed_and_binary_frames_count(self, clients, calls):
        client = await clients()
        await client.send("{not json")
        await client.send_bytes(b"\x00")
        await client.emit("note", 1, "n")
        assert (await client.json())["payload"] == RATE_LIMITED

    @limit(rate=0.001, burst=1, events={"talk": {"rate": 0.001, "burst": 3}})
    async def test_event_override_replaces_the_connection_bucket(self, clients, calls):
        client = await clients()
        for index in range(4):
            await client.emit("talk", index, f"c{index}")
        replies = {reply["callbackId"]: reply["payload"] for reply in await read_replies(client, 4)}
        assert replies == {"c0": 0, "c1": 1, "c2": 2, "c3": RATE_LIMITED}
        await client.emit("note", "n", "n")  # the connection bucket is still full
        assert (await client.json())["payload"] == "n"

    @limit(rate=0.001, burst=1, events={"talk": None})
    async def test_event_override_none_is_unlimited(self, clients, calls):
        client = await clients()
        for index in range(30):
            await client.emit("talk", index, f"c{index}")
        assert [(await client.json())["payload"] for _ in range(30)] == list(range(30))

    @override_settings(
        REALTIME={"RATE_LIMIT": {"rate": 0.001, "burst": 1, "close_after": 3, "close_window": 60}}
    )
    async def test_sustained_abuse_closes_4029_others_unaffected(self, clients, calls):
        bystander = await clients("/ws/?id=quiet")
        abuser = await clients("/ws/?id=loud")
        for index in range(10):
            await abuser.emit("note", index)
        assert await abuser.closed_with() == (4029, "Rate limit exceeded")
        assert calls == [0]
        assert metrics.get("rate_limit_closes") == 1
        assert metrics.get("rate_limited_frames") == 4  # three refused, the fourth closed
        await bystander.emit("note", "still here", "q")
        assert (await bystander.json())["payload"] == "still here"

    @override_settings(REALTIME={"RATE_LIMIT": None, "MAX_PENDING_HANDLERS": 1000})
    async def test_none_turns_it_off(self, clients, calls):
        client = await clients()
        for index in range(300):
            await client.emit("note", index)
        await client.emit("note", "last", "l")
        assert (await client.json())["payload"] == "last"
        assert len(calls) == 301

    @override_settings(REALTIME={"MAX_PENDING_HANDLERS": 1000})
    async def test_default_lets_a_burst_of_100_through_and_closes_a_flood(self, clients, calls):
        client = await clients()
        for index in range(100):
            await client.emit("note", index, f"c{index}")
        replies = await read_replies(client, 100)
        assert sorted(reply["payload"] for reply in replies) == list(range(100))
        for index in range(300):
            await client.emit("note", index)
        assert await client.closed_with() == (4029, "Rate limit exceeded")


class TestConnectionsPerAddress:
    @override_settings(REALTIME={"MAX_CONNECTIONS_PER_IP": 2})
    async def test_limit_per_address(self, clients):
        first = await clients("/ws/?id=a", client=("10.0.0.1", 50001))
        await clients("/ws/?id=b", client=("10.0.0.1", 50002))
        refused = await clients("/ws/?id=c", expect_accept=False, client=("10.0.0.1", 50003))
        assert refused.accepted is False
        other = await clients("/ws/?id=d", client=("10.0.0.2", 50001))
        assert other.accepted
        assert metrics.get("ip_limit_refusals") == 1
        await first.disconnect()
        again = await clients("/ws/?id=e", client=("10.0.0.1", 50004))
        assert again.accepted
        assert get_hub().addresses.count("10.0.0.1") == 2

    async def test_off_by_default(self, clients):
        made = [await clients(f"/ws/?id={i}", client=("10.0.0.3", 50000 + i)) for i in range(20)]
        assert all(client.accepted for client in made)

    @override_settings(REALTIME={"MAX_CONNECTIONS_PER_IP": 1})
    async def test_refused_auth_and_closed_connections_release_their_slot(self, clients):
        rejected = await clients("/ws/", client=("10.0.0.4", 1))  # no ?id=: closed 4011
        assert (await rejected.closed_with())[0] == 4011
        await rejected.disconnect()
        accepted = await clients("/ws/?id=x", client=("10.0.0.4", 2))
        assert accepted.accepted


class TestChargedBeforeDecoding:
    @limit(rate=0.001, burst=2)
    async def test_refused_frames_are_never_decoded(self, clients, calls, monkeypatch):
        from realtime.connection import consumer

        decoded: list[str] = []
        real = consumer.decode_frame

        def counting(text, heartbeat):
            decoded.append(text)
            return real(text, heartbeat)

        monkeypatch.setattr(consumer, "decode_frame", counting)
        client = await clients()
        for index in range(6):
            await client.emit("note", index, f"c{index}")
        replies = {reply["callbackId"]: reply["payload"] for reply in await read_replies(client, 6)}
        assert replies == {"c0": 0, "c1": 1, **{f"c{i}": RATE_LIMITED for i in range(2, 6)}}
        assert len(decoded) == 2, "only the admitted frames were parsed"

    @limit(rate=1000, burst=1000, bytes_rate=0.001, bytes_burst=3000, events={"talk": None})
    async def test_byte_budget_limits_big_frames_of_any_event(self, clients, calls):
        client = await clients()
        for index in range(3):
            await client.emit("talk", "x" * 1000, f"c{index}")
        replies = {reply["callbackId"]: reply["payload"] for reply in await read_replies(client, 3)}
        assert replies["c0"] == "x" * 1000 and replies["c2"] == RATE_LIMITED
        assert metrics.get("rate_limited_frames") >= 1

    @limit(rate=0.001, burst=1, events={"talk": None})
    async def test_a_second_event_key_cannot_borrow_an_unlimited_bucket(self, clients, calls):
        client = await clients()
        await client.emit("note", 0, "c0")  # the connection's only token
        # JSON keeps the last "event": the frame claims "talk" (not limited) but is a "note".
        await client.send('{"event":"talk","event":"note","payload":1,"callbackId":"c1"}')
        replies = {reply["callbackId"]: reply["payload"] for reply in await read_replies(client, 2)}
        assert replies == {"c0": 0, "c1": RATE_LIMITED}
        assert calls == [0]


@override_settings(REALTIME={"MAX_CONNECTIONS_PER_IP": 1})
async def test_many_addresses_refused_log_once(clients, caplog, monkeypatch):
    from realtime import throttled_log

    monkeypatch.setattr(throttled_log, "_shared", {})  # no line of earlier tests
    with caplog.at_level(logging.WARNING, "realtime"):
        for n in range(30):
            address = f"2001:db8::{n:x}"
            await clients(f"/ws/?id=k{n}", client=(address, 1))
            await clients(f"/ws/?id=r{n}", expect_accept=False, client=(address, 2))
    lines = [r for r in caplog.records if "Too many connections" in r.getMessage()]
    assert len(lines) == 1 and metrics.get("ip_limit_refusals") == 30
