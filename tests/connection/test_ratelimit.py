"""The pure rate-limit code with an injected clock and literal values."""

from __future__ import annotations

import pytest

from realtime.conf import validation_errors
from realtime.connection.limits import (
    ConnectionRateLimiter,
    ConnectionsPerAddress,
    Limit,
    RatePolicy,
    TokenBucket,
    Verdict,
)
from realtime.rate_limit_setting import rate_limit_errors

ALLOW, REFUSE, CLOSE = Verdict.ALLOW, Verdict.REFUSE, Verdict.CLOSE


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TestTokenBucket:
    def test_starts_full_and_empties(self):
        bucket = TokenBucket(rate=2, burst=3, now=0.0)
        assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]

    def test_refills_at_rate(self):
        bucket = TokenBucket(rate=2, burst=3, now=0.0)
        for _ in range(3):
            bucket.take(0.0)
        assert bucket.take(0.25) is False  # half a token
        assert bucket.take(0.5) is True  # 0.5 + 0.5 = one token
        assert bucket.tokens == pytest.approx(0.0)

    def test_never_holds_more_than_burst(self):
        bucket = TokenBucket(rate=10, burst=2, now=0.0)
        assert [bucket.take(1000.0) for _ in range(3)] == [True, True, False]

    def test_clock_going_back_refills_nothing(self):
        bucket = TokenBucket(rate=1, burst=1, now=10.0)
        assert bucket.take(10.0) is True
        assert bucket.take(5.0) is False
        assert bucket.take(10.5) is False  # still measured from 10.0
        assert bucket.take(11.0) is True


def policy(**overrides) -> RatePolicy:
    setting = {"rate": 1, "burst": 2, "close_after": 3, "close_window": 3.0, **overrides}
    result = RatePolicy.from_setting(setting)
    assert result is not None
    return result


class TestConnectionRateLimiter:
    def test_refuses_over_burst_then_closes_after_sustained_refusals(self):
        clock = Clock()
        limiter = ConnectionRateLimiter(policy(), clock)
        verdicts = [limiter.check("say") for _ in range(6)]
        assert verdicts == [ALLOW, ALLOW, REFUSE, REFUSE, REFUSE, CLOSE]

    def test_refusals_spread_out_never_close(self):
        clock = Clock()
        limiter = ConnectionRateLimiter(policy(), clock)
        seen = []
        for _ in range(20):  # 2 frames per second against a rate of 1: one refused each second
            seen += [limiter.check("say"), limiter.check("say")]
            clock.now += 1.0
        assert CLOSE not in seen
        assert seen[:4] == [ALLOW, ALLOW, ALLOW, REFUSE]
        assert seen.count(REFUSE) == 19

    def test_close_after_none_only_refuses(self):
        limiter = ConnectionRateLimiter(policy(close_after=None), Clock())
        assert {limiter.check("x") for _ in range(1000)} == {ALLOW, REFUSE}

    def test_event_override_has_its_own_bucket(self):
        limiter = ConnectionRateLimiter(
            policy(events={"chat": {"rate": 1, "burst": 1}, "cursor": None}), Clock()
        )
        assert [limiter.check("chat"), limiter.check("chat")] == [ALLOW, REFUSE]
        # The connection's bucket is untouched by chat frames.
        assert [limiter.check("say"), limiter.check("say"), limiter.check("say")] == [
            ALLOW,
            ALLOW,
            REFUSE,
        ]
        assert {limiter.check("cursor") for _ in range(500)} == {ALLOW}

    def test_malformed_frames_use_the_connection_bucket(self):
        limiter = ConnectionRateLimiter(policy(), Clock())
        assert [limiter.check(None), limiter.check(None), limiter.check("say")] == [
            ALLOW,
            ALLOW,
            REFUSE,
        ]

    def test_unlisted_event_names_create_no_buckets(self):
        limiter = ConnectionRateLimiter(policy(close_after=None), Clock())
        for index in range(1000):
            limiter.check(f"event-{index}")
        assert limiter._events == {}

    def test_missing_keys_take_defaults(self):
        parsed = RatePolicy.from_setting({"rate": 3})
        assert parsed == RatePolicy(
            Limit(3, 100), {}, 50, 10.0, Limit(1024 * 1024, 4 * 1024 * 1024)
        )
        assert RatePolicy.from_setting(None) is None


