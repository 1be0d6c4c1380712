"""The client's pure pieces, with literal expectations: schedule, options, frames, heartbeat."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from realtime.client import (
    DEFAULT_NO_RECONNECT_CODES,
    LIFECYCLE_EVENTS,
    ClientOptions,
    ServerError,
    reconnect_delay_ms,
)
from realtime.client.backoff import to_ms
from realtime.client.calls import base36
from realtime.client.errors import CallTimeout, ClientError, ConnectionLost, NotConnected
from realtime.client.frames import Push, Reply, decode_server_frame, encode_event
from realtime.client.heartbeat import Heartbeat
from realtime.client.options import encode_params
from realtime.wire.protocol import REFUSED_PUSH_EVENTS, PayloadNotJSON

DEFAULTS = {"threshold": 3, "interval_ms": 3000, "max_interval_ms": 120_000}


def schedule(attempts: int, jitter: float, **overrides) -> list[int]:
    params = {**DEFAULTS, **overrides}
    return [reconnect_delay_ms(n, random=lambda: jitter, **params) for n in range(1, attempts + 1)]


def test_default_schedule_with_half_jitter():
    assert schedule(10, 0.5) == [
        3000, 3000, 3000, 7500, 13500, 25500, 49500, 97500, 120000, 120000,
    ]  # fmt: skip


def test_default_schedule_bounds_with_no_and_almost_full_jitter():
    assert schedule(9, 0.0) == [3000, 3000, 3000, 6000, 12000, 24000, 48000, 96000, 120000]
    assert schedule(9, 0.999999) == [3000, 3000, 3000, 8999, 14999, 26999, 50999, 98999, 120000]


def test_schedule_floors_to_whole_ms_and_never_goes_below_the_fast_interval():
    assert schedule(4, 0.3333, threshold=1, interval_ms=70, max_interval_ms=50) == [70, 70, 70, 70]
    assert schedule(3, 0.3333, threshold=0, interval_ms=70, max_interval_ms=1000) == [
        163, 303, 583,
    ]  # fmt: skip


def test_schedule_survives_huge_attempt_numbers():
    assert reconnect_delay_ms(100_000, random=lambda: 0.5, **DEFAULTS) == 120_000


def test_schedule_counts_attempts_from_one():
    with pytest.raises(ValueError, match="from 1"):
        reconnect_delay_ms(0, **DEFAULTS)


def test_seconds_convert_to_ms_without_float_noise():
    assert [to_ms(s) for s in (0.07, 0.57, 3.0, 0.1)] == [70, 570, 3000, 100]


def test_option_defaults_are_the_original_clients_in_seconds():
    options = ClientOptions(url="ws://h/ws/")
    assert (
        options.ping_interval, options.pong_timeout, options.ping_msg, options.callback_timeout,
        options.pending_timeout, options.fast_reconnect_threshold,
        options.fast_reconnect_interval, options.reconnect_max_interval, options.repeat_limit,
        options.custom_params, options.no_reconnect_codes,
    ) == (
        10.0, 2.0, "", 5.0, 0.1, 3, 3.0, 120.0, None, {}, frozenset({4001, 4010, 4011, 4012}),
    )  # fmt: skip
    assert {4001, 4010, 4011, 4012} == DEFAULT_NO_RECONNECT_CODES


def test_invalid_options_are_all_named_in_one_error():
    with pytest.raises(ValueError) as error:
        ClientOptions(
            url="http://h/",
            ping_interval=0,
            pong_timeout=True,
            repeat_limit=-1,
            no_reconnect_codes=[4011, 99],
            custom_params={"id": {"nested": 1}},
            headers={"X": 1},
        )
    message = str(error.value)
    for fragment in (
        "url must be a ws:// or wss:// URL",
        "ping_interval must be seconds > 0, not 0",
        "pong_timeout must be seconds > 0, not True",
        "repeat_limit must be None or an integer >= 0, not -1",
        "no_reconnect_codes must be close codes",
        "custom_params['id']",
        "headers must map strings to strings",
    ):
        assert fragment in message


def test_unknown_option_is_refused():
    with pytest.raises(TypeError, match="pingInterval"):
        ClientOptions(url="ws://h/", pingInterval=10)


def test_ssl_context_needs_wss():
    import ssl

    with pytest.raises(ValueError, match="ssl needs a wss:// url"):
        ClientOptions(url="ws://h/", ssl=ssl.create_default_context())


def test_options_copy_what_the_caller_passed():
    params = {"id": "1"}
    options = ClientOptions(url="ws://h/", custom_params=params, no_reconnect_codes=[4000])
    params["id"] = "2"
    assert options.custom_params == {"id": "1"}
    assert options.no_reconnect_codes == frozenset({4000})


def test_custom_params_are_form_encoded_like_the_js_client():
    assert encode_params({"id": 42, "name": "Sam Ü", "token": "a b&c=d", "ok": True}) == (
        "id=42&name=Sam+%C3%9C&token=a+b%26c%3Dd&ok=true"
    )
    assert encode_params({"tag": ["a", "b"], "off": False}) == "tag=a&tag=b&off=false"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ws://h/ws/", "ws://h/ws/?id=1"),
        ("ws://h/ws/?x=2", "ws://h/ws/?x=2&id=1"),
        ("ws://h/ws/?", "ws://h/ws/?id=1"),
    ],
)
def test_connection_url_appends_params(url, expected):
    assert ClientOptions(url=url, custom_params={"id": 1}).connection_url() == expected
    assert ClientOptions(url=url).connection_url() == url


def test_event_frames_match_the_protocol_byte_for_byte():
    assert encode_event("say", {"msg": "hi"}, "mwwicbce-c4hq-1") == (
        '{"event":"say","payload":{"msg":"hi"},"callbackId":"mwwicbce-c4hq-1"}'
    )
    assert encode_event("say", "no-callback") == '{"event":"say","payload":"no-callback"}'
    assert encode_event("d", {"when": date(2024, 1, 2), "n": Decimal("1.5")}) == (
        '{"event":"d","payload":{"when":"2024-01-02","n":"1.5"}}'
    )


def test_bad_events_and_payloads_are_refused_before_sending():
    with pytest.raises(ValueError, match="non-empty string"):
        encode_event("", 1)
    with pytest.raises(PayloadNotJSON):
        encode_event("x", float("nan"))
    with pytest.raises(ValueError, match=r"1\.\.64"):
        encode_event("x", 1, "c" * 65)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"payload":{"ok":1},"callbackId":"c-1"}', Reply("c-1", {"ok": 1})),
        ('{"callbackId":"c-2"}', Reply("c-2", None)),
        ('{"event":"x","payload":1,"callbackId":"c-3"}', Reply("c-3", 1)),
        ('{"event":"roomSay","payload":{"a":1}}', Push("roomSay", {"a": 1})),
        ('{"event":"bare"}', Push("bare", None)),
        ('{"event":"x","callbackId":""}', Push("x", None)),
        ("not json", None),
        ("[1,2]", None),
        ('{"event":""}', None),
        ('{"event":5}', None),
        ("", None),
    ],
)
def test_server_frames_are_read_as_the_js_client_reads_them(text, expected):
    assert decode_server_frame(text) == expected


def test_every_lifecycle_event_is_refused_as_a_push_by_the_server():
    assert LIFECYCLE_EVENTS <= REFUSED_PUSH_EVENTS
    assert len(LIFECYCLE_EVENTS) == 9


def test_heartbeat_clock():
    times = iter([0.0, 10.0, 10.25])  # the clock at: start, ping, echo
    heartbeat = Heartbeat(10.0, 2.0, lambda: next(times))
    assert (heartbeat.awaiting_echo, heartbeat.deadline) == (False, 10.0)
    assert heartbeat.echo_received() is None  # an echo nobody waited for
    heartbeat.ping_sent()  # at 10.0
    assert (heartbeat.awaiting_echo, heartbeat.deadline) == (True, 12.0)
    assert heartbeat.echo_received() == 250.0  # at 10.25
    assert (heartbeat.awaiting_echo, heartbeat.deadline) == (False, 20.25)  # from the echo


def test_base36_matches_javascript():
    assert [base36(n) for n in (0, 35, 36, 1_700_000_000_000)] == ["0", "z", "10", "loyw3v28"]


def test_errors_carry_the_js_result_fields():
    for error_class, code in (
        (NotConnected, "WS_NOT_OPEN"),
        (CallTimeout, "CALLBACK_TIMEOUT"),
        (ConnectionLost, "CONNECTION_LOST"),
    ):
        error = error_class("boom")
        assert isinstance(error, ClientError)
        assert error.to_dict() == {"error": "boom", "errorCode": code}


def test_server_error_only_for_the_exact_error_reply_shape():
    error = ServerError.from_payload({"error": "Unknown event 'x'", "errorCode": "UNKNOWN_EVENT"})
    assert error is not None
    assert (error.error, error.error_code) == ("Unknown event 'x'", "UNKNOWN_EVENT")
    for payload in (
        {"error": "x", "errorCode": "Y", "more": 1},
        {"error": "x"},
        {"error": 1, "errorCode": "Y"},
        ["error", "errorCode"],
        None,
    ):
        assert ServerError.from_payload(payload) is None
    assert json.dumps(error.to_dict()) == (
        '{"error": "Unknown event \'x\'", "errorCode": "UNKNOWN_EVENT"}'
    )


def test_the_reference_lists_every_option_with_its_default_and_every_event():
    from dataclasses import MISSING, fields

    from tests.support.processes import ROOT

    section = (ROOT / "docs" / "reference" / "python-client.md").read_text()
    # Options of a feature with a page of its own are listed there.
    section += (ROOT / "docs" / "topics" / "recovery.md").read_text()
    for option in fields(ClientOptions):
        if option.name == "url":
            continue
        default = option.default if option.default is not MISSING else option.default_factory()
        shown = {frozenset: "{4001, 4010, 4011, 4012}", dict: "{}"}.get(type(default))
        shown = shown or (json.dumps(default) if isinstance(default, str) else repr(default))
        assert f"| `{option.name}` | `{shown}` |" in section, option.name
    for event in LIFECYCLE_EVENTS:
        assert f"| `{event}` |" in section, event
