"""System checks against exact messages."""

from __future__ import annotations

import pytest
from channels.layers import InMemoryChannelLayer
from django.core.checks import run_checks
from django.test import override_settings

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
REDIS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": ["redis://127.0.0.1:6379"]},
    }
}


def messages(prefix: str = "realtime.") -> list[tuple[str, str]]:
    return [(m.id, m.msg) for m in run_checks() if m.id and m.id.startswith(prefix)]


def test_default_project_is_clean():
    assert messages() == []


@override_settings(REALTIME={"CHANNEL_LAYER": "fast"}, CHANNEL_LAYERS=IN_MEMORY)
def test_e002_missing_alias():
    assert messages() == [
        (
            "realtime.E002",
            "REALTIME['CHANNEL_LAYER'] is 'fast' but CHANNEL_LAYERS has no such alias.",
        )
    ]


@override_settings(CHANNEL_LAYERS=IN_MEMORY)
def test_e003_process_local_layer_with_several_workers(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    [(check_id, message)] = messages()
    assert check_id == "realtime.E003"
    assert message == (
        "The channel layer 'default' stays inside one process, but WEB_CONCURRENCY=4 starts "
        "several workers: each would be an island whose clients never see the others' messages."
    )


@override_settings(CHANNEL_LAYERS=REDIS, REALTIME={"RECOVERY": False})
def test_w001_cluster_without_server_name():
    assert messages() == [
        (
            "realtime.W001",
            "Redis nodes are configured but REALTIME['SERVER_NAME'] is not set, so this node is "
            "named <hostname>-<pid>, which changes on every restart.",
        )
    ]


@override_settings(CHANNEL_LAYERS=REDIS, REALTIME={"SERVER_NAME": "node-a", "RECOVERY": False})
def test_w001_silent_with_a_name():
    assert messages() == []


@override_settings(CHANNEL_LAYERS=REDIS, REALTIME={"SERVER_NAME": "node-a"})
def test_w004_recovery_without_our_layer():
    assert messages() == [
        (
            "realtime.W004",
            "REALTIME['RECOVERY'] is on but CHANNEL_LAYERS['default'] is not "
            "realtime.layers.MultiRedisChannelLayer: there is nowhere to keep history and "
            "sessions, so clients are never recovered.",
        )
    ]


@pytest.mark.parametrize(
    "history",
    [{"*": {"size": 0}}, {"chat": {"sizes": 1}}, {"": None}, [1]],
    ids=["zero", "unknown-key", "empty-name", "not-a-dict"],
)
def test_e001_bad_history_setting(history):
    with override_settings(REALTIME={"HISTORY": history}):
        assert [m[0] for m in messages()] == ["realtime.E001"]


@override_settings(REALTIME={"HEARTBEAT_MESSAGE": "ping"})
def test_w002_heartbeat_that_default_clients_do_not_send():
    assert messages() == [
        (
            "realtime.W002",
            "REALTIME['HEARTBEAT_MESSAGE'] is 'ping': clients must send exactly this string, but "
            "the original WebSocketConnector and our clients send '' by default. Clients left at "
            "the default get no echo and close with 4002 every ping interval.",
        )
    ]


@pytest.mark.parametrize("check_id", ["realtime.E001", "realtime.E002", "realtime.W002"])
def test_every_message_has_a_hint(check_id):
    broken = {
        "realtime.E001": {"REALTIME": {"NOPE": 1}},
        "realtime.E002": {"REALTIME": {"CHANNEL_LAYER": "x"}},
        "realtime.W002": {"REALTIME": {"HEARTBEAT_MESSAGE": "hb"}},
    }[check_id]
    with override_settings(**broken):
        found = [m for m in run_checks() if m.id == check_id]
    assert found and all(m.hint for m in found)


def ours(**config) -> dict:
    return {"default": {"BACKEND": "realtime.layers.MultiRedisChannelLayer", "CONFIG": config}}


GOOD_CAPACITY = {"realtime-node*": 100_000}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"nodes": ["http://x"]},
            "CHANNEL_LAYERS['default']: MultiRedisChannelLayer CONFIG['nodes']",
        ),
        (
            {"nodes": ["redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"]},
            "a list without duplicate addresses",
        ),
        ({"strategy": "fastest-ish"}, "CONFIG['strategy'] must be one of"),
        (
            {"nodes": ["redis+sentinel://:pw@s1:26379,s2:26379"]},
            "URLs with a service name (and an optional numeric db) as path, not "
            "'redis+sentinel://:***@s1:26379,s2:26379'",
        ),
        ({"nodes": ["redis+cluster://c1:7000,c2"]}, "seed lists of host:port separated by"),
        ({"colour": "blue"}, "Unknown MultiRedisChannelLayer CONFIG key 'colour'"),
    ],
)
def test_e005_invalid_layer_config(config, message):
    with override_settings(CHANNEL_LAYERS=ours(**config), REALTIME={"SERVER_NAME": "a"}):
        found = messages()
    assert [check_id for check_id, _ in found] == ["realtime.E005"]
    assert message in found[0][1]


