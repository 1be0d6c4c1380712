"""System checks (``manage.py check``): ids ``realtime.E0xx`` (broken) and ``W0xx`` (risky).

Each message names the setting and each has a hint on how to fix it.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .conf import DEFAULTS, validation_errors
from .connection.auth import load_authenticator
from .layers.extensions import missing_members

SETTINGS_HINT = "See the settings reference: docs/reference/settings.md."


def _realtime_value(key: str) -> Any:
    user = getattr(settings, "REALTIME", {})
    return user.get(key, DEFAULTS[key]) if isinstance(user, dict) else DEFAULTS[key]


def _layer_config() -> tuple[str | None, dict[str, Any] | None]:
    alias = _realtime_value("CHANNEL_LAYER")
    layers = getattr(settings, "CHANNEL_LAYERS", {}) or {}
    return alias, layers.get(alias)


def _layer_is_process_local(config: dict[str, Any]) -> bool:
    backend = config.get("BACKEND", "")
    if backend == "channels.layers.InMemoryChannelLayer":
        return True
    try:
        layer_class = import_string(backend)
    except ImportError:
        return False
    is_local = getattr(layer_class, "is_configured_process_local", None)
    return bool(is_local and is_local(config.get("CONFIG", {})))


@register(Tags.compatibility)
def check_realtime_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """realtime.E001: the ``REALTIME`` dict has unknown keys or invalid values."""
    return [
        Error(message, hint=SETTINGS_HINT, id="realtime.E001")
        for message in validation_errors(getattr(settings, "REALTIME", {}))
    ]


@register(Tags.compatibility)
def check_channel_layer(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """realtime.E002: the layer alias is missing; E003: a process-local layer with several
    workers; W001: a cluster without an explicit server name."""
    if validation_errors(getattr(settings, "REALTIME", {})):
        return []
    alias, config = _layer_config()
    if config is None:
        return [
            Error(
                f"REALTIME['CHANNEL_LAYER'] is {alias!r} but CHANNEL_LAYERS has no such alias.",
                hint="Add it to CHANNEL_LAYERS or point CHANNEL_LAYER at an existing alias.",
                id="realtime.E002",
            )
        ]
    messages: list[CheckMessage] = []
    workers = os.environ.get("WEB_CONCURRENCY", "1")
    if _layer_is_process_local(config):
        if workers.isdigit() and int(workers) > 1:
            messages.append(
                Error(
                    f"The channel layer {alias!r} stays inside one process, but "
                    f"WEB_CONCURRENCY={workers} starts several workers: each would be an island "
                    f"whose clients never see the others' messages.",
                    hint="Configure Redis nodes (REALTIME_REDIS_NODES) or run one worker.",
                    id="realtime.E003",
                )
            )
    elif not _realtime_value("SERVER_NAME"):
        messages.append(
            Warning(
                "Redis nodes are configured but REALTIME['SERVER_NAME'] is not set, so this node "
                "is named <hostname>-<pid>, which changes on every restart.",
                hint="Give every server node a stable, unique name (REALTIME_SERVER_NAME).",
                id="realtime.W001",
            )
        )
    return messages


@register(Tags.compatibility)
def check_heartbeat(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """realtime.W002: a heartbeat string that default clients do not send."""
    heartbeat = _realtime_value("HEARTBEAT_MESSAGE")
    if not isinstance(heartbeat, str) or heartbeat == "":
        return []
    return [
        Warning(
            f"REALTIME['HEARTBEAT_MESSAGE'] is {heartbeat!r}: clients must send exactly this "
            f"string, but the original WebSocketConnector and our clients send '' by default. "
            f"Clients left at the default get no echo and close with 4002 every ping interval.",
            hint="Keep the default '' or configure every client's pingMsg / ping_msg to match.",
            id="realtime.W002",
        )
    ]


@register(Tags.compatibility)
def check_authenticate_hook(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """realtime.E004: ``REALTIME["AUTHENTICATE"]`` does not name an async function."""
    user_settings = getattr(settings, "REALTIME", {})
    path = user_settings.get("AUTHENTICATE") if isinstance(user_settings, dict) else None
    if not isinstance(path, str):
        return []
    try:
        load_authenticator(path)
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="Point it at `async def authenticate(scope, params)` returning a user id "
                "or None; see docs/topics/security.md.",
                id="realtime.E004",
            )
        ]
    return []


def _our_layer(config: dict[str, Any]) -> bool:
    return config.get("BACKEND") == "realtime.layers.MultiRedisChannelLayer"


@register(Tags.compatibility)
def check_layer_config(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """realtime.E005: the Redis layer's CONFIG is invalid (bad or duplicate URLs, unknown
    strategy, ...); E006: its compression codec is not installed; E008: its bus is signed
    with a development key; W003: the node channel has Channels' default capacity."""
    if validation_errors(getattr(settings, "REALTIME", {})):
        return []
    alias, config = _layer_config()
    if config is None or not _our_layer(config):
        return []
    from django.core.exceptions import ImproperlyConfigured

    from .layers.config import parse_config

    options = config.get("CONFIG", {})
    try:
        parsed = parse_config(options)
    except ImproperlyConfigured as exc:
        return [
            Error(
                f"CHANNEL_LAYERS[{alias!r}]: {exc}",
                hint="Fix the layer's CONFIG; docs/reference/settings.md lists every key.",
                id="realtime.E005",
            )
        ]
    messages: list[CheckMessage] = _insecure_bus_key(alias, parsed)
    if parsed.compression == "zstd":
        try:
            import zstandard  # noqa: F401
        except ImportError:
            messages.append(
                Error(
                    f"CHANNEL_LAYERS[{alias!r}] compresses with 'zstd' but the zstandard package "
                    f"is not installed.",
                    hint="pip install zstandard, or use compression 'zlib'.",
                    id="realtime.E006",
                )
            )
    if parsed.nodes and not any(
        fnmatch.fnmatchcase("realtime-node.x!y", pattern) for pattern in parsed.channel_capacity
    ):
        messages.append(
            Warning(
                f"CHANNEL_LAYERS[{alias!r}] gives the hub's node channel the default capacity "
                f"({parsed.capacity}): a burst of messages from other nodes is dropped.",
                hint='Add "channel_capacity": {"realtime-node*": 100_000} to its CONFIG.',
                id="realtime.W003",
            )
        )
    return messages