class TestConnectionsPerAddress:
    def test_limit_per_address(self):
        counter = ConnectionsPerAddress()
        assert [counter.acquire("10.0.0.1", 2) for _ in range(3)] == [True, True, False]
        assert counter.acquire("10.0.0.2", 2) is True
        counter.release("10.0.0.1")
        assert counter.acquire("10.0.0.1", 2) is True
        assert counter.count("10.0.0.1") == 2

    def test_counts_without_limit_and_ignores_unknown_addresses(self):
        counter = ConnectionsPerAddress()
        assert all(counter.acquire("10.0.0.1", None) for _ in range(5))
        assert counter.acquire("10.0.0.1", 5) is False
        assert all(counter.acquire(None, 1) for _ in range(5))
        counter.release(None)
        for _ in range(5):
            counter.release("10.0.0.1")
        assert counter.count("10.0.0.1") == 0
        assert counter._counts == {}


class TestValidation:
    def test_valid_settings(self):
        assert rate_limit_errors(None) == []
        assert rate_limit_errors({}) == []
        assert (
            rate_limit_errors(
                {"rate": 0.5, "burst": 1, "events": {"a": None, "b": {"rate": 1, "burst": 2}}}
            )
            == []
        )

    def test_every_problem_explained(self):
        errors = rate_limit_errors(
            {
                "rate": 0,
                "burst": 1.5,
                "colour": 1,
                "close_after": 0,
                "close_window": "10",
                "events": {"chat": {"rate": 2}, "": None, "x": {"rate": 1, "burst": 1, "y": 1}},
            }
        )
        where = "REALTIME['RATE_LIMIT']"
        assert errors == [
            f"{where} has an unknown key 'colour'; known: rate, burst, events, close_after, "
            "close_window, bytes_rate, bytes_burst.",
            f"{where}['rate'] must be frames per second > 0, not 0.",
            f"{where}['burst'] must be an integer >= 1, not 1.5.",
            f"{where}['close_after'] must be None or an integer >= 1, not 0.",
            f"{where}['close_window'] must be seconds > 0, not '10'.",
            f"{where}['events']['chat'] needs 'burst'.",
            f"{where}['events'] keys must be event names, not ''.",
            f"{where}['events']['x'] has an unknown key 'y'.",
        ]

    def test_wrong_types(self):
        assert rate_limit_errors(20) == [
            "REALTIME['RATE_LIMIT'] must be None (off) or a dict, not 20."
        ]
        assert rate_limit_errors({"events": []}) == [
            "REALTIME['RATE_LIMIT']['events'] must be a dict of event name to limit, not []."
        ]
        assert rate_limit_errors({"events": {"a": 3}}) == [
            "REALTIME['RATE_LIMIT']['events']['a'] must be None or a dict with 'rate' and "
            "'burst', not 3."
        ]

    def test_reported_through_the_realtime_setting_checks(self):
        assert validation_errors({"RATE_LIMIT": {"rate": -1}}) == [
            "REALTIME['RATE_LIMIT']['rate'] must be frames per second > 0, not -1."
        ]
        assert validation_errors({"SEND_QUEUE_MAX_BYTES": 0}) == [
            "REALTIME['SEND_QUEUE_MAX_BYTES'] must be None or an integer >= 1, not 0."
        ]


class TestByteBudget:
    def test_bytes_are_charged_as_well_as_frames(self):
        clock = Clock()
        policy = RatePolicy.from_setting(
            {"rate": 100, "burst": 100, "bytes_rate": 1000, "bytes_burst": 3000,
             "events": {"free": None}}
        )  # fmt: skip
        limiter = ConnectionRateLimiter(policy, clock)
        assert [limiter.check("x", 1000) for _ in range(4)] == [Verdict.ALLOW] * 3 + [
            Verdict.REFUSE
        ]
        assert limiter.check("free", 10) is Verdict.REFUSE  # unlimited events spend bytes too
        clock.now += 1.0
        assert limiter.check("free", 1000) is Verdict.ALLOW

    def test_off_with_none(self):
        policy = RatePolicy.from_setting({"bytes_rate": None, "bytes_burst": None})
        assert policy is not None and policy.bytes is None
        limiter = ConnectionRateLimiter(policy, Clock())
        assert limiter.check("x", 10**9) is Verdict.ALLOW

    def test_hints_read_without_decoding(self):
        from realtime.connection.limits import callback_hint, event_hint

        frame = '{"event":"chat","payload":{"t":"' + "x" * 5000 + '"},"callbackId":"c7"}'
        assert (event_hint(frame), callback_hint(frame)) == ("chat", "c7")
        assert event_hint('{"payload":1,"event":"chat"}') is None
        assert event_hint('{"event":"a\\"b"}') is None and callback_hint("{}") is None
