"""Layer CONFIG: parsing, defaults, and an error naming the key for every bad value."""

from __future__ import annotations

import re
import ssl

import pytest
from django.core.exceptions import ImproperlyConfigured

from realtime.layers import MultiRedisChannelLayer
from realtime.layers.config import DEFAULTS, parse_config, parse_node
from realtime.layers.signing import derive_key

NODES = ["redis://127.0.0.1:1"]  # never connected: construction does not connect


def health_printer(**kwargs):
    """A valid on_health_change target for the tests."""


def test_defaults():
    config = parse_config({})
    assert config.nodes == ()
    assert (config.prefix, config.strategy, config.redundancy) == ("realtime", "hash", 1)
    assert (config.health_check_interval, config.health_check_timeout) == (1.0, 0.5)
    assert (config.capacity, config.expiry, config.compression) == (100, 60.0, None)
    assert config.compression_threshold == 1024
    assert config.auto_unsubscribe is True and config.preset_namespaces == frozenset()
    assert config.on_health_change is None
    assert (config.signing, config.signing_max_age, config.signing_clock_skew) == (True, 60.0, 1.0)
    assert config.signing_keys == ()  # no nodes: nothing leaves the process, no key needed
    assert set(DEFAULTS) == {
        "nodes", "prefix", "strategy", "health_check_interval", "health_check_timeout",
        "preset_namespaces", "auto_unsubscribe", "redundancy", "compression",
        "compression_threshold", "capacity", "channel_capacity", "expiry", "on_health_change",
        "signing", "signing_keys", "signing_max_age", "signing_clock_skew",
    }  # fmt: skip


def test_urls_with_password_db_and_tls():
    node = parse_node("redis://:s3cr%40t@10.0.0.5:6380/2")
    assert (node.host, node.port, node.db, node.password, node.tls) == (
        "10.0.0.5", 6380, 2, "s3cr@t", False,
    )  # fmt: skip
    assert node.key == "redis://10.0.0.5:6380/2"
    assert "s3cr" not in repr(node)
    secure = parse_node("rediss://user:pw@cache.example:6390?ssl_cert_reqs=none")
    assert (secure.username, secure.password, secure.tls, secure.db) == ("user", "pw", True, 0)
    assert secure.key == "rediss://cache.example:6390/0"
    context = secure.ssl_context()
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    assert parse_node("redis://localhost").ssl_context() is None
    assert parse_node("redis://[::1]:7000").key == "redis://[::1]:7000/0"


def test_dict_nodes():
    node = parse_node({"host": "r1", "port": 7001, "db": 3, "password": "x", "ssl": True})
    assert node.key == "rediss://r1:7001/3" and node.password == "x"


def test_sentinel_urls_and_dicts():
    url = "redis+sentinel://u:p%40ss@s1:26379,[::1]:26380/mymaster/2?sentinel_password=sp"
    node = parse_node(url)
    assert (node.kind, node.service_name, node.db, node.tls) == ("sentinel", "mymaster", 2, False)
    assert node.seeds == (("s1", 26379), ("::1", 26380))
    assert (node.host, node.port) == ("s1", 26379)
    assert (node.username, node.password, node.sentinel_password) == ("u", "p@ss", "sp")
    assert node.key == "redis+sentinel://s1:26379,[::1]:26380/mymaster/2"
    assert "p@ss" not in repr(node) and "'sp'" not in repr(node)
    assert parse_node("redis+sentinel://s1:1/m?db=3").db == 3
    secure = parse_node("rediss+sentinel://s1:1/m?ssl_cert_reqs=none&sentinel_username=su")
    assert secure.key == "rediss+sentinel://s1:1/m/0" and secure.tls
    assert secure.sentinel_username == "su"
    # Discovered primaries use the Redis credentials; sentinels their own.
    primary = node.at("10.0.0.7", 6380)
    assert (primary.key, primary.password, primary.db) == ("redis://10.0.0.7:6380/2", "p@ss", 2)
    sentinel = node.sentinel("s1", 26379)
    assert (sentinel.password, sentinel.username, sentinel.db) == ("sp", None, 0)
    from_dict = parse_node(
        {"kind": "sentinel", "seeds": ["s1:26379", "[::1]:26380"], "service_name": "mymaster",
         "db": 2, "username": "u", "password": "p@ss", "sentinel_password": "sp"}
    )  # fmt: skip
    assert from_dict == node


def test_cluster_urls_and_dicts():
    node = parse_node("rediss+cluster://:pw@c1:7000,c2:7001?ssl_cert_reqs=optional")
    assert (node.kind, node.seeds, node.tls, node.password) == (
        "cluster", (("c1", 7000), ("c2", 7001)), True, "pw",
    )  # fmt: skip
    assert node.key == "rediss+cluster://c1:7000,c2:7001"
    assert node.ssl_context().verify_mode == ssl.CERT_OPTIONAL
    assert parse_node("redis+cluster://c1:7000/0").key == "redis+cluster://c1:7000"
    assert parse_node({"kind": "cluster", "seeds": ["c1:7000"]}).key == "redis+cluster://c1:7000"
    shard = node.at("10.1.1.1", 7005)
    assert (shard.kind, shard.key, shard.password) == (
        "standalone",
        "rediss://10.1.1.1:7005/0",
        "pw",
    )


