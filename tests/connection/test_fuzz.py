"""Property-based tests: the codec over arbitrary input, and the consumer under arbitrary
frames (sizes, encodings, lone surrogates, deep nesting, huge numbers, unicode names).

Nothing but ``MalformedFrame`` escapes the decoder; no exception escapes the consumer; no
other user's connection is affected; memory stays bounded under a burst.
"""

from __future__ import annotations

import gc
import json
import math
import tracemalloc
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime import on
from realtime.wire.protocol import (
    HEARTBEAT,
    MAX_CALLBACK_ID_LENGTH,
    REFUSED_PUSH_EVENTS,
    ClientEvent,
    InvalidEventName,
    MalformedFrame,
    PayloadNotJSON,
    decode_frame,
    encode_push,
    encode_reply,
    parse_params,
)
from tests.support.clients import TestClient

# Any code point, lone surrogates included (they reach an ASGI app inside str).
any_char = st.characters(exclude_categories=())
any_text = st.text(any_char, max_size=200)
names = st.one_of(
    st.sampled_from(["say", "echo", "boom", "nope", "connect", "__proto__", "constructor", "é"]),
    st.text(any_char, min_size=1, max_size=20),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    any_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(any_text, inner, max_size=5)
    ),
    max_leaves=20,
)
callback_ids = st.one_of(st.none(), st.integers(), st.text(any_char, max_size=70))


@st.composite
def event_frames(draw: st.DrawFn) -> str:
    """A client frame that is JSON, with any name, payload and callback id."""
    frame: dict[str, Any] = {"event": draw(names)}
    if draw(st.booleans()):
        frame["payload"] = draw(json_values)
    callback_id = draw(callback_ids)
    if callback_id is not None:
        frame["callbackId"] = callback_id
    return json.dumps(frame, ensure_ascii=draw(st.booleans()))


def nested(depth: int) -> str:
    return '{"event":"echo","callbackId":"n","payload":' + "[" * depth + "]" * depth + "}"


hostile_texts = st.one_of(
    event_frames(),
    any_text,
    st.integers(1, 20_000).map(nested),
    st.integers(1, 6000).map(
        lambda n: '{"event":"echo","callbackId":"h","payload":' + "9" * n + "}"
    ),
    st.sampled_from(
        ['{"event":"echo","callbackId":"f","payload":1e999}', '{"event":"echo","payload":NaN}']
    ),
    st.integers(1, 3000).map(lambda n: '{"event":"echo","payload":"' + "x" * n + '"}'),
)
messages = st.one_of(
    hostile_texts.map(lambda text: {"type": "websocket.receive", "text": text}),
    st.binary(max_size=300).map(lambda data: {"type": "websocket.receive", "bytes": data}),
)


def check_decoded(text: str, heartbeat: str) -> None:
    """Decoding gives a valid event or the heartbeat, or raises MalformedFrame: nothing else."""
    try:
        result = decode_frame(text, heartbeat)
    except MalformedFrame:
        return
    assert result is HEARTBEAT or isinstance(result, ClientEvent)
    if isinstance(result, ClientEvent):
        assert isinstance(result.event, str) and result.event
        assert result.callback_id is None or 0 < len(result.callback_id) <= 64


class TestCodec:
    @given(any_text, st.sampled_from(["", "ping"]))
    def test_decode_raises_only_malformed_frame(self, text, heartbeat):
        check_decoded(text, heartbeat)

    @given(hostile_texts)
    def test_decode_of_hostile_frames(self, text):
        check_decoded(text, "")

    @given(names, json_values, callback_ids)
    def test_client_frames_round_trip(self, event, payload, callback_id):
        frame = {"event": event, "payload": payload}
        if callback_id is not None:
            frame["callbackId"] = callback_id
        decoded = decode_frame(json.dumps(frame), "")
        assert decoded == ClientEvent(
            event,
            payload,
            callback_id
            if isinstance(callback_id, str) and 0 < len(callback_id) <= MAX_CALLBACK_ID_LENGTH
            else None,
        )

    @given(names, json_values)
    def test_push_round_trips_or_is_refused(self, event, payload):
        try:
            text = encode_push(event, payload)
        except InvalidEventName:
            assert event in REFUSED_PUSH_EVENTS
            return
        text.encode("utf-8")  # always valid UTF-8, lone surrogates escaped
        assert json.loads(text) == {"event": event, "payload": payload}

    @given(st.text(any_char, min_size=1, max_size=64), json_values)
    def test_reply_round_trips(self, callback_id, payload):
        text = encode_reply(callback_id, payload)
        text.encode("utf-8")
        assert json.loads(text) == {"payload": payload, "callbackId": callback_id}
        assert "event" not in json.loads(text)

    @given(st.sampled_from([math.nan, math.inf, -math.inf, object(), {1j}]))
    def test_non_json_payloads_raise_payload_not_json(self, payload):
        with pytest.raises(PayloadNotJSON):
            encode_push("x", {"a": [payload]})

    @given(st.one_of(st.binary(max_size=300), any_text))
    def test_params_parsing_never_raises(self, query):
        params = parse_params(query)
        for key, value in params.items():
            assert isinstance(key, str)
            assert isinstance(value, str) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            )


