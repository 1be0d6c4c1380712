"""One WebSocket connection, from handshake to close.

The consumer (:mod:`.consumer`), the :class:`~.socket.Socket` handlers receive, the handler
registry (:mod:`.handlers`), replies (:mod:`.acks`), connect and disconnect hooks
(:mod:`.lifecycle`), authentication (:mod:`.auth`), the Origin check (:mod:`.origin`), limits
(:mod:`.limits`) and the narrow daphne workarounds (:mod:`.daphne_fixes`). It knows nothing of
Redis or of other nodes: it talks to its owner (the hub) through :mod:`.owner`'s protocols.
"""
