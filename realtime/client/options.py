"""The client's options: section 6 of docs/reference/protocol.md in snake_case, durations
in seconds (floats).

The JavaScript client counts milliseconds (``pingInterval: 10000``); this client counts
seconds (``ping_interval=10.0``). Event payloads that carry durations (``pong`` latency,
``reconnect`` timeout) stay in milliseconds, as the JavaScript client reports them.
"""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

# Close codes after which the client never reconnects: manual close, forced logout,
# authentication failure, kicked (docs/reference/protocol.md section 5).
DEFAULT_NO_RECONNECT_CODES: Final = frozenset({4001, 4010, 4011, 4012})

ParamValue = str | int | float | bool


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive(value: Any) -> bool:
    return _is_number(value) and value > 0


def _non_negative(value: Any) -> bool:
    return _is_number(value) and value >= 0


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _param_value(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(isinstance(item, ParamValue) for item in value)
    return isinstance(value, ParamValue)


_CHECKS: Final[dict[str, tuple[Any, str]]] = {
    "ping_interval": (_positive, "seconds > 0"),
    "pong_timeout": (_positive, "seconds > 0"),
    "ping_msg": (lambda v: isinstance(v, str), "a string"),
    "callback_timeout": (_positive, "seconds > 0"),
    "pending_timeout": (_non_negative, "seconds >= 0"),
    "fast_reconnect_threshold": (_non_negative_int, "an integer >= 0"),
    "fast_reconnect_interval": (_positive, "seconds > 0"),
    "reconnect_max_interval": (_positive, "seconds > 0"),
    "repeat_limit": (lambda v: v is None or _non_negative_int(v), "None or an integer >= 0"),
    "connect_timeout": (lambda v: v is None or _positive(v), "None or seconds > 0"),
    "open_timeout": (_positive, "seconds > 0"),
    "close_timeout": (_positive, "seconds > 0"),
    "origin": (lambda v: v is None or isinstance(v, str), "None or a string"),
    "max_frame_bytes": (
        lambda v: v is None or (_non_negative_int(v) and v > 0),
        "None or a positive integer",
    ),
    "ssl": (
        lambda v: v is None or isinstance(v, ssl_module.SSLContext),
        "None or an ssl.SSLContext",
    ),
    "recovery": (lambda v: isinstance(v, bool), "True or False"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientOptions:
    """Validated options of a :class:`~realtime.client.RealtimeClient`.

    Durations are seconds. Invalid values raise ``ValueError`` naming every problem. Every
    option is described in docs/reference/python-client.md.
    """

    url: str
    custom_params: Mapping[str, Any] = field(default_factory=dict)
    ping_interval: float = 10.0
    pong_timeout: float = 2.0
    ping_msg: str = ""
    callback_timeout: float = 5.0
    pending_timeout: float = 0.1
    fast_reconnect_threshold: int = 3
    fast_reconnect_interval: float = 3.0
    reconnect_max_interval: float = 120.0
    repeat_limit: int | None = None
    no_reconnect_codes: Iterable[int] = DEFAULT_NO_RECONNECT_CODES
    connect_timeout: float | None = None
    open_timeout: float = 10.0
    close_timeout: float = 2.0
    origin: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    max_frame_bytes: int | None = 16 * 1024 * 1024
    ssl: ssl_module.SSLContext | None = None
    recovery: bool = True

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError("Invalid realtime client options: " + " ".join(problems))
        # Private copies: later changes to the caller's objects do not leak in.
        object.__setattr__(self, "custom_params", dict(self.custom_params))
        object.__setattr__(self, "headers", dict(self.headers))
        object.__setattr__(self, "no_reconnect_codes", frozenset(self.no_reconnect_codes))

    def connection_url(self, extra: Mapping[str, Any] | None = None) -> str:
        """``url`` with ``custom_params`` (and ``extra``) appended to its query string."""
        query = encode_params({**self.custom_params, **(extra or {})})
        if not query:
            return self.url
        if "?" not in self.url:
            return f"{self.url}?{query}"
        separator = "" if self.url.endswith(("?", "&")) else "&"
        return f"{self.url}{separator}{query}"


def _url_problems(url: Any) -> list[str]:
    if not isinstance(url, str):
        return [f"url must be a string, not {url!r}."]
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return [f"url must be a ws:// or wss:// URL with a host, not {url!r}."]
    return []


def _mapping_problems(options: ClientOptions) -> list[str]:
    problems = []
    params = options.custom_params
    if not isinstance(params, Mapping):
        problems.append(f"custom_params must be a mapping, not {params!r}.")
    else:
        for key, value in params.items():
            if not isinstance(key, str) or not _param_value(value):
                problems.append(
                    f"custom_params[{key!r}] must have a string key and a str, int, float, "
                    f"bool value or a list of them, not {value!r}."
                )
    headers = options.headers
    if not isinstance(headers, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in headers.items()
    ):
        problems.append(f"headers must map strings to strings, not {headers!r}.")
    return problems


def _codes_problems(codes: Any) -> list[str]:
    try:
        valid = all(
            isinstance(code, int) and not isinstance(code, bool) and 1000 <= code <= 4999
            for code in codes
        )
    except TypeError:
        valid = False
    if isinstance(codes, str | bytes) or not valid:
        return [f"no_reconnect_codes must be close codes (1000..4999), not {codes!r}."]
    return []


def _problems(options: ClientOptions) -> list[str]:
    problems = _url_problems(options.url)
    problems += _mapping_problems(options)
    problems += _codes_problems(options.no_reconnect_codes)
    if options.ssl is not None and str(options.url).startswith("ws://"):
        problems.append("ssl needs a wss:// url.")
    for name, (check, expected) in _CHECKS.items():
        value = getattr(options, name)
        if not check(value):
            problems.append(f"{name} must be {expected}, not {value!r}.")
    return problems


def _param_text(value: ParamValue) -> str:
    # As JavaScript's String(value) for booleans; Python's str() otherwise.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_params(params: Mapping[str, Any]) -> str:
    """Form-encode connection parameters; a list or tuple value repeats its key.

    ``{"name": "Sam Ü", "ok": True, "tag": ["a", "b"]}`` gives
    ``name=Sam+%C3%9C&ok=true&tag=a&tag=b``.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, _param_text(item)) for item in values)
    return urlencode(pairs)
