"""Who this process is in the cluster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["node", "observer"]


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """The server node's name, this process's instance id, and its role.

    ``instance_id`` tells this process's publishes apart from those of another process of
    the same name (a restart, or a misconfigured duplicate). An ``observer`` (a management
    command) hears the cluster and calls it, but is no node: it answers no calls, announces
    nothing and is not counted in membership.
    """

    name: str
    instance_id: str
    role: Role = "node"
