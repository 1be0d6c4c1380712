"""Settings of the hardened daphne node (tests/e2e/test_hardening.py): the demo's settings
with the limits turned on and set low enough to reach in a test."""

from project.settings import *  # noqa: F403
from project.settings import INSTALLED_APPS, REALTIME

INSTALLED_APPS = [*INSTALLED_APPS, "tests.hardeningapp"]

REALTIME = {
    **REALTIME,
    "REQUIRE_ORIGIN": True,
    "AUTHENTICATE": "tests.hardeningapp.auth.token",
    "REJECT_AT_HANDSHAKE": True,
    "MAX_CONNECTIONS_PER_IP": 3,
    # Refills so slow that a loaded test machine cannot blur the counts.
    "RATE_LIMIT": {
        "rate": 0.01,
        "burst": 10,
        "close_after": 20,
        "close_window": 600.0,
        # Not limited, so the tests can flood and ask for stats as often as they need.
        "events": {"flood": None, "stats": None},
    },
}
