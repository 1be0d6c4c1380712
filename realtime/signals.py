"""Django signals sent by the app.

* ``node_joined(sender, name, info)`` - a server node was heard from for the first time
  (``info`` is its latest announcement as a dict).
* ``node_left(sender, name, info)`` - a server node missed its announcements and is
  considered dead.
* ``duplicate_server_name(sender, name, instances)`` - two live processes announce the same
  server name (each must have its own ``REALTIME_SERVER_NAME``).

Receivers run in the event loop; they must be quick (no blocking I/O).
"""

from django.dispatch import Signal

node_joined = Signal()
node_left = Signal()
duplicate_server_name = Signal()
