"""History and sessions on the channel layer's Redis nodes.

Each stream lives on the node that owns it on the consistent-hash ring (``<prefix>:h:<stream>``,
a sorted set scored by offset, and ``<prefix>:hm:<stream>``, a hash: epoch ``e``, last
offset ``s``, highest trimmed offset ``t``, node generation ``g``). The first healthy node
allocates offsets and stores the push in one script, so its history has no holes; with
``redundancy`` k the next k-1 nodes keep copies under the same offset (a sorted set takes
copies in any order). A copy node that did not hold the stream's epoch adopts it and marks
what came before as unknown. A node that this process saw go down gets its generation key
bumped before it is used again: every stream on it starts a new epoch, because pushes may
have been kept elsewhere meanwhile. Readers treat any doubt as "not recovered".
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from ..wire.protocol import to_json
from .interfaces import Entry, StorageNodes
from .memory import new_epoch, select

logger = logging.getLogger(__name__)

COMMAND_TIMEOUT = 2.0

_HEAD = """
local gen = redis.call('GET', KEYS[3]) or '0'
local meta = redis.call('HMGET', KEYS[2], 'e', 's', 't', 'g')
"""
_TRIM = """
local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if extra > 0 then
  local gone = redis.call('ZRANGE', KEYS[1], extra - 1, extra - 1, 'WITHSCORES')
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, extra - 1)
  redis.call('HSET', KEYS[2], 't', gone[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
"""
# KEYS: entries, meta, generation. ARGV: new epoch, body, size, ttl.
APPEND = (
    _HEAD
    + """
local epoch = meta[1]
if (not epoch) or meta[4] ~= gen then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'e', epoch, 's', 0, 't', 0, 'g', gen)
end
local n = redis.call('HINCRBY', KEYS[2], 's', 1)
redis.call('ZADD', KEYS[1], n, n .. '\\n' .. ARGV[2])
"""
    + _TRIM
    + "return {epoch, n}"
)
# KEYS: entries, meta, generation. ARGV: epoch, body, size, ttl, offset.
COPY = (
    _HEAD
    + """
local n = tonumber(ARGV[5])
if meta[1] ~= ARGV[1] or meta[4] ~= gen then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'e', ARGV[1], 's', n, 't', n - 1, 'g', gen)
elseif tonumber(meta[2]) < n then
  redis.call('HSET', KEYS[2], 's', n)
end
redis.call('ZADD', KEYS[1], n, n .. '\\n' .. ARGV[2])
"""
    + _TRIM
    + "return 1"
)
# KEYS: entries, meta, generation. ARGV: new epoch, ttl. -> {epoch, seq}
TOP = (
    _HEAD
    + """
if (not meta[1]) or meta[4] ~= gen then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'e', ARGV[1], 's', 0, 't', 0, 'g', gen)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  return {ARGV[1], 0}
end
return {meta[1], meta[2]}
"""
)
# KEYS: entries, meta, generation. ARGV: lowest offset wanted. -> {epoch, seq, trimmed, ...}
READ = (
    _HEAD
    + """
