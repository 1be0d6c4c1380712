"""Django's debug page and error reports never show a Redis password (issue 13, item 7)."""

from __future__ import annotations

import sys

from django.test import RequestFactory, override_settings
from django.views.debug import ExceptionReporter, get_default_exception_reporter_filter

PASSWORD = "debug-page-secret-9f1c"
LAYERS = {
    "default": {
        "BACKEND": "realtime.layers.MultiRedisChannelLayer",
        "CONFIG": {"nodes": [f"redis://:{PASSWORD}@10.0.0.7:6379/0", "redis://10.0.0.8:6379/0"]},
    }
}


@override_settings(CHANNEL_LAYERS=LAYERS, REDIS_NODES=[f"rediss://admin:{PASSWORD}@r:6380"])
def test_debug_page_hides_redis_passwords():
    url = f"redis://:{PASSWORD}@10.0.0.9:6379/0"  # a local variable of the failing frame
    try:
        raise ConnectionError(f"cannot reach {url.split('@')[1]}")
    except ConnectionError:
        info = sys.exc_info()
    request = RequestFactory().get("/")
    html = ExceptionReporter(request, *info).get_traceback_html()
    assert PASSWORD not in html
    assert "redis://:***@10.0.0.7:6379/0" in html and "redis://10.0.0.8:6379/0" in html
    safe = get_default_exception_reporter_filter().get_safe_settings()
    assert PASSWORD not in repr(safe["CHANNEL_LAYERS"]) + repr(safe["REDIS_NODES"])
