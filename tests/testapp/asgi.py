"""The demo's ASGI application plus a ``channel`` route: the background worker of
:mod:`tests.testapp.workers`, as a Channels project declares one for ``runworker``."""

from channels.routing import ChannelNameRouter, ProtocolTypeRouter

from project.asgi import application as web_application
from tests.testapp.workers import JOB_CHANNEL, JobConsumer

application = ProtocolTypeRouter(
    {
        **web_application.application_mapping,
        "channel": ChannelNameRouter({JOB_CHANNEL: JobConsumer.as_asgi()}),
    }
)
