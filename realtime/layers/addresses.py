"""Where one entry of ``nodes`` is and how to log in: a standalone Redis, a Sentinel service
or a Redis Cluster, parsed from a URL or a dict.

URL forms (``rediss`` instead of ``redis`` for TLS):

* ``redis://[user:password@]host[:port][/db]`` - one standalone Redis
* ``redis+sentinel://[user:password@]host:port[,host:port...]/service_name[/db]`` - the
  primary of ``service_name`` as the listed sentinels report it; ``?sentinel_username=``
  and ``?sentinel_password=`` log in to the sentinels, ``?db=`` is another way to give the db
* ``redis+cluster://[user:password@]host:port[,host:port...]`` - a Redis Cluster, reached
  through any of the listed seed nodes (db 0 only, as Cluster has no other)

Every form takes the TLS options ``ssl_cert_reqs``, ``ssl_ca_certs``, ``ssl_certfile`` and
``ssl_keyfile`` in its query. Several seeds of one entry are separated by commas *inside*
the netloc; the entries themselves are list items (in the demo's environment variable:
separated by whitespace or ``;``, see ``project/settings.py``).
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from ..validators import is_int

STANDALONE, SENTINEL, CLUSTER = "standalone", "sentinel", "cluster"
KINDS = (STANDALONE, SENTINEL, CLUSTER)
TLS_OPTIONS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
_SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password", "db")
_NODE_KEYS = {"host", "port", "db", "username", "password", "ssl", *TLS_OPTIONS}
_MANAGED_KEYS = {"kind", "seeds", "service_name", "sentinel_username", "sentinel_password"}
_SSL_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_SCHEMES = {
    "redis": (STANDALONE, False),
    "rediss": (STANDALONE, True),
    "redis+sentinel": (SENTINEL, False),
    "rediss+sentinel": (SENTINEL, True),
    "redis+cluster": (CLUSTER, False),
    "rediss+cluster": (CLUSTER, True),
}
_SERVICE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
EXPECTED = (
    "a list of redis://, rediss://, redis+sentinel:// or redis+cluster:// URLs or dicts "
    "(redis://[user:password@]host[:port][/db], "
    "redis+sentinel://[user:password@]host:port[,host:port...]/service_name, "
    "redis+cluster://[user:password@]host:port[,host:port...])"
)


def config_error(key: str, expected: str, value: Any) -> ImproperlyConfigured:
    """The error for a bad ``CONFIG[key]``: what was expected and what was given."""
    return ImproperlyConfigured(
        f"MultiRedisChannelLayer CONFIG[{key!r}] must be {expected}, not {value!r}."
    )


@dataclass(frozen=True)
class NodeConfig:
    """One entry of ``nodes``. ``key`` never contains a password.

    For a Sentinel or Cluster entry, ``seeds`` lists the sentinels or the cluster's seed
    nodes and ``host``/``port`` are the first of them; the Redis nodes actually used are
    discovered at run time and reached with the same credentials and TLS options
    (:meth:`at`).
    """

    host: str
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ssl_cert_reqs: str = "required"
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    kind: str = STANDALONE
    seeds: tuple[tuple[str, int], ...] = ()
    service_name: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """The entry's address without credentials, e.g. ``redis://10.0.0.5:6379/0``,
        ``redis+sentinel://s1:26379,s2:26379/mymaster/0``, ``redis+cluster://c1:7000``."""
        scheme = "rediss" if self.tls else "redis"
        if self.kind == STANDALONE:
            return f"{scheme}://{_hostport(self.host, self.port)}/{self.db}"
        seeds = ",".join(_hostport(host, port) for host, port in self.seeds)
        if self.kind == SENTINEL:
            return f"{scheme}+sentinel://{seeds}/{self.service_name}/{self.db}"
        return f"{scheme}+cluster://{seeds}"

    def at(self, host: str, port: int) -> NodeConfig:
        """A standalone node at ``host:port`` with this entry's credentials, db and TLS
        options: a discovered primary or cluster shard."""
        return replace(self, host=host, port=port, kind=STANDALONE, seeds=(), service_name=None)

    def sentinel(self, host: str, port: int) -> NodeConfig:
        """A connection to the sentinel at ``host:port`` (its own credentials, db 0)."""
        return replace(
            self.at(host, port),
            db=0,
            username=self.sentinel_username,
            password=self.sentinel_password,
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for ``rediss`` entries, ``None`` for plain TCP."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ssl_ca_certs)
        if self.ssl_cert_reqs != "required":
            context.check_hostname = False
        context.verify_mode = _SSL_REQS[self.ssl_cert_reqs]
        if self.ssl_certfile:  # a client certificate, for servers with tls-auth-clients
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_node(value: Any, key: str = "nodes") -> NodeConfig:
    """An entry of ``nodes`` from a URL (any form above) or a dict."""
    if isinstance(value, str):
        return _parse_url(value, key)
    if isinstance(value, Mapping):
        if "kind" in value or "seeds" in value:
            return _parse_managed_dict(value, key)
        return _parse_dict(value, key)
    raise config_error(key, EXPECTED, value)


def _parse_url(url: str, key: str) -> NodeConfig:
    scheme, _, rest = url.partition("://")
    kind, tls = _SCHEMES.get(scheme.lower(), (None, False))
    if kind is None or not rest:
        raise config_error(key, EXPECTED, redact(url))
    if kind == STANDALONE:
        return _parse_standalone_url(url, key)
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    seeds = tuple(_parse_seed(seed, url, key) for seed in hosts.split(","))
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    allowed = TLS_OPTIONS + (_SENTINEL_OPTIONS if kind == SENTINEL else ())
    if set(query) - set(allowed):
        raise config_error(key, f"{kind} URLs whose only query options are {allowed}", redact(url))
    username, password = _credentials(userinfo)
    path = [part for part in parts.path.split("/") if part]
    common: dict[str, Any] = {
        "host": seeds[0][0],
        "port": seeds[0][1],
        "username": username,
        "password": password,
        "tls": tls,
        "kind": kind,
        "seeds": seeds,
        **_tls_options(query, key),
    }
    if kind == CLUSTER:
        if path not in ([], ["0"]):
            expected = "redis+cluster:// URLs without a path (Cluster has db 0 only)"
            raise config_error(key, expected, redact(url))
        return NodeConfig(**common)
    return _sentinel_node(common, path, query, url, key)


def _sentinel_node(
    common: dict[str, Any], path: list[str], query: Mapping[str, str], url: str, key: str
) -> NodeConfig:
    expected = "redis+sentinel:// URLs with a service name (and an optional numeric db) as path"
    db = query.get("db", path[1] if len(path) == 2 else "0")
    if not 1 <= len(path) <= 2 or not _SERVICE.match(path[0]) or not db.isdigit():
        raise config_error(key, expected, redact(url))
    return NodeConfig(
        **common,
        db=int(db),
        service_name=path[0],
        sentinel_username=query.get("sentinel_username"),
        sentinel_password=query.get("sentinel_password"),
    )


def _parse_seed(seed: str, url: str, key: str) -> tuple[str, int]:
    try:
        parts = urlsplit(f"//{seed.strip()}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise config_error(key, "seed lists of host:port separated by commas", redact(url))
    return host, port


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    if not userinfo:
        return None, None
    user, colon, password = userinfo.partition(":")
    return (unquote(user) or None), (unquote(password) if colon else None)


def _parse_standalone_url(url: str, key: str) -> NodeConfig:
    try:
        parts = urlsplit(url)
        port = parts.port or 6379
    except ValueError:
        raise config_error(key, EXPECTED, redact(url)) from None
    if not parts.hostname:
        raise config_error(key, EXPECTED, redact(url))
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise config_error(key, "redis:// URLs with a numeric db", redact(url))
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    if set(query) - set(TLS_OPTIONS):
        options = f"URLs whose only query options are {', '.join(TLS_OPTIONS)}"
        raise config_error(key, options, redact(url))
    return NodeConfig(
        host=parts.hostname,
        port=port,
        db=int(path or 0),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=parts.scheme == "rediss",
        **_tls_options(query, key),
    )


def _tls_options(options: Mapping[str, Any], key: str) -> dict[str, Any]:
    reqs = options.get("ssl_cert_reqs", "required")
    if reqs not in _SSL_REQS:
        raise config_error(key, "nodes with ssl_cert_reqs one of none/optional/required", reqs)
    paths = {name: options.get(name) for name in TLS_OPTIONS[1:]}
    for name, path in paths.items():
        if path is not None and (not isinstance(path, str) or not path):
            raise config_error(key, f"nodes whose {name} is the path of a file", path)
    if paths["ssl_keyfile"] and not paths["ssl_certfile"]:
        raise config_error(key, "nodes with an ssl_certfile when they have an ssl_keyfile", paths)
    return {"ssl_cert_reqs": reqs, **paths}


def _shown(value: Mapping[str, Any]) -> dict[str, Any]:
    secrets = ("password", "sentinel_password")
    return {name: "***" if name in secrets else item for name, item in value.items()}


def _parse_dict(value: Mapping[str, Any], key: str) -> NodeConfig:
    unknown = set(value) - _NODE_KEYS
    if unknown or not isinstance(value.get("host"), str) or not value["host"]:
        raise config_error(
            key, f"node dicts with a 'host' and only the keys {sorted(_NODE_KEYS)}", _shown(value)
        )
    port, db = value.get("port", 6379), value.get("db", 0)
    if not is_int(port) or not 0 < port < 65536 or not is_int(db) or db < 0:
        raise config_error(
            key, "node dicts with an integer port (1-65535) and db (>= 0)", _shown(value)
        )
    return NodeConfig(
        host=value["host"],
        port=port,
        db=db,
        username=value.get("username"),
        password=value.get("password"),
        tls=bool(value.get("ssl", False)),
        **_tls_options(value, key),
    )


def _parse_managed_dict(value: Mapping[str, Any], key: str) -> NodeConfig:
    """``{"kind": "sentinel"|"cluster", "seeds": ["host:port", ...], "service_name": ...}``
    plus the keys of a standalone node dict except host and port."""
    allowed = (_NODE_KEYS - {"host", "port"}) | _MANAGED_KEYS
    kind, seeds = value.get("kind"), value.get("seeds")
    valid = (
        not set(value) - allowed
        and kind in (SENTINEL, CLUSTER)
        and isinstance(seeds, list | tuple)
        and seeds
        and all(isinstance(seed, str) for seed in seeds)
        and (kind == CLUSTER) == ("service_name" not in value)
        and not (kind == CLUSTER and {"sentinel_username", "sentinel_password"} & set(value))
    )
    if not valid:
        raise config_error(
            key,
            "sentinel or cluster dicts with 'kind', 'seeds' (a list of 'host:port'), a "
            f"'service_name' for sentinel only, and only the keys {sorted(allowed)}",
            _shown(value),
        )
    scheme = ("rediss+" if value.get("ssl") else "redis+") + kind
    db = value.get("db", 0)
    path = f"/{value['service_name']}/{db}" if kind == SENTINEL else f"/{db}"
    node = _parse_url(f"{scheme}://{','.join(seeds)}{path}", key)
    extra = {name: value.get(name) for name in ("username", "password", *_SENTINEL_OPTIONS[:2])}
    return replace(node, **extra, **_tls_options(value, key))


def redact(url: str) -> str:
    """``url`` with its passwords replaced by ``***`` (for messages, command output, the
    debug page)."""
    url = re.sub(r"(sentinel_password=)[^&]*", r"\1***", url)
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if "@" not in netloc:
        return url
    userinfo, _, hostport = netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    # Userinfo without a ":" is hidden whole: some write the password alone there.
    shown = f"{user}:***" if colon else "***"
    return f"{scheme}{sep}{shown}@{hostport}{slash}{path}"
