"""Connecting to Redis for real: passwords, ACL users, databases and TLS (``rediss://``),
and no password in what the layer shows."""

from __future__ import annotations

import asyncio
import logging
import secrets
from urllib.parse import quote

import pytest
from django.core.exceptions import ImproperlyConfigured

from realtime.layers import MultiRedisChannelLayer, NoHealthyRedisNode
from realtime.signals import redis_health_changed
from tests.support.redis import RedisServer
from tests.support.waiting import async_wait_until, within


@pytest.fixture
def tls_redis():
    server = RedisServer(tls=True)
    server.start()
    yield server
    server.cleanup()


async def test_password_and_db_in_the_url(redis_nodes, make_layer):
    (server,) = redis_nodes(1, password="s3cr@t")
    url = f"redis://:s3cr%40t@127.0.0.1:{server.port}/3"
    sender, receiver = make_layer([url]), make_layer([url])
    channel = await receiver.new_channel()
    await sender.send(channel, {"type": "authenticated"})
    assert (await within(receiver.receive(channel), 5, "message"))["type"] == "authenticated"
    (health,) = sender.health()
    assert health.address == f"redis://127.0.0.1:{server.port}/3" and health.publish_ok


async def test_wrong_password_is_a_clear_error_without_the_password(redis_nodes, make_layer):
    (server,) = redis_nodes(1, password="right")
    layer = make_layer([f"redis://:wrong-pw@127.0.0.1:{server.port}/0"])
    with pytest.raises(NoHealthyRedisNode) as error:
        await layer.send("specific.other!x", {"type": "x"})
    (health,) = layer.health()
    assert not health.publish_ok and "WRONGPASS" in health.last_error
    assert "WRONGPASS" in str(error.value) and "wrong-pw" not in str(error.value)


async def test_tls_with_the_servers_certificate(tls_redis, make_layer):
    url = f"{tls_redis.url}?ssl_ca_certs={tls_redis.certificate}"
    sender, receiver = make_layer([url]), make_layer([url])
    channel = await receiver.new_channel()
    await receiver.group_add("r-tls.1", channel)
    await sender.group_send("r-tls.1", {"type": "over.tls"})
    assert (await within(receiver.receive(channel), 5, "message"))["type"] == "over.tls"
    assert sender.health()[0].address.startswith("rediss://127.0.0.1:")


async def test_tls_certificate_is_verified(tls_redis, make_layer):
    layer = make_layer([tls_redis.url])  # the self-signed certificate is not trusted
    await layer.group_send("x.y", {"type": "x"})
    (health,) = layer.health()
    assert not health.publish_ok and "CERTIFICATE_VERIFY_FAILED" in health.last_error
    relaxed = make_layer([f"{tls_redis.url}?ssl_cert_reqs=none"])
    await relaxed.group_send("x.y", {"type": "x"})
    assert relaxed.health()[0].publish_ok


# The commands the layer uses, and nothing else; channels limited to the layer's prefix.
LEAST_PRIVILEGES = ("-@all", "+publish", "+subscribe", "+unsubscribe", "+ping", "+client|setname")


def add_acl_user(server: RedisServer, name: str, password: str, channels: str) -> None:
    """``ACL SETUSER`` on the real server: ``name`` may use only ``channels`` (a pattern)."""
    server.call(
        "ACL", "SETUSER", name, "on", f">{password}", "resetchannels", channels, *LEAST_PRIVILEGES
    )


def clients_of(server: RedisServer, prefix: str) -> list[dict[str, str]]:
    """``CLIENT LIST`` entries of the connections a layer with ``prefix`` named."""
    entries = [
        dict(field.split("=", 1) for field in line.split())
        for line in server.call("CLIENT", "LIST").splitlines()
    ]
    return [entry for entry in entries if entry["name"].startswith(f"{prefix}-")]


async def test_acl_user_with_only_the_layers_commands_and_channels(redis_nodes, make_layer):
    (server,) = redis_nodes(1, password="the-default-users-password")
    url = f"redis://rt-app:app%40pw@127.0.0.1:{server.port}/0"
    sender, receiver = make_layer([url]), make_layer([url])
    add_acl_user(server, "rt-app", "app@pw", f"&{receiver.config.prefix}:*")
    channel = await receiver.new_channel()
    await receiver.group_add("r-acl.1", channel)
    await sender.group_send("r-acl.1", {"type": "group"})
    await sender.send(channel, {"type": "direct"})
    received = [(await within(receiver.receive(channel), 5, "message"))["type"] for _ in "ab"]
    assert received == ["group", "direct"]
    connections = clients_of(server, receiver.config.prefix)
    # Both layers' publishers and the receiver's subscriber, all logged in as the ACL user.
    assert sorted(c["name"].rpartition("-")[2] for c in connections) == ["pub", "pub", "sub"]
    assert {c["user"] for c in connections} == {"rt-app"}


