"""The layer's own Django signal (re-exported by :mod:`realtime.signals`, documented there).

It is defined with the layer, which sends it, so that the layer imports nothing of the app
above it: Channels projects can use the layer without the ``realtime`` app.
"""

from __future__ import annotations

from django.dispatch import Signal

#: A publishing or subscribing connection of one Redis node went up or down, or a node was
#: added or removed at runtime; ``sender`` is the layer class.
redis_health_changed = Signal()
