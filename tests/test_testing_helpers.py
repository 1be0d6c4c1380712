"""realtime.testing, the helpers shipped for users, used the way the docs show."""

from __future__ import annotations

from realtime.connection.handlers import Registry
from realtime.testing import RealtimeCommunicator, attach, in_process_cluster
from realtime.wire.protocol import MISSING


def echo_handlers() -> Registry:
    handlers = Registry()

    async def echo(socket, data, ack):
        return data

    async def join(socket, data, ack):
        await socket.bind(data["user"])
        await socket.join("chat", data["room"])
        return "joined"

    handlers.add_event("echo", echo)
    handlers.add_event("join", join)
    return handlers


async def test_a_communicator_drives_the_consumer_with_the_tests_handlers():
    cluster = in_process_cluster(["solo"], handlers=echo_handlers())
    async with cluster as [hub], RealtimeCommunicator(hub=hub, path="/ws/?id=1") as client:
        assert await client.call("echo", {"x": 1}) == {"x": 1}
        assert await client.call("nope") == {
            "error": "Unknown event 'nope'",
            "errorCode": "UNKNOWN_EVENT",
        }
        await client.send_input({"type": "websocket.receive", "text": ""})
        assert await client.receive_from() == ""  # the heartbeat echo


async def test_pushes_cross_in_process_nodes_and_are_recorded():
    cluster = in_process_cluster(["a", "b"], handlers=echo_handlers())
    async with cluster as [a, b], RealtimeCommunicator(hub=b, path="/ws/") as client:
        assert await client.call("join", {"user": "u1", "room": "r"}) == "joined"
        _, recorder = await attach(a, "u2")
        await a.join_room("chat", "r", "u2")
        await a.to_room("chat", "r", "news", {"n": 1})
        assert await client.receive_push() == ("news", {"n": 1})
        assert recorder.pushes == [("news", {"n": 1})]
        await b.broadcast("hello")
        assert await client.receive_push() == ("hello", MISSING)
