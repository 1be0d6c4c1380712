"""Direct writes of finished frames (Socket.write_now, OutgoingFrame), in process.

The server integration that installs a writer (daphne_compat.direct_writer) is proved
against real daphne in tests/e2e/test_daphne.py; here a writer that records what it was
given stands in for it, as the ASGI ``Recorder`` stands in for the server's send.
"""

from __future__ import annotations

import pytest
from channels.layers import InMemoryChannelLayer

from realtime.hub import Hub
from realtime.testing import attach as connect
from realtime.wire.frames import OutgoingFrame, websocket_text_frame


class Writer:
    """A direct writer that takes (or, when ``accept`` is False, declines) every frame."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.frames: list[OutgoingFrame] = []

    def __call__(self, frame: OutgoingFrame) -> bool:
        if self.accept:
            self.frames.append(frame)
        return self.accept


@pytest.fixture
async def hub():
    hub = Hub(layer=InMemoryChannelLayer(), name="direct-test")
    yield hub
    await hub.stop()


@pytest.mark.parametrize(
    ("payload", "header"),
    [
        (b"", b"\x81\x00"),
        (b"hi", b"\x81\x02"),
        (b"x" * 125, b"\x81\x7d"),
        (b"x" * 126, b"\x81\x7e\x00\x7e"),
        (b"x" * 65535, b"\x81\x7e\xff\xff"),
        (b"x" * 65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_text_frame_header_for_every_length_class(payload, header):
    assert websocket_text_frame(payload) == header + payload


def test_outgoing_frame_encodes_utf8_once():
    frame = OutgoingFrame('{"t":"Ünïcode ✓"}')
    assert frame.message == {"type": "websocket.send", "text": '{"t":"Ünïcode ✓"}'}
    assert frame.payload == '{"t":"Ünïcode ✓"}'.encode()
    assert frame.wire == b"\x81" + bytes([len(frame.payload)]) + frame.payload
    assert frame.wire is frame.wire and frame.payload is frame.payload


async def test_without_a_writer_frames_take_the_asgi_send(hub):
    socket, recorder = await connect(hub)
    assert not socket.writes_directly
    assert socket.write_now(OutgoingFrame("a")) is False
    assert await socket.send_text("b") is True
    assert recorder.frames == ["b"]


async def test_send_text_and_fan_out_use_the_writer_with_one_frame_for_all(hub):
    sockets = []
    for number in range(3):
        socket, recorder = await connect(hub, f"u{number}")
        socket.attach_writer(writer := Writer())
        sockets.append((socket, recorder, writer))
    assert await sockets[0][0].send_text("reply") is True
    assert await hub.broadcast("news", {"n": 1}) is None
    first = sockets[0][2].frames
    assert [frame.message["text"] for frame in first] == [
        "reply",
        '{"event":"news","payload":{"n":1}}',
    ]
    pushed = {id(writer.frames[-1]) for _, _, writer in sockets}
    assert len(pushed) == 1, "one OutgoingFrame (one encoding) for every recipient"
    assert all(recorder.frames == [] for _, recorder, _ in sockets)


async def test_a_declining_writer_falls_back_to_the_asgi_send(hub):
    socket, recorder = await connect(hub, "u")
    socket.attach_writer(Writer(accept=False))
    assert await hub.to_user("u", "hello") is None
    assert await socket.send_text("reply") is True
    assert recorder.frames == ['{"event":"hello"}', "reply"]


async def test_paused_connection_holds_frames_instead_of_writing(hub):
    socket, recorder = await connect(hub, "u")
    socket.attach_writer(writer := Writer())
    socket.pause_sending()
    assert socket.write_now(OutgoingFrame("held")) is False
    assert await socket.send_text("held") is True
    assert socket.queued_frames == 1 and writer.frames == []
    socket.resume_sending()
    await socket._flusher
    assert recorder.frames == ["held"]
    assert await socket.send_text("after") is True
    assert [frame.message["text"] for frame in writer.frames] == ["after"]


async def test_closed_connection_is_not_written(hub):
    socket, recorder = await connect(hub, "u")
    socket.attach_writer(writer := Writer())
    socket.mark_closed()
    assert socket.write_now(OutgoingFrame("late")) is False
    assert await socket.send_text("late") is False
    assert writer.frames == [] and recorder.frames == []


def test_an_autobahn_without_its_private_attribute_turns_direct_writes_off(caplog, monkeypatch):
    # The direct writer reads autobahn's private _perMessageCompress. A protocol object that
    # lacks it (a renamed attribute in a newer autobahn) gets no writer: every frame takes
    # daphne's path, with one warning, instead of every send raising.
    from daphne.ws_protocol import WebSocketProtocol

    from realtime.connection import daphne_fixes

    monkeypatch.setattr(daphne_fixes, "_autobahn_ok", None)
    renamed = WebSocketProtocol()  # never connected: no _perMessageCompress yet
    from twisted.internet.testing import StringTransport

    renamed.transport = StringTransport()
    renamed.send_queue = []
    renamed.maxMessagePayloadSize = 0
    with caplog.at_level("WARNING", "realtime"):
        assert daphne_fixes.direct_writer(renamed, None) is None
        assert daphne_fixes.direct_writer(renamed, None) is None
    warnings = [r for r in caplog.records if "direct writes are off" in r.getMessage()]
    assert len(warnings) == 1 and "_perMessageCompress" in warnings[0].getMessage()

    monkeypatch.setattr(daphne_fixes, "_autobahn_ok", None)
    renamed._perMessageCompress = None  # what autobahn sets when a connection is made
    renamed.state = WebSocketProtocol.STATE_OPEN
    assert daphne_fixes.direct_writer(renamed, None) is not None
