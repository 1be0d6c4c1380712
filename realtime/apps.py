"""App configuration: handler discovery, settings reload, system checks, daphne fixes."""

from __future__ import annotations

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import autodiscover_modules


class RealtimeConfig(AppConfig):
    """The ``realtime`` app."""

    name = "realtime"
    verbose_name = "Realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Import every app's ``realtime_handlers`` module and wire settings and checks."""
        from . import checks  # noqa: F401  (registers the system checks)
        from .cluster.health_log import connect_receivers
        from .conf import realtime_settings, reload_on_setting_changed
        from .connection.handlers import HANDLERS_MODULE
        from .startup import start_node_when_served

        setting_changed.connect(reload_on_setting_changed, dispatch_uid="realtime-settings")
        autodiscover_modules(HANDLERS_MODULE)
        connect_receivers()
        start_node_when_served()
        try:
            fixes, max_bytes = realtime_settings.DAPHNE_FIXES, realtime_settings.MAX_FRAME_BYTES
        except ImproperlyConfigured:
            return  # the system checks report the invalid settings
        if fixes:
            from .connection import daphne_fixes as daphne_compat

            daphne_compat.install(max_bytes)
