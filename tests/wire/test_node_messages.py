"""The schema of node-to-node messages: literal wire forms, round trips, refusals."""

from __future__ import annotations

import pytest

from realtime.wire import node_messages as m

WIRE_FORMS = [
    (m.ToAll("F"), {"type": "realtime.all", "f": "F"}),
    (m.ToUsers(["1", "2"], "F"), {"type": "realtime.users", "ids": ["1", "2"], "f": "F"}),
    (
        m.ToRoom("chat", "7", "F", ["3"]),
        {"type": "realtime.room", "ns": "chat", "room": "7", "x": ["3"], "f": "F"},
    ),
    (m.ToAll("F", ("b", "E", 3)), {"type": "realtime.all", "f": "F", "h": ["b", "E", 3]}),
    (
        m.ToUsers(["1"], "F", {"1": ("u.1", "E", 9)}),
        {"type": "realtime.users", "ids": ["1"], "f": "F", "h": {"1": ["u.1", "E", 9]}},
    ),
    (
        m.ToRoom("chat", "7", "F", [], ("r.chat.7", "E", 4)),
        {
            "type": "realtime.room",
            "ns": "chat",
            "room": "7",
            "x": [],
            "f": "F",
            "h": ["r.chat.7", "E", 4],
        },
    ),
    (m.Kick("5"), {"type": "realtime.kick", "user": "5"}),
    (m.ClientReply("n#1", "9", "F"), {"type": "realtime.ack", "i": "n#1", "s": "9", "f": "F"}),
    (m.Presence({"name": "a"}), {"type": "realtime.presence", "node": {"name": "a"}}),
    (
        m.Presence({"name": "a"}, leaving=True),
        {"type": "realtime.presence", "node": {"name": "a"}, "leaving": True},
    ),
    (m.Call("e", [1], "a"), {"type": "realtime.call", "event": "e", "p": [1], "from": "a"}),
    (
        m.Call("e", None, "a", "c1", "ch!x"),
        {
            "type": "realtime.call",
            "event": "e",
            "p": None,
            "from": "a",
            "id": "c1",
            "reply": "ch!x",
        },
    ),
    (
        m.Reply("c1", "b", True, {"k": 1}),
        {"type": "realtime.reply", "id": "c1", "node": "b", "ok": True, "p": {"k": 1}},
    ),
    (
        m.Reply("c1", "b", False, None, "boom", "HANDLER_ERROR"),
        {
            "type": "realtime.reply",
            "id": "c1",
            "node": "b",
            "ok": False,
            "error": "boom",
            "code": "HANDLER_ERROR",
        },
    ),
]


@pytest.mark.parametrize(("message", "wire"), WIRE_FORMS)
def test_the_compact_wire_form_and_back(message, wire):
    assert m.encode(message) == wire
    assert m.decode(wire) == message


def test_a_room_message_without_exclusions_decodes_to_an_empty_list():
    assert m.decode({"type": "realtime.room", "ns": "c", "room": "1", "f": "F"}).exclude == []


def test_extra_keys_are_ignored_such_as_the_origin():
    assert m.decode({"type": "realtime.all", "f": "F", "o": "n#1"}) == m.ToAll("F")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"type": "realtime.nope"}, "unknown node message type 'realtime.nope'"),
        ({"f": "F"}, "unknown node message type None"),
        ({"type": "realtime.all"}, "realtime.all message without 'f'"),
        ({"type": "realtime.all", "f": 3}, "realtime.all field 'f' is not a string"),
        ({"type": "realtime.users", "ids": "1", "f": "F"}, "'ids' is not a list of strings"),
        ({"type": "realtime.presence", "node": []}, "realtime.presence field 'node' is not a map"),
        (
            {"type": "realtime.all", "f": "F", "h": ["b", "E"]},
            "'h' is not \\[stream, epoch, offset\\]",
        ),
        (
            {"type": "realtime.users", "ids": [], "f": "F", "h": []},
            "realtime.users field 'h' is not a map",
        ),
    ],
)
def test_malformed_messages_are_refused_with_a_clear_error(data, error):
    with pytest.raises(m.MalformedNodeMessage, match=error.replace("(", r"\(")):
        m.decode(data)


def test_every_type_has_an_encoder_and_a_decoder():
    encoded = {type(message) for message, _ in WIRE_FORMS}
    assert {t.TYPE for t in encoded} == m.KNOWN_TYPES
