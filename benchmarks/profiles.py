"""Sizes of a run: ``--full`` (the README's numbers), ``--quick`` (minutes), smoke (seconds)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """Every size and duration one run uses."""

    name: str
    # fan-out: clients per node, the fixed load in delivered frames/s, one step's length
    clients_per_node: int
    fixed_frames_per_second: int
    step_seconds: float
    warmup_seconds: float
    search_steps: int  # at most this many rates tried after the fixed one
    bisections: int
    max_rate: int  # room messages/s the search never exceeds
    p99_limit_ms: float
    # request/ack: closed-loop callers and the length of each phase
    caller_counts: tuple[int, ...]
    call_seconds: float
    # cross-server calls: sequential calls, then concurrent ones for a while
    cross_calls: int
    cross_concurrency: int
    cross_seconds: float
    # memory: connection counts measured, seconds each level settles (heartbeats flow)
    memory_levels: tuple[int, ...]
    memory_settle: float
    heartbeat_seconds: float
    # failover: steady room messages/s, length, when the Redis node fails, and the
    # (failure mode, redundancy) pairs tried
    failover_rate: int
    failover_seconds: float
    failover_kill_at: float
    # scale: idle connections on one node (capped by the open-file limit), how many of them
    # are in one room, broadcasts and room pushes sent, seconds of heartbeat-only CPU
    # measured, clients in the room of the 2-node fan-out (0: that part is skipped)
    scale_connections: int = 0
    scale_room: int = 0
    scale_pushes: int = 3
    scale_idle_seconds: float = 30.0
    scale_fanout_clients: int = 0
    failover_cases: tuple[tuple[str, int], ...] = (
        ("kill", 1),
        ("kill", 2),
        ("freeze", 1),
        ("freeze", 2),
    )


FULL = Profile(
    name="full",
    clients_per_node=100,
    fixed_frames_per_second=4000,
    step_seconds=5.0,
    warmup_seconds=2.0,
    search_steps=9,
    bisections=3,
    max_rate=4000,
    p99_limit_ms=100.0,
    caller_counts=(1, 32),
    call_seconds=5.0,
    cross_calls=1000,
    cross_concurrency=16,
    cross_seconds=5.0,
    memory_levels=(0, 1000, 2000, 3000, 4000, 5000),
    memory_settle=11.0,
    heartbeat_seconds=10.0,
    failover_rate=50,
    failover_seconds=8.0,
    failover_kill_at=3.0,
    scale_connections=20000,
    scale_room=1000,
    scale_pushes=5,
    scale_idle_seconds=30.0,
    scale_fanout_clients=1000,
)

QUICK = Profile(
    name="quick",
    clients_per_node=100,
    fixed_frames_per_second=4000,
    step_seconds=2.0,
    warmup_seconds=1.0,
    search_steps=6,
    bisections=1,
    max_rate=4000,
    p99_limit_ms=100.0,
    caller_counts=(1, 32),
    call_seconds=2.0,
    cross_calls=300,
    cross_concurrency=16,
    cross_seconds=2.0,
    memory_levels=(0, 1000, 2000),
    memory_settle=2.0,
    heartbeat_seconds=10.0,
    failover_rate=50,
    failover_seconds=4.0,
    failover_kill_at=1.5,
    scale_connections=2000,
    scale_room=200,
    scale_pushes=3,
    scale_idle_seconds=5.0,
    scale_fanout_clients=200,
)

SMOKE = Profile(
    name="smoke",
    clients_per_node=5,
    fixed_frames_per_second=200,
    step_seconds=0.5,
    warmup_seconds=0.3,
    search_steps=1,
    bisections=0,
    max_rate=4000,
    p99_limit_ms=100.0,
    caller_counts=(1, 4),
    call_seconds=0.5,
    cross_calls=20,
    cross_concurrency=4,
    cross_seconds=0.5,
    memory_levels=(0, 50, 100),
    memory_settle=0.3,
    heartbeat_seconds=1.0,
    failover_rate=20,
    failover_seconds=2.0,
    failover_kill_at=0.7,
    failover_cases=(("kill", 2), ("freeze", 1)),
    scale_connections=60,
    scale_room=10,
    scale_pushes=2,
    scale_idle_seconds=0.5,
)

PROFILES = {profile.name: profile for profile in (FULL, QUICK, SMOKE)}
