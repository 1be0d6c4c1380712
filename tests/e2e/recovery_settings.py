"""Settings of daphne nodes for the recovery tests: hash strategy, no rate limit (the test
sends 130 events/s), redundancy from REALTIME_TEST_REDUNDANCY."""

import os

from project.settings import *  # noqa: F403

CHANNEL_LAYERS["default"]["CONFIG"].update(  # noqa: F405
    {"strategy": "hash", "redundancy": int(os.environ.get("REALTIME_TEST_REDUNDANCY", "1"))}
)
REALTIME = {**REALTIME, "RATE_LIMIT": None}  # noqa: F405
