"""Settings of the worker-pattern tests (daphne nodes that enqueue, ``runworker`` processes
that work): the demo's, with the worker route, room for a backlog of jobs and the layer's
``redundancy`` from ``REALTIME_TEST_REDUNDANCY``."""

import os

from project.settings import *  # noqa: F403
from project.settings import CHANNEL_LAYERS, INSTALLED_APPS

ASGI_APPLICATION = "tests.testapp.asgi.application"
INSTALLED_APPS = [*dict.fromkeys([*INSTALLED_APPS, "tests.testapp"])]

_config = CHANNEL_LAYERS["default"]["CONFIG"]
_config["channel_capacity"] = {**_config["channel_capacity"], "jobs": 5000}
_config["redundancy"] = int(os.environ.get("REALTIME_TEST_REDUNDANCY", "1"))
