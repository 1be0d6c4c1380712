"""Event handlers for tests, loaded into daphne nodes with DJANGO_EXTRA_APPS=tests.testapp.

They exist so that client and cluster tests can make the server echo, wait, push, close and
fail on demand.
"""

from __future__ import annotations

import asyncio
from typing import Any

from realtime import (
    CrossServerMessage,
    broadcast,
    cluster_room_members,
    emit_cross_server,
    notify_cross_server,
    on,
    on_connect,
    on_cross_server,
    reply_to_client,
    to_room,
    to_user,
    where_is,
)
from realtime.conf import server_name
from realtime.connection.acks import Ack
from realtime.connection.socket import Socket


@on("echo")
async def echo(socket: Socket, data: Any, ack: Ack) -> Any:
    """Reply with the payload itself."""
    return {"echo": data}


@on("sleep")
async def sleep(socket: Socket, data: Any, ack: Ack) -> Any:
    """Wait ``data`` seconds (at most 30), then reply."""
    await asyncio.sleep(min(float(data or 0), 30.0))
    return {"slept": data}


@on("pushMe")
async def push_me(socket: Socket, data: Any, ack: Ack) -> None:
    """Push ``data["event"]`` with ``data["payload"]`` to this connection, then reply."""
    await socket.emit(data["event"], data.get("payload"))
    await ack({"pushed": data["event"]})


@on("closeMe")
async def close_me(socket: Socket, data: Any, ack: Ack) -> None:
    """Close this connection with ``data["code"]`` and ``data["reason"]``."""
    await socket.close(int(data.get("code", 1000)), str(data.get("reason", "")))


@on("whoami")
async def whoami(socket: Socket, data: Any, ack: Ack) -> Any:
    """Reply with what the server knows of the connection."""
    return {"user": socket.user_id, "params": socket.params, "path": socket.path}


@on("transport")
async def transport(socket: Socket, data: Any, ack: Ack) -> Any:
    """Reply with how the server sends to this connection."""
    return {"direct": socket.writes_directly, "flowControlled": socket.flow_controlled}


@on("crash")
async def crash(socket: Socket, data: Any, ack: Ack) -> None:
    """Raise, to test HANDLER_ERROR replies."""
    raise RuntimeError("crash requested by the test")


@on_connect
async def kick_on_request(socket: Socket) -> None:
    """With ``?kick=1``, re-bind the user with ``kick_previous`` (after the demo's binding)."""
    if socket.params.get("kick") == "1" and socket.user_id is not None:
        await socket.bind(socket.user_id, kick_previous=True)


@on("forward")
async def forward(socket: Socket, data: Any, ack: Ack) -> None:
    """Let node ``data["node"]`` answer this client's callback."""
    await notify_cross_server(
        "answerClient", {"ack": ack.forward(), "data": data.get("data")}, targets=[data["node"]]
    )


@on_cross_server("answerClient")
async def answer_client(message: CrossServerMessage, reply: Any) -> None:
    """Answer a forwarded client callback from this node."""
    await reply_to_client(
        message.payload["ack"], {"answeredBy": server_name(), "data": message.payload["data"]}
    )


@on_cross_server("ping")
async def ping(message: CrossServerMessage, reply: Any) -> Any:
    """Answer with this node's name."""
    return {"node": server_name(), "got": message.payload, "from": message.sender}


@on("serverCall")
async def server_call(socket: Socket, data: Any, ack: Ack) -> Any:
    """Call ``ping`` on every node and reply with the result."""
    result = await emit_cross_server("ping", data, timeout=3)
    return {"success": result.success, "nodes": sorted(result.responses), "missing": result.missing}


@on("whereIs")
async def where_is_user(socket: Socket, data: Any, ack: Ack) -> Any:
    """The nodes where user ``data`` is connected."""
    return await where_is(data)


@on("roomMembers")
async def room_members(socket: Socket, data: Any, ack: Ack) -> Any:
    """The members of room ``data["room"]`` of namespace ``chat`` across the cluster."""
    return sorted(await cluster_room_members("chat", data["room"]))


@on("enqueueJobs")
async def enqueue_jobs(socket: Socket, data: Any, ack: Ack) -> Any:
    """Send ``data["count"]`` jobs (numbered from ``data["first"]``) to the ``jobs`` channel
    that ``runworker jobs`` processes work on, as a view would hand work to a worker."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    first, count = int(data.get("first", 0)), int(data["count"])
    for n in range(first, first + count):
        await layer.send("jobs", {"type": "job.run", "n": n, "work": data.get("work", 0)})
    return {"sent": count}


@on("stallNodeReader")
async def stall_node_reader(socket: Socket, data: Any, ack: Ack) -> Any:
    """Make this node's reader spend ``data`` seconds (at most 30) on the next message from
    another node, as a node far behind its backlog does; messages queue up meanwhile."""
    from realtime.hub import get_hub

    hub = get_hub()
    handle = hub.handle_node_message

    async def slow(message: dict[str, Any]) -> None:
        del hub.handle_node_message  # once: the class's method again
        await asyncio.sleep(min(float(data), 30.0))
        await handle(message)

    hub.handle_node_message = slow  # type: ignore[method-assign]
    return {"stalling": data}


@on("rec.join")
async def recovery_join(socket: Socket, data: Any, ack: Ack) -> Any:
    """Join room ``data`` of namespace ``rec`` (recovery tests)."""
    await socket.join("rec", data)
    return {"joined": data}


@on("rec.push")
async def recovery_push(socket: Socket, data: Any, ack: Ack) -> None:
    """Push ``data`` to room ``data["to"]``, user ``data["to"]`` or everyone (``kind``)."""
    kind = data["kind"]
    if kind == "room":
        await to_room("rec", data["to"], "recRoom", data)
    elif kind == "user":
        await to_user(data["to"], "recUser", data)
    else:
        await broadcast("recAll", data)


@on("rec.info")
async def recovery_info(socket: Socket, data: Any, ack: Ack) -> Any:
    """What the server restored: recovered flag, user, rooms, state."""
    if data:
        socket.state.update(data)
    return {
        "recovered": socket.recovered,
        "user": socket.user_id,
        "rooms": sorted(list(room) for room in socket.rooms),
        "state": socket.state,
        "server": server_name(),
    }


@on("daphneInternals")
async def daphne_internals(socket: Socket, data: Any, ack: Ack) -> Any:
    """What daphne keeps for this connection (the lean-connection fix's effect)."""
    from realtime.connection.daphne_memory import HANDSHAKE_ONLY

    writer = socket._writer
    protocol = getattr(writer, "__self__", None)
    protocol = getattr(protocol, "protocol", None)
    if protocol is None:
        return {"daphne": False}
    state = vars(protocol)
    return {
        "daphne": True,
        "queue": type(protocol.application_queue).__name__,
        "leftovers": sorted(name for name in HANDSHAKE_ONLY if name in state),
        "options_copied": "openHandshakeTimeout" in state,
        "request": type(protocol.request).__name__,
        "headers": list(socket.scope.get("headers", ())),
    }
