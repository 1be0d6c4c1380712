"""Settings of a daphne node without the lean-connection fix (tests/e2e/test_daphne_memory.py)."""

from project.settings import *  # noqa: F403
from project.settings import REALTIME

REALTIME = {**REALTIME, "DAPHNE_LEAN_CONNECTIONS": False}
