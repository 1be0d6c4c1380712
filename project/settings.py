"""Settings of the demo project, read from the environment so one file serves dev and production.

Environment variables:
    DJANGO_SECRET_KEY      secret key (an insecure development key is used when unset; with
                           REALTIME_REDIS_NODES, servers refuse to start without it: the bus
                           between them is signed with a key derived from it, realtime.E008)
    DJANGO_DEBUG           "1"/"true" to enable debug mode (default off; `make run` turns it on)
    DJANGO_ALLOWED_HOSTS   comma-separated hosts (default: localhost,127.0.0.1,[::1])
    DJANGO_DB_PATH         SQLite database file (default: db.sqlite3 next to manage.py)
    DJANGO_EXTRA_APPS      comma-separated extra apps to install (tests load tests.testapp)
    REALTIME_SERVER_NAME   this server node's name in the cluster (default: <hostname>-<pid>)
    REALTIME_REDIS_NODES   Redis entries (redis://, rediss://, redis+sentinel://, redis+cluster://
                           URLs) separated by whitespace, ";" or a comma followed by the next
                           URL's scheme, so "redis+cluster://a:7000,b:7001" stays one entry;
                           empty = single node, no Redis
"""

import os
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable as a list of non-empty stripped items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Between entries: whitespace, ";" or a comma that starts the next URL (scheme://). A comma
# followed by host:port belongs to the seed list of a Sentinel or Cluster entry.
_URL_SEPARATOR = re.compile(r"[\s;]+|,(?=\s*[A-Za-z][A-Za-z0-9+.-]*://)")


def env_urls(name: str, default: str = "") -> list[str]:
    """Read a list of Redis URLs from the environment (separators: see ``_URL_SEPARATOR``)."""
    value = os.environ.get(name, default)
    return [item.strip(" ,") for item in _URL_SEPARATOR.split(value) if item.strip(" ,")]


DEBUG = env_bool("DJANGO_DEBUG")
# The fallback key is flagged by `manage.py check --deploy`, and is an error (realtime.E008)
# with Redis nodes, which sign their bus with a key derived from it; production sets
# DJANGO_SECRET_KEY.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "django-insecure-realtime-development-key"
# The debug page and error e-mails hide the passwords of Redis URLs (CHANNEL_LAYERS, ...).
DEFAULT_EXCEPTION_REPORTER_FILTER = "realtime.debug.RedactingExceptionReporterFilter"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "realtime",
    # The project itself is an app so that its realtime_handlers module (the demo) is discovered.
    "project",
    *env_list("DJANGO_EXTRA_APPS"),
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH") or BASE_DIR / "db.sqlite3",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_NODES = env_urls("REALTIME_REDIS_NODES")

# Zero nodes: the layer works inside this one process (what `make run` uses).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "realtime.layers.MultiRedisChannelLayer",
        "CONFIG": {
            "nodes": REDIS_NODES,
            # Each server node reads one channel for everything other nodes send it; give it
            # room for bursts (Channels' default capacity of 100 drops them).
            "channel_capacity": {"realtime-node*": 100_000},
        },
    }
}

REALTIME = {
    "SERVER_NAME": os.environ.get("REALTIME_SERVER_NAME", ""),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "loggers": {
        "realtime": {
            "handlers": ["console"],
            "level": os.environ.get("REALTIME_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}
