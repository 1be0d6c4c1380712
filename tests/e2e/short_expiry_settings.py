"""Settings of daphne nodes whose channel layer expires messages after 1 s instead of 60 s,
so a test can build a backlog older than the expiry in a few seconds."""

from project.settings import *  # noqa: F403
from project.settings import CHANNEL_LAYERS

CHANNEL_LAYERS = {
    "default": {
        **CHANNEL_LAYERS["default"],
        "CONFIG": {**CHANNEL_LAYERS["default"]["CONFIG"], "expiry": 1},
    }
}
