"""The demo's ASGI application plus what plain Channels projects declare: the chat consumer
of the Channels tutorial at ``/ws/chat/<room_name>/`` and a ``channel`` route for the
background worker of :mod:`tests.testapp.workers` (``runworker jobs``)."""

from channels.auth import AuthMiddlewareStack
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter
from django.urls import path

from project.asgi import application as web_application
from realtime.connection.origin import AllowedHostsOriginValidator
from realtime.routing import websocket_urlpatterns
from tests.testapp.chat import ChatConsumer
from tests.testapp.workers import JOB_CHANNEL, JobConsumer

application = ProtocolTypeRouter(
    {
        **web_application.application_mapping,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter(
                    [
                        path("ws/chat/<str:room_name>/", ChatConsumer.as_asgi()),
                        *websocket_urlpatterns(),
                    ]
                )
            )
        ),
        "channel": ChannelNameRouter({JOB_CHANNEL: JobConsumer.as_asgi()}),
    }
)
