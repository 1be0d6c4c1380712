"""Log lines that cannot flood, whatever keys arrive."""

from __future__ import annotations

import logging

from realtime.throttled_log import ThrottledLogger


class Small(ThrottledLogger):
    _MAX_KEYS = 100


def test_many_new_keys_do_not_reset_a_suppressed_one(caplog):
    throttled = Small(logging.getLogger("test.throttled"), interval=60.0)
    with caplog.at_level(logging.WARNING, "test.throttled"):
        assert throttled.log("flood", logging.WARNING, "first")
        for n in range(1000):  # e.g. one key per client address
            throttled.log(("other", n), logging.WARNING, "other %d", n)
            assert not throttled.log("flood", logging.WARNING, "again"), f"reset after {n}"
    assert len(throttled._last) <= 100
