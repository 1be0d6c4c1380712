"""Authentication at connect: the session user, the AUTHENTICATE hook, rejection (4011 or
HTTP 403) before any client event, failures bounded, and AUTH_TIMEOUT."""

from __future__ import annotations

import asyncio
import logging

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import AsyncClient, override_settings

from realtime import on, on_connect, on_disconnect
from realtime.hub import get_hub
from realtime.metrics import metrics
from tests.hardeningapp import auth as token_auth

TOKEN_HOOK = "tests.hardeningapp.auth.token"


@pytest.fixture(autouse=True)
def fresh_counters():
    metrics.reset()
    token_auth.calls.clear()
    yield
    metrics.reset()


@pytest.fixture
def spy(handlers):
    """Records which hooks and events ran."""
    seen: list[str] = []

    @on_connect
    async def connected(socket):
        seen.append(f"connect:{socket.user_id}")

    @on_disconnect
    async def disconnected(socket):
        seen.append("disconnect")

    @on("whoami")
    async def whoami(socket, data, ack):
        seen.append("whoami")
        return {"user": socket.user_id}

    return seen


class TestTokenHook:
    @pytest.fixture(autouse=True)
    def token_hook(self):
        with override_settings(REALTIME={"AUTHENTICATE": TOKEN_HOOK}):
            yield

    async def test_valid_token_binds_the_user_before_connect_hooks(self, clients, spy):
        client = await clients("/ws/?token=valid-42&x=1")
        await client.emit("whoami", None, "w")
        assert (await client.json())["payload"] == {"user": "42"}
        assert get_hub().is_connected("42")
        # The demo's ?id= hook keeps an authenticated user instead of refusing it.
        assert "connect:42" in spy
        scope, params = token_auth.calls[0]
        assert params == {"token": "valid-42", "x": "1"}
        assert scope["path"] == "/ws/"

    async def test_invalid_token_closes_4011_before_any_hook_or_event(self, clients, spy):
        client = await clients("/ws/?token=forged&id=7")
        await client.emit("whoami", None, "w")  # already in the queue: must never run
        assert await client.closed_with() == (4011, "Auth failure")
        assert await client.nothing()
        assert spy == [], "no connect hook, event or disconnect hook ran"
        assert not get_hub().is_connected("7")
        assert metrics.get("auth_failures") == 1

    @override_settings(REALTIME={"AUTHENTICATE": TOKEN_HOOK, "REJECT_AT_HANDSHAKE": True})
    async def test_reject_at_handshake_refuses_the_handshake(self, clients, spy):
        client = await clients("/ws/?token=forged", expect_accept=False)
        assert client.accepted is False
        good = await clients("/ws/?token=valid-1")
        assert good.accepted
        assert metrics.get("auth_failures") == 1

    async def test_raising_hook_closes_1011_and_is_logged(self, clients, spy, caplog, monkeypatch):
        from realtime import throttled_log

        monkeypatch.setattr(throttled_log, "_shared", {})  # a fresh log interval
        with caplog.at_level(logging.ERROR, logger="realtime"):
            client = await clients("/ws/?token=explode")
            assert await client.closed_with() == (1011, "Server error")
        assert "the token service is down" in caplog.text
        assert spy == [] and metrics.get("connect_errors") == 1

    async def test_hook_returning_a_non_id_closes_1011(self, clients, spy):
        client = await clients("/ws/?token=object")
        assert await client.closed_with() == (1011, "Server error")

    @override_settings(REALTIME={"AUTHENTICATE": TOKEN_HOOK, "CONNECT_TIMEOUT": 0.5})
    async def test_hanging_hook_is_bounded_by_connect_timeout(self, clients, spy):
        bystander = await clients("/ws/?token=valid-2")
        client = await clients("/ws/?token=hang")
        assert await client.closed_with() == (1011, "Server error")
        await bystander.emit("whoami", None, "b")
        assert (await bystander.json())["payload"] == {"user": "2"}

    @override_settings(
        REALTIME={"AUTHENTICATE": TOKEN_HOOK, "CONNECT_TIMEOUT": 0.5, "REJECT_AT_HANDSHAKE": True}
    )
    async def test_hanging_hook_at_handshake_is_refused(self, clients):
        client = await clients("/ws/?token=hang", expect_accept=False)
        assert client.accepted is False


