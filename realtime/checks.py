"""System checks (``manage.py check``) for the app's settings; ids ``realtime.E0xx``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from .auth import load_authenticator
from .conf import validation_errors


@register(Tags.compatibility)
def check_realtime_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """realtime.E001: the ``REALTIME`` dict has unknown keys or invalid values."""
    return [
        Error(message, hint="See the settings reference in README.md.", id="realtime.E001")
        for message in validation_errors(getattr(settings, "REALTIME", {}))
    ]


@register(Tags.compatibility)
def check_authenticate_hook(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """realtime.E002: ``REALTIME["AUTHENTICATE"]`` does not name an async function."""
    user_settings = getattr(settings, "REALTIME", {})
    path = user_settings.get("AUTHENTICATE") if isinstance(user_settings, dict) else None
    if not isinstance(path, str):
        return []
    try:
        load_authenticator(path)
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="Point it at `async def authenticate(scope, params)` returning a user id "
                "or None; see 'Security and limits' in README.md.",
                id="realtime.E002",
            )
        ]
    return []