async def test_acl_user_without_the_layers_channels_is_reported(redis_nodes, make_layer):
    (server,) = redis_nodes(1)
    layer = make_layer([f"redis://deaf:pw@127.0.0.1:{server.port}/0"])
    add_acl_user(server, "deaf", "pw", "&someone-else:*")
    subscribing = asyncio.ensure_future(layer.new_channel())
    try:
        await async_wait_until(
            lambda: "NOPERM" in (layer.health()[0].last_error or ""), 5, "refusal reported"
        )
    finally:
        subscribing.cancel()
        await asyncio.gather(subscribing, return_exceptions=True)
    (health,) = layer.health()
    assert health.publish_ok and health.subscribe_ok is False


async def test_tls_with_a_client_certificate_and_an_acl_user(redis_nodes, make_layer):
    (server,) = redis_nodes(1, password="admin-pw", tls=True, tls_client_auth=True)
    base = f"rediss://rt-tls:tls-pw@127.0.0.1:{server.port}/0?ssl_ca_certs={server.certificate}"
    with_certificate = f"{base}&ssl_certfile={server.certificate}&ssl_keyfile={server.key}"
    sender, receiver = make_layer([with_certificate]), make_layer([with_certificate])
    without_certificate = make_layer([base])
    add_acl_user(server, "rt-tls", "tls-pw", f"&{sender.config.prefix}:*")
    channel = await receiver.new_channel()
    await receiver.group_add("r-mtls.1", channel)
    await sender.group_send("r-mtls.1", {"type": "mutual tls"})
    assert (await within(receiver.receive(channel), 5, "message"))["type"] == "mutual tls"
    assert {c["user"] for c in clients_of(server, sender.config.prefix)} == {"rt-tls"}
    await without_certificate.group_send("x.y", {"type": "x"})
    (refused,) = without_certificate.health()
    assert not refused.publish_ok and refused.last_error


async def test_passwords_never_appear_in_health_logs_or_errors(redis_nodes, make_layer, caplog):
    password = f"Pw@{secrets.token_hex(8)}"
    encoded = quote(password, safe="")
    (server,) = redis_nodes(1)
    url = f"redis://rt-user:{encoded}@127.0.0.1:{server.port}/0"
    unknown_node = f"redis://rt-user:{encoded}@127.0.0.1:1/0"
    signals: list[dict] = []

    def record(sender, **kwargs):
        signals.append(kwargs)

    redis_health_changed.connect(record)
    texts: list[str] = []
    try:
        with caplog.at_level(logging.DEBUG, logger="realtime"):
            layer = make_layer([url])
            wrong = make_layer([url.replace(encoded, f"wrong-{encoded}")])
            add_acl_user(server, "rt-user", password, f"&{layer.config.prefix}:*")
            channel = await layer.new_channel()
            await layer.group_add("r-pw.1", channel)
            await layer.group_send("r-pw.1", {"type": "x"})
            texts += [repr(layer.health()), repr(layer.config), repr(layer.nodes)]
            with pytest.raises(NoHealthyRedisNode) as refused:
                await wrong.send("specific.other!x", {"type": "x"})
            assert "WRONGPASS" in str(refused.value)
            with pytest.raises(ValueError) as not_ours:
                layer.set_excluded_nodes([unknown_node])
            with pytest.raises(ValueError) as not_ours_either:
                await layer.remove_node(unknown_node)
            with pytest.raises(ValueError) as known:
                await layer.add_node(url)
            with pytest.raises(ImproperlyConfigured) as bad_url:
                MultiRedisChannelLayer(nodes=[f"{url}?timeout=1"])
            with pytest.raises(ImproperlyConfigured) as bad_dict:
                MultiRedisChannelLayer(nodes=[{"host": "h", "port": "1", "password": password}])
            server.kill()
            await async_wait_until(lambda: not layer.health()[0].publish_ok, 5, "node down")
            with pytest.raises(NoHealthyRedisNode) as down:
                await layer.send("specific.other!x", {"type": "x"})
            await layer.group_send("r-pw.1", {"type": "dropped"})
    finally:
        redis_health_changed.disconnect(record)
    errors = (refused, not_ours, not_ours_either, known, bad_url, bad_dict, down)
    texts += [str(error.value) for error in errors]
    texts += [repr(layer.health()), str([h.as_dict() for h in layer.health()]), caplog.text]
    texts += [repr(signal) for signal in signals]
    assert "is down" in caplog.text and "No healthy Redis node" in caplog.text  # logs written
    assert [s["event"] for s in signals if s["layer"] is layer][-1] == "down"
    leaks = [text for text in texts if password in text or encoded in text]
    assert not leaks, leaks