def test_e006_zstd_without_zstandard(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "zstandard", None)  # makes the import fail
    layers = ours(nodes=[], compression="zstd")
    with override_settings(CHANNEL_LAYERS=layers):
        assert messages() == [
            (
                "realtime.E006",
                "CHANNEL_LAYERS['default'] compresses with 'zstd' but the zstandard package is "
                "not installed.",
            )
        ]


SECRET = "a secret key of this deployment, not a development one"


@override_settings(SECRET_KEY=SECRET)
def test_w003_node_channel_without_room():
    layers = ours(nodes=["redis://127.0.0.1:6379/0"])
    with override_settings(CHANNEL_LAYERS=layers, REALTIME={"SERVER_NAME": "a"}):
        assert messages() == [
            (
                "realtime.W003",
                "CHANNEL_LAYERS['default'] gives the hub's node channel the default capacity "
                "(100): a burst of messages from other nodes is dropped.",
            )
        ]
    layers["default"]["CONFIG"]["channel_capacity"] = GOOD_CAPACITY
    with override_settings(CHANNEL_LAYERS=layers, REALTIME={"SERVER_NAME": "a"}):
        assert messages() == []


class LayerThatOverpromises(InMemoryChannelLayer):
    """Declares the health extension without its methods."""

    extensions = ["groups", "flush", "realtime.health"]


@override_settings(
    CHANNEL_LAYERS={"default": {"BACKEND": "tests.test_checks.LayerThatOverpromises"}}
)
def test_e007_a_layer_that_declares_extensions_it_lacks():
    assert messages("realtime.E007") == [
        (
            "realtime.E007",
            "CHANNEL_LAYERS['default'] backend LayerThatOverpromises declares extensions it "
            "lacks: realtime.health: health, realtime.health: stats, "
            "realtime.health: set_excluded_nodes.",
        )
    ]


def test_e007_silent_for_our_layer_and_channels_own():
    assert messages("realtime.E007") == []
    with override_settings(CHANNEL_LAYERS=IN_MEMORY):
        assert messages("realtime.E007") == []


E008 = (
    "CHANNEL_LAYERS['default'] signs the messages between servers with keys derived from {}, "
    "a development key ('django-insecure-...', such as the demo's fallback): anyone who can "
    "reach Redis can derive it and publish messages every server trusts (broadcasts, kicks, "
    "Redis node changes)."
)


def cluster_layer(**config):
    return ours(nodes=["redis://127.0.0.1:6379/0"], channel_capacity=GOOD_CAPACITY, **config)


def test_e008_bus_signed_with_the_demo_fallback_key():
    from project.settings import SECRET_KEY as DEMO_KEY

    assert DEMO_KEY.startswith("django-insecure-")  # no DJANGO_SECRET_KEY in this process
    with override_settings(
        CHANNEL_LAYERS=cluster_layer(), REALTIME={"SERVER_NAME": "a"}, SECRET_KEY=DEMO_KEY
    ):
        assert messages() == [("realtime.E008", E008.format("SECRET_KEY"))]


def test_e008_insecure_fallback_or_dedicated_key():
    with override_settings(
        CHANNEL_LAYERS=cluster_layer(),
        REALTIME={"SERVER_NAME": "a"},
        SECRET_KEY=SECRET,
        SECRET_KEY_FALLBACKS=["django-insecure-old"],
    ):
        assert messages() == [("realtime.E008", E008.format("SECRET_KEY_FALLBACKS[0]"))]
    dedicated = cluster_layer(signing_keys=["django-insecure-" + "x" * 40])
    with override_settings(CHANNEL_LAYERS=dedicated, REALTIME={"SERVER_NAME": "a"}):
        assert messages() == [("realtime.E008", E008.format("CONFIG['signing_keys'][0]"))]


@pytest.mark.parametrize(
    ("config", "secret"),
    [({}, SECRET), ({"signing": False}, "django-insecure-x"), ({"nodes": []}, "django-insecure-x")],
)
def test_no_e008_with_a_secret_key_signing_off_or_no_nodes(config, secret):
    layers = cluster_layer()
    layers["default"]["CONFIG"].update(config)
    with override_settings(CHANNEL_LAYERS=layers, REALTIME={"SERVER_NAME": "a"}, SECRET_KEY=secret):
        assert messages() == []
