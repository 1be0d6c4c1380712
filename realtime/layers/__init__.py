"""Channel layers of the realtime app: :class:`MultiRedisChannelLayer` over N Redis nodes."""

from .core import NoHealthyRedisNode
from .health import NodeHealth
from .layer import MultiRedisChannelLayer

__all__ = ["MultiRedisChannelLayer", "NoHealthyRedisNode", "NodeHealth"]
