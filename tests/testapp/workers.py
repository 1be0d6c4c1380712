"""A background worker for the worker-pattern tests: ``manage.py runworker jobs`` with
``DJANGO_SETTINGS_MODULE=tests.testapp.worker_settings``.

Every job it handles is appended to the file named by ``REALTIME_TEST_JOB_LOG`` (one line
per job: its number), so a test can count what each worker process did.
"""

from __future__ import annotations

import os
import time
from typing import Any

from channels.consumer import AsyncConsumer

JOB_CHANNEL = "jobs"


class JobConsumer(AsyncConsumer):
    """Handles ``{"type": "job.run", "n": ...}`` messages sent to the ``jobs`` channel."""

    async def job_run(self, message: dict[str, Any]) -> None:
        """Do the (short) work of one job, then record it.

        The work blocks the event loop, as CPU-bound work does: Channels' worker takes
        messages as fast as the layer gives them and queues them in the process, so with
        non-blocking work one worker would take the whole backlog before a second starts."""
        time.sleep(float(message.get("work", 0)))
        path = os.environ.get("REALTIME_TEST_JOB_LOG")
        if path:
            with open(path, "a") as log:
                log.write(f"{message['n']}\n")
