"""ASGI entry point: HTTP (Django + static files) and WebSocket (Origin check, auth, route).

Run it with daphne: ``daphne -b 127.0.0.1 -p 8000 project.asgi:application``.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Django must be set up before anything imports models (the auth middleware does).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from realtime.routing import RealtimeStack  # noqa: E402
from realtime.startup import LifespanApp  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Static files (the JS client, admin CSS) are served by Django here so that the demo
        # needs nothing else; a production site usually puts a CDN or web server in front.
        "http": ASGIStaticFilesHandler(django_asgi_app),
        # The Origin check, session user and route of the realtime consumer in one layer:
        # the same as AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(
        # websocket_urlpatterns()))), about 4 KiB less per idle connection. Other
        # consumers of the project: RealtimeStack(fallback=URLRouter([...])).
        "websocket": RealtimeStack(),
        # uvicorn/hypercorn announce startup and shutdown; daphne is hooked in realtime.startup.
        "lifespan": LifespanApp(),
    }
)
