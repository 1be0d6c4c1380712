"""Recovery's history and sessions on real Redis nodes, through the layer's storage()."""

from __future__ import annotations

import pytest

from realtime.layers.strategies import ring_order
from realtime.recovery.memory import MemoryHistory
from realtime.recovery.redis_store import RedisHistory, RedisSessions
from tests.support.waiting import async_wait_until


async def history_on(layer) -> RedisHistory:
    storage = await layer.storage()
    assert storage is not None
    return RedisHistory(storage)


async def fill(history, stream: str, count: int, size: int = 100) -> list[tuple[str, int]]:
    return [
        await history.append(
            stream, f'{{"event":"e","payload":{n}}}', ["x"] if n == 1 else [], size, 60
        )
        for n in range(count)
    ]


@pytest.fixture(params=["memory", "redis"])
async def history(request, shared_redis, make_layer):
    if request.param == "memory":
        return MemoryHistory()
    return await history_on(make_layer(shared_redis[:2]))


async def test_offsets_count_up_in_one_epoch_and_read_returns_what_was_missed(history):
    kept = await fill(history, "r.chat.1", 5)
    epoch = kept[0][0]
    assert kept == [(epoch, n) for n in range(1, 6)]
    found = await history.read("r.chat.1", epoch, 3, [2])
    assert found is not None
    assert found[0] == epoch
    assert [(e.offset, e.excluded) for e in found[1]] == [(2, ("x",)), (4, ()), (5, ())]
    assert found[1][0].frame == '{"event":"e","payload":1}'
    assert await history.read("r.chat.1", epoch, 5, []) == (epoch, [])


async def test_not_recovered_when_trimmed_or_of_another_epoch(history):
    kept = await fill(history, "r.chat.2", 5, size=2)
    epoch = kept[0][0]
    assert await history.read("r.chat.2", epoch, 1, []) is None  # 2 and 3 were trimmed
    assert (await history.read("r.chat.2", epoch, 3, []))[1][0].offset == 4
    assert await history.read("r.chat.2", "another", 4, []) is None


async def test_an_empty_stream_gets_an_epoch_so_a_later_loss_is_noticed(history):
    epoch, top = await history.top("u.alice", 60)
    assert top == 0
    ((same, offset),) = await fill(history, "u.alice", 1)
    assert (same, offset) == (epoch, 1)
    assert (await history.read("u.alice", epoch, 0, []))[1][0].offset == 1


async def test_with_redundancy_2_the_copy_answers_when_the_owner_is_gone(redis_nodes, make_layer):
    servers = redis_nodes(2)
    layer = make_layer(servers, redundancy=2)
    history = await history_on(layer)
    stream = "r.chat.3"
    kept = await fill(history, stream, 3)
    owner = ring_order(tuple(s.address for s in servers), stream)[0]
    victim = next(s for s in servers if s.address == owner)
    victim.kill()
    await async_wait_until(lambda: len(history.storage.order(stream)) == 1, 5, "owner seen down")
    found = await history.read(stream, kept[0][0], 1, [])
    assert found is not None and [e.offset for e in found[1]] == [2, 3]
    assert await history.append(stream, "{}", [], 100, 60) == (kept[0][0], 4)


async def test_a_node_that_was_down_starts_new_epochs(redis_nodes, make_layer):
    (server,) = redis_nodes(1)
    layer = make_layer([server])
    history = await history_on(layer)
    kept = await fill(history, "b", 2)
    storage = history.storage
    # The process saw the node go down and come back (its data may be stale meanwhile).
    storage._transport.downs[server.address] = 1
    assert await history.read("b", kept[0][0], 0, []) is None
    epoch, offset = await history.append("b", "{}", [], 100, 60)
    assert epoch != kept[0][0] and offset == 1


async def test_sessions_are_taken_once(shared_redis, make_layer):
    storage = await make_layer(shared_redis[:2], redundancy=2).storage()
    sessions = RedisSessions(storage)
    await sessions.save("s1", '{"a":1}', 5)
    assert await sessions.take("s1") == '{"a":1}'
    assert await sessions.take("s1") is None
    await sessions.save("s2", "x", 0.05)
    await async_wait_until(
        lambda: shared_redis[0].call("EXISTS", f"{storage.prefix}:s:s2") == 0, 5, "expiry"
    )
    assert await sessions.take("s2") is None
