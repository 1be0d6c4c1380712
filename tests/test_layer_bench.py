"""Smoke test of the channel layer benchmark at a tiny size (numbers are not asserted:
speed is measured by the benchmark itself, not by tests)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import ROOT


@pytest.mark.benchmark_smoke
def test_layer_benchmark_runs_quick_mode():
    result = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.layer_bench", "--quick",
            "--layers", "multi-redis 1 node", "multi-redis 3 nodes", "channels_redis pubsub",
            "multi-redis 3 nodes named", "channels_redis core named",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    layers = ("multi-redis 1 node", "multi-redis 3 nodes", "channels_redis pubsub")
    for layer in (*layers, "multi-redis 3 nodes named", "channels_redis core named"):
        assert f"| {layer} |" in table
    assert "| channels_redis pubsub | " in table and "| 1.00x |" in table
    assert "(300/300 delivered)" in result.stderr


@pytest.mark.benchmark_smoke
def test_layer_benchmark_has_cluster_and_sentinel_rows_next_to_standalone():
    layers = ["multi-redis 1 node", "multi-redis cluster", "multi-redis sentinel"]
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.layer_bench", "--quick", "--layers", *layers],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for layer in layers:
        assert f"| {layer} |" in result.stdout
        assert f"  {layer}: " in result.stderr and "(300/300 delivered)" in result.stderr
