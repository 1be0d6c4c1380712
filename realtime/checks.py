"""System checks (``manage.py check``) for the app's settings; ids ``realtime.E0xx``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register

from .conf import validation_errors


@register(Tags.compatibility)
def check_realtime_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """realtime.E001: the ``REALTIME`` dict has unknown keys or invalid values."""
    return [
        Error(message, hint="See the settings reference in README.md.", id="realtime.E001")
        for message in validation_errors(getattr(settings, "REALTIME", {}))
    ]
