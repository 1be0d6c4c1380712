"""Against a real daphne process: the daphne workarounds and the demo flow, over the wire."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.waiting import within

pytestmark = pytest.mark.e2e


async def test_empty_heartbeat_echoed_as_zero_length_text_frame_within_100ms(demo_node):
    async with connect(demo_node.ws_url("/ws/?id=hb")) as ws:
        await ws.send("")
        assert await within(ws.recv(), 2, "no heartbeat echo") == ""  # warm-up
        started = time.perf_counter()
        await ws.send("")
        echo = await within(ws.recv(), 2, "no heartbeat echo")
        elapsed = time.perf_counter() - started
    assert isinstance(echo, str), "the echo must be a text frame"
    assert echo == ""
    assert elapsed < 0.1, f"echo took {elapsed * 1000:.1f} ms"


async def test_demo_flow(demo_node):
    async with (
        connect(demo_node.ws_url("/ws/?id=101&name=Sam")) as sender,
        connect(demo_node.ws_url("/ws/?id=102")) as member,
    ):
        frame = '{"event":"say","payload":{"msg":"hi"},"callbackId":"mwwicbce-c4hq-1"}'
        await sender.send(frame)
        assert await within(sender.recv(), 2, "no say reply") == (
            '{"payload":{"msg":"I am a callback for your say event"},'
            '"callbackId":"mwwicbce-c4hq-1"}'
        )
        await member.send('{"event":"joinRoom","payload":{"roomId":"1000"},"callbackId":"j-1"}')
        assert json.loads(await within(member.recv(), 2, "no joinRoom reply")) == {
            "payload": {"msg": "Successfully joined the roomId:1000"},
            "callbackId": "j-1",
        }
        command = {"action": "toRoom", "roomId": "1000", "msg": "hello room"}
        await sender.send(json.dumps({"event": "command", "payload": command, "callbackId": "c-1"}))
        assert json.loads(await within(sender.recv(), 2, "no command reply")) == {
            "payload": {"msg": "Message sent successfully [action:toRoom] "},
            "callbackId": "c-1",
        }
        assert await within(member.recv(), 2, "the room member got no push") == (
            '{"event":"say","payload":{"action":"toRoom","msg":"hello room"}}'
        )


async def test_connect_without_id_closes_4011_with_reason(demo_node):
    async with connect(demo_node.ws_url("/ws/")) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await within(ws.recv(), 2, "the server did not close")
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4011, "Auth failure")


async def test_oversize_frame_gets_a_clean_1009_close(demo_node):
    async with (
        connect(demo_node.ws_url("/ws/?id=big"), max_size=None) as ws,
        connect(demo_node.ws_url("/ws/?id=bystander")) as bystander,
    ):
        await ws.send("x" * (1024 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await within(ws.recv(), 5, "the server did not close")
        assert closed.value.rcvd is not None, "the TCP connection was dropped without a close frame"
        assert closed.value.rcvd.code == 1009
        await bystander.send("")
        assert await within(bystander.recv(), 2, "the bystander was affected") == ""


async def test_frame_at_the_limit_is_accepted(demo_node):
    async with connect(demo_node.ws_url("/ws/?id=limit"), max_size=None) as ws:
        payload = "y" * (1024 * 1024 - 60)
        frame = json.dumps({"event": "say", "payload": payload, "callbackId": "at-limit"})
        assert len(frame) <= 1024 * 1024
        await ws.send(frame)
        assert json.loads(await within(ws.recv(), 5, "no reply"))["callbackId"] == "at-limit"


async def test_foreign_browser_origin_refused_with_403_missing_origin_allowed(demo_node):
    with pytest.raises(InvalidStatus) as refused:
        async with connect(demo_node.ws_url("/ws/?id=1"), origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    async with connect(demo_node.ws_url("/ws/?id=1")) as ws:
        await ws.send("")
        assert await within(ws.recv(), 2, "no echo") == ""


def test_demo_page_is_served(demo_node):
    with urllib.request.urlopen(demo_node.http_url("/"), timeout=5) as response:
        assert response.status == 200
        assert b"realtime" in response.read()


async def test_test_handlers_are_loaded_and_failures_answered(demo_node):
    async with connect(demo_node.ws_url("/ws/?id=t1")) as ws:
        await ws.send('{"event":"echo","payload":[1,"a"],"callbackId":"e"}')
        assert (
            await within(ws.recv(), 2, "no echo") == '{"payload":{"echo":[1,"a"]},"callbackId":"e"}'
        )
        await ws.send('{"event":"crash","callbackId":"c"}')
        assert json.loads(await within(ws.recv(), 2, "no crash reply"))["payload"] == {
            "error": "Handler for 'crash' failed",
            "errorCode": "HANDLER_ERROR",
        }
        await ws.send("")
        assert await within(ws.recv(), 2, "connection died after a crash") == ""


async def test_frames_of_the_original_client_as_stored_in_its_repository(demo_node):
    """websocket-cross-server-adapter 1.0.7's WebSocketConnector sends the data object itself
    with callbackId and event appended (observed against this server, byte for byte)."""
    async with (
        connect(demo_node.ws_url("/ws/?id=701")) as boss,
        connect(demo_node.ws_url("/ws/?id=702")) as member,
    ):
        await member.send('{"roomId":"1000","callbackId":"mwwybden-8ivq-1","event":"joinRoom"}')
        assert json.loads(await within(member.recv(), 2, "no joinRoom reply")) == {
            "payload": {"msg": "Successfully joined the roomId:1000"},
            "callbackId": "mwwybden-8ivq-1",
        }
        await boss.send(
            '{"action":"toRoom","roomId":"1000","msg":"to room 1000",'
            '"callbackId":"mwwybden-8ivq-2","event":"command"}'
        )
        assert json.loads(await within(boss.recv(), 2, "no command reply")) == {
            "payload": {"msg": "Message sent successfully [action:toRoom] "},
            "callbackId": "mwwybden-8ivq-2",
        }
        assert await within(member.recv(), 2, "no push") == (
            '{"event":"say","payload":{"action":"toRoom","msg":"to room 1000"}}'
        )


# Frame sizes around the WebSocket header's length classes (7-bit, 16-bit, 64-bit), in
# UTF-8 bytes of the whole frame; the last one is mostly 2-byte characters.
PUSH_OVERHEAD = len('{"event":"big","payload":""}')


@pytest.mark.parametrize("size", [125, 126, 65535, 65536, 200_000])
async def test_direct_writes_arrive_byte_exact_in_order_with_replies(demo_node, size):
    text = "x" * (size - PUSH_OVERHEAD) if size < 200_000 else "é" * ((size - PUSH_OVERHEAD) // 2)
    async with connect(demo_node.ws_url("/ws/?id=big"), max_size=None) as ws:
        await ws.send(json.dumps({"event": "transport", "callbackId": "t"}))
        reply = json.loads(await within(ws.recv(), 2, "no transport reply"))
        assert reply["payload"] == {"direct": True, "flowControlled": True}
        request = {"event": "big", "payload": text}
        for number in range(3):
            await ws.send(
                json.dumps({"event": "pushMe", "payload": request, "callbackId": f"{number}"})
            )
        frames = [await within(ws.recv(), 5, "a frame is missing") for _ in range(6)]
    push = json.dumps({"event": "big", "payload": text}, ensure_ascii=False, separators=(",", ":"))
    assert len(push.encode()) == size or size == 200_000
    expected = []
    for number in range(3):
        expected += [push, f'{{"payload":{{"pushed":"big"}},"callbackId":"{number}"}}']
    assert frames == expected