def test_tls_options_in_urls_and_dicts():
    url = "rediss://u:p@r1:6380/0?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem"
    options = {"ssl_ca_certs": "/ca.pem", "ssl_certfile": "/c.pem", "ssl_keyfile": "/k.pem"}
    from_dict = parse_node({"host": "r1", "port": 6380, "ssl": True, "username": "u", **options})
    for node in (parse_node(url), from_dict):
        assert (node.ssl_ca_certs, node.ssl_certfile, node.ssl_keyfile) == tuple(options.values())
        assert node.ssl_cert_reqs == "required" and node.key == "rediss://r1:6380/0"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"nodes": "redis://a"}, "CONFIG['nodes'] must be a list of redis://, rediss://, redis+"),
        ({"nodes": ["http://a"]}, "CONFIG['nodes'] must be a list of redis://"),
        ({"nodes": ["redis+sentinel://s1:26379"]}, "URLs with a service name"),
        ({"nodes": ["redis+sentinel://s1:26379/a/b/c"]}, "URLs with a service name"),
        ({"nodes": ["redis+sentinel://s1:26379/m?db=x"]}, "URLs with a service name"),
        ({"nodes": ["redis+sentinel://s1/m"]}, "seed lists of host:port separated by commas"),
        ({"nodes": ["redis+cluster://c1:7000,c2"]}, "seed lists of host:port separated by"),
        ({"nodes": ["redis+cluster://c1:7000,"]}, "seed lists of host:port separated by"),
        ({"nodes": ["redis+cluster://c1:7000/3"]}, "URLs without a path (Cluster has db 0"),
        ({"nodes": ["redis+cluster://c1:7000?db=1"]}, "cluster URLs whose only query options"),
        (
            {"nodes": ["redis+sentinel://:pw@s1:1/m?sentinel_password=spw&x=1"]},
            "not 'redis+sentinel://:***@s1:1/m?sentinel_password=***&x=1'",
        ),
        ({"nodes": [{"kind": "cluster", "seeds": "c1:7000"}]}, "sentinel or cluster dicts"),
        ({"nodes": [{"kind": "sentinel", "seeds": ["s:1"]}]}, "a 'service_name' for sentinel"),
        (
            {"nodes": [{"kind": "cluster", "seeds": ["c:1"], "sentinel_password": "x"}]},
            "'sentinel_password': '***'",
        ),
        (
            {"nodes": ["redis+cluster://c1:1,c2:2", "redis+cluster://c1:1,c2:2/0"]},
            "without duplicate addresses",
        ),
        ({"nodes": ["redis://:pw@a/x"]}, "not 'redis://:***@a/x'"),
        ({"nodes": ["redis://a:99999"]}, "CONFIG['nodes']"),
        ({"nodes": ["redis://a?timeout=3"]}, "only query options are ssl_cert_reqs"),
        ({"nodes": ["rediss://a?ssl_cert_reqs=maybe"]}, "ssl_cert_reqs one of none/optional"),
        ({"nodes": ["rediss://a?ssl_keyfile=/k.pem"]}, "an ssl_certfile when they have an ssl_k"),
        ({"nodes": [{"host": "a", "ssl_ca_certs": 1}]}, "whose ssl_ca_certs is the path of a f"),
        ({"nodes": [{"host": "a", "port": 0, "password": "pw"}]}, "'password': '***'"),
        ({"nodes": [{"port": 1}]}, "node dicts with a 'host'"),
        ({"nodes": [{"host": "a", "port": "1"}]}, "integer port"),
        ({"nodes": ["redis://a", "redis://a:6379/0"]}, "without duplicate addresses"),
        ({"prefix": ""}, "CONFIG['prefix']"),
        ({"prefix": "has space"}, "CONFIG['prefix']"),
        ({"strategy": "fastes"}, "CONFIG['strategy'] must be one of hash, round-robin"),
        ({"health_check_interval": 0}, "CONFIG['health_check_interval'] must be a number"),
        ({"health_check_timeout": "1"}, "CONFIG['health_check_timeout']"),
        ({"expiry": -1}, "CONFIG['expiry']"),
        ({"preset_namespaces": "chat"}, "CONFIG['preset_namespaces']"),
        ({"preset_namespaces": ["a.b"]}, "CONFIG['preset_namespaces']"),
        ({"auto_unsubscribe": 1}, "CONFIG['auto_unsubscribe'] must be True or False"),
        ({"redundancy": 2}, "CONFIG['redundancy'] must be an integer from 1 to the number"),
        ({"nodes": ["redis://a"], "redundancy": 0}, "CONFIG['redundancy']"),
        ({"compression": "gzip"}, "CONFIG['compression'] must be None, 'zlib' or 'zstd'"),
        ({"compression_threshold": 0}, "CONFIG['compression_threshold']"),
        ({"capacity": 1.5}, "CONFIG['capacity'] must be a positive integer"),
        ({"channel_capacity": {"x*": 0}}, "CONFIG['channel_capacity']"),
        ({"on_health_change": "nodots"}, "CONFIG['on_health_change']"),
        ({"on_health_change": "no.such.module"}, "CONFIG['on_health_change'] 'no.such"),
        ({"on_health_change": "realtime.layers.config.DEFAULTS"}, "CONFIG['on_health_change']"),
        ({"hosts": ["redis://a"]}, "Unknown MultiRedisChannelLayer CONFIG key 'hosts'"),
        ({"signing": "yes"}, "CONFIG['signing'] must be True or False"),
        ({"signing_max_age": 0}, "CONFIG['signing_max_age'] must be None or a number of seconds"),
        ({"signing_keys": "k" * 40}, "CONFIG['signing_keys'] must be a non-empty list of secrets"),
        ({"signing_keys": []}, "CONFIG['signing_keys'] must be a non-empty list of secrets"),
        (
            {"signing_keys": ["k" * 40, "short-secret"]},
            "CONFIG['signing_keys'][1] must be a secret (str or bytes) of at least 32 characters, "
            "not a str of 12 characters",
        ),
        ({"signing_keys": ["k" * 40, 7]}, "CONFIG['signing_keys'][1] must be a secret"),
        (
            {"signing": False, "signing_keys": ["k" * 40]},
            "CONFIG['signing_keys'] is set but CONFIG['signing'] is False",
        ),
    ],
)
def test_invalid_values_raise_at_construction_naming_the_key(config, message):
    with pytest.raises(ImproperlyConfigured) as error:
        MultiRedisChannelLayer(**config)
    assert message in str(error.value)


