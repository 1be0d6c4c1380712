"""Channel-layer group names for the hub's node-level groups (pure).

Channels allows only ASCII letters, digits, ``-``, ``_`` and ``.`` in group names, shorter
than 100 characters. Room namespaces such as ``app:chat:game:hot`` and arbitrary room and
user ids are escaped (``_XX`` per UTF-8 byte, so ``_`` and ``.`` are escaped too) and hashed
when too long. The text before the first ``.`` is the group's *namespace*, which a layer may
map onto one transport channel:

* ``realtime.all``, ``realtime.node.<name>`` - system groups (namespace ``realtime``)
* ``rt-user.<id>`` - the nodes holding a user's connections
* ``r-<namespace>.<room>`` - the nodes holding members of a room

User rooms always start with ``r-`` and users with ``rt-user``, so no room namespace can
collide with the system groups (the seed's ``broadcast``/``private_socket`` hijack).
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

ALL_NODES_GROUP: Final = "realtime.all"
SYSTEM_NAMESPACE: Final = "realtime"
USER_NAMESPACE: Final = "rt-user"
ROOM_PREFIX: Final = "r-"

_SAFE: Final = re.compile(r"[A-Za-z0-9-]")
# Escaped text never contains "__" ("_" is always followed by two hex digits), so the
# hashed form cannot be produced by escaping.
_HASH_MARK: Final = "__"
_NAMESPACE_LIMIT: Final = 40
_ID_LIMIT: Final = 50
_USER_LIMIT: Final = 80


def escape(text: str) -> str:
    """Escape ``text`` into group-name-safe characters, reversibly."""
    if text.isascii() and text.replace("-", "").isalnum():
        return text
    out = []
    for char in text:
        if _SAFE.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"_{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def _bounded(text: str, limit: int) -> str:
    escaped = escape(text)
    if escaped and len(escaped) <= limit:
        return escaped
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return _HASH_MARK + digest[:32]


def node_group(server_name: str) -> str:
    """The group of one server node, for calls addressed to it."""
    return f"{SYSTEM_NAMESPACE}.node.{_bounded(server_name, _USER_LIMIT)}"


def user_group(user_id: str) -> str:
    """The group of the nodes that hold a connection of ``user_id``."""
    return f"{USER_NAMESPACE}.{_bounded(user_id, _USER_LIMIT)}"


def room_group(namespace: str, room: str) -> str:
    """The group of the nodes that hold members of room ``room`` in ``namespace``."""
    return f"{ROOM_PREFIX}{_bounded(namespace, _NAMESPACE_LIMIT)}.{_bounded(room, _ID_LIMIT)}"


def group_namespace(group: str) -> str:
    """The namespace of a group name: the text before its first ``.``."""
    return group.partition(".")[0]
