"""Smoke test of ``python -m benchmarks run`` at a tiny size: every scenario runs end to end
through real daphne, redis-server and client processes, and writes its JSON, tables and
plot. Numbers are not asserted (speed is measured by the benchmarks, not by tests); the
accounting is: every frame sent is either delivered or counted as lost."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.processes import ROOT

# The other two configurations run in the request/ack and memory scenarios.
FANOUT_SETUPS = ("realtime-3", "channels-core")
CLIENTS = 10  # the smoke profile: 5 clients on each of 2 nodes


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "run",
            "--smoke",
            "--setups",
            *FANOUT_SETUPS,
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, json.loads((out / "latest.json").read_text()), result.stdout


@pytest.mark.benchmark_smoke
@pytest.mark.timeout(250)
def test_fanout_accounts_for_every_frame(run):
    _, results, _ = run
    setups = results["fanout"]["setups"]
    assert list(setups) == list(FANOUT_SETUPS)
    for result in setups.values():
        for step in result["steps"]:
            assert step["delivered"] > 0
            assert step["delivered"] + step["lost"] == step["messages"] * CLIENTS
            assert step["server_cpu_us_per_frame"] > 0


@pytest.mark.benchmark_smoke
def test_every_other_scenario_reports(run):
    _, results, _ = run
    for result in results["requests"]["setups"].values():
        assert [level["concurrency"] for level in result["levels"]] == [1, 4]
        assert all(level["calls"] > 0 and level["errors"] == 0 for level in result["levels"])
    for result in results["cross"]["setups"].values():
        assert result["sequential"]["calls"] == 20
        assert result["sequential"]["p50_ms"] > 0
    assert list(results["memory"]["setups"]) == ["realtime-before", "realtime-1", "channels-pubsub"]
    for result in results["memory"]["setups"].values():
        assert [sample["connections"] for sample in result["samples"]] == [0, 50, 100]
    assert list(results["failover"]["setups"]) == ["kill-r2", "freeze-r1"]
    for result in results["failover"]["setups"].values():
        assert result["delivered"] + result["lost"] == result["frames_expected"] > 0
    assert set(results["seconds"]) == {"fanout", "requests", "cross", "memory", "failover", "scale"}


@pytest.mark.benchmark_smoke
def test_scale_accounts_for_every_push(run):
    _, results, _ = run
    scale = results["scale"]
    assert scale["connections"] == 60
    for key, recipients in (("broadcast", 60 + 20), ("room_push", 10)):
        push = scale[key]
        assert push["recipients"] == recipients
        assert push["delivered"] == push["messages"] * recipients
        assert push["lost"] == push["duplicates"] == 0
    assert scale["kib_per_connection"] > 0 and scale["connections_per_second"] > 0


@pytest.mark.benchmark_smoke
def test_writes_tables_and_plot(run):
    out, _, stdout = run
    assert "Targets" in stdout and "Fan-out" in stdout
    assert (out / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
