"""Push events to clients, or call server nodes, from the command line.

manage.py realtime_emit broadcast EVENT [JSON]
manage.py realtime_emit user ID EVENT [JSON]
manage.py realtime_emit users ID[,ID...] EVENT [JSON]
manage.py realtime_emit room NAMESPACE ROOM EVENT [JSON] [--exclude ID ...]
manage.py realtime_emit server EVENT [JSON] [--target NAME ...] [--except-self]
                                           [--expect N] [--timeout SECONDS]

``--json`` (and Django's common options) may come before or after the sub-command.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...hub import Hub
from ...wire.protocol import MISSING
from ..base import ClusterCommand
from ..cluster_cli import check_event, parse_payload, run_with_hub, write_json, write_table

EXAMPLES = {
    "broadcast": """manage.py realtime_emit broadcast serverSay '{"msg": "back at 22:00"}'""",
    "user": """manage.py realtime_emit user 42 say '{"msg": "hi"}'""",
    "users": """manage.py realtime_emit users 3,10,25 say '{"msg": "hi"}' --json""",
    "room": """manage.py realtime_emit room chat 1000 say '{"msg": "hi"}' --exclude 7""",
    "server": """manage.py realtime_emit server reindex '{"full": true}' --json --timeout 3""",
}


class Command(ClusterCommand):
    """``realtime_emit``: broadcast / user / users / room pushes and server calls."""

    help = (
        "Push an event to clients, or call server nodes, through the cluster.\n"
        "The JSON payload is optional: without it the push has no payload key."
    )
    examples = "\n".join(f"  {line}" for line in EXAMPLES.values())

    def add_arguments(self, parser: CommandParser) -> None:
        """One sub-command per kind of target."""
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        sub = parser.add_subparsers(dest="target", required=True, parser_class=CommandParser)
        broadcast = self.add_subcommand(
            sub, "broadcast", "every connection on every node", EXAMPLES["broadcast"]
        )
        self._event_args(broadcast)
        user = self.add_subcommand(sub, "user", "every connection of one user", EXAMPLES["user"])
        user.add_argument("user_id")
        self._event_args(user)
        users = self.add_subcommand(
            sub, "users", "every connection of several users", EXAMPLES["users"]
        )
        users.add_argument("user_ids", help="comma-separated user ids")
        self._event_args(users)
        room = self.add_subcommand(sub, "room", "every member of a room", EXAMPLES["room"])
        room.add_argument("namespace")
        room.add_argument("room")
        self._event_args(room)
        room.add_argument(
            "--exclude",
            action="append",
            default=[],
            metavar="ID",
            help="a user id not to push to (repeat for several)",
        )
        server = self.add_subcommand(
            sub, "server", "call @on_cross_server handlers and show replies", EXAMPLES["server"]
        )
        self._server_args(server)

    @staticmethod
    def _server_args(server: CommandParser) -> None:
        server.add_argument("event")
        server.add_argument("payload", nargs="?", help="JSON payload")
        server.add_argument(
            "--target",
            action="append",
            dest="targets",
            metavar="NAME",
            help="call this node only (repeat for several; default: every live node)",
        )
        server.add_argument(
            "--except-self", action="store_true", help="exclude the caller's own node"
        )
        server.add_argument(
            "--expect", type=int, metavar="N", help="replies to wait for (default: live nodes)"
        )
        server.add_argument(
            "--timeout",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help="how long to wait for replies (default: 5)",
        )

    @staticmethod
    def _event_args(parser: CommandParser) -> None:
        parser.add_argument("event")
        parser.add_argument("payload", nargs="?", help="JSON payload (none: no payload key)")

    def handle(self, *args: Any, **options: Any) -> None:
        """Validate, send, report."""
        if options["target"] == "server":
            self._call_servers(options)
        else:
            self._push(options)

    def _push(self, options: dict[str, Any]) -> None:
        event = check_event(options["event"])
        payload = parse_payload(options["payload"])
        target = options["target"]

        async def send(hub: Hub) -> str:
            if target == "broadcast":
                await hub.broadcast(event, payload)
                return "every connection"
            if target == "user":
                await hub.to_user(options["user_id"], event, payload)
                return f"user {options['user_id']}"
            if target == "users":
                ids = [uid.strip() for uid in options["user_ids"].split(",") if uid.strip()]
                if not ids:
                    raise CommandError("Give at least one user id.")
                await hub.to_users(ids, event, payload)
                return "users " + ", ".join(ids)
            room = (options["namespace"], options["room"])
            await hub.to_room(*room, event, payload, exclude=options["exclude"])
            return f"room {room[0]}/{room[1]}"

        description = run_with_hub(send)
        if options["json"]:
            write_json(self.stdout, {"sent": True, "event": event, "to": description})
        else:
            self.stdout.write(f"Sent {event!r} to {description}.")

    def _call_servers(self, options: dict[str, Any]) -> None:
        if not options["event"]:
            raise CommandError("The event name must not be empty.")
        payload = parse_payload(options["payload"])
        data = None if payload is MISSING else payload
        if options["timeout"] <= 0:
            raise CommandError("--timeout must be more than 0 seconds.")
        if options["expect"] is not None and options["expect"] < 0:
            raise CommandError("--expect must be 0 or more.")

        async def call(hub: Hub) -> Any:
            return await hub.cross_server.emit(
                options["event"],
                data,
                targets=options["targets"],
                except_self=options["except_self"],
                expected_responses=options["expect"],
                timeout=options["timeout"],
            )

        result = run_with_hub(call, observe=True)
        if options["json"]:
            write_json(self.stdout, dataclasses.asdict(result))
        else:
            self._print_result(result)
        if not result.success:
            problems = []
            if result.missing:
                problems.append("no reply from " + ", ".join(result.missing))
            if result.errors:
                problems.append("errors from " + ", ".join(sorted(result.errors)))
            if result.unknown:
                problems.append("unknown nodes " + ", ".join(result.unknown))
            got = len(result.responses) + len(result.errors)
            problems.append(f"{got} of {result.expected} expected replies")
            raise CommandError("Cross-server call incomplete: " + "; ".join(problems) + ".")

    def _print_result(self, result: Any) -> None:
        rows = [(node, "ok", reply) for node, reply in sorted(result.responses.items())]
        rows += [(node, e["errorCode"], e["error"]) for node, e in sorted(result.errors.items())]
        rows += [(node, "MISSING", "no reply before the timeout") for node in result.missing]
        rows += [(node, "UNKNOWN", "not a live cluster member") for node in result.unknown]
        write_table(
            self.stdout,
            f"Replies ({len(result.responses)} of {result.expected} expected)",
            ["node", "status", "reply"],
            rows,
        )
