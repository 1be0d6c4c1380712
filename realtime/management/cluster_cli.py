"""What the management commands share: an observer hub in a fresh loop, argument parsing,
and output as plain-text tables for people or JSON for scripts."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from django.core.management.base import CommandError, OutputWrapper

from ..cluster.queries import learn_membership
from ..hub import Hub, set_hub
from ..wire.protocol import MISSING, InvalidEventName, PayloadNotJSON, check_push_event, to_json

T = TypeVar("T")

SINGLE_NODE = (
    "This command talks to the server nodes through Redis, but no Redis node is configured "
    "(REALTIME_REDIS_NODES is empty): the server runs as a single node and a message cannot "
    "leave this process. Configure Redis nodes for the server and for this command."
)


def parse_payload(text: str | None) -> Any:
    """The optional JSON argument: absent means "no payload"; invalid JSON is an error."""
    if text is None:
        return MISSING
    try:
        value = json.loads(text)
        to_json(value)  # strict JSON only (no NaN), as the client will receive it
    except (ValueError, PayloadNotJSON) as exc:
        raise CommandError(f"Invalid JSON payload {text!r}: {exc}") from None
    return value


def check_event(event: str) -> str:
    """An event name the server may push, or a CommandError."""
    try:
        return check_push_event(event)
    except InvalidEventName as exc:
        raise CommandError(str(exc)) from None


def run_with_hub(work: Callable[[Hub], Awaitable[T]], observe: bool = False) -> T:
    """Run ``work`` with an observer hub in a fresh event loop; clean up afterwards."""

    async def main() -> T:
        # The layer's INFO lines (Redis connections coming up) are noise on a command's stderr.
        logging.getLogger("realtime.layers").setLevel(logging.WARNING)
        hub = Hub(name=f"cli-{socket.gethostname()}-{os.getpid()}", role="observer")
        if not hub.distributed:
            raise CommandError(SINGLE_NODE)
        set_hub(hub)
        try:
            if observe:
                await hub.observe()
                await learn_membership(hub.cross_server)
            return await work(hub)
        finally:
            await hub.stop()
            close = getattr(hub.link.layer, "close_pools", None) or getattr(
                hub.link.layer, "close", None
            )
            if close is not None:
                await close()

    return async_to_sync(main)()


def write_json(stdout: OutputWrapper, data: Any) -> None:
    """Print ``data`` as indented JSON."""
    stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str))


def format_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: the title, a header, a rule, one line per row, columns aligned."""
    cells = [[str(column) for column in columns]]
    cells += [[str(cell).replace("\n", " ") for cell in row] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.ljust(width) for value, width in zip(values, widths, strict=True)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([title, line(cells[0]), rule, *(line(values) for values in cells[1:])])


def write_table(
    stdout: OutputWrapper, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Print a table followed by a blank line."""
    stdout.write(format_table(title, columns, rows) + "\n")
