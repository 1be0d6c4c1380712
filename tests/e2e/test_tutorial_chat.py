"""A plain Channels app, unchanged, over the layer: the Channels tutorial's chat consumer
(``group_add`` / ``group_send``) on two daphne nodes sharing two Redis nodes."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.support.processes import DaphneNode, start_all
from tests.support.redis import RedisServer
from tests.support.waiting import within

pytestmark = pytest.mark.e2e

APP = "tests.testapp.asgi:application"


@pytest.fixture
def nodes():
    """Two daphne nodes serving the tutorial chat, over two Redis nodes."""
    redis = [RedisServer() for _ in range(2)]
    start_all(redis)
    urls = [server.url for server in redis]
    daphnes = [DaphneNode(server_name=name, redis_nodes=urls, application=APP) for name in "ab"]
    try:
        start_all(daphnes)
        yield daphnes
    finally:
        for process in [*daphnes, *redis]:
            process.cleanup()


async def join(node: DaphneNode, room: str):
    return await within(connect(node.ws_url(f"/ws/chat/{room}/")), 10, f"joining {room}")


async def read_messages(socket, count: int) -> list[str]:
    texts = []
    for _ in range(count):
        frame = await within(socket.recv(), 10, f"message {len(texts) + 1} of {count}")
        texts.append(json.loads(frame)["message"])
    return texts


async def test_every_message_reaches_every_member_on_both_nodes(nodes):
    members = [await join(nodes[n % 2], "lobby") for n in range(6)]
    outsider = await join(nodes[0], "elsewhere")
    try:
        sent = [f"hello from {n}" for n in range(len(members))]
        for socket, text in zip(members, sent, strict=True):
            await socket.send(json.dumps({"message": text}))
        received = await asyncio.gather(*(read_messages(s, len(sent)) for s in members))
        for texts in received:
            assert sorted(texts) == sorted(sent)
        # One sender's messages arrive in the order it sent them, on either node.
        await members[0].send(json.dumps({"message": "first"}))
        await members[0].send(json.dumps({"message": "second"}))
        for socket in members:
            assert await read_messages(socket, 2) == ["first", "second"]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(outsider.recv(), 0.3)  # another room hears nothing
    finally:
        for socket in [*members, outsider]:
            await socket.close()
