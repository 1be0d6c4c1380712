"""The pure codec of protocol v1, with literal expected values (section 2 of
docs/reference/protocol.md)."""

from __future__ import annotations

import datetime
import decimal
import json
import math
import uuid

import pytest

from realtime.wire.protocol import (
    HEARTBEAT,
    MISSING,
    REFUSED_PUSH_EVENTS,
    ClientEvent,
    InvalidEventName,
    MalformedFrame,
    PayloadNotJSON,
    decode_frame,
    encode_push,
    encode_reply,
    parse_params,
    parse_path,
    to_json,
)


class TestDecodeFrame:
    def test_event_with_callback(self):
        frame = '{"event":"say","payload":{"msg":"hi"},"callbackId":"mwwicbce-c4hq-1"}'
        assert decode_frame(frame, "") == ClientEvent("say", {"msg": "hi"}, "mwwicbce-c4hq-1")

    def test_event_without_callback(self):
        assert decode_frame('{"event":"say","payload":"no-callback"}', "") == ClientEvent(
            "say", "no-callback", None
        )

    def test_heartbeat_compared_before_parsing(self):
        assert decode_frame("", "") is HEARTBEAT
        assert decode_frame("ping", "ping") is HEARTBEAT
        # A JSON heartbeat string is still the heartbeat, not an event.
        assert decode_frame("{}", "{}") is HEARTBEAT

    def test_heartbeat_must_match_whole_text(self):
        with pytest.raises(MalformedFrame):
            decode_frame(" ", "")
        with pytest.raises(MalformedFrame):
            decode_frame("ping ", "ping")

    @pytest.mark.parametrize(
        "frame",
        [
            "not json",
            "[1,2]",
            '"say"',
            "42",
            "null",
            "{}",
            '{"event":""}',
            '{"event":5}',
            '{"event":null}',
            '{"payload":1}',
            '{"event":"x","payload":NaN}',
            '{"event":"x","payload":Infinity}',
            '{"event":"x","payload":1e999}',
            '{"event":"x","payload":{"a":[-1E400]}}',
            "[" * 100_000,
        ],
    )
    def test_malformed(self, frame):
        with pytest.raises(MalformedFrame):
            decode_frame(frame, "")

    @pytest.mark.parametrize(
        ("callback_id", "expected"),
        [
            ("a", "a"),
            ("x" * 64, "x" * 64),
            ("x" * 65, None),
            ("", None),
            (7, None),
            (None, None),
            (["a"], None),
            (True, None),
        ],
    )
    def test_callback_id_valid_only_as_short_string(self, callback_id, expected):
        import json

        frame = json.dumps({"event": "e", "payload": 1, "callbackId": callback_id})
        assert decode_frame(frame, "").callback_id == expected

    def test_missing_payload_is_none(self):
        assert decode_frame('{"event":"e"}', "") == ClientEvent("e", None, None)
        assert decode_frame('{"event":"e","callbackId":"c"}', "") == ClientEvent("e", None, "c")

    def test_null_payload(self):
        assert decode_frame('{"event":"e","payload":null}', "").payload is None

    def test_pre_1_0_frame_keeps_its_data_keys_as_payload(self):
        frame = '{"msg":"hi","roomId":"1000","callbackId":"c1","event":"joinRoom"}'
        assert decode_frame(frame, "") == ClientEvent(
            "joinRoom", {"msg": "hi", "roomId": "1000"}, "c1"
        )

    def test_unicode(self):
        assert decode_frame('{"event":"é","payload":"\\u00dc😀"}', "") == ClientEvent(
            "é", "Ü😀", None
        )


