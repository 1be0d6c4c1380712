"""Show the live cluster: server nodes and every Redis node as each server node sees it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from ...hub import Hub
from ...status import cluster_status
from ..base import ClusterCommand
from ..cluster_cli import run_with_hub, write_json, write_table


def _seconds(value: float) -> str:
    value = int(value)
    if value < 120:
        return f"{value}s"
    if value < 7200:
        return f"{value // 60}m"
    return f"{value // 3600}h{value % 3600 // 60:02d}m"


def _redis_cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    state = "healthy" if entry.get("healthy") else "UNHEALTHY"
    if not entry.get("publish_ok"):
        state += " (publish down)"
    if entry.get("subscribe_ok") is False:
        state += " (subscribe down)"
    if entry.get("excluded"):
        state += " (avoided: a node cannot read it)"
    latency = entry.get("latency_ms")
    text = state + ("" if latency is None else f" {latency:.2f} ms")
    if entry.get("deployment", "standalone") != "standalone":
        text += f" [{entry['deployment']}]"
    return text + (f" - {entry['last_error']}" if entry.get("last_error") else "")


def _nonzero_counters(status: dict[str, Any]) -> list[str]:
    return [
        name
        for name in status["counters"]
        if any((node.get("counters") or {}).get(name) for node in status["nodes"])
    ]


class Command(ClusterCommand):
    """``realtime_status``: the admin status page's data as tables (or ``--json``)."""

    help = "Show the live server nodes, their counters and the health of every Redis node."
    examples = "  manage.py realtime_status\n  manage.py realtime_status --json --wait 3"

    def add_arguments(self, parser: CommandParser) -> None:
        """Options."""
        parser.add_argument("--json", action="store_true", help="print the data as JSON")
        parser.add_argument(
            "--wait",
            type=float,
            default=None,
            metavar="SECONDS",
            help="listen to node announcements this long (default: 1.5 intervals)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Observe the cluster, then print."""

        async def observe(hub: Hub) -> dict[str, Any]:
            await hub.observe(options["wait"])
            return cluster_status(hub)

        status = run_with_hub(observe)
        if options["json"]:
            write_json(self.stdout, status)
            return
        nodes = status["nodes"]
        self._nodes(nodes)
        self._counters(status)
        if not status["redis_nodes"]:
            self.stdout.write("No Redis nodes reported.")
            return
        write_table(
            self.stdout,
            "Redis nodes as each server node sees them",
            ["redis node", *(n["name"] for n in nodes)],
            [
                (
                    key,
                    *(
                        _redis_cell(next((e for e in n["redis"] if e["key"] == key), None))
                        for n in nodes
                    ),
                )
                for key in status["redis_nodes"]
            ],
        )

    def _nodes(self, nodes: list[dict[str, Any]]) -> None:
        columns = [
            "node",
            "state",
            "host/pid",
            "uptime",
            "connections",
            "users",
            "rooms",
            "seen",
            "dropped",
        ]
        write_table(
            self.stdout,
            f"Server nodes ({len(nodes)} live)",
            columns,
            [
                (
                    n["name"],
                    n["state"],
                    f"{n['host']}/{n['pid']}",
                    _seconds(n["uptime"]),
                    n["connections"],
                    n["users"],
                    n["rooms"],
                    f"{n['seen_ago']:.1f}s ago",
                    n.get("dropped", 0),
                )
                for n in nodes
            ],
        )

    def _counters(self, status: dict[str, Any]) -> None:
        names = _nonzero_counters(status)
        if not names:
            self.stdout.write("Counters: all zero.")
            return
        write_table(
            self.stdout,
            "Counters (non-zero)",
            ["counter", *(n["name"] for n in status["nodes"])],
            [
                (name, *((n.get("counters") or {}).get(name, "-") for n in status["nodes"]))
                for name in names
            ],
        )
