"""The recovery additions to the wire protocol and the stream names: pure, literal values."""

from __future__ import annotations

import json

import pytest

from realtime.history_setting import policy_errors
from realtime.recovery.streams import Policies, policy_key, room_stream, user_stream
from realtime.wire.recovery import (
    WINDOW,
    MalformedRecovery,
    PositionTracker,
    RecoveryRequest,
    StreamPosition,
    decode_request,
    encode_request,
    encode_welcome,
    read_position,
    read_welcome,
    with_position,
)


def test_push_frames_get_their_position_as_one_more_key():
    frame = with_position('{"event":"say","payload":{"a":1}}', "r.chat.1", "Ep0ch", 7)
    assert frame == '{"event":"say","payload":{"a":1},"rt":["r.chat.1","Ep0ch",7]}'
    assert read_position(json.loads(frame)) == ("r.chat.1", "Ep0ch", 7)
    assert read_position({"event": "say", "rt": ["s", "e", True]}) is None
    assert read_position({"event": "say"}) is None


def test_welcome_frame():
    text = encode_welcome("sid", "tok", True)
    assert text == '{"rt":{"session":"sid","token":"tok","recovered":true}}'
    assert read_welcome(json.loads(text)) == ("sid", "tok", True)
    assert read_welcome({"event": "x", "rt": {"session": "s", "token": "t"}}) is None


def test_requests_round_trip_and_bad_ones_are_refused():
    request = RecoveryRequest("sid", "tok", {"b": StreamPosition("e", 4, (2,))})
    text = encode_request(request)
    assert text == '{"id":"sid","token":"tok","streams":{"b":["e",4,[2]]}}'
    assert decode_request(text) == request
    assert encode_request(RecoveryRequest()) == "{}"
    assert decode_request("{}") == RecoveryRequest()
    for bad in [
        "[",
        "[]",
        '{"id":1}',
        '{"id":"s","token":"t","streams":{"b":["e",-1,[]]}}',
        '{"id":"s","token":"t","streams":{"b":["e",1,' + json.dumps(list(range(33))) + "]}}",
    ]:
        with pytest.raises(MalformedRecovery):
            decode_request(bad)


def test_the_tracker_drops_duplicates_and_reports_holes_below_its_top():
    tracker = PositionTracker()
    assert tracker.request() == RecoveryRequest()
    tracker.welcome("sid", "tok", False)
    assert [tracker.note("r", "e", n) for n in (5, 6, 8, 6, 9)] == [True, True, True, False, True]
    assert tracker.request() == RecoveryRequest("sid", "tok", {"r": StreamPosition("e", 9, (7,))})
    assert tracker.note("r", "e", 7) is True  # arrived late: no hole any more
    assert tracker.request().streams["r"] == StreamPosition("e", 9, ())
    assert tracker.note("r", "new-epoch", 1) is True
    assert tracker.request().streams["r"] == StreamPosition("new-epoch", 1, ())
    tracker.note("r", "new-epoch", 1 + WINDOW + 5)
    assert len(tracker.request().streams["r"].missing) == WINDOW - 1
    tracker.welcome("sid2", "tok2", False)
    assert tracker.request() == RecoveryRequest("sid2", "tok2", {})


def test_stream_names_are_unambiguous_and_map_to_their_policy():
    assert room_stream("a.b", "c") == "r.a%2Eb.c"
    assert room_stream("a", "b.c") == "r.a.b%2Ec"
    assert user_stream("42") == "u.42"
    assert policy_key(room_stream("a.b%", "x")) == "a.b%"
    assert policy_key("u.42") == "@users" and policy_key("b") == "@broadcast"
    policies = Policies({"*": {"size": 10, "ttl": 5}, "cursor": None, "@users": {"size": 3}})
    assert policies.of(room_stream("chat", "1")).size == 10
    assert policies.of(room_stream("cursor", "1")) is None
    assert (policies.of("u.1").size, policies.of("u.1").ttl) == (3, 5)
    assert (
        policy_errors({"*": {"size": 0}}) and policy_errors([]) and not policy_errors({"x": None})
    )
