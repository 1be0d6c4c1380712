"""The close codes and reasons the daphne fixes send (pure helpers)."""

from __future__ import annotations

import pytest

from realtime.connection.daphne_fixes import close_code_sendable, close_reason_bytes


@pytest.mark.parametrize("code", [1000, 1001, 1008, 1009, 1011, 1013, 3000, 4011, 4999])
def test_sendable_codes(code):
    assert close_code_sendable(code)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 2999, 5000])
def test_codes_no_endpoint_may_send(code):
    assert not close_code_sendable(code)


def test_reason_cut_to_123_bytes_on_a_character_boundary():
    assert close_reason_bytes("ok") == b"ok"
    cut = close_reason_bytes("é" * 100)  # 200 bytes
    assert len(cut) == 122 and cut.decode() == "é" * 61
