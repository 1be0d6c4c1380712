"""The layer's ``CONFIG``: parsed and validated once, at construction.

Every problem raises :class:`~django.core.exceptions.ImproperlyConfigured` with a message
that names the key, so a typo fails at start-up instead of under traffic.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from ..validators import is_int, is_number
from .addresses import EXPECTED, NodeConfig, parse_node
from .addresses import config_error as _error
from .signing import derive_key
from .strategies import STRATEGIES

COMPRESSIONS = (None, "zlib", "zstd")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_-]{1,99}$")
_PREFIX = re.compile(r"^[\x21-\x7e]{1,64}$")
_TLS_OPTIONS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
_NODE_KEYS = {"host", "port", "db", "username", "password", "ssl", *_TLS_OPTIONS}
_SSL_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}

DEFAULTS: dict[str, Any] = {
    "nodes": [],
    "prefix": "realtime",
    "strategy": "hash",
    "health_check_interval": 1.0,
    "health_check_timeout": 0.5,
    "preset_namespaces": [],
    "auto_unsubscribe": True,
    "redundancy": 1,
    "compression": None,
    "compression_threshold": 1024,
    "capacity": 100,
    "channel_capacity": {},
    "expiry": 60,
    "on_health_change": None,
    "signing": True,
    "signing_keys": None,
    "signing_max_age": 60.0,
    # Seconds the servers' clocks may differ: a message signed longer than this before a
    # process started listening is a replay (of a capture made before a restart).
    "signing_clock_skew": 1.0,
}
MIN_SIGNING_KEY_LENGTH = 32


__all__ = ["DEFAULTS", "LayerConfig", "NodeConfig", "parse_config", "parse_node"]


@dataclass(frozen=True)
class LayerConfig:
    """The validated ``CONFIG`` of one layer."""

    nodes: tuple[NodeConfig, ...]
    prefix: str
    strategy: str
    health_check_interval: float
    health_check_timeout: float
    preset_namespaces: frozenset[str]
    auto_unsubscribe: bool
    redundancy: int
    compression: str | None
    compression_threshold: int
    capacity: int
    channel_capacity: dict[str, int]
    expiry: float
    on_health_change: Callable[..., Any] | None
    signing: bool = True
    #: Derived bus keys, the signing one first (empty without nodes or with signing off).
    signing_keys: tuple[bytes, ...] = field(default=(), repr=False)
    #: Where the keys come from, for messages: "SECRET_KEY" or "CONFIG['signing_keys']".
    signing_key_source: str = "SECRET_KEY"
    signing_max_age: float | None = 60.0
    signing_clock_skew: float = 1.0


def parse_config(options: Mapping[str, Any]) -> LayerConfig:
    """Validate ``CONFIG`` (unknown keys are errors) and fill in the defaults."""
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ImproperlyConfigured(
            f"Unknown MultiRedisChannelLayer CONFIG key {unknown[0]!r}; "
            f"known keys: {', '.join(sorted(DEFAULTS))}."
        )
    values = {**DEFAULTS, **options}
    parsed = _parse_nodes(values["nodes"])
    _check_scalars(values, len(parsed))
    presets = values["preset_namespaces"]
    return LayerConfig(
        nodes=parsed,
        prefix=values["prefix"],
        strategy=values["strategy"],
        health_check_interval=float(values["health_check_interval"]),
        health_check_timeout=float(values["health_check_timeout"]),
        preset_namespaces=frozenset(presets),
        auto_unsubscribe=values["auto_unsubscribe"],
        redundancy=values["redundancy"],
        compression=values["compression"],
        compression_threshold=values["compression_threshold"],
        capacity=values["capacity"],
        channel_capacity=dict(values["channel_capacity"]),
        expiry=float(values["expiry"]),
        on_health_change=_import_callback(values["on_health_change"]),
        **_parse_signing(values, bool(parsed)),
    )


def _parse_nodes(nodes: Any) -> tuple[NodeConfig, ...]:
    if isinstance(nodes, str) or not isinstance(nodes, list | tuple):
        raise _error("nodes", EXPECTED, nodes)
    parsed = tuple(parse_node(node) for node in nodes)
    keys = [node.key for node in parsed]
    if len(set(keys)) != len(keys):
        raise _error("nodes", "a list without duplicate addresses", keys)
    return parsed


def _check_scalars(values: Mapping[str, Any], node_count: int) -> None:
    _check(values, "prefix", lambda v: isinstance(v, str) and _PREFIX.match(v), "1-64 ASCII chars")
    _check(values, "strategy", lambda v: v in STRATEGIES, f"one of {', '.join(STRATEGIES)}")
    for key in ("health_check_interval", "health_check_timeout", "expiry"):
        _check(values, key, lambda v: is_number(v) and v > 0, "a number of seconds > 0")
    _check(
        values,
        "preset_namespaces",
        lambda v: (
            isinstance(v, list | tuple | set | frozenset)
            and all(isinstance(n, str) and _NAMESPACE.match(n) for n in v)
        ),
        "a list of group namespaces (letters, digits, '-' and '_')",
    )
    _check(values, "auto_unsubscribe", lambda v: isinstance(v, bool), "True or False")
    _check(
        values,
        "redundancy",
        lambda v: is_int(v) and 1 <= v <= max(1, node_count),
        f"an integer from 1 to the number of nodes ({max(1, node_count)})",
    )
    _check(values, "compression", lambda v: v in COMPRESSIONS, "None, 'zlib' or 'zstd'")
    for key in ("compression_threshold", "capacity"):
        _check(values, key, lambda v: is_int(v) and v > 0, "a positive integer")
    _check(
        values,
        "channel_capacity",
        lambda v: isinstance(v, Mapping) and all(is_int(c) and c > 0 for c in v.values()),
        "a dict of channel name pattern -> positive integer",
    )


def _check(values: Mapping[str, Any], key: str, valid: Callable[[Any], Any], expected: str) -> None:
    if not valid(values[key]):
        raise _error(key, expected, values[key])


def _import_callback(path: Any) -> Callable[..., Any] | None:
    if path is None:
        return None
    expected = "None or the dotted path of a callable"
    if not isinstance(path, str) or "." not in path:
        raise _error("on_health_change", expected, path)
    try:
        callback = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"MultiRedisChannelLayer CONFIG['on_health_change'] {path!r} cannot be imported: "
            f"{error}"
        ) from error
    if not callable(callback):
        raise _error("on_health_change", expected, path)
    return callback


def _parse_signing(values: Mapping[str, Any], has_nodes: bool) -> dict[str, Any]:
    """``signing``, ``signing_keys``, ``signing_max_age`` and ``signing_clock_skew``; the
    keys are derived only when messages will leave the process (at least one node), never
    shown in messages."""
    _check(values, "signing", lambda v: isinstance(v, bool), "True or False")
    _check(
        values,
        "signing_max_age",
        lambda v: v is None or (is_number(v) and v > 0),
        "None or a number of seconds > 0",
    )
    signing, dedicated = values["signing"], values["signing_keys"]
    if dedicated is not None:
        _check_dedicated_keys(dedicated)
        if not signing:
            raise ImproperlyConfigured(
                "MultiRedisChannelLayer CONFIG['signing_keys'] is set but CONFIG['signing'] "
                "is False: remove one of them."
            )
    _check(
        values,
        "signing_clock_skew",
        lambda v: is_number(v) and v >= 0,
        "a number of seconds >= 0",
    )
    max_age = values["signing_max_age"]
    parsed: dict[str, Any] = {
        "signing": signing,
        "signing_clock_skew": float(values["signing_clock_skew"]),
        "signing_max_age": None if max_age is None else float(max_age),
        "signing_key_source": "SECRET_KEY" if dedicated is None else "CONFIG['signing_keys']",
    }
    if signing and has_nodes:
        secrets = list(dedicated) if dedicated is not None else _django_secrets()
        parsed["signing_keys"] = tuple(derive_key(secret) for secret in secrets)
    return parsed


def _check_dedicated_keys(keys: Any) -> None:
    expected = (
        f"a non-empty list of secrets (str or bytes) of at least {MIN_SIGNING_KEY_LENGTH} "
        "characters, the signing key first"
    )
    if not isinstance(keys, list | tuple) or not keys:
        kind = type(keys).__name__
        raise ImproperlyConfigured(
            f"MultiRedisChannelLayer CONFIG['signing_keys'] must be {expected} (got a {kind})."
        )
    for index, key in enumerate(keys):
        if not isinstance(key, str | bytes) or len(key) < MIN_SIGNING_KEY_LENGTH:
            # Never echo the value: it is (meant to be) a secret.
            size = f" of {len(key)} characters" if isinstance(key, str | bytes) else ""
            raise ImproperlyConfigured(
                f"MultiRedisChannelLayer CONFIG['signing_keys'][{index}] must be a secret "
                f"(str or bytes) of at least {MIN_SIGNING_KEY_LENGTH} characters, not a "
                f"{type(key).__name__}{size}; e.g. secrets.token_urlsafe(32)."
            )


def _django_secrets() -> list[str | bytes]:
    """``SECRET_KEY`` then ``SECRET_KEY_FALLBACKS``, checked."""
    from django.conf import settings

    hint = "or give CONFIG['signing_keys'], or set CONFIG['signing'] to False"
    try:
        secret = settings.SECRET_KEY
    except ImproperlyConfigured as error:
        raise ImproperlyConfigured(
            f"MultiRedisChannelLayer signs messages with a key derived from SECRET_KEY: "
            f"{error} Set SECRET_KEY, {hint}."
        ) from None
    fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", [])
    if not isinstance(fallbacks, list | tuple):
        raise ImproperlyConfigured(
            "MultiRedisChannelLayer verifies messages with keys derived from "
            f"SECRET_KEY_FALLBACKS, which must be a list (got a {type(fallbacks).__name__})."
        )
    for index, fallback in enumerate(fallbacks):
        if not isinstance(fallback, str | bytes) or not fallback:
            raise ImproperlyConfigured(
                "MultiRedisChannelLayer verifies messages with keys derived from "
                f"SECRET_KEY_FALLBACKS: SECRET_KEY_FALLBACKS[{index}] must be a non-empty "
                f"string (got a {type(fallback).__name__})."
            )
    return [secret, *fallbacks]