class TestEncode:
    def test_reply_with_payload(self):
        assert (
            encode_reply("mwwicbce-c4hq-1", {"ok": 1})
            == '{"payload":{"ok":1},"callbackId":"mwwicbce-c4hq-1"}'
        )

    def test_reply_without_payload(self):
        assert encode_reply("mwwicbcf-fpcf-2") == '{"callbackId":"mwwicbcf-fpcf-2"}'

    def test_reply_with_null_payload(self):
        assert encode_reply("c", None) == '{"payload":null,"callbackId":"c"}'

    def test_push(self):
        assert encode_push("roomSay", {"a": 1}) == '{"event":"roomSay","payload":{"a":1}}'

    def test_push_without_payload(self):
        assert encode_push("tick") == '{"event":"tick"}'
        assert encode_push("tick", MISSING) == '{"event":"tick"}'

    def test_non_ascii_is_not_escaped_like_json_stringify(self):
        assert encode_push("say", "Ü 😀") == '{"event":"say","payload":"Ü 😀"}'

    def test_lone_surrogate_is_escaped(self):
        frame = encode_push("say", "a\ud800b")
        assert frame == '{"event":"say","payload":"a\\ud800b"}'
        frame.encode("utf-8")

    @pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, {"x": [math.nan]}])
    def test_strict_json(self, value):
        with pytest.raises(PayloadNotJSON, match="strict JSON"):
            encode_push("say", value)
        with pytest.raises(PayloadNotJSON):
            encode_reply("c", value)

    def test_unserializable(self):
        with pytest.raises(PayloadNotJSON):
            encode_push("say", object())

    def test_django_types(self):
        when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
        assert (
            encode_push("t", {"at": when, "d": decimal.Decimal("1.50")})
            == '{"event":"t","payload":{"at":"2026-01-02T03:04:05Z","d":"1.50"}}'
        )

    @pytest.mark.parametrize("event", sorted(REFUSED_PUSH_EVENTS))
    def test_refused_push_names(self, event):
        with pytest.raises(InvalidEventName, match="refusing to push"):
            encode_push(event, 1)

    @pytest.mark.parametrize("event", ["", None, 5, b"say"])
    def test_push_name_must_be_non_empty_string(self, event):
        with pytest.raises(InvalidEventName, match="non-empty string"):
            encode_push(event)

    def test_refused_names_are_exactly_the_documented_list(self):
        assert sorted(REFUSED_PUSH_EVENTS) == sorted(
            [
                "open",
                "close",
                "error",
                "message",
                "ping",
                "pong",
                "pong-timeout",
                "reconnect",
                "repeat-limit",
                "constructor",
                "__proto__",
                "toString",
                "toLocaleString",
                "valueOf",
                "hasOwnProperty",
                "isPrototypeOf",
                "propertyIsEnumerable",
                "__defineGetter__",
                "__defineSetter__",
                "__lookupGetter__",
                "__lookupSetter__",
            ]
        )


class TestParams:
    def test_form_decoding(self):
        assert parse_params(b"id=42&name=Sam+%C3%9C&token=a+b%26c%3Dd") == {
            "id": "42",
            "name": "Sam Ü",
            "token": "a b&c=d",
        }

    def test_repeated_keys_become_a_list_in_order(self):
        assert parse_params("a=1&b=x&a=2&a=3") == {"a": ["1", "2", "3"], "b": "x"}

    def test_blank_values_kept(self):
        assert parse_params("a=&b") == {"a": "", "b": ""}

    def test_js_stringified_values(self):
        assert parse_params("ids=1%2C2&flag=true") == {"ids": "1,2", "flag": "true"}

    def test_empty(self):
        assert parse_params(b"") == {}

    def test_invalid_utf8_is_replaced(self):
        assert parse_params(b"n=%FF") == {"n": "\ufffd"}

    @pytest.mark.parametrize(
        ("path", "expected"),
        [("/chat/room", "chat/room"), ("/", ""), ("", ""), ("//a//b/", "a//b/"), ("/ws/", "ws/")],
    )
    def test_path(self, path, expected):
        assert parse_path(path) == expected


class TestDjangoFreeEncoding:
    """The codec encodes dates, durations, decimals and UUIDs without Django, exactly as
    Django's JSON encoder does (the Python client loads no Django)."""

    VALUES = [
        datetime.datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC),
        datetime.datetime(2020, 1, 2, 3, 4, 5),
        datetime.date(2020, 1, 2),
        datetime.time(1, 2, 3, 456789),
        datetime.time(1, 2, 3),
        datetime.timedelta(days=-1, seconds=5, microseconds=7),
        datetime.timedelta(hours=30, seconds=61),
        decimal.Decimal("1.50"),
        uuid.UUID(int=5),
    ]

    @pytest.mark.parametrize("value", VALUES)
    def test_same_text_as_djangos_encoder(self, value):
        from django.core.serializers.json import DjangoJSONEncoder

        expected = json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":"))
        assert to_json(value) == expected

    def test_literal_forms(self):
        assert to_json(self.VALUES[0]) == '"2020-01-02T03:04:05.678Z"'
        assert to_json(self.VALUES[5]) == '"-P0DT23H59M54.999993S"'

    def test_lazy_strings_go_through_djangos_encoder_once_the_app_is_ready(self):
        from django.utils.functional import lazy

        assert to_json(lazy(lambda: "later", str)()) == '"later"'

    def test_anything_else_is_refused(self):
        with pytest.raises(PayloadNotJSON):
            to_json(object())


def test_finite_floats_still_decode():
    frame = decode_frame('{"event":"x","payload":[1.5,-2e-300,1e308,0.0]}', "")
    assert frame.payload == [1.5, -2e-300, 1e308, 0.0]
