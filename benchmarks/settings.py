"""Django settings of the benchmark's server nodes: the project's settings plus a choice of
channel layer and app options made by the harness through environment variables.

    BENCH_LAYER        realtime (default): this project's MultiRedisChannelLayer over the
                       nodes of REALTIME_REDIS_NODES; channels-core / channels-pubsub:
                       channels_redis's RedisChannelLayer / RedisPubSubChannelLayer on the
                       first of those nodes (for the plain Channels baseline app)
    BENCH_REDUNDANCY   the layer's ``redundancy`` (default 1)
    BENCH_GC_FREEZE    REALTIME["GC_FREEZE"] (default on, as in production)
    BENCH_RECOVERY     REALTIME["RECOVERY"] (default on, as in production)

Benchmarks push many events through one connection, so the per-connection rate limit
(``REALTIME["RATE_LIMIT"]``, on by default) is turned off here: the sender must not be
throttled. Everything else keeps the project's defaults.
"""

import os

from project.settings import *  # noqa: F403
from project.settings import CHANNEL_LAYERS, REALTIME, REDIS_NODES, env_bool

BENCH_LAYER = os.environ.get("BENCH_LAYER", "realtime")
# Every process of a run derives its bus key from this throwaway key (the demo's fallback is a
# development key, which realtime.E008 refuses with Redis nodes).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "benchmarks: a throwaway key of one run"

if BENCH_LAYER == "realtime":
    CHANNEL_LAYERS = {
        "default": {
            **CHANNEL_LAYERS["default"],
            "CONFIG": {
                **CHANNEL_LAYERS["default"]["CONFIG"],
                "redundancy": int(os.environ.get("BENCH_REDUNDANCY", "1")),
            },
        }
    }
    _HUB_LAYER = "default"
elif BENCH_LAYER == "channels-core":
    # At its defaults this layer fails under load ("Too many connections" during ~100
    # concurrent joins, and a 5 s socket timeout kills idle consumers): raise the pool and
    # drop the timeout, as anyone running it in production has to.
    _HOST = {"address": REDIS_NODES[0], "max_connections": 1000, "socket_timeout": None}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_HOST]},
        },
        "idle": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
    }
    _HUB_LAYER = "idle"
elif BENCH_LAYER == "channels-pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_NODES[0]]},
        },
        "idle": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
    }
    _HUB_LAYER = "idle"
else:
    raise ValueError(
        f"BENCH_LAYER must be realtime, channels-core or channels-pubsub: {BENCH_LAYER}"
    )

REALTIME = {
    **REALTIME,
    "RATE_LIMIT": None,
    # The overload scenario compares refusing (BUSY) and holding events past
    # MAX_PENDING_HANDLERS (BENCH_WHEN_BUSY=wait).
    "WHEN_BUSY": os.environ.get("BENCH_WHEN_BUSY", "refuse"),
    "GC_FREEZE": env_bool("BENCH_GC_FREEZE", True),
    "RECOVERY": env_bool("BENCH_RECOVERY", True),
    # Baseline nodes serve the plain Channels app; the realtime app (installed, but unused
    # there) gets a process-local layer so that its hub publishes and announces nothing.
    "CHANNEL_LAYER": _HUB_LAYER,
}
