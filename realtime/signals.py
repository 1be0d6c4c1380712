"""Django signals sent by the app. Receivers run in the event loop that saw the change: keep
them short and non-blocking.

``redis_health_changed`` is sent by :class:`realtime.layers.MultiRedisChannelLayer` whenever
the publishing or subscribing connection of one Redis node goes up or down, and when a node
is added or removed at runtime. ``sender`` is the layer class; keyword arguments:

* ``layer``: the layer instance
* ``host``, ``port``, ``address``: the node (``address`` is ``redis://host:port/db``, no
  password; for a Sentinel or Cluster entry its ``redis+sentinel://`` / ``redis+cluster://``
  address, and ``host``/``port`` its first sentinel or seed)
* ``kind``: ``"standalone"``, ``"sentinel"`` or ``"cluster"``
* ``server_name``: this server node's name (``REALTIME["SERVER_NAME"]`` or host-pid)
* ``event``: ``"up"``, ``"down"``, ``"added"``, ``"removed"`` or ``"failover"`` (the
  primary of a Sentinel entry, or a shard primary of a Cluster entry, moved; ``error``
  says from where to where)
* ``connection_type``: ``"publisher"``, ``"subscriber"``, ``"node"`` (added/removed) or
  ``"failover"``
* ``healthy``: whether the node is usable now (publisher up, subscriber not down)
* ``error``: the error that took the connection down, else ``None``
* ``healthy_publishers``, ``healthy_subscribers``, ``node_count``: counts over all nodes of
  the same layer instance after the change

Cluster membership (``sender`` is :class:`realtime.cluster.membership.Membership`; the
``membership`` keyword argument is the instance that saw it, one per hub):

* ``node_joined(name, info)`` - a server node was heard from for the first time (``info`` is
  its latest announcement as a dict).
* ``node_left(name, info)`` - a server node announced its departure or missed its
  announcements and is considered dead.
* ``duplicate_server_name(name, instances)`` - two live processes announce the same server
  name (each must have its own ``REALTIME_SERVER_NAME``).
"""

from __future__ import annotations

from django.dispatch import Signal

from .layers.signals import redis_health_changed

__all__ = ["duplicate_server_name", "node_joined", "node_left", "redis_health_changed"]

node_joined = Signal()
node_left = Signal()
duplicate_server_name = Signal()
