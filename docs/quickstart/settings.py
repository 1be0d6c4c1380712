# Added at the end of mysite/settings.py (the quick start).

# daphne first: its runserver command serves WebSockets too. "chat" is your app.
INSTALLED_APPS = ["daphne", *INSTALLED_APPS, "channels", "realtime", "chat"]

ASGI_APPLICATION = "mysite.asgi.application"

# No Redis node: one server process, the channel layer works inside it. List redis://
# URLs in "nodes" to run several server processes as one cluster.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "realtime.layers.MultiRedisChannelLayer",
        "CONFIG": {
            "nodes": [],
            # Room for bursts on each server process's own channel (check realtime.W003).
            "channel_capacity": {"realtime-node*": 100_000},
        },
    }
}

REALTIME = {
    # This server process's name in the cluster (default: <hostname>-<pid>).
    "SERVER_NAME": "web-1",
}
