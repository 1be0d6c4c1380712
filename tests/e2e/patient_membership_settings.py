"""Settings of daphne nodes that keep a silent node as a member for 10 s instead of 3 s, so a
test can act on a freshly killed node before membership drops it."""

from project.settings import *  # noqa: F403

REALTIME = {**REALTIME, "NODE_MISSED_HEARTBEATS": 10}  # noqa: F405
