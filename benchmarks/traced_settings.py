"""Settings of a profiled benchmark node: ``benchmarks.settings`` plus a tracemalloc hook.

Used only by ``python -m benchmarks.memprofile`` (never by production code):

    BENCH_TRACEMALLOC   a path prefix; when set, tracemalloc starts at import (with
                        BENCH_TRACEMALLOC_FRAMES frames per trace, default 40) and every
                        SIGUSR1 writes ``<prefix>.<n>.snapshot`` after a full collection,
                        then ``<prefix>.<n>.done``, so the harness knows it is complete.

The snapshot is taken from the signal handler, in the main thread between two bytecodes of
the reactor loop, so nothing else runs while it is written.
"""

import gc
import os
import signal
import tracemalloc
from pathlib import Path

from benchmarks.settings import *  # noqa: F403

_PREFIX = os.environ.get("BENCH_TRACEMALLOC")
_count = 0


def _dump(signum: int, frame: object) -> None:
    global _count
    _count += 1
    gc.collect()
    tracemalloc.take_snapshot().dump(f"{_PREFIX}.{_count}.snapshot")
    Path(f"{_PREFIX}.{_count}.done").write_text("ok")


if _PREFIX:
    tracemalloc.start(int(os.environ.get("BENCH_TRACEMALLOC_FRAMES", "40")))
    signal.signal(signal.SIGUSR1, _dump)
