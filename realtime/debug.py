"""An exception reporter filter that hides the passwords of Redis URLs on Django's debug
page and in error e-mails.

Django hides settings whose *name* looks secret (``PASSWORD``, ``KEY``, ...), but the
passwords inside ``CHANNEL_LAYERS[...]["CONFIG"]["nodes"]`` URLs (and any other setting or
local variable holding a ``redis://user:password@host`` URL) were shown as they are. Use it
with ``DEFAULT_EXCEPTION_REPORTER_FILTER = "realtime.debug.RedactingExceptionReporterFilter"``
(the demo project does).
"""

from __future__ import annotations

from typing import Any

from django.views.debug import SafeExceptionReporterFilter

from .layers.addresses import redact as redact_url


def redact(value: Any) -> Any:
    """``value`` with the password of a URL string replaced by ``***``; others unchanged."""
    if isinstance(value, str) and "://" in value and "@" in value:
        return redact_url(value)
    return value


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's safe filter, plus: no password of a URL in settings or frame variables."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        """Cleanse as Django does, then redact URL passwords (nested values included)."""
        return super().cleanse_setting(key, redact(value))

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        """The frame's variables, with URL passwords redacted."""
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, redact(value)) for name, value in variables]
