"""Publish strategies, backoff and latency smoothing: pure functions, literal expectations."""

from __future__ import annotations

from collections import Counter

import pytest

from realtime.layers.health import NodeHealth, backoff_delay, smoothed_latency
from realtime.layers.strategies import candidates, ring_order

A, B, C = "redis://a:6379/0", "redis://b:6379/0", "redis://c:6379/0"


def node(address, publish_ok=True, subscribe_ok=True, latency=1.0, excluded=False):
    host = address.split("//")[1].split(":")[0]
    return NodeHealth(address, host, 6379, publish_ok, subscribe_ok, latency, None, 0.0, excluded)


HEALTHY = [node(A), node(B), node(C)]


class TestHash:
    def test_ring_order_is_fixed_by_the_addresses_and_the_channel(self):
        assert ring_order((A, B, C), "rt:g:r-chat") == (C, A, B)
        assert ring_order((A, B, C), "rt:g:realtime") == (A, C, B)
        assert ring_order((A, B, C), "rt:g:rt-user") == (B, A, C)

    def test_healthy_owner_first_then_ring_successors(self):
        assert candidates("hash", HEALTHY, "rt:g:r-chat") == [C, A, B]

    def test_failover_to_the_next_node_on_the_ring(self):
        nodes = [node(A), node(B), node(C, publish_ok=False)]
        assert candidates("hash", nodes, "rt:g:r-chat") == [A, B]

    def test_owner_back_takes_its_channels_back(self):
        assert candidates("hash", HEALTHY, "rt:g:r-chat")[0] == C

    def test_adding_a_node_moves_only_the_channels_it_takes_over(self):
        channels = [f"rt:g:ns{i}" for i in range(3000)]
        before = {ch: ring_order((A, B, C), ch)[0] for ch in channels}
        after = {ch: ring_order((A, B, C, "redis://d:6379/0"), ch)[0] for ch in channels}
        moved = [ch for ch in channels if before[ch] != after[ch]]
        assert all(after[ch] == "redis://d:6379/0" for ch in moved)
        assert 450 < len(moved) < 1050  # about a quarter

    def test_spread_over_namespaces(self):
        owners = Counter(ring_order((A, B, C), f"rt:g:ns{i}")[0] for i in range(3000))
        assert owners == {C: 1058, B: 1054, A: 888}


class TestRoundRobin:
    def test_rotates_with_the_counter(self):
        assert [candidates("round-robin", HEALTHY, "x", n)[0] for n in range(6)] == [
            A, B, C, A, B, C,
        ]  # fmt: skip
        assert candidates("round-robin", HEALTHY, "x", 1) == [B, C, A]

    def test_skips_unhealthy_and_spreads_evenly_over_the_rest(self):
        nodes = [node(A), node(B, publish_ok=False), node(C)]
        picks = Counter(candidates("round-robin", nodes, "x", n)[0] for n in range(1000))
        assert picks == {A: 500, C: 500}


class TestRandom:
    def test_the_drawn_number_picks_the_first_node(self):
        assert candidates("random", HEALTHY, "x", chance=0.0) == [A, B, C]
        assert candidates("random", HEALTHY, "x", chance=0.5) == [B, C, A]
        assert candidates("random", HEALTHY, "x", chance=0.99) == [C, A, B]

    def test_spread_within_bounds(self):
        import random

        draw = random.Random(7)
        picks = Counter(
            candidates("random", HEALTHY, "x", chance=draw.random())[0] for _ in range(3000)
        )
        assert all(900 <= count <= 1100 for count in picks.values()), picks


class TestFastest:
    def test_lowest_latency_first(self):
        nodes = [node(A, latency=5.0), node(B, latency=0.2), node(C, latency=1.0)]
        assert candidates("fastest", nodes, "x") == [B, C, A]

    def test_unmeasured_nodes_last(self):
        nodes = [node(A, latency=None), node(B, latency=3.0), node(C, latency=1.0)]
        assert candidates("fastest", nodes, "x") == [C, B, A]


class TestTiers:
    @pytest.mark.parametrize("strategy", ["hash", "round-robin", "random", "fastest"])
    def test_no_usable_node(self, strategy):
        assert candidates(strategy, [node(A, publish_ok=False)], "x") == []
        assert candidates(strategy, [], "x") == []

    @pytest.mark.parametrize("strategy", ["hash", "round-robin", "random", "fastest"])
    def test_excluded_after_the_others_broken_subscriber_last(self, strategy):
        nodes = [node(A, excluded=True), node(B, subscribe_ok=False), node(C)]
        assert candidates(strategy, nodes, "rt:g:r-chat") == [C, A, B]

    def test_excluded_node_still_used_when_nothing_else_is_left(self):
        nodes = [node(A, excluded=True), node(B, publish_ok=False)]
        assert candidates("hash", nodes, "rt:g:r-chat") == [A]

    def test_unknown_strategy(self):
        with pytest.raises(ValueError, match="unknown strategy 'fastes'"):
            candidates("fastes", HEALTHY, "x")


def test_backoff_doubles_and_is_capped():
    assert [backoff_delay(n) for n in range(8)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert backoff_delay(1000) == 5.0
    assert backoff_delay(2, jitter=0.5) == 0.30000000000000004
    assert backoff_delay(0, jitter=0.999) > 0.05


def test_latency_smoothing():
    assert smoothed_latency(None, 4.0) == 4.0
    assert smoothed_latency(10.0, 0.0) == 7.0
    assert smoothed_latency(1.0, 11.0) == 4.0


def test_health_snapshot_fields():
    snapshot = NodeHealth("redis://h:1/0", "h", 1, since=5.0)
    assert snapshot.healthy is False
    up = snapshot.changed(publish_ok=True)
    assert up.healthy and up.since > 5.0
    same = up.changed(latency_ms=2.0)
    assert same.since == up.since
    assert up.changed(subscribe_ok=False).healthy is False
    assert up.as_dict() == {
        "address": "redis://h:1/0", "host": "h", "port": 1, "publish_ok": True,
        "subscribe_ok": None, "latency_ms": None, "last_error": None, "since": up.since,
        "excluded": False, "healthy": True, "kind": "standalone", "primary": None,
        "shards": (), "failovers": 0,
    }  # fmt: skip
