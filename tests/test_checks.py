"""System checks against exact messages."""

from __future__ import annotations

import pytest
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


@override_settings(CHANNEL_LAYERS=REDIS, REALTIME={})
def test_w001_cluster_without_server_name():
    assert messages() == [
        (
            "realtime.W001",
            "Redis nodes are configured but REALTIME['SERVER_NAME'] is not set, so this node is "
            "named <hostname>-<pid>, which changes on every restart.",
        )
    ]


@override_settings(CHANNEL_LAYERS=REDIS, REALTIME={"SERVER_NAME": "node-a"})
def test_w001_silent_with_a_name():
    assert messages() == []


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
