"""Connection state recovery: bounded history per stream, sessions kept for a window, and
the coordinator that restores a reconnecting client on any node (``docs/topics/recovery.md``).

Imports only the base (``realtime.wire``) and talks to the hub and the channel layer through
the small interfaces declared in :mod:`realtime.recovery.interfaces`.
"""
