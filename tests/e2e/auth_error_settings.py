"""Settings of a daphne node whose ``AUTHENTICATE`` hook can raise (``?token=explode``) and
whose refusals are close codes, not HTTP 403 (tests/e2e/test_reliability.py)."""

from project.settings import *  # noqa: F403
from project.settings import INSTALLED_APPS, REALTIME

INSTALLED_APPS = [*INSTALLED_APPS, "tests.hardeningapp"]

REALTIME = {**REALTIME, "AUTHENTICATE": "tests.hardeningapp.auth.token"}
