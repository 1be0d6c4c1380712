"""Origin check for WebSocket handshakes.

A present ``Origin`` header must match ``ALLOWED_HOSTS`` (the rules of Channels'
``OriginValidator``: exact host, ``.example.com`` for subdomains, optional scheme and port).
A **missing** Origin is let through unless ``REALTIME["REQUIRE_ORIGIN"]`` is true: browsers
always send one, while Node.js, mobile and service clients usually do not. Channels'
``AllowedHostsOriginValidator`` answers 403 to those, which would shut out the original
Node.js client. Refused handshakes get HTTP 403.
"""

from __future__ import annotations

from urllib.parse import ParseResult

from asgiref.typing import ASGIApplication
from channels.security.websocket import OriginValidator
from django.conf import settings

from ..conf import realtime_settings

DEBUG_HOSTS = ["localhost", "127.0.0.1", "[::1]"]


class RealtimeOriginValidator(OriginValidator):
    """Checks a present Origin against ``allowed_origins``; a missing one per the setting."""

    def __init__(
        self, application: ASGIApplication, allowed_origins: list[str] | None = None
    ) -> None:
        super().__init__(application, allowed_origins)

    @property
    def origins(self) -> list[str]:
        """The allowed origin patterns (``ALLOWED_HOSTS`` unless given explicitly)."""
        if self.allowed_origins is not None:
            return self.allowed_origins
        hosts = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not hosts:
            hosts = DEBUG_HOSTS
        return hosts

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        """True when the handshake may proceed."""
        if parsed_origin is None:
            return not realtime_settings.REQUIRE_ORIGIN
        return self.validate_origin(parsed_origin)

    def validate_origin(self, parsed_origin: ParseResult | None) -> bool:
        """True when the origin matches one of :attr:`origins`."""
        return any(
            pattern == "*" or self.match_allowed_origin(parsed_origin, pattern)
            for pattern in self.origins
        )


def AllowedHostsOriginValidator(application: ASGIApplication) -> RealtimeOriginValidator:
    """Wrap ``application`` with an Origin check against ``settings.ALLOWED_HOSTS``."""
    return RealtimeOriginValidator(application)