async def connect(path: str) -> TestClient:
    client = TestClient(path)
    accepted, detail = await client.connect()
    assert accepted, detail
    return client


async def outputs(client: TestClient) -> list[dict[str, Any]]:
    """Everything the application sent, until it goes quiet."""
    received = []
    while not await client.communicator.receive_nothing(0.02):
        received.append(await client.output())
    return received


def assert_well_formed(message: dict[str, Any]) -> None:
    """A frame the JS client can read, or a documented close."""
    if message["type"] == "websocket.close":
        assert message["code"] in {1009, 4029}, message
        return
    assert message["type"] == "websocket.send" and set(message) == {"type", "text"}, message
    text = message["text"]
    text.encode("utf-8")
    if text:
        frame = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} sent"))
        assert isinstance(frame, dict) and ("callbackId" in frame) != ("event" in frame)


@pytest.fixture
def fuzz_handlers(handlers):
    @on("echo")
    async def echo(socket, data, ack):
        return data

    @on("boom")
    async def boom(socket, data, ack):
        raise ValueError(data)


@override_settings(REALTIME={"MAX_FRAME_BYTES": 4096})
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(messages, min_size=1, max_size=8))
async def test_consumer_survives_arbitrary_frames(fuzz_handlers, batch):
    bystander = await connect("/ws/?id=bystander")
    fuzzer = await connect("/ws/?id=fuzzer")
    try:
        for message in batch:
            await fuzzer.communicator.send_input(message)
        for message in await outputs(fuzzer):
            assert_well_formed(message)
        # Someone else's connection saw nothing and still works.
        assert await bystander.nothing(0.01)
        await bystander.send("")
        assert await bystander.text() == ""
        await bystander.emit("echo", {"still": "here"}, "b")
        assert await bystander.json() == {"payload": {"still": "here"}, "callbackId": "b"}
    finally:
        # disconnect() re-raises anything that escaped the application.
        await fuzzer.disconnect()
        await bystander.disconnect()


# Rate limiting stays on (with room for the burst) so its per-connection state is measured too.
@override_settings(REALTIME={"RATE_LIMIT": {"rate": 10**6, "burst": 10**6}})
async def test_memory_stays_bounded_under_a_burst(fuzz_handlers):
    client = await connect("/ws/?id=burst")

    async def burst(start: int, count: int) -> None:
        replies = 0
        for index in range(start, start + count):
            kind = index % 4
            if kind == 0:
                await client.send(f"garbage {index}")
            elif kind == 1:  # a new unknown event name every time, with a callback
                await client.emit(f"unknown-{index}", index, f"u{index}")
                replies += 1
            elif kind == 2:
                await client.emit("echo", {"i": index, "pad": "x" * 200}, f"e{index}")
                replies += 1
            else:
                await client.send_bytes(b"\xff" * 64)
            if index % 50 == 49:
                for _ in range(replies):
                    await client.text()
                replies = 0
        for _ in range(replies):
            await client.text()

    await burst(0, 400)  # warm-up: caches, lazy imports, first-time allocations
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await burst(400, 4000)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert await client.nothing(0.05)
    await client.send("")
    assert await client.text() == ""
    # 4000 frames of up to ~250 bytes went through; nothing per frame may stay behind.
    assert growth < 100_000, f"memory grew by {growth} bytes over 4000 frames"
    await client.disconnect()
