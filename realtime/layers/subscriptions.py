"""Which group namespaces this process listens to, kept in step with its members race-free.

The decision to subscribe or unsubscribe a namespace is taken under that namespace's lock
from the membership *at that moment*, so whatever order joins, leaves and rejoins run in,
the last one to hold the lock leaves the subscription matching the members: a
leave-then-rejoin never ends unsubscribed, concurrent joins subscribe once, and every join
returns only after the subscription is confirmed (on every node that is up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class NamespaceSubscriptions:
    """Subscription state of group namespaces for one layer instance."""

    def __init__(
        self,
        presets: frozenset[str],
        auto_unsubscribe: bool,
        has_members: Callable[[str], bool],
        subscribe: Callable[[str], Awaitable[None]],
        unsubscribe: Callable[[str], Awaitable[None]],
    ) -> None:
        self.presets = presets
        self.auto_unsubscribe = auto_unsubscribe
        self.has_members = has_members
        self._subscribe = subscribe
        self._unsubscribe = unsubscribe
        self.subscribed: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def wanted(self, namespace: str) -> bool:
        """True when the process must hear ``namespace`` now."""
        if namespace in self.presets or self.has_members(namespace):
            return True
        return not self.auto_unsubscribe and namespace in self.subscribed

    async def sync(self, namespace: str) -> None:
        """Subscribe or unsubscribe ``namespace`` so it matches :meth:`wanted`."""
        if namespace not in self._locks and (namespace in self.subscribed) == self.wanted(
            namespace
        ):
            return
        lock = self._locks.setdefault(namespace, asyncio.Lock())
        self._users[namespace] = self._users.get(namespace, 0) + 1
        try:
            async with lock:
                await self._settle(namespace)
        finally:
            # Drop the lock only when nobody holds or waits for it, so a later caller can
            # never get a second lock for the same namespace while this one is in use.
            self._users[namespace] -= 1
            if not self._users[namespace]:
                del self._users[namespace]
                del self._locks[namespace]

    async def _settle(self, namespace: str) -> None:
        want = self.wanted(namespace)
        if want and namespace not in self.subscribed:
            await self._subscribe(namespace)
            self.subscribed.add(namespace)
        elif not want and namespace in self.subscribed:
            self.subscribed.discard(namespace)
            await self._unsubscribe(namespace)

    def reset(self) -> set[str]:
        """Forget every non-preset subscription (``flush``); returns the namespaces to
        unsubscribe."""
        dropped = self.subscribed - self.presets
        self.subscribed &= self.presets
        return dropped
