"""Connecting to Redis for real: passwords, databases and TLS (``rediss://``)."""

from __future__ import annotations

import pytest

from realtime.layers import NoHealthyRedisNode
from tests.support.redis import RedisServer
from tests.support.waiting import within


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
