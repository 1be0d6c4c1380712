"""Settings of a daphne node that holds events past MAX_PENDING_HANDLERS (2) instead of
refusing them with BUSY (tests/e2e/test_reliability.py)."""

from project.settings import *  # noqa: F403
from project.settings import REALTIME

REALTIME = {**REALTIME, "MAX_PENDING_HANDLERS": 2, "WHEN_BUSY": "wait"}
