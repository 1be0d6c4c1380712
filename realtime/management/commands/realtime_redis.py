"""Add or remove a Redis node on every live server node, while traffic flows.

    manage.py realtime_redis add redis://10.0.0.7:6379/0
    manage.py realtime_redis remove redis://10.0.0.7:6379/0

Each node applies the change to its channel layer and reports the outcome. The change lives
in the running processes only: also update REALTIME_REDIS_NODES so restarts keep it.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import CommandError, CommandParser

from ...cluster.operations import REDIS_ADD, REDIS_REMOVE
from ...hub import Hub
from ...layers.addresses import redact as redact_url
from ..base import ClusterCommand
from ..cluster_cli import run_with_hub, write_json, write_table


def _check_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("redis", "rediss") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise CommandError(f"Not a redis:// or rediss:// URL with a host: {redact_url(url)!r}")
    return url


def _bus_payload(hub: Hub, action: str, url: str) -> Any:
    """What travels to the nodes: the URL without its password, or sealed when ``add``
    needs the password (never readable on Redis)."""
    password = urlsplit(url).password
    if action == "remove" or not (password or urlsplit(url).username):
        return redact_url(url)  # removal needs the address only
    seal = hub.link.features.seal_secret
    try:
        if seal is None:
            raise RuntimeError("the channel layer cannot seal a secret")
        return {"sealed_url": seal(url)}
    except RuntimeError as error:
        raise CommandError(
            f"Cannot send the URL's credentials to the nodes safely: {error}. Put the node in "
            "every server's settings (REALTIME_REDIS_NODES) and restart them instead."
        ) from None


def _scrub(text: str, url: str) -> str:
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


class Command(ClusterCommand):
    """``realtime_redis add|remove URL``."""

    help = (
        "Add or remove a Redis node on every live server node, while traffic flows.\n"
        "The change lives in the running processes: also update REALTIME_REDIS_NODES."
    )
    examples = (
        "  manage.py realtime_redis add redis://10.0.0.7:6379/0\n"
        "  manage.py realtime_redis remove redis://10.0.0.5:6379/0 --json"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """``add`` or ``remove``, then the URL."""
        parser.add_argument("action", choices=["add", "remove"])
        parser.add_argument("url")
        parser.add_argument(
            "--timeout",
            type=float,
            default=10.0,
            metavar="SECONDS",
            help="how long to wait for every node's answer (default: 10)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        """Ask every live node, print each outcome, fail if any node did not apply it."""
        url = _check_url(options["url"])
        event = REDIS_ADD if options["action"] == "add" else REDIS_REMOVE

        async def apply(hub: Hub) -> Any:
            if not hub.cluster.live_names():
                raise CommandError("No live server node answered: is the cluster running?")
            add_node = hub.link.features.add_node
            if options["action"] == "add" and add_node is not None:
                # Replies may travel through the new node: this process must read it too,
                # but its request must not go through it: the nodes do not read it yet.
                await add_node(url)
                hub.cluster.share_subscriber_health()
            payload = _bus_payload(hub, options["action"], url)
            return await hub.cross_server.emit(event, payload, timeout=options["timeout"])

        result = run_with_hub(apply, observe=True)
        for error in result.errors.values():
            error["error"] = _scrub(str(error.get("error")), url)
        if options["json"]:
            write_json(self.stdout, dataclasses.asdict(result))
        else:
            rows = [
                (node, "ok", f"{reply['nodes']} Redis nodes now")
                for node, reply in sorted(result.responses.items())
            ]
            rows += [(node, "FAILED", e["error"]) for node, e in sorted(result.errors.items())]
            rows += [(node, "NO REPLY", "") for node in result.missing]
            title = f"{options['action']} {redact_url(url)}"
            write_table(self.stdout, title, ["node", "outcome", ""], rows)
        if not result.success:
            raise CommandError(
                f"The change was not applied everywhere ({len(result.responses)} of "
                f"{result.expected} nodes); see the table above."
            )
