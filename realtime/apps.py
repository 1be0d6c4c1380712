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
        from . import checks  # (importing it registers the system checks)
        from .conf import realtime_settings, reload_on_setting_changed
        from .connection.handlers import HANDLERS_MODULE
        from .startup import start_node_when_served

        setting_changed.connect(reload_on_setting_changed, dispatch_uid="realtime-settings")
        autodiscover_modules(HANDLERS_MODULE)
        self._hand_over()
        start_node_when_served(preflight=checks.refuse_to_serve_with_errors)
        try:
            fixes, max_bytes = realtime_settings.DAPHNE_FIXES, realtime_settings.MAX_FRAME_BYTES
            lean = realtime_settings.DAPHNE_LEAN_CONNECTIONS
        except ImproperlyConfigured:
            return  # the system checks report the invalid settings
        if fixes:
            from .connection import daphne_fixes

            daphne_fixes.install(max_bytes, lean=lean)

    @staticmethod
    def _hand_over() -> None:
        """Give the lower layers what they must not import: the lower layers never import
        the higher ones, so the app hands them their owner and Django's services at run time.
        """
        from django.core.serializers.json import DjangoJSONEncoder

        from .conf import server_name
        from .connection.consumer import RealtimeConsumer
        from .hub import get_hub
        from .layers.layer import MultiRedisChannelLayer
        from .wire.protocol import set_json_fallback

        RealtimeConsumer.owner = staticmethod(get_hub)
        MultiRedisChannelLayer.server_name = staticmethod(server_name)
        # Lazy translation strings and anything else Django's encoder knows.
        set_json_fallback(DjangoJSONEncoder().default)
