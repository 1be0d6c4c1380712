"""Replies to client events that asked for one (a ``callbackId``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..wire.protocol import MISSING, encode_reply

if TYPE_CHECKING:
    from .socket import Socket

logger = logging.getLogger(__name__)


class Ack:
    """The ``ack`` argument of an event handler: ``await ack(payload)`` replies once.

    When the client asked for no reply, calling it does nothing. A second call is ignored.
    ``ack()`` without an argument replies with no ``payload`` key; ``ack(None)`` sends null.
    """

    __slots__ = ("_socket", "callback_id", "done")

    def __init__(self, socket: Socket, callback_id: str | None) -> None:
        self._socket = socket
        self.callback_id = callback_id
        self.done = False

    @property
    def wanted(self) -> bool:
        """True when the client asked for a reply and none was sent yet."""
        return self.callback_id is not None and not self.done

    def __bool__(self) -> bool:
        return self.wanted

    async def __call__(self, payload: Any = MISSING) -> bool:
        """Send the reply; returns True when a frame was sent."""
        if self.callback_id is None:
            return False
        if self.done:
            logger.debug("Ignoring a second reply to callback %s", self.callback_id)
            return False
        frame = encode_reply(self.callback_id, payload)
        self.done = True
        return await self._socket.send_text(frame)

    def forward(self) -> dict[str, str] | None:
        """Hand the reply over to another node; returns a reference to pass along.

        The other node answers with ``await reply_to_client(ref, payload)``; the reply reaches
        the client through the node it is connected to. Returns None when the client asked
        for no reply. This ack is done afterwards (no automatic reply here).
        """
        if self.callback_id is None or self.done:
            return None
        self.done = True
        hub = self._socket.hub
        return {
            "node": hub.name,
            "instance": hub.instance_id,
            "socket": self._socket.id,
            "callbackId": self.callback_id,
        }