@register(Tags.compatibility)
def check_layer_extensions(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """realtime.E007: the node layer declares extensions it does not have (checked once
    here, not found at the first call)."""
    alias, config = _layer_config()
    if config is None or validation_errors(getattr(settings, "REALTIME", {})):
        return []
    try:
        layer_class = import_string(config.get("BACKEND", ""))
    except ImportError:
        return []  # Channels' own check reports an unknown backend
    missing = missing_members(layer_class)
    if not missing:
        return []
    return [
        Error(
            f"CHANNEL_LAYERS[{alias!r}] backend {layer_class.__name__} declares extensions it "
            f"lacks: {', '.join(missing)}.",
            hint="Remove those names from its `extensions` list or implement them "
            "(realtime/layers/extensions.py says what each one promises).",
            id="realtime.E007",
        )
    ]


#: The prefix of Django's generated development keys (and of the demo's fallback key).
INSECURE_KEY_PREFIX = "django-insecure-"


def _public_keys(parsed: Any) -> list[str]:
    """Names of the secrets the bus keys derive from that anyone can know."""
    if parsed.signing_key_source == "SECRET_KEY":
        named = [("SECRET_KEY", getattr(settings, "SECRET_KEY", ""))]
        fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", [])
        named += [(f"SECRET_KEY_FALLBACKS[{i}]", key) for i, key in enumerate(fallbacks)]
    else:
        keys = getattr(settings, "CHANNEL_LAYERS", {})[_layer_config()[0]]["CONFIG"]
        named = [(f"CONFIG['signing_keys'][{i}]", k) for i, k in enumerate(keys["signing_keys"])]
    prefix = INSECURE_KEY_PREFIX
    return [
        name
        for name, key in named
        if (key.decode(errors="replace") if isinstance(key, bytes) else str(key)).startswith(prefix)
    ]


def _insecure_bus_key(alias: str | None, parsed: Any) -> list[CheckMessage]:
    """realtime.E008: the bus between servers is signed with a key anyone can derive."""
    if not (parsed.nodes and parsed.signing):
        return []
    public = _public_keys(parsed)
    if not public:
        return []
    return [
        Error(
            f"CHANNEL_LAYERS[{alias!r}] signs the messages between servers with keys derived "
            f"from {', '.join(public)}, a development key ('{INSECURE_KEY_PREFIX}...', such as "
            "the demo's fallback): anyone who can reach Redis can derive it and publish "
            "messages every server trusts (broadcasts, kicks, Redis node changes).",
            hint="Set a secret SECRET_KEY (DJANGO_SECRET_KEY in the demo), or give the layer "
            "CONFIG['signing_keys'], or set CONFIG['signing'] to False explicitly if only your "
            "servers can reach Redis.",
            id="realtime.E008",
        )
    ]


def startup_errors() -> list[CheckMessage]:
    """The errors of this app's checks that are not in ``SILENCED_SYSTEM_CHECKS``: what a
    server must not start with (daphne runs no system checks by itself)."""
    silenced = set(getattr(settings, "SILENCED_SYSTEM_CHECKS", ()))
    found: list[CheckMessage] = []
    for check in (
        check_realtime_settings,
        check_channel_layer,
        check_authenticate_hook,
        check_layer_config,
        check_layer_extensions,
    ):
        found += [m for m in check() if m.is_serious() and m.id not in silenced]
    return found


def refuse_to_serve_with_errors() -> None:
    """Raise ``ImproperlyConfigured`` naming every :func:`startup_errors` message."""
    errors = startup_errors()
    if errors:
        lines = [f"{m.id}: {m.msg}" + (f" HINT: {m.hint}" if m.hint else "") for m in errors]
        raise ImproperlyConfigured(
            "realtime: the server cannot start with these errors of `manage.py check`:\n"
            + "\n".join(lines)
        )


@register(Tags.compatibility)
def check_recovery(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """realtime.W004: recovery is on but the layer can keep no history across nodes."""
    if validation_errors(getattr(settings, "REALTIME", {})) or not _realtime_value("RECOVERY"):
        return []
    alias, config = _layer_config()
    if config is None or _our_layer(config) or _layer_is_process_local(config):
        return []
    return [
        Warning(
            f"REALTIME['RECOVERY'] is on but CHANNEL_LAYERS[{alias!r}] is not "
            f"realtime.layers.MultiRedisChannelLayer: there is nowhere to keep history and "
            f"sessions, so clients are never recovered.",
            hint="Use realtime.layers.MultiRedisChannelLayer, or set REALTIME['RECOVERY'] to "
            "False.",
            id="realtime.W004",
        )
    ]