def test_on_health_change_is_imported():
    config = parse_config({"on_health_change": f"{__name__}.health_printer"})
    assert config.on_health_change is health_printer


def test_settings_use_the_layer_in_process_without_nodes():
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert isinstance(layer, MultiRedisChannelLayer)
    assert layer.is_process_local and layer.config.nodes == ()


def test_bus_keys_are_derived_from_secret_key_and_its_fallbacks(settings):
    settings.SECRET_KEY = "current-" + "x" * 50
    settings.SECRET_KEY_FALLBACKS = ["previous-" + "y" * 50]
    layer = MultiRedisChannelLayer(nodes=NODES)
    expected = (derive_key(settings.SECRET_KEY), derive_key(settings.SECRET_KEY_FALLBACKS[0]))
    assert layer.config.signing_keys == expected
    assert layer.config.signing_key_source == "SECRET_KEY"
    shown = repr(layer.config)
    assert "current-" not in shown and "previous-" not in shown
    assert "signing_keys" not in shown and expected[0].hex() not in shown


def test_dedicated_signing_keys_replace_secret_key(settings):
    keys = ["a" * 32, b"b" * 40]
    layer = MultiRedisChannelLayer(nodes=NODES, signing_keys=keys)
    assert layer.config.signing_keys == (derive_key("a" * 32), derive_key(b"b" * 40))
    assert derive_key(settings.SECRET_KEY) not in layer.config.signing_keys
    assert layer.config.signing_key_source == "CONFIG['signing_keys']"


def test_a_bad_dedicated_key_is_never_shown():
    with pytest.raises(ImproperlyConfigured) as error:
        MultiRedisChannelLayer(signing_keys=["almost-a-secret"])
    assert "almost-a-secret" not in str(error.value)


def test_signing_needs_a_secret_key_only_when_messages_leave_the_process(settings):
    settings.SECRET_KEY = ""
    assert MultiRedisChannelLayer().config.signing_keys == ()  # zero nodes: no key needed
    with pytest.raises(ImproperlyConfigured) as error:
        MultiRedisChannelLayer(nodes=NODES)
    message = str(error.value)
    assert "signs messages with a key derived from SECRET_KEY" in message
    assert "CONFIG['signing_keys']" in message and "CONFIG['signing'] to False" in message
    unsigned = MultiRedisChannelLayer(nodes=NODES, signing=False)
    assert (unsigned.config.signing, unsigned.config.signing_keys) == (False, ())


@pytest.mark.parametrize(
    ("fallbacks", "message"),
    [
        ("old-key", "SECRET_KEY_FALLBACKS, which must be a list (got a str)"),
        (["old-key", ""], "SECRET_KEY_FALLBACKS[1] must be a non-empty string (got a str)"),
        ([None], "SECRET_KEY_FALLBACKS[0] must be a non-empty string (got a NoneType)"),
    ],
)
def test_bad_secret_key_fallbacks_are_named(settings, fallbacks, message):
    settings.SECRET_KEY_FALLBACKS = fallbacks
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        MultiRedisChannelLayer(nodes=NODES)