if (not meta[1]) or meta[4] ~= gen then return {} end
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
return {meta[1], meta[2], meta[3], entries}
"""
)


class Scripts:
    """Lua scripts run with EVALSHA, loaded on a node the first time it lacks them."""

    def __init__(self, storage: StorageNodes) -> None:
        self.storage = storage
        self._sha = {
            text: hashlib.sha1(text.encode()).hexdigest() for text in (APPEND, COPY, TOP, READ)
        }

    async def run(self, address: str, script: str, keys: Sequence[str], *args: Any) -> Any:
        """EVALSHA ``script`` on one node (EVAL when the node does not know it yet)."""
        sha = self._sha[script]
        async with asyncio.timeout(COMMAND_TIMEOUT):
            try:
                return await self.storage.command(address, "EVALSHA", sha, len(keys), *keys, *args)
            except Exception as error:
                if not str(error).startswith("NOSCRIPT"):
                    raise
                return await self.storage.command(address, "EVAL", script, len(keys), *keys, *args)


class RedisHistory:
    """:class:`~realtime.recovery.interfaces.History` on the layer's Redis nodes."""

    def __init__(self, storage: StorageNodes) -> None:
        self.storage = storage
        self.scripts = Scripts(storage)
        self.prefix = storage.prefix
        # Generation of each node last bumped by this process (see the module docstring).
        self._bumped: dict[str, int] = {}
        # Streams whose last push could not be kept: the next one starts a new epoch.
        self._broken: set[str] = set()

    def _keys(self, stream: str, address: str) -> list[str]:
        return [f"{self.prefix}:h:{stream}", f"{self.prefix}:hm:{stream}", f"{self.prefix}:hg"]

    async def _ready(self, address: str) -> None:
        generation = self.storage.generation(address)
        if self._bumped.get(address, 0) != generation:
            await self.storage.command(address, "INCR", f"{self.prefix}:hg")
            self._bumped[address] = generation

    async def append(
        self, stream: str, frame: str, excluded: Sequence[str], size: int, ttl: int
    ) -> tuple[str, int] | None:
        """Allocate the offset on the stream's first healthy node (the next one if it
        fails: a copy holds the same epoch and last offset), copy to the next ones."""
        body = to_json(list(excluded)) + "\n" + frame
        candidates = self.storage.order(stream)
        copies_wanted = max(1, self.storage.redundancy)
        for index, owner in enumerate(candidates):
            try:
                reply = await self._allocate(owner, stream, body, size, ttl)
            except Exception as error:
                logger.warning("Keeping a push in history on %s failed: %s", owner, error)
                continue
            self._broken.discard(stream)
            epoch, offset = _text(reply[0]), int(reply[1])
            copies = candidates[index + 1 : index + copies_wanted]
            await asyncio.gather(
                *(self._copy(address, stream, epoch, offset, body, size, ttl) for address in copies)
            )
            return epoch, offset
        # Kept nowhere: whoever missed this push must not be told its history is whole.
        self._broken.add(stream)
        return None

    async def _allocate(self, owner: str, stream: str, body: str, size: int, ttl: int) -> Any:
        await self._ready(owner)
        if stream in self._broken:
            await self.storage.command(owner, "DEL", f"{self.prefix}:hm:{stream}")
        keys = self._keys(stream, owner)
        return await self.scripts.run(owner, APPEND, keys, new_epoch(), body, size, ttl)

    async def _copy(
        self, address: str, stream: str, epoch: str, offset: int, body: str, size: int, ttl: int
    ) -> None:
        try:
            await self._ready(address)
            keys = self._keys(stream, address)
            await self.scripts.run(address, COPY, keys, epoch, body, size, ttl, offset)
        except Exception as error:  # the copy is missing: readers of that node see a hole
            logger.info("Copying a push to %s failed: %s", address, error)

    async def top(self, stream: str, ttl: int) -> tuple[str, int] | None:
        """Epoch and last offset on the stream's first healthy node that answers (None:
        none does)."""
        for address in self.storage.order(stream)[: max(1, self.storage.redundancy)]:
            try:
                await self._ready(address)
                keys = self._keys(stream, address)
                reply = await self.scripts.run(address, TOP, keys, new_epoch(), ttl)
            except Exception as error:
                logger.info("Reading a history's top on %s failed: %s", address, error)
                continue
            return _text(reply[0]), int(reply[1])
        return None

    async def _read_node(
        self, address: str | None, stream: str, low: int
    ) -> tuple[str, int, int, list[Entry]] | None:
        if address is None:
            return None
        try:
            await self._ready(address)
            reply = await self.scripts.run(address, READ, self._keys(stream, address), low)
        except Exception as error:
            logger.info("Reading history on %s failed: %s", address, error)
            return None
        if not reply:
            return "", 0, 0, []
        return reply[0].decode(), int(reply[1]), int(reply[2]), [_entry(raw) for raw in reply[3]]

    async def read(
        self, stream: str, epoch: str, after: int, missing: Sequence[int]
    ) -> tuple[str, list[Entry]] | None:
        """Read from the first healthy node (it decides the epoch), else from copies."""
        if epoch == "":
            after, missing = 0, ()
        low = min([offset for offset in missing if offset <= after] or [after + 1])
        order = self.storage.order(stream)[: max(1, self.storage.redundancy)]
        for index, address in enumerate(order):
            found = await self._read_node(address, stream, low)
            if found is None:
                continue  # unreachable: a copy may answer
            node_epoch, seq, trimmed, entries = found
            if node_epoch == "":
                if index == 0:
                    return ("", []) if epoch == "" else None
                continue
            if epoch not in ("", node_epoch):
                return None
            picked = select(entries, trimmed, seq, after, missing)
            if picked is not None:
                return node_epoch, picked
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry(raw: bytes) -> Entry:
    offset, excluded, frame = raw.decode().split("\n", 2)
    return Entry(int(offset), tuple(json.loads(excluded)), frame)


class RedisSessions:
    """:class:`~realtime.recovery.interfaces.Sessions` on the layer's Redis nodes."""

    def __init__(self, storage: StorageNodes) -> None:
        self.storage = storage
        self.prefix = storage.prefix

    def _order(self, session_id: str) -> list[str]:
        return self.storage.order(session_id)[: max(1, self.storage.redundancy)]

    async def save(self, session_id: str, record: str, ttl: float) -> None:
        """SET with an expiry on the session's owner node and its copies."""
        key = f"{self.prefix}:s:{session_id}"
        millis = max(1, int(ttl * 1000))

        async def one(address: str) -> None:
            try:
                async with asyncio.timeout(COMMAND_TIMEOUT):
                    await self.storage.command(address, "SET", key, record, "PX", millis)
            except Exception as error:
                logger.info("Keeping a session on %s failed: %s", address, error)

        await asyncio.gather(*(one(address) for address in self._order(session_id)))

    async def take(self, session_id: str) -> str | None:
        """GETDEL on the owner, then on each copy node, until one has it."""
        key = f"{self.prefix}:s:{session_id}"
        for address in self._order(session_id):
            try:
                async with asyncio.timeout(COMMAND_TIMEOUT):
                    value = await self.storage.command(address, "GETDEL", key)
            except Exception as error:
                logger.info("Reading a session on %s failed: %s", address, error)
                continue
            if value is not None:
                for other in self._order(session_id):
                    if other != address:
                        await self._discard(other, key)
                return value.decode()
        return None

    async def _discard(self, address: str, key: str) -> None:
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await self.storage.command(address, "DEL", key)
        except Exception:
            logger.debug("Deleting a session copy on %s failed", address, exc_info=True)