@pytest.mark.django_db(transaction=True)
class TestSessionUser:
    @staticmethod
    async def session_cookie(username: str = "sam") -> tuple[str, list[tuple[bytes, bytes]]]:
        user = await get_user_model().objects.acreate_user(username, password="x-secret-1")
        browser = AsyncClient()
        await browser.aforce_login(user)
        cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
        return str(user.pk), [(b"cookie", cookie)]

    async def test_user_is_on_the_socket_without_binding_by_default(self, clients, handlers):
        _, headers = await self.session_cookie()

        @on("me")
        async def me(socket, data, ack):
            return {"name": socket.user.username, "bound": socket.user_id}

        client = await clients("/ws/?id=demo", headers=headers)
        await client.emit("me", None, "m")
        assert (await client.json())["payload"] == {"name": "sam", "bound": "demo"}

    @override_settings(REALTIME={"BIND_SESSION_USER": True})
    async def test_bind_session_user(self, clients, spy):
        user_id, headers = await self.session_cookie()
        client = await clients("/ws/", headers=headers)
        await client.emit("whoami", None, "w")
        assert (await client.json())["payload"] == {"user": user_id}

    @override_settings(REALTIME={"BIND_SESSION_USER": True, "AUTHENTICATE": TOKEN_HOOK})
    async def test_session_user_skips_the_token_hook_anonymous_needs_a_token(self, clients, spy):
        user_id, headers = await self.session_cookie()
        client = await clients("/ws/", headers=headers)
        await client.emit("whoami", None, "w")
        assert (await client.json())["payload"] == {"user": user_id}
        assert token_auth.calls == []
        anonymous = await clients("/ws/?token=forged")
        assert (await anonymous.closed_with())[0] == 4011

    @override_settings(REALTIME={"AUTHENTICATE": "realtime.connection.auth.session_user"})
    async def test_session_user_authenticator_refuses_anonymous(self, clients, spy):
        user_id, headers = await self.session_cookie()
        client = await clients("/ws/", headers=headers)
        await client.emit("whoami", None, "w")
        assert (await client.json())["payload"] == {"user": user_id}
        anonymous = await clients("/ws/?id=5")
        assert await anonymous.closed_with() == (4011, "Auth failure")


class TestAuthTimeout:
    @pytest.fixture
    def login_by_event(self, handlers):
        """An app that authenticates with a client event instead of at connect."""
        handlers.connect_hooks.clear()

        @on("login")
        async def login(socket, data, ack):
            await socket.bind(data)
            return "ok"

    @override_settings(REALTIME={"AUTH_TIMEOUT": 0.2})
    async def test_unbound_connection_closed_4011(self, clients, login_by_event):
        client = await clients("/ws/")
        assert await client.closed_with(timeout=3) == (4011, "Authentication timeout")
        assert metrics.get("auth_timeouts") == 1

    @override_settings(REALTIME={"AUTH_TIMEOUT": 0.5})
    async def test_connection_that_binds_in_time_stays(self, clients, login_by_event):
        client = await clients("/ws/")
        await client.emit("login", "u1", "l")
        assert (await client.json())["payload"] == "ok"
        assert await client.nothing(0.8)  # well past the timeout
        await client.send("")
        assert await client.text() == ""

    async def test_off_by_default(self, clients, login_by_event):
        client = await clients("/ws/")
        assert await client.nothing(0.3)


def test_authenticate_path_checked_at_startup():
    with override_settings(REALTIME={"AUTHENTICATE": "tests.hardeningapp.auth.missing"}):
        errors = [e for e in run_checks() if e.id == "realtime.E004"]
    assert len(errors) == 1 and "missing" in errors[0].msg
    with override_settings(REALTIME={"AUTHENTICATE": "tests.hardeningapp.auth.not_async"}):
        errors = [e for e in run_checks() if e.id == "realtime.E004"]
    assert len(errors) == 1 and "must name an 'async def' function" in errors[0].msg
    with override_settings(REALTIME={"AUTHENTICATE": TOKEN_HOOK}):
        assert [e for e in run_checks() if e.id.startswith("realtime.")] == []
    with override_settings(REALTIME={"AUTHENTICATE": "no dots"}):
        messages = [e.msg for e in run_checks() if e.id == "realtime.E001"]
    assert messages == [
        "REALTIME['AUTHENTICATE'] must be None or the dotted path of an async function, such "
        "as 'myapp.auth.authenticate', not 'no dots'."
    ]


async def test_handshake_waits_for_nothing_else(clients):
    # Without any authentication setting, connecting costs no extra round trip: the demo
    # hook binds ?id= as before.
    client = await asyncio.wait_for(clients("/ws/?id=9"), 2)
    assert client.accepted and get_hub().is_connected("9")
