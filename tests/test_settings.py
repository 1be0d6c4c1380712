"""REALTIME settings: defaults, validation, system check realtime.E001, handler registry rules."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from realtime.conf import DEFAULTS, realtime_settings, server_name, validation_errors
from realtime.connection.handlers import Registry


def test_defaults():
    assert realtime_settings.HEARTBEAT_MESSAGE == ""
    assert realtime_settings.MAX_FRAME_BYTES == 1024 * 1024
    assert realtime_settings.URL == "ws/"
    assert realtime_settings.REQUIRE_ORIGIN is False


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        realtime_settings.NOPE  # noqa: B018


@override_settings(REALTIME={"SERVER_NAME": "alpha"})
def test_override_is_seen_and_server_name():
    assert server_name() == "alpha"


def test_server_name_defaults_to_host_and_pid():
    import os

    with override_settings(REALTIME={}):
        assert server_name().endswith(f"-{os.getpid()}")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"HEARTBEET": ""}, "Unknown REALTIME setting 'HEARTBEET'; known settings: "),
        ({"MAX_FRAME_BYTES": 0}, "REALTIME['MAX_FRAME_BYTES'] must be a positive integer, not 0."),
        ({"MAX_FRAME_BYTES": True}, "must be a positive integer, not True."),
        ({"URL": "/ws/"}, "REALTIME['URL'] must be a string without a leading slash"),
        ({"HEARTBEAT_MESSAGE": "{}"}, "must be a string that is not JSON text"),
        ({"HANDLER_TIMEOUT": -1}, "REALTIME['HANDLER_TIMEOUT'] must be None or seconds > 0"),
        ({"REQUIRE_ORIGIN": "yes"}, "REALTIME['REQUIRE_ORIGIN'] must be True or False"),
        ([], "REALTIME must be a dict, not list."),
    ],
)
def test_validation_messages(value, message):
    errors = validation_errors(value)
    assert len(errors) == 1 and message in errors[0]


def test_every_default_is_valid():
    assert validation_errors(dict(DEFAULTS)) == []


@override_settings(REALTIME={"MAX_FRAME_BYTES": -5, "COLOUR": 1})
def test_system_check_e001():
    errors = [e for e in run_checks() if e.id == "realtime.E001"]
    assert [e.msg for e in errors] == [
        "REALTIME['MAX_FRAME_BYTES'] must be a positive integer, not -5.",
        "Unknown REALTIME setting 'COLOUR'; known settings: " + ", ".join(sorted(DEFAULTS)) + ".",
    ]
    assert all(e.hint for e in errors)
    with pytest.raises(ImproperlyConfigured, match="COLOUR"):
        realtime_settings.URL  # noqa: B018


class TestRegistry:
    def test_lifecycle_names_refused_for_client_events(self):
        registry = Registry()

        async def handler(socket, data, ack):
            pass

        for name in ("connect", "connection", "close", "disconnect"):
            with pytest.raises(ImproperlyConfigured, match="lifecycle hook"):
                registry.add_event(name, handler)

    def test_sync_handler_refused(self):
        def handler(socket, data, ack):
            pass

        with pytest.raises(ImproperlyConfigured, match="async def"):
            Registry().add_event("x", handler)

    def test_two_handlers_for_one_event_refused(self):
        registry = Registry()

        async def first(socket, data, ack):
            pass

        async def second(socket, data, ack):
            pass

        registry.add_event("x", first)
        registry.add_event("x", first)  # the same function again is fine (re-import)
        with pytest.raises(ImproperlyConfigured, match="Two handlers for client event 'x'"):
            registry.add_event("x", second)

    def test_demo_handlers_were_discovered(self):
        from realtime.connection.handlers import registry

        assert {"say", "joinRoom", "command"} <= set(registry.events)
        assert any(h.__module__ == "project.realtime_handlers" for h in registry.connect_hooks)


@pytest.mark.parametrize(
    ("value", "entries"),
    [
        ("", []),
        ("redis://a:6379/0,redis://b:6379/0", ["redis://a:6379/0", "redis://b:6379/0"]),
        (
            "redis+cluster://c1:7000,c2:7001,c3:7002, rediss://d:6380",
            ["redis+cluster://c1:7000,c2:7001,c3:7002", "rediss://d:6380"],
        ),
        (
            "redis+sentinel://s1:26379,s2:26379/mymaster;redis+cluster://c1:7000,c2:7001",
            ["redis+sentinel://s1:26379,s2:26379/mymaster", "redis+cluster://c1:7000,c2:7001"],
        ),
        (
            " redis://a\n  redis+sentinel://:pw@s1:1,s2:2/m?sentinel_password=x ",
            ["redis://a", "redis+sentinel://:pw@s1:1,s2:2/m?sentinel_password=x"],
        ),
    ],
)
def test_demo_redis_nodes_keep_seed_lists_together(monkeypatch, value, entries):
    """REALTIME_REDIS_NODES: a comma starts a new entry only before a scheme://."""
    from project.settings import env_urls

    monkeypatch.setenv("REALTIME_REDIS_NODES", value)
    assert env_urls("REALTIME_REDIS_NODES") == entries
