"""The Origin rule: a present Origin must match ALLOWED_HOSTS; a missing one passes unless
REQUIRE_ORIGIN is set (Node.js, mobile and service clients send none)."""

from __future__ import annotations

import pytest
from django.test import override_settings


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (None, True),
        (b"http://localhost:8000", True),
        (b"http://127.0.0.1", True),
        (b"https://evil.example", False),
        (b"http://localhost.evil.example", False),
        (b"null", False),
    ],
)
async def test_origin_rule(clients, origin, accepted):
    headers = [(b"origin", origin)] if origin is not None else []
    client = await clients("/ws/?id=1", expect_accept=False, headers=headers)
    assert client.accepted is accepted


@override_settings(REALTIME={"REQUIRE_ORIGIN": True})
async def test_missing_origin_refused_when_required(clients):
    client = await clients("/ws/?id=1", expect_accept=False)
    assert not client.accepted
    allowed = await clients("/ws/?id=1", headers=[(b"origin", b"http://localhost")])
    assert allowed.accepted


@override_settings(ALLOWED_HOSTS=[".example.com"])
async def test_subdomain_pattern(clients):
    ok = await clients(
        "/ws/?id=1", expect_accept=False, headers=[(b"origin", b"https://a.example.com")]
    )
    bad = await clients(
        "/ws/?id=1", expect_accept=False, headers=[(b"origin", b"https://example.org")]
    )
    assert ok.accepted and not bad.accepted
