"""Bounded waits: poll a condition or await an event, failing with a clear message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], Any], timeout: float, message: str, interval: float = 0.02
) -> Any:
    """Poll ``condition`` until it returns a truthy value; raise AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout}s: {message}")
        time.sleep(interval)


async def async_wait_until(
    condition: Callable[[], Any], timeout: float, message: str, interval: float = 0.01
) -> Any:
    """Async poll of ``condition`` with a deadline and a clear failure message."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout}s: {message}")
        await asyncio.sleep(interval)


async def within(awaitable: Awaitable[T], timeout: float, message: str) -> T:
    """Await with a deadline; on timeout fail with ``message``."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        raise AssertionError(f"Timed out after {timeout}s: {message}") from None
